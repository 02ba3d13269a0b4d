// Thin gRPC layer of cloonix-a2b (cloonix.a2b.v1.A2bWorker) over Worker.
#ifndef CLOONIX_SERVICES_A2B_A2B_SERVICE_H_
#define CLOONIX_SERVICES_A2B_A2B_SERVICE_H_

#include "absl/synchronization/notification.h"
#include "cloonix/a2b/v1/a2b.grpc.pb.h"
#include "services/a2b/worker.h"

namespace cloonix {

class A2bService final : public cloonix::a2b::v1::A2bWorker::Service {
 public:
  A2bService(Worker* worker, absl::Notification* shutdown)
      : worker_(worker), shutdown_(shutdown) {}

  grpc::Status CreateA2b(grpc::ServerContext*,
                         const a2b::v1::CreateA2bRequest* req,
                         a2b::v1::A2b* resp) override;
  grpc::Status DeleteA2b(grpc::ServerContext*,
                         const a2b::v1::DeleteA2bRequest* req,
                         a2b::v1::DeleteA2bResponse*) override;
  grpc::Status SetSettings(grpc::ServerContext*,
                           const a2b::v1::SetSettingsRequest* req,
                           a2b::v1::A2b* resp) override;
  grpc::Status GetA2b(grpc::ServerContext*, const a2b::v1::GetA2bRequest* req,
                      a2b::v1::A2b* resp) override;
  grpc::Status ListA2b(grpc::ServerContext*, const a2b::v1::ListA2bRequest*,
                       a2b::v1::ListA2bResponse* resp) override;
  grpc::Status Teardown(grpc::ServerContext*, const a2b::v1::TeardownRequest*,
                        a2b::v1::TeardownResponse*) override;

 private:
  Worker* worker_;
  absl::Notification* shutdown_;
};

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_A2B_A2B_SERVICE_H_
