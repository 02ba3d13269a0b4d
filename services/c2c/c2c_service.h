// Thin gRPC layer of cloonix-c2c (cloonix.c2c.v1.C2cWorker) over C2cWorker.
#ifndef CLOONIX_SERVICES_C2C_C2C_SERVICE_H_
#define CLOONIX_SERVICES_C2C_C2C_SERVICE_H_

#include "absl/synchronization/notification.h"
#include "cloonix/c2c/v1/c2c.grpc.pb.h"
#include "services/c2c/worker.h"

namespace cloonix {

class C2cService final : public cloonix::c2c::v1::C2cWorker::Service {
 public:
  C2cService(C2cWorker* worker, absl::Notification* shutdown)
      : worker_(worker), shutdown_(shutdown) {}

  grpc::Status CreateC2c(grpc::ServerContext*,
                         const c2c::v1::CreateC2cRequest* req,
                         c2c::v1::C2c* resp) override;
  grpc::Status SetPeer(grpc::ServerContext*, const c2c::v1::SetPeerRequest* req,
                       c2c::v1::C2c* resp) override;
  grpc::Status SetMacMangle(grpc::ServerContext*,
                            const c2c::v1::SetMacMangleRequest* req,
                            c2c::v1::C2c* resp) override;
  grpc::Status DeleteC2c(grpc::ServerContext*,
                         const c2c::v1::DeleteC2cRequest* req,
                         c2c::v1::DeleteC2cResponse*) override;
  grpc::Status ListC2c(grpc::ServerContext*, const c2c::v1::ListC2cRequest*,
                       c2c::v1::ListC2cResponse* resp) override;
  grpc::Status Teardown(grpc::ServerContext*, const c2c::v1::TeardownRequest*,
                        c2c::v1::TeardownResponse*) override;

 private:
  C2cWorker* worker_;
  absl::Notification* shutdown_;
};

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_C2C_C2C_SERVICE_H_
