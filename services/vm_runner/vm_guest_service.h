// cloonix.v1.Guest for the net's VMs: exec, shells, copies and the serial
// console, through each VM's agent channel (agent_link.h) and libvirt.
#ifndef CLOONIX_SERVICES_VM_RUNNER_VM_GUEST_SERVICE_H_
#define CLOONIX_SERVICES_VM_RUNNER_VM_GUEST_SERVICE_H_

#include "cloonix/v1/guest.grpc.pb.h"
#include "services/vm_runner/vm_runner.h"

namespace cloonix {

// cloonix.v1.Guest for VMs, through their agents.
class VmGuestService final
    : public cloonix::v1::Guest::WithCallbackMethod_Console<
          cloonix::v1::Guest::Service> {
 public:
  explicit VmGuestService(VmRunner* runner) : runner_(runner) {}
  grpc::Status Exec(
      grpc::ServerContext* ctx,
      grpc::ServerReaderWriter<cloonix::v1::ExecResponse,
                               cloonix::v1::ExecRequest>* stream) override;
  grpc::Status CopyTo(grpc::ServerContext* ctx,
                      grpc::ServerReader<cloonix::v1::CopyToRequest>* reader,
                      cloonix::v1::CopyToResponse* resp) override;
  grpc::Status CopyFrom(
      grpc::ServerContext* ctx, const cloonix::v1::CopyFromRequest* req,
      grpc::ServerWriter<cloonix::v1::CopyFromResponse>* writer) override;
  // The serial console, on libvirt stream events (no polling).
  grpc::ServerBidiReactor<cloonix::v1::ConsoleRequest,
                          cloonix::v1::ConsoleResponse>*
  Console(grpc::CallbackServerContext* ctx) override;

 private:
  VmRunner* runner_;
};

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_VM_RUNNER_VM_GUEST_SERVICE_H_
