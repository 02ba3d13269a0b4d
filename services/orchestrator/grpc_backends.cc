#include "services/orchestrator/grpc_backends.h"

#include "common/grpc_status.h"
#include "common/rpc_client.h"

namespace cloonix {

namespace ls = cloonix::lanswitch::v1;
namespace cr = cloonix::cntrunner::v1;
namespace ab = cloonix::a2b::v1;
namespace vr = cloonix::vmrunner::v1;
namespace nt = cloonix::nat::v1;
namespace cc = cloonix::c2c::v1;

namespace {
constexpr absl::Duration kShort = absl::Seconds(30);
constexpr absl::Duration kLong = absl::Minutes(3);

// One unary call with a deadline; the status mapped, prefixed by `what`.
template <typename Stub, typename Req, typename Resp>
absl::Status Call(Stub* stub,
                  grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&,
                                               Resp*),
                  const Req& req, Resp* resp, absl::Duration timeout,
                  absl::string_view what) {
  auto ctx = ContextWithDeadline(timeout);
  return FromGrpcStatus((stub->*method)(ctx.get(), req, resp), what);
}
}  // namespace

GrpcLanBackend::GrpcLanBackend(const std::string& socket)
    : stub_(ls::LanSwitch::NewStub(UnixChannel(socket))) {}

absl::Status GrpcLanBackend::CreateBridge(const std::string& bridge) {
  ls::CreateBridgeRequest req;
  req.set_name(bridge);
  ls::CreateBridgeResponse resp;
  return Call(stub_.get(), &ls::LanSwitch::Stub::CreateBridge, req, &resp,
              kShort, "lan_switch: ");
}

absl::Status GrpcLanBackend::DeleteBridge(const std::string& bridge) {
  ls::DeleteBridgeRequest req;
  req.set_name(bridge);
  ls::DeleteBridgeResponse resp;
  return Call(stub_.get(), &ls::LanSwitch::Stub::DeleteBridge, req, &resp,
              kShort, "lan_switch: ");
}

absl::Status GrpcLanBackend::AddPort(const std::string& bridge,
                                     const std::string& port) {
  ls::AddPortRequest req;
  req.set_bridge(bridge);
  req.set_port(port);
  ls::AddPortResponse resp;
  return Call(stub_.get(), &ls::LanSwitch::Stub::AddPort, req, &resp, kShort,
              "lan_switch: ");
}

absl::Status GrpcLanBackend::DeletePort(const std::string& port) {
  ls::DeletePortRequest req;
  req.set_port(port);
  ls::DeletePortResponse resp;
  return Call(stub_.get(), &ls::LanSwitch::Stub::DeletePort, req, &resp, kShort,
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

absl::StatusOr<std::map<std::string, std::vector<std::string>>>
GrpcLanBackend::ListBridges() {
  ls::ListBridgesRequest req;
  ls::ListBridgesResponse resp;
  auto s = Call(stub_.get(), &ls::LanSwitch::Stub::ListBridges, req, &resp,
                kShort, "lan_switch: ");
  if (!s.ok()) return s;
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& b : resp.bridges()) {
    out[b.name()].assign(b.ports().begin(), b.ports().end());
  }
  return out;
}

absl::Status GrpcLanBackend::Teardown() {
  ls::TeardownRequest req;
  ls::TeardownResponse resp;
  return Call(stub_.get(), &ls::LanSwitch::Stub::Teardown, req, &resp, kLong,
              "lan_switch: ");
}

absl::Status GrpcLanBackend::CreateTap(const std::string& name,
                                       const std::string& port) {
  ls::CreateTapRequest req;
  req.set_name(name);
  req.set_port(port);
  ls::CreateTapResponse resp;
  return Call(stub_.get(), &ls::LanSwitch::Stub::CreateTap, req, &resp, kShort,
              "lan_switch: ");
}

absl::Status GrpcLanBackend::DeleteTap(const std::string& name) {
  ls::DeleteTapRequest req;
  req.set_name(name);
  ls::DeleteTapResponse resp;
  return Call(stub_.get(), &ls::LanSwitch::Stub::DeleteTap, req, &resp, kShort,
              "lan_switch: ");
}

absl::StatusOr<std::vector<std::string>> GrpcLanBackend::ListTaps() {
  ls::ListTapsRequest req;
  ls::ListTapsResponse resp;
  auto s = Call(stub_.get(), &ls::LanSwitch::Stub::ListTaps, req, &resp, kShort,
                "lan_switch: ");
  if (!s.ok()) return s;
  return std::vector<std::string>(resp.names().begin(), resp.names().end());
}

absl::StatusOr<std::string> GrpcLanBackend::CreatePhy(
    const cloonix::v1::Item& item) {
  ls::CreatePhyRequest req;
  req.set_name(item.name());
  req.set_nic(item.phy().host_ifname());
  req.set_host_netns(item.phy().host_netns());
  req.set_mode(item.phy().mode());
  req.set_force(item.phy().force());
  req.set_port(item.eths(0).port());
  ls::CreatePhyResponse resp;
  auto s = Call(stub_.get(), &ls::LanSwitch::Stub::CreatePhy, req, &resp,
                kShort, "lan_switch: ");
  if (!s.ok()) return s;
  return resp.mac();
}

absl::Status GrpcLanBackend::DeletePhy(const std::string& name) {
  ls::DeletePhyRequest req;
  req.set_name(name);
  ls::DeletePhyResponse resp;
  return Call(stub_.get(), &ls::LanSwitch::Stub::DeletePhy, req, &resp, kShort,
              "lan_switch: ");
}

absl::StatusOr<std::vector<LanBackend::PhyPort>> GrpcLanBackend::ListPhys() {
  ls::ListPhysRequest req;
  ls::ListPhysResponse resp;
  auto s = Call(stub_.get(), &ls::LanSwitch::Stub::ListPhys, req, &resp, kShort,
                "lan_switch: ");
  if (!s.ok()) return s;
  std::vector<PhyPort> out;
  for (const auto& p : resp.phys())
    out.push_back({p.name(), p.present(), p.mac()});
  return out;
}

absl::Status GrpcLanBackend::SetPhyMac(const std::string& name,
                                       const std::string& mac) {
  ls::SetPhyMacRequest req;
  req.set_name(name);
  req.set_mac(mac);
  ls::SetPhyMacResponse resp;
  return Call(stub_.get(), &ls::LanSwitch::Stub::SetPhyMac, req, &resp, kShort,
              "lan_switch: ");
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
  *req.mutable_mounts() = item->cnt().mounts();
  req.set_privileged(item->cnt().privileged());
  *req.mutable_files() = item->cnt().files();
  cr::Container resp;
  auto s = Call(stub_.get(), &cr::CntRunner::Stub::CreateContainer, req, &resp,
                kLong, "cnt_runner: ");
  if (!s.ok()) return s;
  item->mutable_cnt()->set_netns(resp.netns());
  item->mutable_cnt()->set_pid(resp.pid());
  return absl::OkStatus();
}

absl::Status GrpcCntBackend::Delete(const std::string& name) {
  cr::DeleteContainerRequest req;
  req.set_name(name);
  cr::DeleteContainerResponse resp;
  return Call(stub_.get(), &cr::CntRunner::Stub::DeleteContainer, req, &resp,
              kLong, "cnt_runner: ");
}

absl::StatusOr<std::vector<RunningCnt>> GrpcCntBackend::List() {
  cr::ListContainersRequest req;
  cr::ListContainersResponse resp;
  auto s = Call(stub_.get(), &cr::CntRunner::Stub::ListContainers, req, &resp,
                kShort, "cnt_runner: ");
  if (!s.ok()) return s;
  std::vector<RunningCnt> out;
  for (const auto& c : resp.containers()) {
    RunningCnt r{c.name(),
                 c.state() == cr::CONTAINER_STATE_RUNNING,
                 c.pid(),
                 c.image(),
                 {}};
    for (const auto& e : c.eths())
      r.eths.push_back({e.index(), e.port(), e.mac()});
    out.push_back(std::move(r));
  }
  return out;
}

absl::Status GrpcCntBackend::Teardown() {
  cr::TeardownRequest req;
  cr::TeardownResponse resp;
  return Call(stub_.get(), &cr::CntRunner::Stub::Teardown, req, &resp, kLong,
              "cnt_runner: ");
}

GrpcA2bBackend::GrpcA2bBackend(const std::string& socket)
    : stub_(ab::A2bWorker::NewStub(UnixChannel(socket))) {}

absl::Status GrpcA2bBackend::Create(const cloonix::v1::Item& item) {
  ab::CreateA2bRequest req;
  req.set_name(item.name());
  req.set_port0(item.eths(0).port());
  req.set_port1(item.eths(1).port());
  *req.mutable_dir0() = item.a2b().dir0();
  *req.mutable_dir1() = item.a2b().dir1();
  ab::A2b resp;
  return Call(stub_.get(), &ab::A2bWorker::Stub::CreateA2b, req, &resp, kShort,
              "a2b: ");
}

absl::Status GrpcA2bBackend::Delete(const std::string& name) {
  ab::DeleteA2bRequest req;
  req.set_name(name);
  ab::DeleteA2bResponse resp;
  return Call(stub_.get(), &ab::A2bWorker::Stub::DeleteA2b, req, &resp, kShort,
              "a2b: ");
}

absl::Status GrpcA2bBackend::Set(const std::string& name, uint32_t dir,
                                 const cloonix::v1::A2bSettings& settings) {
  ab::SetSettingsRequest req;
  req.set_name(name);
  req.set_dir(dir);
  *req.mutable_settings() = settings;
  ab::A2b resp;
  return Call(stub_.get(), &ab::A2bWorker::Stub::SetSettings, req, &resp,
              kShort, "a2b: ");
}

absl::StatusOr<cloonix::v1::A2bSpec> GrpcA2bBackend::Get(
    const std::string& name) {
  ab::GetA2bRequest req;
  req.set_name(name);
  ab::A2b resp;
  auto s = Call(stub_.get(), &ab::A2bWorker::Stub::GetA2b, req, &resp, kShort,
                "a2b: ");
  if (!s.ok()) return s;
  cloonix::v1::A2bSpec spec;
  *spec.mutable_dir0() = resp.dir0();
  *spec.mutable_dir1() = resp.dir1();
  *spec.mutable_counters0() = resp.counters0();
  *spec.mutable_counters1() = resp.counters1();
  return spec;
}

absl::StatusOr<std::vector<std::string>> GrpcA2bBackend::List() {
  ab::ListA2bRequest req;
  ab::ListA2bResponse resp;
  auto s = Call(stub_.get(), &ab::A2bWorker::Stub::ListA2b, req, &resp, kShort,
                "a2b: ");
  if (!s.ok()) return s;
  std::vector<std::string> out;
  for (const auto& a : resp.a2bs()) out.push_back(a.name());
  return out;
}

absl::Status GrpcA2bBackend::Teardown() {
  ab::TeardownRequest req;
  ab::TeardownResponse resp;
  return Call(stub_.get(), &ab::A2bWorker::Stub::Teardown, req, &resp, kLong,
              "a2b: ");
}

GrpcVmBackend::GrpcVmBackend(const std::string& socket)
    : stub_(vr::VmRunner::NewStub(UnixChannel(socket))) {}

absl::Status GrpcVmBackend::Create(cloonix::v1::Item* item, bool restart) {
  vr::CreateVmRequest req;
  req.set_restart(restart);
  req.set_name(item->name());
  req.set_id(item->id());
  req.set_image(item->kvm().image());
  *req.mutable_files() = item->kvm().files();
  req.set_ram_mb(item->kvm().ram_mb());
  req.set_cpu(item->kvm().cpu());
  req.set_persistent(item->kvm().persistent());
  *req.mutable_options() = item->kvm().options();
  for (const auto& e : item->eths()) {
    auto* ve = req.add_eths();
    ve->set_port(e.port());
    ve->set_mac(e.mac());
  }
  vr::Vm resp;
  auto s = Call(stub_.get(), &vr::VmRunner::Stub::CreateVm, req, &resp, kLong,
                "vm_runner: ");
  if (!s.ok()) return s;
  item->mutable_kvm()->set_pid(resp.qemu_pid());
  item->mutable_kvm()->set_domain_type(resp.domain_type());
  item->mutable_kvm()->set_console_log(resp.console_log());
  return absl::OkStatus();
}

absl::Status GrpcVmBackend::Delete(const std::string& name) {
  vr::DeleteVmRequest req;
  req.set_name(name);
  vr::DeleteVmResponse resp;
  return Call(stub_.get(), &vr::VmRunner::Stub::DeleteVm, req, &resp, kLong,
              "vm_runner: ");
}

absl::Status GrpcVmBackend::Stop(const std::string& name) {
  vr::DeleteVmRequest req;
  req.set_name(name);
  req.set_keep_disk(true);
  vr::DeleteVmResponse resp;
  return Call(stub_.get(), &vr::VmRunner::Stub::DeleteVm, req, &resp, kLong,
              "vm_runner: ");
}

absl::Status GrpcVmBackend::Reboot(const std::string& name) {
  vr::RebootVmRequest req;
  req.set_name(name);
  vr::Vm resp;
  return Call(stub_.get(), &vr::VmRunner::Stub::RebootVm, req, &resp, kShort,
              "vm_runner: ");
}

absl::StatusOr<std::pair<std::string, uint64_t>> GrpcVmBackend::SaveDisk(
    const std::string& name, const std::string& path) {
  vr::SaveDiskRequest req;
  req.set_name(name);
  req.set_path(path);
  vr::SaveDiskResponse resp;
  absl::Status s = Call(stub_.get(), &vr::VmRunner::Stub::SaveDisk, req, &resp,
                        absl::Minutes(31), "vm_runner: ");
  if (!s.ok()) return s;
  return std::make_pair(resp.path(), resp.size_bytes());
}

absl::StatusOr<std::vector<RunningVm>> GrpcVmBackend::List() {
  vr::ListVmsRequest req;
  vr::ListVmsResponse resp;
  auto s = Call(stub_.get(), &vr::VmRunner::Stub::ListVms, req, &resp, kShort,
                "vm_runner: ");
  if (!s.ok()) return s;
  std::vector<RunningVm> out;
  for (const auto& v : resp.vms()) {
    out.push_back(
        {v.name(), v.running(), v.agent() == vr::AGENT_STATE_UP, v.qemu_pid()});
  }
  return out;
}

absl::Status GrpcVmBackend::Teardown() {
  vr::TeardownRequest req;
  vr::TeardownResponse resp;
  return Call(stub_.get(), &vr::VmRunner::Stub::Teardown, req, &resp, kLong,
              "vm_runner: ");
}

GrpcNatBackend::GrpcNatBackend(const std::string& socket)
    : stub_(nt::NatWorker::NewStub(UnixChannel(socket))) {}

absl::Status GrpcNatBackend::Create(const cloonix::v1::Item& item) {
  nt::CreateNatRequest req;
  req.set_name(item.name());
  req.set_id(item.id());
  req.set_port(item.eths(0).port());
  nt::Nat resp;
  return Call(stub_.get(), &nt::NatWorker::Stub::CreateNat, req, &resp, kShort,
              "nat: ");
}

absl::Status GrpcNatBackend::Delete(const std::string& name) {
  nt::DeleteNatRequest req;
  req.set_name(name);
  nt::DeleteNatResponse resp;
  return Call(stub_.get(), &nt::NatWorker::Stub::DeleteNat, req, &resp, kShort,
              "nat: ");
}

absl::StatusOr<std::vector<NatState>> GrpcNatBackend::List() {
  nt::ListNatsRequest req;
  nt::ListNatsResponse resp;
  auto s = Call(stub_.get(), &nt::NatWorker::Stub::ListNats, req, &resp, kShort,
                "nat: ");
  if (!s.ok()) return s;
  std::vector<NatState> out;
  for (const auto& n : resp.nats()) {
    NatState st;
    st.name = n.name();
    for (const auto& l : n.leases()) {
      cloonix::v1::NatLease pl;
      pl.set_mac(l.mac());
      pl.set_ip(l.ip());
      pl.set_age_s(l.age_s());
      st.leases.push_back(pl);
    }
    out.push_back(std::move(st));
  }
  return out;
}

absl::StatusOr<uint32_t> GrpcNatBackend::AddHostForward(const std::string& nat,
                                                        const std::string& mac,
                                                        uint32_t guest_port) {
  nt::AddHostForwardRequest req;
  req.set_nat(nat);
  req.set_mac(mac);
  req.set_guest_port(guest_port);
  nt::AddHostForwardResponse resp;
  auto s = Call(stub_.get(), &nt::NatWorker::Stub::AddHostForward, req, &resp,
                kShort, "nat: ");
  if (!s.ok()) return s;
  return resp.host_port();
}

absl::Status GrpcNatBackend::RemoveHostForward(const std::string& nat,
                                               uint32_t host_port) {
  nt::RemoveHostForwardRequest req;
  req.set_nat(nat);
  req.set_host_port(host_port);
  nt::RemoveHostForwardResponse resp;
  return Call(stub_.get(), &nt::NatWorker::Stub::RemoveHostForward, req, &resp,
              kShort, "nat: ");
}

absl::Status GrpcNatBackend::Teardown() {
  nt::TeardownRequest req;
  nt::TeardownResponse resp;
  return Call(stub_.get(), &nt::NatWorker::Stub::Teardown, req, &resp, kLong,
              "nat: ");
}

namespace {
C2cEnd EndOf(const cc::C2c& c) {
  C2cEnd e;
  e.name = c.name();
  e.vni = c.vni();
  e.udp_port = c.udp_port();
  e.peer_ip = c.peer_ip();
  e.peer_udp_port = c.peer_udp_port();
  e.inner_mtu = c.inner_mtu();
  e.mac_mangle = c.mac_mangle();
  e.counters = c.counters();
  return e;
}
}  // namespace

GrpcC2cBackend::GrpcC2cBackend(const std::string& socket)
    : stub_(cc::C2cWorker::NewStub(UnixChannel(socket))) {}

absl::StatusOr<C2cEnd> GrpcC2cBackend::Create(const std::string& name,
                                              const std::string& port,
                                              uint32_t vni, uint32_t udp_port,
                                              const std::string& peer_ip,
                                              uint32_t peer_udp_port,
                                              const std::string& mac_mangle) {
  cc::CreateC2cRequest req;
  req.set_mac_mangle(mac_mangle);
  req.set_name(name);
  req.set_port(port);
  req.set_vni(vni);
  req.set_udp_port(udp_port);
  req.set_peer_ip(peer_ip);
  req.set_peer_udp_port(peer_udp_port);
  cc::C2c resp;
  auto s = Call(stub_.get(), &cc::C2cWorker::Stub::CreateC2c, req, &resp,
                kShort, "c2c: ");
  if (!s.ok()) return s;
  return EndOf(resp);
}

absl::StatusOr<C2cEnd> GrpcC2cBackend::SetPeer(const std::string& name,
                                               const std::string& peer_ip,
                                               uint32_t peer_udp_port) {
  cc::SetPeerRequest req;
  req.set_name(name);
  req.set_peer_ip(peer_ip);
  req.set_peer_udp_port(peer_udp_port);
  cc::C2c resp;
  auto s = Call(stub_.get(), &cc::C2cWorker::Stub::SetPeer, req, &resp, kShort,
                "c2c: ");
  if (!s.ok()) return s;
  return EndOf(resp);
}

absl::StatusOr<C2cEnd> GrpcC2cBackend::SetMacMangle(const std::string& name,
                                                    const std::string& mac) {
  cc::SetMacMangleRequest req;
  req.set_name(name);
  req.set_mac_mangle(mac);
  cc::C2c resp;
  auto s = Call(stub_.get(), &cc::C2cWorker::Stub::SetMacMangle, req, &resp,
                kShort, "c2c: ");
  if (!s.ok()) return s;
  return EndOf(resp);
}

absl::Status GrpcC2cBackend::Delete(const std::string& name) {
  cc::DeleteC2cRequest req;
  req.set_name(name);
  cc::DeleteC2cResponse resp;
  return Call(stub_.get(), &cc::C2cWorker::Stub::DeleteC2c, req, &resp, kShort,
              "c2c: ");
}

absl::StatusOr<std::vector<C2cEnd>> GrpcC2cBackend::List() {
  cc::ListC2cRequest req;
  cc::ListC2cResponse resp;
  auto s = Call(stub_.get(), &cc::C2cWorker::Stub::ListC2c, req, &resp, kShort,
                "c2c: ");
  if (!s.ok()) return s;
  std::vector<C2cEnd> out;
  for (const auto& c : resp.c2cs()) out.push_back(EndOf(c));
  return out;
}

absl::Status GrpcC2cBackend::Teardown() {
  cc::TeardownRequest req;
  cc::TeardownResponse resp;
  return Call(stub_.get(), &cc::C2cWorker::Stub::Teardown, req, &resp, kLong,
              "c2c: ");
}

}  // namespace cloonix
