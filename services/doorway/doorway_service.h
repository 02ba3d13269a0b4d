// The doorway: the net's front door. Forwards cloonix.v1.Topology and
// cloonix.v1.Net to the orchestrator, and routes cloonix.v1.Guest calls by
// the item's kind: kvm to vm_runner (agent channel), cnt to cnt_runner
// (containerd exec). Deadlines and cancellation propagate upstream.
#ifndef CLOONIX_SERVICES_DOORWAY_DOORWAY_SERVICE_H_
#define CLOONIX_SERVICES_DOORWAY_DOORWAY_SERVICE_H_

#include <memory>
#include <string>

#include "cloonix/nat/v1/nat.grpc.pb.h"
#include "cloonix/v1/guest.grpc.pb.h"
#include "cloonix/v1/topology.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace cloonix {

struct Upstreams {
  std::shared_ptr<grpc::Channel> orchestrator;
  std::shared_ptr<grpc::Channel> vm_runner;
  std::shared_ptr<grpc::Channel> cnt_runner;
  std::shared_ptr<grpc::Channel> nat;
};

class TopologyProxy final : public cloonix::v1::Topology::Service {
 public:
  explicit TopologyProxy(const Upstreams& up)
      : stub_(cloonix::v1::Topology::NewStub(up.orchestrator)) {}
  grpc::Status CreateItem(grpc::ServerContext* c,
                          const cloonix::v1::CreateItemRequest* r,
                          cloonix::v1::Item* o) override;
  grpc::Status GetItem(grpc::ServerContext* c,
                       const cloonix::v1::GetItemRequest* r,
                       cloonix::v1::Item* o) override;
  grpc::Status ListItems(grpc::ServerContext* c,
                         const cloonix::v1::ListItemsRequest* r,
                         cloonix::v1::ListItemsResponse* o) override;
  grpc::Status DeleteItem(grpc::ServerContext* c,
                          const cloonix::v1::DeleteItemRequest* r,
                          cloonix::v1::DeleteItemResponse* o) override;
  grpc::Status ConnectEth(grpc::ServerContext* c,
                          const cloonix::v1::ConnectEthRequest* r,
                          cloonix::v1::Item* o) override;
  grpc::Status DisconnectEth(grpc::ServerContext* c,
                             const cloonix::v1::DisconnectEthRequest* r,
                             cloonix::v1::Item* o) override;
  grpc::Status ConfigureA2b(grpc::ServerContext* c,
                            const cloonix::v1::ConfigureA2bRequest* r,
                            cloonix::v1::Item* o) override;
  grpc::Status WhatIp(grpc::ServerContext* c,
                      const cloonix::v1::WhatIpRequest* r,
                      cloonix::v1::WhatIpResponse* o) override;
  grpc::Status ControlKvm(grpc::ServerContext* c,
                          const cloonix::v1::ControlKvmRequest* r,
                          cloonix::v1::Item* o) override;
  grpc::Status WatchEvents(grpc::ServerContext* c,
                           const cloonix::v1::WatchEventsRequest* r,
                           grpc::ServerWriter<cloonix::v1::Event>* w) override;

 private:
  std::unique_ptr<cloonix::v1::Topology::Stub> stub_;
};

class NetProxy final : public cloonix::v1::Net::Service {
 public:
  explicit NetProxy(const Upstreams& up)
      : stub_(cloonix::v1::Net::NewStub(up.orchestrator)) {}
  grpc::Status GetNet(grpc::ServerContext* c,
                      const cloonix::v1::GetNetRequest* r,
                      cloonix::v1::NetInfo* o) override;
  grpc::Status StopNet(grpc::ServerContext* c,
                       const cloonix::v1::StopNetRequest* r,
                       cloonix::v1::StopNetResponse* o) override;

 private:
  std::unique_ptr<cloonix::v1::Net::Stub> stub_;
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
  // The loopback port the item's nat forwards to its `port`.
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
  std::unique_ptr<cloonix::nat::v1::NatWorker::Stub> nat_;
};

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_DOORWAY_DOORWAY_SERVICE_H_
