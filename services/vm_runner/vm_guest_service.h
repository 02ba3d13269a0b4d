// cloonix.v1.Guest for the net's VMs: exec, shells, copies and the serial
// console, through each VM's agent channel (agent_link.h) and libvirt.
#ifndef CLOONIX_SERVICES_VM_RUNNER_VM_GUEST_SERVICE_H_
#define CLOONIX_SERVICES_VM_RUNNER_VM_GUEST_SERVICE_H_

#include "cloonix/v1/guest.grpc.pb.h"
#include "services/vm_runner/vm_runner.h"

namespace cloonix {

// cloonix.v1.Guest for VMs, through their agents. Every method is a gRPC
// callback reactor: agent frames wake the stream (AgentSession's listener),
// the serial console runs on libvirt stream events, answers the agent owes
// are timed by grpc::Alarm; a client that goes away (OnCancel) ends the
// session and kills its command in the guest. Nothing polls and no thread
// waits per stream. Tunnel is served by the doorway (FAILED_PRECONDITION
// here, saying so).
class VmGuestService final : public cloonix::v1::Guest::CallbackService {
 public:
  explicit VmGuestService(VmRunner* runner) : runner_(runner) {}
  grpc::ServerBidiReactor<cloonix::v1::ExecRequest, cloonix::v1::ExecResponse>*
  Exec(grpc::CallbackServerContext* ctx) override;
  grpc::ServerReadReactor<cloonix::v1::CopyToRequest>* CopyTo(
      grpc::CallbackServerContext* ctx,
      cloonix::v1::CopyToResponse* resp) override;
  grpc::ServerWriteReactor<cloonix::v1::CopyFromResponse>* CopyFrom(
      grpc::CallbackServerContext* ctx,
      const cloonix::v1::CopyFromRequest* req) override;
  grpc::ServerBidiReactor<cloonix::v1::ConsoleRequest,
                          cloonix::v1::ConsoleResponse>*
  Console(grpc::CallbackServerContext* ctx) override;
  grpc::ServerBidiReactor<cloonix::v1::TunnelRequest,
                          cloonix::v1::TunnelResponse>*
  Tunnel(grpc::CallbackServerContext* ctx) override;

 private:
  VmRunner* runner_;
};

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_VM_RUNNER_VM_GUEST_SERVICE_H_
