// cloonix.cntrunner.v1.CntRunner: a thin gRPC face of CntRunner
// (cnt_runner.h); Teardown also stops the net's containerd.
#ifndef CLOONIX_SERVICES_CNT_RUNNER_CNT_RUNNER_SERVICE_H_
#define CLOONIX_SERVICES_CNT_RUNNER_CNT_RUNNER_SERVICE_H_

#include "absl/synchronization/notification.h"
#include "cloonix/cntrunner/v1/cnt_runner.grpc.pb.h"
#include "services/cnt_runner/cnt_runner.h"
#include "services/cnt_runner/containerd_daemon.h"

namespace cloonix {

class CntRunnerService final
    : public cloonix::cntrunner::v1::CntRunner::Service {
 public:
  CntRunnerService(CntRunner* runner, ContainerdDaemon* daemon,
                   absl::Notification* shutdown)
      : runner_(runner), daemon_(daemon), shutdown_(shutdown) {}

  grpc::Status CreateContainer(grpc::ServerContext*,
                               const cntrunner::v1::CreateContainerRequest* req,
                               cntrunner::v1::Container* resp) override;
  grpc::Status DeleteContainer(
      grpc::ServerContext*, const cntrunner::v1::DeleteContainerRequest* req,
      cntrunner::v1::DeleteContainerResponse*) override;
  grpc::Status ListContainers(
      grpc::ServerContext*, const cntrunner::v1::ListContainersRequest*,
      cntrunner::v1::ListContainersResponse* resp) override;
  grpc::Status ImportImage(grpc::ServerContext*,
                           const cntrunner::v1::ImportImageRequest* req,
                           cntrunner::v1::ImportImageResponse* resp) override;
  grpc::Status Teardown(grpc::ServerContext*,
                        const cntrunner::v1::TeardownRequest*,
                        cntrunner::v1::TeardownResponse*) override;

 private:
  CntRunner* runner_;
  ContainerdDaemon* daemon_;
  absl::Notification* shutdown_;
};

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_CNT_RUNNER_CNT_RUNNER_SERVICE_H_
