// The doorway: the net's front door. cloonix.v1.Topology and cloonix.v1.Net
// are relayed to the orchestrator by ProxyService (proxy.h, generic);
// cloonix.v1.Guest calls are routed by the item's kind: kvm to vm_runner
// (agent channel), cnt to cnt_runner (containerd exec); Guest.Tunnel goes
// through the nat forward the orchestrator opens (OpenNatForward).
// Deadlines and cancellation propagate upstream.
#ifndef CLOONIX_SERVICES_DOORWAY_DOORWAY_SERVICE_H_
#define CLOONIX_SERVICES_DOORWAY_DOORWAY_SERVICE_H_

#include <memory>
#include <string>

#include "cloonix/v1/guest.grpc.pb.h"
#include "cloonix/v1/topology.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace cloonix {

struct Upstreams {
  std::shared_ptr<grpc::Channel> orchestrator;
  std::shared_ptr<grpc::Channel> vm_runner;
  std::shared_ptr<grpc::Channel> cnt_runner;
};

class GuestRouter final : public cloonix::v1::Guest::Service {
 public:
  explicit GuestRouter(const Upstreams& up);
  grpc::Status Exec(
      grpc::ServerContext* c,
      grpc::ServerReaderWriter<cloonix::v1::ExecResponse,
                               cloonix::v1::ExecRequest>* s) override;
  grpc::Status CopyTo(grpc::ServerContext* c,
                      grpc::ServerReader<cloonix::v1::CopyToRequest>* r,
                      cloonix::v1::CopyToResponse* o) override;
  grpc::Status CopyFrom(
      grpc::ServerContext* c, const cloonix::v1::CopyFromRequest* r,
      grpc::ServerWriter<cloonix::v1::CopyFromResponse>* w) override;
  grpc::Status Console(
      grpc::ServerContext* c,
      grpc::ServerReaderWriter<cloonix::v1::ConsoleResponse,
                               cloonix::v1::ConsoleRequest>* s) override;
  grpc::Status Tunnel(
      grpc::ServerContext* c,
      grpc::ServerReaderWriter<cloonix::v1::TunnelResponse,
                               cloonix::v1::TunnelRequest>* s) override;

 private:
  // The loopback port the item's nat forwards to its `port` (the
  // orchestrator picks the nat).
  grpc::Status NatForward(grpc::ServerContext* c, const std::string& item,
                          uint32_t port, std::string* nat, uint32_t* host_port);
  // Drops this tunnel's hold on the forward (the nat closes the loopback
  // port when no tunnel uses it).
  void ReleaseForward(const std::string& nat, uint32_t host_port);
  // The Guest stub serving `item`, by its kind. NOT_FOUND,
  // FAILED_PRECONDITION (not a kvm or cnt).
  grpc::Status Route(grpc::ServerContext* c, const std::string& item,
                     cloonix::v1::Guest::Stub** stub);
  std::unique_ptr<cloonix::v1::Topology::Stub> topology_;
  std::unique_ptr<cloonix::v1::Guest::Stub> vms_;
  std::unique_ptr<cloonix::v1::Guest::Stub> cnts_;
};

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_DOORWAY_DOORWAY_SERVICE_H_
