// The doorway: the net's front door. cloonix.v1.Topology and cloonix.v1.Net
// are relayed to the orchestrator by ProxyService (proxy.h, generic);
// cloonix.v1.Guest calls are routed by the item's kind: kvm to vm_runner
// (agent channel), cnt to cnt_runner (containerd exec); Guest.Tunnel goes
// through the nat forward the orchestrator opens (OpenNatForward).
//
// Every Guest method is a gRPC callback reactor relaying bytes: the first
// message is parsed for the item's name, the item's kind picks the runner
// (GetItem, asynchronous), then messages flow each way one at a time (a slow
// side slows the other; nothing buffers without bound). Tunnel relays a
// loopback TCP socket on readiness events (common/fd_watcher.h). Deadlines
// and cancellation propagate upstream; nothing polls, no thread per stream.
#ifndef CLOONIX_SERVICES_DOORWAY_DOORWAY_SERVICE_H_
#define CLOONIX_SERVICES_DOORWAY_DOORWAY_SERVICE_H_

#include <deque>
#include <memory>
#include <string>

#include "cloonix/v1/guest.grpc.pb.h"
#include "cloonix/v1/topology.grpc.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"

namespace cloonix {

struct Upstreams {
  std::shared_ptr<grpc::Channel> orchestrator;
  std::shared_ptr<grpc::Channel> vm_runner;
  std::shared_ptr<grpc::Channel> cnt_runner;
};

// cloonix.v1.Guest, registered by name (server reflection lists it).
// Errors: INVALID_ARGUMENT (first message), NOT_FOUND (no such item),
// FAILED_PRECONDITION (not a kvm or cnt; Console of a cnt), UNAVAILABLE
// with reason UPSTREAM_UNAVAILABLE (a daemon of the net not reachable);
// the runners' own errors pass through unchanged.
class GuestRouter final : public grpc::Service {
 public:
  explicit GuestRouter(const Upstreams& up);

  // Which method a relay serves (how to read its first message).
  enum class Method { kExec, kCopyTo, kCopyFrom, kConsole };

 private:
  std::unique_ptr<cloonix::v1::Topology::Stub> topology_;
  grpc::GenericStub vms_;
  grpc::GenericStub cnts_;
  std::deque<std::string> paths_;  // stable storage for the method names
};

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_DOORWAY_DOORWAY_SERVICE_H_
