// Thin gRPC layer of cloonix-nat: cloonix.nat.v1.NatWorker.
#ifndef CLOONIX_SERVICES_NAT_NAT_SERVICE_H_
#define CLOONIX_SERVICES_NAT_NAT_SERVICE_H_

#include "absl/synchronization/notification.h"
#include "cloonix/nat/v1/nat.grpc.pb.h"
#include "services/nat/nat_worker.h"

namespace cloonix {

class NatService final : public nat::v1::NatWorker::Service {
 public:
  NatService(NatWorker* worker, absl::Notification* shutdown)
      : worker_(worker), shutdown_(shutdown) {}
  grpc::Status CreateNat(grpc::ServerContext*,
                         const nat::v1::CreateNatRequest* req,
                         nat::v1::Nat* resp) override;
  grpc::Status DeleteNat(grpc::ServerContext*,
                         const nat::v1::DeleteNatRequest* req,
                         nat::v1::DeleteNatResponse*) override;
  grpc::Status ListNats(grpc::ServerContext*, const nat::v1::ListNatsRequest*,
                        nat::v1::ListNatsResponse* resp) override;
  grpc::Status AddHostForward(grpc::ServerContext*,
                              const nat::v1::AddHostForwardRequest* req,
                              nat::v1::AddHostForwardResponse* resp) override;
  grpc::Status RemoveHostForward(grpc::ServerContext*,
                                 const nat::v1::RemoveHostForwardRequest* req,
                                 nat::v1::RemoveHostForwardResponse*) override;
  grpc::Status Teardown(grpc::ServerContext*, const nat::v1::TeardownRequest*,
                        nat::v1::TeardownResponse*) override;

 private:
  NatWorker* worker_;
  absl::Notification* shutdown_;
};

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_NAT_NAT_SERVICE_H_
