#include "services/lan_switch/lan_switch_service.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/exec.h"
#include "common/grpc_status.h"
#include "common/names.h"
#include "common/notify_once.h"
#include "common/status_macros.h"
#include "spdlog/spdlog.h"

namespace cloonix {

namespace lsv1 = cloonix::lanswitch::v1;

grpc::Status LanSwitchService::CreateBridge(
    grpc::ServerContext*, const lsv1::CreateBridgeRequest* req,
    lsv1::CreateBridgeResponse*) {
  if (auto s = ValidateIfname(req->name()); !s.ok()) return ToGrpcStatus(s);
  absl::MutexLock l(&mu_);
  spdlog::info("create bridge {}", req->name());
  return ToGrpcStatus(ovsdb_->CreateBridge(req->name()));
}

grpc::Status LanSwitchService::DeleteBridge(
    grpc::ServerContext*, const lsv1::DeleteBridgeRequest* req,
    lsv1::DeleteBridgeResponse*) {
  if (auto s = ValidateIfname(req->name()); !s.ok()) return ToGrpcStatus(s);
  absl::MutexLock l(&mu_);
  spdlog::info("delete bridge {}", req->name());
  return ToGrpcStatus(ovsdb_->DeleteBridge(req->name()));
}

grpc::Status LanSwitchService::AddPort(grpc::ServerContext*,
                                       const lsv1::AddPortRequest* req,
                                       lsv1::AddPortResponse*) {
  for (const auto& n : {req->bridge(), req->port()}) {
    if (auto s = ValidateIfname(n); !s.ok()) return ToGrpcStatus(s);
  }
  absl::MutexLock l(&mu_);
  spdlog::info("add port {} to bridge {}", req->port(), req->bridge());
  return ToGrpcStatus(ovsdb_->AddPort(req->bridge(), req->port()));
}

grpc::Status LanSwitchService::DeletePort(grpc::ServerContext*,
                                          const lsv1::DeletePortRequest* req,
                                          lsv1::DeletePortResponse*) {
  if (auto s = ValidateIfname(req->port()); !s.ok()) return ToGrpcStatus(s);
  absl::MutexLock l(&mu_);
  spdlog::info("delete port {}", req->port());
  return ToGrpcStatus(ovsdb_->DeletePort(req->port()));
}

grpc::Status LanSwitchService::ListBridges(grpc::ServerContext*,
                                           const lsv1::ListBridgesRequest*,
                                           lsv1::ListBridgesResponse* resp) {
  absl::MutexLock l(&mu_);
  auto bridges = ovsdb_->ListBridges();
  if (!bridges.ok()) return ToGrpcStatus(bridges.status());
  for (const auto& [name, ports] : *bridges) {
    auto* b = resp->add_bridges();
    b->set_name(name);
    for (const auto& p : ports) b->add_ports(p);
  }
  return grpc::Status::OK;
}

grpc::Status LanSwitchService::SyncBridges(grpc::ServerContext*,
                                           const lsv1::SyncBridgesRequest* req,
                                           lsv1::SyncBridgesResponse* resp) {
  BridgeMap desired;
  for (const auto& b : req->bridges()) {
    if (auto s = ValidateIfname(b.name()); !s.ok()) return ToGrpcStatus(s);
    auto& ports = desired[b.name()];
    for (const auto& p : b.ports()) {
      if (auto s = ValidateIfname(p); !s.ok()) return ToGrpcStatus(s);
      ports.push_back(p);
    }
  }
  absl::MutexLock l(&mu_);
  auto missing = ovsdb_->Sync(desired);
  if (!missing.ok()) return ToGrpcStatus(missing.status());
  for (const auto& p : *missing) resp->add_missing_ports(p);
  return grpc::Status::OK;
}

grpc::Status LanSwitchService::CreateTap(grpc::ServerContext*,
                                         const lsv1::CreateTapRequest* req,
                                         lsv1::CreateTapResponse*) {
  absl::MutexLock l(&taps_mu_);
  return ToGrpcStatus(taps_->Create(req->name(), req->port()));
}

grpc::Status LanSwitchService::DeleteTap(grpc::ServerContext*,
                                         const lsv1::DeleteTapRequest* req,
                                         lsv1::DeleteTapResponse*) {
  absl::MutexLock l(&taps_mu_);
  return ToGrpcStatus(taps_->Delete(req->name()));
}

grpc::Status LanSwitchService::ListTaps(grpc::ServerContext*,
                                        const lsv1::ListTapsRequest*,
                                        lsv1::ListTapsResponse* resp) {
  absl::MutexLock l(&taps_mu_);
  auto names = taps_->List();
  if (!names.ok()) return ToGrpcStatus(names.status());
  for (const auto& n : *names) resp->add_names(n);
  return grpc::Status::OK;
}

grpc::Status LanSwitchService::CreatePhy(grpc::ServerContext*,
                                         const lsv1::CreatePhyRequest* req,
                                         lsv1::CreatePhyResponse* resp) {
  PhyRequest r;
  r.name = req->name();
  r.nic = req->nic();
  r.host_netns = req->host_netns();
  r.macvlan = req->mode() == cloonix::v1::PHY_MODE_MACVLAN;
  r.force = req->force();
  r.port = req->port();
  absl::MutexLock l(&taps_mu_);
  auto mac = phys_->Create(r);
  if (!mac.ok()) return ToGrpcStatus(mac.status());
  resp->set_mac(*mac);
  return grpc::Status::OK;
}

grpc::Status LanSwitchService::DeletePhy(grpc::ServerContext*,
                                         const lsv1::DeletePhyRequest* req,
                                         lsv1::DeletePhyResponse*) {
  absl::MutexLock l(&taps_mu_);
  return ToGrpcStatus(phys_->Delete(req->name()));
}

grpc::Status LanSwitchService::ListPhys(grpc::ServerContext*,
                                        const lsv1::ListPhysRequest*,
                                        lsv1::ListPhysResponse* resp) {
  absl::MutexLock l(&taps_mu_);
  auto phys = phys_->List();
  if (!phys.ok()) return ToGrpcStatus(phys.status());
  for (const auto& p : *phys) {
    auto* out = resp->add_phys();
    out->set_name(p.request.name);
    out->set_nic(p.request.nic);
    out->set_host_netns(p.request.host_netns);
    out->set_mode(p.request.macvlan ? cloonix::v1::PHY_MODE_MACVLAN
                                    : cloonix::v1::PHY_MODE_ABSORB);
    out->set_port(p.request.port);
    out->set_present(p.present);
    out->set_mac(p.mac);
  }
  return grpc::Status::OK;
}

grpc::Status LanSwitchService::SetPhyMac(grpc::ServerContext*,
                                         const lsv1::SetPhyMacRequest* req,
                                         lsv1::SetPhyMacResponse*) {
  absl::MutexLock l(&taps_mu_);
  return ToGrpcStatus(phys_->SetMac(req->name(), req->mac()));
}

grpc::ServerWriteReactor<cloonix::v1::CaptureMessage>*
LanSwitchService::Capture(grpc::CallbackServerContext*,
                          const lsv1::CaptureRequest* req) {
  CaptureEnv env;
  env.netns = netns_;
  env.add_mirror =
      [this](const std::string& bridge) -> absl::StatusOr<std::string> {
    RETURN_IF_ERROR(ValidateIfname(bridge));
    const std::string port = absl::StrCat("cxm", next_mirror_++);
    {
      absl::MutexLock l(&mu_);
      RETURN_IF_ERROR(ovsdb_->AddMirror(bridge, port));
    }
    // vswitchd makes the internal port's interface shortly after.
    for (int i = 0; i < 150 && !ovsdb_->InterfaceExists(port); ++i)
      absl::SleepFor(absl::Milliseconds(20));
    if (!ovsdb_->InterfaceExists(port)) {
      absl::MutexLock l(&mu_);
      ovsdb_->DeleteMirror(bridge, port).IgnoreError();
      return absl::UnavailableError(
          absl::StrCat("the mirror port of ", bridge, " did not appear"));
    }
    auto up = Exec({"ip", "-n", netns_, "link", "set", "dev", port, "up"});
    if (!up.ok() || up->exit_code != 0) {
      absl::MutexLock l(&mu_);
      ovsdb_->DeleteMirror(bridge, port).IgnoreError();
      return absl::InternalError(
          absl::StrCat("cannot bring the mirror port ", port, " up"));
    }
    return port;
  };
  env.remove_mirror = [this](const std::string& bridge,
                             const std::string& port) {
    absl::MutexLock l(&mu_);
    if (auto s = ovsdb_->DeleteMirror(bridge, port); !s.ok())
      spdlog::warn("capture: {}", s.ToString());
  };
  return NewCapture(*req, std::move(env));
}

grpc::Status LanSwitchService::Teardown(grpc::ServerContext*,
                                        const lsv1::TeardownRequest*,
                                        lsv1::TeardownResponse*) {
  absl::MutexLock l(&mu_);
  spdlog::info("teardown: deleting bridges, stopping OVS, removing netns");
  {
    // Before the netns goes: a veth moved into it would go with it.
    absl::MutexLock tl(&taps_mu_);
    if (auto s = phys_->GiveBackAll(); !s.ok())
      spdlog::error("giving the phys' NICs back: {}", s.ToString());
  }
  if (auto b = ovsdb_->ListBridges(); b.ok()) {
    for (const auto& [name, ports] : *b) {
      if (auto s = ovsdb_->DeleteBridge(name); !s.ok())
        spdlog::warn("{}", s.ToString());
    }
  }
  {
    absl::MutexLock tl(&taps_mu_);
    if (auto taps = taps_->List(); taps.ok()) {
      for (const auto& t : *taps) taps_->Delete(t).IgnoreError();
    }
  }
  absl::Status s = daemons_->Teardown();
  NotifyOnce(shutdown_);
  return ToGrpcStatus(s);
}

}  // namespace cloonix
