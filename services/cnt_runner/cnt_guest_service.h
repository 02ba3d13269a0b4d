// cloonix.v1.Guest for containers: Exec through containerd's task exec
// (the container's own OCI process as the base: same capabilities and
// user), with FIFOs for stdio under <work_dir>/cnt/exec/<exec id>/; copies
// through the container's root as seen by its init (/proc/<pid>/root), so
// they reach what the container sees.
//
// Every method is a gRPC callback reactor: Exec relays the FIFOs on
// readiness events (common/fd_watcher.h) and learns the exit from
// containerd's Wait called asynchronously; a client that goes away
// (OnCancel) gets its process killed at once. Nothing polls and no thread
// waits per stream. Console and Tunnel answer FAILED_PRECONDITION with the
// reason: containers have no serial console (cloonix ssh instead), and the
// doorway serves Tunnel itself (to the nat's loopback forward).
#ifndef CLOONIX_SERVICES_CNT_RUNNER_CNT_GUEST_SERVICE_H_
#define CLOONIX_SERVICES_CNT_RUNNER_CNT_GUEST_SERVICE_H_

#include <atomic>
#include <string>

#include "cloonix/v1/guest.grpc.pb.h"
#include "services/cnt_runner/containerd_client.h"

namespace cloonix {

class CntGuestService final : public cloonix::v1::Guest::CallbackService {
 public:
  CntGuestService(std::string work_dir, ContainerdClient* client)
      : work_dir_(std::move(work_dir)), client_(client) {}
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
  std::string work_dir_;
  ContainerdClient* client_;
  std::atomic<uint64_t> next_exec_{1};
};

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_CNT_RUNNER_CNT_GUEST_SERVICE_H_
