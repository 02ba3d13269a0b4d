#include "services/orchestrator/grpc_backends.h"

#include "common/grpc_status.h"
#include "common/rpc_client.h"

namespace cloonix {

namespace ls = cloonix::lanswitch::v1;
namespace cr = cloonix::cntrunner::v1;

namespace {
constexpr absl::Duration kShort = absl::Seconds(30);
constexpr absl::Duration kLong = absl::Minutes(3);
}  // namespace

GrpcLanBackend::GrpcLanBackend(const std::string& socket)
    : stub_(ls::LanSwitch::NewStub(UnixChannel(socket))) {}

absl::Status GrpcLanBackend::CreateBridge(const std::string& bridge) {
  ls::CreateBridgeRequest req;
  req.set_name(bridge);
  ls::CreateBridgeResponse resp;
  auto ctx = ContextWithDeadline(kShort);
  return FromGrpcStatus(stub_->CreateBridge(ctx.get(), req, &resp),
                        "lan_switch: ");
}

absl::Status GrpcLanBackend::DeleteBridge(const std::string& bridge) {
  ls::DeleteBridgeRequest req;
  req.set_name(bridge);
  ls::DeleteBridgeResponse resp;
  auto ctx = ContextWithDeadline(kShort);
  return FromGrpcStatus(stub_->DeleteBridge(ctx.get(), req, &resp),
                        "lan_switch: ");
}

absl::Status GrpcLanBackend::AddPort(const std::string& bridge,
                                     const std::string& port) {
  ls::AddPortRequest req;
  req.set_bridge(bridge);
  req.set_port(port);
  ls::AddPortResponse resp;
  auto ctx = ContextWithDeadline(kShort);
  return FromGrpcStatus(stub_->AddPort(ctx.get(), req, &resp), "lan_switch: ");
}

absl::Status GrpcLanBackend::DeletePort(const std::string& port) {
  ls::DeletePortRequest req;
  req.set_port(port);
  ls::DeletePortResponse resp;
  auto ctx = ContextWithDeadline(kShort);
  return FromGrpcStatus(stub_->DeletePort(ctx.get(), req, &resp),
                        "lan_switch: ");
}

absl::StatusOr<std::vector<std::string>> GrpcLanBackend::Sync(
    const std::map<std::string, std::vector<std::string>>& bridges) {
  ls::SyncBridgesRequest req;
  for (const auto& [name, ports] : bridges) {
    auto* b = req.add_bridges();
    b->set_name(name);
    for (const auto& p : ports) b->add_ports(p);
  }
  ls::SyncBridgesResponse resp;
  auto ctx = ContextWithDeadline(kShort);
  auto s =
      FromGrpcStatus(stub_->SyncBridges(ctx.get(), req, &resp), "lan_switch: ");
  if (!s.ok()) return s;
  return std::vector<std::string>(resp.missing_ports().begin(),
                                  resp.missing_ports().end());
}

absl::Status GrpcLanBackend::Teardown() {
  ls::TeardownRequest req;
  ls::TeardownResponse resp;
  auto ctx = ContextWithDeadline(kLong);
  return FromGrpcStatus(stub_->Teardown(ctx.get(), req, &resp), "lan_switch: ");
}

GrpcCntBackend::GrpcCntBackend(const std::string& socket)
    : stub_(cr::CntRunner::NewStub(UnixChannel(socket))) {}

absl::Status GrpcCntBackend::Create(cloonix::v1::Item* item) {
  cr::CreateContainerRequest req;
  req.set_name(item->name());
  req.set_image(item->cnt().image());
  for (const auto& e : item->eths()) {
    auto* ce = req.add_eths();
    ce->set_index(e.index());
    ce->set_port(e.port());
    ce->set_mac(e.mac());
  }
  for (const auto& c : item->cnt().command()) req.add_command(c);
  for (const auto& e : item->cnt().env()) req.add_env(e);
  cr::Container resp;
  auto ctx = ContextWithDeadline(kLong);
  auto s = FromGrpcStatus(stub_->CreateContainer(ctx.get(), req, &resp),
                          "cnt_runner: ");
  if (!s.ok()) return s;
  item->mutable_cnt()->set_netns(resp.netns());
  item->mutable_cnt()->set_pid(resp.pid());
  return absl::OkStatus();
}

absl::Status GrpcCntBackend::Delete(const std::string& name) {
  cr::DeleteContainerRequest req;
  req.set_name(name);
  cr::DeleteContainerResponse resp;
  auto ctx = ContextWithDeadline(kLong);
  return FromGrpcStatus(stub_->DeleteContainer(ctx.get(), req, &resp),
                        "cnt_runner: ");
}

absl::StatusOr<std::vector<RunningCnt>> GrpcCntBackend::List() {
  cr::ListContainersRequest req;
  cr::ListContainersResponse resp;
  auto ctx = ContextWithDeadline(kShort);
  auto s = FromGrpcStatus(stub_->ListContainers(ctx.get(), req, &resp),
                          "cnt_runner: ");
  if (!s.ok()) return s;
  std::vector<RunningCnt> out;
  for (const auto& c : resp.containers()) {
    out.push_back(
        {c.name(), c.state() == cr::CONTAINER_STATE_RUNNING, c.pid()});
  }
  return out;
}

absl::Status GrpcCntBackend::Teardown() {
  cr::TeardownRequest req;
  cr::TeardownResponse resp;
  auto ctx = ContextWithDeadline(kLong);
  return FromGrpcStatus(stub_->Teardown(ctx.get(), req, &resp), "cnt_runner: ");
}

}  // namespace cloonix
