// cloonix.vmrunner.v1.VmRunner: a thin gRPC face of VmRunner (vm_runner.h).
#ifndef CLOONIX_SERVICES_VM_RUNNER_VM_RUNNER_SERVICE_H_
#define CLOONIX_SERVICES_VM_RUNNER_VM_RUNNER_SERVICE_H_

#include "absl/synchronization/notification.h"
#include "cloonix/vmrunner/v1/vm_runner.grpc.pb.h"
#include "services/vm_runner/vm_runner.h"

namespace cloonix {

class VmRunnerService final : public vmrunner::v1::VmRunner::Service {
 public:
  VmRunnerService(VmRunner* runner, absl::Notification* shutdown)
      : runner_(runner), shutdown_(shutdown) {}
  grpc::Status CreateVm(grpc::ServerContext*,
                        const vmrunner::v1::CreateVmRequest* req,
                        vmrunner::v1::Vm* resp) override;
  grpc::Status DeleteVm(grpc::ServerContext*,
                        const vmrunner::v1::DeleteVmRequest* req,
                        vmrunner::v1::DeleteVmResponse*) override;
  grpc::Status ListVms(grpc::ServerContext*,
                       const vmrunner::v1::ListVmsRequest*,
                       vmrunner::v1::ListVmsResponse* resp) override;
  grpc::Status RebootVm(grpc::ServerContext*,
                        const vmrunner::v1::RebootVmRequest* req,
                        vmrunner::v1::Vm* resp) override;
  grpc::Status SaveDisk(grpc::ServerContext*,
                        const vmrunner::v1::SaveDiskRequest* req,
                        vmrunner::v1::SaveDiskResponse* resp) override;
  grpc::Status Teardown(grpc::ServerContext*,
                        const vmrunner::v1::TeardownRequest*,
                        vmrunner::v1::TeardownResponse*) override;

 private:
  VmRunner* runner_;
  absl::Notification* shutdown_;
};

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_VM_RUNNER_VM_RUNNER_SERVICE_H_
