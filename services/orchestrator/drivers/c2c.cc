// c2c: a cable to the end of the same name in another net (topology.proto
// C2cSpec). The data plane is the c2c worker (VXLAN over UDP); the control
// plane is C2cPeers: the end created by the user asks the peer to make its
// end (JoinC2c), and either end checks the other every 3 s (Refresh): a
// peer that does not answer shows down with the reason; a peer that answers
// without its end (its net was stopped and started) is asked to make it
// again. `del` tells the peer (LeaveC2c); net stop does not.
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/names.h"
#include "common/status_macros.h"
#include "services/orchestrator/c2c_peers.h"
#include "services/orchestrator/drivers/drivers.h"
#include "spdlog/spdlog.h"

namespace cloonix {
namespace {

constexpr absl::Duration kCheckEvery = absl::Seconds(3);

class C2cDriver : public KindDriver {
 public:
  C2cDriver(C2cBackend* c2cs, C2cPeers* peers) : c2cs_(c2cs), peers_(peers) {}
  v1::ItemKind kind() const override { return v1::ITEM_KIND_C2C; }
  absl::StatusOr<uint32_t> Validate(const v1::Item& request) const override {
    const auto& c = request.c2c();
    if (!ValidateNetName(c.peer_net(), "peer net").ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "c2c.peer_net \"", c.peer_net(),
          "\" is not a net name: cloonix add c2c <name> <peer-net> --peer "
          "HOST:PORT --creds DIR"));
    }
    if (c.peer_address().empty() ||
        c.peer_address().find(':') == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "c2c.peer_address \"", c.peer_address(),
          "\" is not HOST:PORT of the peer net's doorway (its net start "
          "--listen)"));
    }
    if (c.udp_port() > 65535)
      return absl::InvalidArgumentError("c2c.udp_port is 0..65535");
    if (c.vni() > 0xffffff)
      return absl::InvalidArgumentError("c2c.vni is 0..16777215");
    if (!c.mac_mangle().empty()) RETURN_IF_ERROR(ValidateMac(c.mac_mangle()));
    return 1;
  }
  void Prepare(v1::Item* item) const override {
    auto* c = item->mutable_c2c();
    c->clear_peer_ca_pem();
    c->clear_peer_cert_pem();
    c->clear_peer_key_pem();
    c->clear_inner_mtu();
    c->clear_peer_up();
    c->clear_peer_state();
    c->clear_counters();
    c->set_mac_mangle(absl::AsciiStrToLower(c->mac_mangle()));
  }

  absl::Status Create(v1::Item* item) override {
    if (c2cs_ == nullptr || peers_ == nullptr)
      return absl::FailedPreconditionError("this net has no c2c worker");
    auto* c = item->mutable_c2c();
    if (!c->joined()) peers_->Unbury(item->name());
    if (c->vni() == 0) {
      std::random_device rd;
      c->set_vni(1 + rd() % 0xfffffe);
    }
    ASSIGN_OR_RETURN(C2cEnd end,
                     c2cs_->Create(item->name(), item->eths(0).port(), c->vni(),
                                   c->udp_port(), c->peer_ip(),
                                   c->peer_udp_port(), c->mac_mangle()));
    c->set_udp_port(end.udp_port);
    c->set_inner_mtu(end.inner_mtu);
    if (c->joined()) {
      c->set_peer_up(true);
      c->set_peer_state("up");
      return absl::OkStatus();
    }
    // This end asks the peer for its end; nothing is left if it refuses.
    absl::Status s = JoinPeer(item);
    if (!s.ok()) {
      c2cs_->Delete(item->name()).IgnoreError();
      return s;
    }
    return absl::OkStatus();
  }

  absl::Status Delete(const v1::Item& item) override {
    if (c2cs_ == nullptr || peers_ == nullptr) return absl::OkStatus();
    if (!peers_->TakeLeaving(item.name()) && !peers_->stopping()) {
      if (auto s = peers_->Leave(item); !s.ok()) {
        // Its end stays there: it must not make this one again.
        peers_->Bury(item.name(), item.c2c().peer_net(), item.c2c().vni());
        spdlog::warn(
            "c2c {}: could not tell net {} to delete its end: {} (it shows "
            "this end down and is refused if it asks for it again)",
            item.name(), item.c2c().peer_net(), s.ToString());
      }
    }
    absl::Status s = OkIfNotFound(c2cs_->Delete(item.name()));
    if (s.ok()) peers_->Forget(item.name());
    return s;
  }

  absl::StatusOr<std::map<std::string, bool>> Observe(
      const std::vector<v1::Item>&) override {
    if (c2cs_ == nullptr) return std::map<std::string, bool>{};
    ASSIGN_OR_RETURN(std::vector<C2cEnd> live, c2cs_->List());
    std::map<std::string, bool> out;
    for (const auto& e : live) out[e.name] = true;
    return out;
  }

  void Present(std::vector<v1::Item*>& items) override {
    if (c2cs_ == nullptr) return;
    auto live = c2cs_->List();
    if (!live.ok()) return;
    for (v1::Item* it : items) {
      for (const auto& e : *live) {
        if (e.name != it->name()) continue;
        *it->mutable_c2c()->mutable_counters() = e.counters;
        it->mutable_c2c()->set_inner_mtu(e.inner_mtu);
      }
    }
  }

  std::vector<v1::Item> Refresh(const std::vector<v1::Item>& running,
                                const std::vector<v1::Item>&) override {
    std::vector<v1::Item> changed;
    if (c2cs_ == nullptr || peers_ == nullptr) return changed;
    const absl::Time now = absl::Now();
    auto live = c2cs_->List();
    for (const auto& it : running) {
      v1::Item next = it;
      auto* c = next.mutable_c2c();
      // Where the worker sends now (a JoinC2c of the peer may have moved it).
      if (live.ok()) {
        for (const auto& e : *live) {
          if (e.name != it.name() || e.peer_ip.empty()) continue;
          c->set_peer_ip(e.peer_ip);
          c->set_peer_udp_port(e.peer_udp_port);
        }
      }
      absl::Time& last = last_check_[it.name()];
      if (now - last < kCheckEvery) {
        if (c->peer_ip() != it.c2c().peer_ip() ||
            c->peer_udp_port() != it.c2c().peer_udp_port())
          changed.push_back(std::move(next));
        continue;
      }
      last = now;
      absl::Status s = peers_->Check(it);
      if (absl::IsNotFound(s) && it.c2c().joined()) {
        // The end that made this one is gone (deleted there while this net
        // could not be told, or its net stopped): not made again from here.
        s = absl::NotFoundError(absl::StrCat(
            "it no longer has its end ", it.name(),
            " (deleted there, or its net stopped): del ", it.name(), " here"));
      } else if (absl::IsNotFound(s)) {
        // The peer runs without its end (its net was stopped and started,
        // or it lost it): made again with the same settings.
        s = JoinPeer(&next);
        if (s.ok())
          spdlog::info("c2c {}: net {} made its end again", it.name(),
                       c->peer_net());
      }
      if (s.ok()) {
        c->set_peer_up(true);
        c->set_peer_state("up");
      } else {
        c->set_peer_up(false);
        c->set_peer_state(absl::StrCat("net ", c->peer_net(), " at ",
                                       c->peer_address(), ": ", s.message()));
      }
      if (c->peer_up() != it.c2c().peer_up() ||
          c->peer_state() != it.c2c().peer_state() ||
          c->peer_udp_port() != it.c2c().peer_udp_port() ||
          c->peer_ip() != it.c2c().peer_ip()) {
        if (c->peer_up() != it.c2c().peer_up())
          spdlog::info("c2c {}: peer {}", it.name(),
                       c->peer_up() ? "up" : c->peer_state());
        changed.push_back(std::move(next));
      }
    }
    return changed;
  }

 private:
  // JoinC2c on the peer, then this end's worker learns where to send.
  absl::Status JoinPeer(v1::Item* item) {
    auto* c = item->mutable_c2c();
    ASSIGN_OR_RETURN(v1::JoinC2cResponse resp, peers_->Join(*item));
    ASSIGN_OR_RETURN(std::string ip, peers_->PeerIp(c->peer_address()));
    ASSIGN_OR_RETURN(C2cEnd end,
                     c2cs_->SetPeer(item->name(), ip, resp.udp_port()));
    c->set_peer_ip(ip);
    c->set_peer_udp_port(resp.udp_port());
    c->set_inner_mtu(end.inner_mtu);
    c->set_peer_up(true);
    c->set_peer_state("up");
    return absl::OkStatus();
  }

  C2cBackend* c2cs_;
  C2cPeers* peers_;
  // Only Refresh (one thread) uses it.
  std::map<std::string, absl::Time> last_check_;
};

}  // namespace

std::unique_ptr<KindDriver> MakeC2cDriver(const Backends& b) {
  return std::make_unique<C2cDriver>(b.c2cs, b.peers);
}

}  // namespace cloonix
