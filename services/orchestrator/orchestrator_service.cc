#include "services/orchestrator/orchestrator_service.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>

#include "absl/strings/str_cat.h"
#include "common/error_reasons.h"
#include "common/grpc_status.h"
#include "common/names.h"
#include "google/protobuf/util/time_util.h"
#include "services/orchestrator/keeper.h"

namespace cloonix {

namespace {

// The answer of a call that returns a message.
template <typename T>
grpc::Status Reply(absl::StatusOr<T> r, T* resp) {
  if (!r.ok()) return ToGrpcStatus(r.status());
  *resp = *std::move(r);
  return grpc::Status::OK;
}

}  // namespace

grpc::Status TopologyService::CreateItem(grpc::ServerContext*,
                                         const v1::CreateItemRequest* req,
                                         v1::Item* resp) {
  if (!req->item().has_c2c())
    return Reply(manager_->CreateItem(req->item()), resp);
  // A c2c: the peer's credentials go to files, never into the topology.
  v1::Item item = req->item();
  auto* c = item.mutable_c2c();
  ClientCreds creds{c->peer_ca_pem(), c->peer_cert_pem(), c->peer_key_pem()};
  c->clear_peer_ca_pem();
  c->clear_peer_cert_pem();
  c->clear_peer_key_pem();
  c->clear_joined();
  c->clear_peer_ip();
  c->clear_peer_udp_port();
  if (creds.ca_pem.empty() || creds.cert_pem.empty() || creds.key_pem.empty()) {
    // Cloonix's `add c2c <name> <peer-net>`: a peer net this net already
    // joins lends its address and credentials.
    for (const auto& other : manager_->ListItems(v1::ITEM_KIND_C2C)) {
      if (other.c2c().peer_net() != c->peer_net()) continue;
      auto known = peers_->Load(other.name());
      if (!known.ok()) continue;
      creds = *known;
      if (c->peer_address().empty())
        c->set_peer_address(other.c2c().peer_address());
      break;
    }
  }
  if (creds.ca_pem.empty() || creds.cert_pem.empty() || creds.key_pem.empty()) {
    return ToGrpcStatus(absl::InvalidArgumentError(absl::StrCat(
        "no c2c of this net joins net ", c->peer_net(),
        " yet: the first one needs its address and client credentials (on "
        "its host: cloonix net creds DIR; here: cloonix add c2c <name> ",
        c->peer_net(), " --peer HOST:PORT --creds DIR)")));
  }
  if (manager_->GetItem(item.name()).ok()) {
    return ToGrpcStatus(absl::AlreadyExistsError(
        absl::StrCat("an item named ", item.name(), " already exists")));
  }
  if (auto s = peers_->Keep(item.name(), creds); !s.ok())
    return ToGrpcStatus(s);
  auto made = manager_->CreateItem(item);
  if (!made.ok()) peers_->Forget(item.name());
  return Reply(std::move(made), resp);
}

grpc::Status TopologyService::JoinC2c(grpc::ServerContext*,
                                      const v1::JoinC2cRequest* req,
                                      v1::JoinC2cResponse* resp) {
  if (auto s = ValidateName(req->name(), "c2c name"); !s.ok())
    return ToGrpcStatus(s);
  if (auto s = ValidateNetName(req->peer_net(), "peer net"); !s.ok())
    return ToGrpcStatus(s);
  if (req->vni() == 0 || req->vni() > 0xffffff || req->peer_ip().empty() ||
      req->peer_udp_port() == 0 || req->peer_udp_port() > 65535 ||
      req->peer_ca_pem().empty() || req->peer_cert_pem().empty() ||
      req->peer_key_pem().empty()) {
    return ToGrpcStatus(absl::InvalidArgumentError(
        "JoinC2c needs vni 1..16777215, the caller's IP, UDP port and "
        "credentials"));
  }
  if (peers_->Buried(req->name(), req->peer_net(), req->vni())) {
    return ToGrpcStatus(absl::FailedPreconditionError(
        absl::StrCat("c2c ", req->name(), " was deleted in net ", peers_->net(),
                     " while net ", req->peer_net(), " could not be told: del ",
                     req->name(), " in net ", req->peer_net())));
  }
  ClientCreds creds{req->peer_ca_pem(), req->peer_cert_pem(),
                    req->peer_key_pem()};
  auto existing = manager_->GetItem(req->name());
  if (existing.ok()) {
    if (existing->kind() != v1::ITEM_KIND_C2C ||
        existing->c2c().peer_net() != req->peer_net() ||
        existing->c2c().vni() != req->vni()) {
      return ToGrpcStatus(absl::AlreadyExistsError(absl::StrCat(
          "this net has an item ", req->name(), " that is not the end of net ",
          req->peer_net(), "'s c2c")));
    }
    if (auto s = peers_->Keep(req->name(), creds); !s.ok())
      return ToGrpcStatus(s);
    auto end =
        c2cs_->SetPeer(req->name(), req->peer_ip(), req->peer_udp_port());
    if (!end.ok()) return ToGrpcStatus(end.status());
    resp->set_udp_port(end->udp_port);
    resp->set_inner_mtu(end->inner_mtu);
    return grpc::Status::OK;
  }
  if (!absl::IsNotFound(existing.status()))
    return ToGrpcStatus(existing.status());
  v1::Item item;
  item.set_name(req->name());
  auto* c = item.mutable_c2c();
  c->set_peer_net(req->peer_net());
  c->set_peer_address(req->peer_address());
  c->set_vni(req->vni());
  c->set_peer_ip(req->peer_ip());
  c->set_peer_udp_port(req->peer_udp_port());
  c->set_joined(true);
  if (auto s = peers_->Keep(req->name(), creds); !s.ok())
    return ToGrpcStatus(s);
  auto made = manager_->CreateItem(item);
  if (!made.ok()) {
    peers_->Forget(req->name());
    return ToGrpcStatus(made.status());
  }
  resp->set_udp_port(made->c2c().udp_port());
  resp->set_inner_mtu(made->c2c().inner_mtu());
  return grpc::Status::OK;
}

grpc::Status TopologyService::LeaveC2c(grpc::ServerContext*,
                                       const v1::LeaveC2cRequest* req,
                                       v1::LeaveC2cResponse*) {
  auto it = manager_->GetItem(req->name());
  if (!it.ok()) return ToGrpcStatus(it.status());
  if (it->kind() != v1::ITEM_KIND_C2C ||
      it->c2c().peer_net() != req->peer_net()) {
    return ToGrpcStatus(absl::FailedPreconditionError(absl::StrCat(
        req->name(), " is not the end of net ", req->peer_net(), "'s c2c")));
  }
  peers_->MarkLeaving(req->name());
  absl::Status s = manager_->DeleteItem(req->name(), /*allow_missing=*/true);
  if (!s.ok()) peers_->TakeLeaving(req->name());
  return ToGrpcStatus(s);
}

grpc::Status TopologyService::GetItem(grpc::ServerContext*,
                                      const v1::GetItemRequest* req,
                                      v1::Item* resp) {
  return Reply(manager_->GetItem(req->name()), resp);
}

grpc::Status TopologyService::ListItems(grpc::ServerContext*,
                                        const v1::ListItemsRequest* req,
                                        v1::ListItemsResponse* resp) {
  for (auto& it : manager_->ListItems(req->kind()))
    *resp->add_items() = std::move(it);
  return grpc::Status::OK;
}

namespace {

// How long a request may wait for the items it needs: the client's deadline
// less a second for the answer to reach it, at most NetManager::kMaxWait.
absl::Duration MaxWait(const grpc::ServerContext* ctx) {
  absl::Duration left =
      absl::FromChrono(ctx->deadline() - std::chrono::system_clock::now()) -
      absl::Seconds(1);
  return std::clamp(left, absl::ZeroDuration(), NetManager::kMaxWait);
}

}  // namespace

grpc::Status TopologyService::DeleteItem(grpc::ServerContext* ctx,
                                         const v1::DeleteItemRequest* req,
                                         v1::DeleteItemResponse* resp) {
  bool deleted = false;
  absl::Status s = manager_->DeleteItem(req->name(), req->allow_missing(),
                                        &deleted, MaxWait(ctx));
  resp->set_deleted(deleted);
  return ToGrpcStatus(s);
}

grpc::Status TopologyService::ConnectEth(grpc::ServerContext* ctx,
                                         const v1::ConnectEthRequest* req,
                                         v1::Item* resp) {
  return Reply(manager_->ConnectEth(req->item(), req->eth(), req->lan(),
                                    req->create_lan(), MaxWait(ctx)),
               resp);
}

grpc::Status TopologyService::DisconnectEth(grpc::ServerContext*,
                                            const v1::DisconnectEthRequest* req,
                                            v1::Item* resp) {
  return Reply(manager_->DisconnectEth(req->item(), req->eth(), req->lan()),
               resp);
}

grpc::Status TopologyService::ConfigureA2b(grpc::ServerContext*,
                                           const v1::ConfigureA2bRequest* req,
                                           v1::Item* resp) {
  return Reply(manager_->ConfigureA2b(req->name(), req->dir(), req->patch()),
               resp);
}

grpc::Status TopologyService::ConfigureC2c(grpc::ServerContext*,
                                           const v1::ConfigureC2cRequest* req,
                                           v1::Item* resp) {
  return Reply(manager_->ConfigureC2c(req->name(), req->mac_mangle()), resp);
}

grpc::Status TopologyService::SetLayout(grpc::ServerContext*,
                                        const v1::SetLayoutRequest* req,
                                        v1::SetLayoutResponse* resp) {
  return Reply(manager_->SetLayout(*req), resp);
}

grpc::Status TopologyService::WhatIp(grpc::ServerContext*,
                                     const v1::WhatIpRequest* req,
                                     v1::WhatIpResponse* resp) {
  return Reply(manager_->WhatIp(req->nat(), req->item()), resp);
}

grpc::Status TopologyService::ControlKvm(grpc::ServerContext*,
                                         const v1::ControlKvmRequest* req,
                                         v1::Item* resp) {
  return Reply(manager_->ControlKvm(req->name(), req->action()), resp);
}

grpc::Status TopologyService::SaveKvmDisk(grpc::ServerContext*,
                                          const v1::SaveKvmDiskRequest* req,
                                          v1::SaveKvmDiskResponse* resp) {
  return Reply(manager_->SaveKvmDisk(req->name(), req->path()), resp);
}

// One WatchEvents stream: replays the current items, a SYNCED marker, then
// writes each event of its subscription, one write in flight at a time.
class WatchReactor : public grpc::ServerWriteReactor<v1::Event> {
 public:
  WatchReactor(TopologyService* service, NetManager* manager)
      : service_(service), manager_(manager) {
    std::vector<v1::Item> current;
    auto sub = manager_->Watch(&current, [this] { Pump(); });
    auto now = google::protobuf::util::TimeUtil::GetCurrentTime();
    absl::MutexLock l(&mu_);
    sub_ = std::move(sub);
    for (const auto& it : current) {
      v1::Event e;
      e.set_type(v1::EVENT_TYPE_EXISTING);
      *e.mutable_item() = it;
      *e.mutable_time() = now;
      initial_.push_back(std::move(e));
    }
    v1::Event synced;
    synced.set_type(v1::EVENT_TYPE_SYNCED);
    *synced.mutable_time() = now;
    initial_.push_back(std::move(synced));
  }

  // Starts the next write if none is in flight.
  void Pump() {
    absl::MutexLock l(&mu_);
    if (sub_ == nullptr || writing_ || finishing_) return;
    if (!initial_.empty()) {
      current_ = std::move(initial_.front());
      initial_.pop_front();
    } else if (!sub_->TryNext(&current_)) {
      if (sub_->overflowed()) {
        FinishLocked(grpc::Status(grpc::RESOURCE_EXHAUSTED,
                                  "the watcher fell more than 10000 events "
                                  "behind; watch again"));
      }
      return;
    }
    writing_ = true;
    StartWrite(&current_);
  }

  void End(const grpc::Status& status) {
    absl::MutexLock l(&mu_);
    FinishLocked(status);
  }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock l(&mu_);
      writing_ = false;
      if (!ok) FinishLocked(grpc::Status(grpc::CANCELLED, "client gone"));
      if (finishing_) {
        if (!finished_) {
          finished_ = true;
          Finish(finish_status_);
        }
        return;
      }
    }
    Pump();
  }

  void OnCancel() override { End(grpc::Status(grpc::CANCELLED, "cancelled")); }

  void OnDone() override {
    service_->Forget(this);
    manager_->Unwatch(sub_);  // after this, no Pump() from the bus
    delete this;
  }

 private:
  // Finishes now, or after the write in flight.
  void FinishLocked(const grpc::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finishing_) return;
    finishing_ = true;
    finish_status_ = status;
    if (!writing_) {
      finished_ = true;
      Finish(status);
    }
  }

  TopologyService* service_;
  NetManager* manager_;
  absl::Mutex mu_;
  std::shared_ptr<EventBus::Subscription> sub_ ABSL_GUARDED_BY(mu_);
  std::deque<v1::Event> initial_ ABSL_GUARDED_BY(mu_);
  v1::Event current_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status finish_status_ ABSL_GUARDED_BY(mu_);
};

namespace {

// Relays lan_switch's capture stream to the client, one message in flight:
// a message read from lan_switch is written to the client, and the next
// read starts when that write is done. The client's cancel cancels the
// upstream call (FromCallbackServerContext).
class CaptureRelay {
 public:
  CaptureRelay(grpc::CallbackServerContext* ctx,
               cloonix::lanswitch::v1::LanSwitch::Stub* stub,
               cloonix::lanswitch::v1::CaptureRequest req)
      : cc_(grpc::ClientContext::FromCallbackServerContext(*ctx)),
        req_(std::move(req)),
        down_(this),
        up_(this) {
    stub->async()->Capture(cc_.get(), &req_, &up_);
    up_.StartRead(&msg_);
    up_.AddHold();  // reads after the first start from Down::OnWriteDone
    up_.StartCall();
  }
  grpc::ServerWriteReactor<v1::CaptureMessage>* reactor() { return &down_; }

 private:
  class Down : public grpc::ServerWriteReactor<v1::CaptureMessage> {
   public:
    explicit Down(CaptureRelay* r) : r_(r) {}
    void OnWriteDone(bool ok) override {
      if (ok) {
        r_->up_.StartRead(&r_->msg_);
      } else {
        r_->cc_->TryCancel();
        r_->up_.RemoveHold();
      }
    }
    void OnCancel() override { r_->cc_->TryCancel(); }
    void OnDone() override { r_->Unref(); }

   private:
    CaptureRelay* r_;
  };
  class Up : public grpc::ClientReadReactor<v1::CaptureMessage> {
   public:
    explicit Up(CaptureRelay* r) : r_(r) {}
    void OnReadDone(bool ok) override {
      if (ok) {
        r_->down_.StartWrite(&r_->msg_);
      } else {
        RemoveHold();
      }
    }
    void OnDone(const grpc::Status& s) override {
      r_->down_.Finish(s);
      r_->Unref();
    }

   private:
    CaptureRelay* r_;
  };
  void Unref() {
    if (refs_.fetch_sub(1) == 1) delete this;
  }

  std::unique_ptr<grpc::ClientContext> cc_;
  cloonix::lanswitch::v1::CaptureRequest req_;
  v1::CaptureMessage msg_;
  Down down_;
  Up up_;
  std::atomic<int> refs_{2};
};

// The lan_switch targets of `req`'s points.
absl::StatusOr<cloonix::lanswitch::v1::CaptureRequest> CaptureTargets(
    NetManager* manager, const v1::CaptureRequest& req) {
  cloonix::lanswitch::v1::CaptureRequest out;
  if (req.points_size() == 0)
    return absl::InvalidArgumentError("a capture needs at least one point");
  for (const auto& p : req.points()) {
    auto it = manager->GetItem(p.item());
    if (!it.ok()) return it.status();
    auto* t = out.add_targets();
    if (it->kind() == v1::ITEM_KIND_LAN) {
      if (it->lan().endpoints_size() == 0) {
        return absl::FailedPreconditionError(absl::StrCat(
            "lan ", p.item(), " has no cabled eth: nothing to capture"));
      }
      t->set_bridge(it->lan().bridge());
      continue;
    }
    const v1::Eth* eth = nullptr;
    for (const auto& e : it->eths()) {
      if (e.index() == p.eth()) eth = &e;
    }
    if (eth == nullptr) {
      return absl::NotFoundError(absl::StrCat(
          p.item(), " has no eth", p.eth(), " (it has ", it->eths_size(), ")"));
    }
    if (eth->port().empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          p.item(), ":eth", p.eth(), " has no port yet (is it running?)"));
    }
    t->set_ifname(eth->port());
  }
  out.set_snaplen(req.snaplen());
  out.set_filter(req.filter());
  out.set_count(req.count());
  out.set_duration_ms(req.duration_ms());
  return out;
}

}  // namespace

grpc::ServerWriteReactor<v1::CaptureMessage>* TopologyService::Capture(
    grpc::CallbackServerContext* ctx, const v1::CaptureRequest* req) {
  auto targets = CaptureTargets(manager_, *req);
  if (!targets.ok()) {
    class Refuse : public grpc::ServerWriteReactor<v1::CaptureMessage> {
     public:
      explicit Refuse(const grpc::Status& s) { Finish(s); }
      void OnDone() override { delete this; }
    };
    return new Refuse(ToGrpcStatus(targets.status()));
  }
  return (new CaptureRelay(ctx, lan_switch_.get(), *std::move(targets)))
      ->reactor();
}

grpc::Status TopologyService::SetRecording(grpc::ServerContext*,
                                           const v1::SetRecordingRequest* req,
                                           v1::Recording* resp) {
  const v1::CapturePoint& p = req->point();
  auto item = manager_->GetItem(p.item());
  if (!item.ok()) return ToGrpcStatus(item.status());
  const bool lan = item->kind() == v1::ITEM_KIND_LAN;
  const std::string name =
      lan ? p.item() : absl::StrCat(p.item(), ":eth", p.eth());
  v1::CapturePoint point = p;
  if (lan) point.clear_eth();
  if (!req->on()) {
    *resp = recordings_.Stop(point, name);
    return grpc::Status::OK;
  }
  v1::CaptureRequest creq;
  *creq.add_points() = point;
  creq.set_snaplen(req->snaplen());
  creq.set_filter(req->filter());
  auto targets = CaptureTargets(manager_, creq);
  if (!targets.ok()) return ToGrpcStatus(targets.status());
  auto rec = recordings_.Start(
      point, name, lan ? p.item() : absl::StrCat(p.item(), ".eth", p.eth()),
      *std::move(targets));
  if (!rec.ok()) return ToGrpcStatus(rec.status());
  *resp = *std::move(rec);
  return grpc::Status::OK;
}

grpc::Status TopologyService::ListRecordings(grpc::ServerContext*,
                                             const v1::ListRecordingsRequest*,
                                             v1::ListRecordingsResponse* resp) {
  for (auto& r : recordings_.List()) *resp->add_recordings() = std::move(r);
  return grpc::Status::OK;
}

grpc::ServerWriteReactor<v1::Event>* TopologyService::WatchEvents(
    grpc::CallbackServerContext*, const v1::WatchEventsRequest*) {
  auto* r = new WatchReactor(this, manager_);
  bool ended;
  {
    absl::MutexLock l(&mu_);
    ended = ended_;
    reactors_.insert(r);
  }
  if (ended) {
    r->End(ToGrpcStatus(WithReason(
        absl::UnavailableError("the net is stopping"), reason::kNetStopping)));
  } else {
    r->Pump();
  }
  return r;
}

void TopologyService::EndWatches() {
  absl::MutexLock l(&mu_);
  ended_ = true;
  for (auto* r : reactors_) r->End(grpc::Status::OK);
}

void TopologyService::Forget(WatchReactor* r) {
  absl::MutexLock l(&mu_);
  reactors_.erase(r);
}

grpc::Status TopologyService::OpenNatForward(
    grpc::ServerContext*, const v1::OpenNatForwardRequest* req,
    v1::NatForward* resp) {
  return Reply(manager_->OpenNatForward(req->item(), req->guest_port()), resp);
}

grpc::Status TopologyService::CloseNatForward(
    grpc::ServerContext*, const v1::CloseNatForwardRequest* req,
    v1::CloseNatForwardResponse*) {
  return ToGrpcStatus(manager_->CloseNatForward(req->nat(), req->host_port()));
}

grpc::Status NetService::GetNet(grpc::ServerContext*, const v1::GetNetRequest*,
                                v1::NetInfo* resp) {
  resp->set_name(id_.name);
  resp->set_work_dir(id_.work_dir);
  resp->set_netns(id_.netns);
  resp->set_item_count(manager_->ItemCount());
  resp->set_orchestrator_pid(getpid());
  resp->set_orchestrator_restarts(OrchestratorRestarts(id_.work_dir));
  for (const auto& s : supervisor_->Status()) {
    auto* si = resp->add_services();
    si->set_name(s.name);
    si->set_pid(s.pid);
    si->set_healthy(s.healthy);
    si->set_restarts(s.restarts);
    si->set_socket(s.socket);
  }
  return grpc::Status::OK;
}

grpc::Status NetService::StopNet(grpc::ServerContext*,
                                 const v1::StopNetRequest*,
                                 v1::StopNetResponse*) {
  return ToGrpcStatus(stop_());
}

}  // namespace cloonix
