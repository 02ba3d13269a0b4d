// phy: a host NIC joined to a lan through eth0 (topology.proto PhySpec),
// made by lan_switch, which records the NIC's state before it touches it and
// gives it back on delete, net stop, and when the loop deletes a phy the
// topology no longer holds. A phy whose port is gone (lan_switch restarted
// after its netns was remade) is made again from lan_switch's record.
//
// macvlan phys: every second (Refresh) the macvlan's MAC is set to the MAC of
// the guest eth on its lan (Cloonix's rule; see PhySpec).
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/names.h"
#include "common/status_macros.h"
#include "services/orchestrator/drivers/drivers.h"
#include "spdlog/spdlog.h"

namespace cloonix {
namespace {

bool IsGuest(const v1::Item& it) {
  return it.kind() == v1::ITEM_KIND_CNT || it.kind() == v1::ITEM_KIND_KVM;
}

// The MAC of the first kvm/cnt eth (by item name, then eth index) on `lan`;
// through an a2b, on the lan at its other end. Empty if none.
std::string GuestMacOn(const std::string& lan,
                       const std::vector<v1::Item>& all) {
  std::vector<const v1::Item*> sorted;
  for (const auto& it : all) sorted.push_back(&it);
  std::sort(sorted.begin(), sorted.end(),
            [](const v1::Item* a, const v1::Item* b) {
              return a->name() < b->name();
            });
  auto guest_mac_on = [&](const std::string& l) -> std::string {
    for (const v1::Item* it : sorted) {
      if (!IsGuest(*it)) continue;
      for (const auto& e : it->eths()) {
        if (e.lan() == l && !e.mac().empty()) return e.mac();
      }
    }
    return "";
  };
  if (std::string mac = guest_mac_on(lan); !mac.empty()) return mac;
  for (const v1::Item* it : sorted) {
    if (it->kind() != v1::ITEM_KIND_A2B || it->eths_size() != 2) continue;
    for (int side = 0; side < 2; ++side) {
      const std::string& other = it->eths(1 - side).lan();
      if (it->eths(side).lan() != lan || other.empty() || other == lan)
        continue;
      if (std::string mac = guest_mac_on(other); !mac.empty()) return mac;
    }
  }
  return "";
}

class PhyDriver : public KindDriver {
 public:
  explicit PhyDriver(LanBackend* lans) : lans_(lans) {}
  v1::ItemKind kind() const override { return v1::ITEM_KIND_PHY; }
  absl::StatusOr<uint32_t> Validate(const v1::Item& request) const override {
    const auto& p = request.phy();
    if (p.host_ifname().empty()) {
      return absl::InvalidArgumentError(
          "a phy needs its host NIC (phy.host_ifname): cloonix add phy "
          "<name> <nic>");
    }
    if (!ValidateIfname(p.host_ifname()).ok() || p.host_ifname() == "lo") {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", p.host_ifname(),
                       "\" is not a NIC name (1 to 15 characters, no / : or "
                       "space; not lo)"));
    }
    if (!v1::PhyMode_IsValid(p.mode())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "phy mode ", p.mode(), " is neither absorb nor macvlan"));
    }
    if (p.force() && p.mode() == v1::PHY_MODE_MACVLAN) {
      return absl::InvalidArgumentError(
          "force is for absorb mode: a macvlan leaves the NIC to the host");
    }
    return 1;
  }
  void Prepare(v1::Item* item) const override {
    item->mutable_phy()->clear_mac();
  }
  absl::Status Create(v1::Item* item) override {
    ASSIGN_OR_RETURN(std::string mac, lans_->CreatePhy(*item));
    item->mutable_phy()->set_mac(mac);
    return absl::OkStatus();
  }
  absl::Status Delete(const v1::Item& item) override {
    return OkIfNotFound(lans_->DeletePhy(item.name()));
  }
  absl::StatusOr<std::map<std::string, bool>> Observe(
      const std::vector<v1::Item>&) override {
    ASSIGN_OR_RETURN(std::vector<LanBackend::PhyPort> live, lans_->ListPhys());
    std::map<std::string, bool> out;
    for (const auto& p : live) {
      if (p.present) out[p.name] = true;  // absent: made again
    }
    return out;
  }
  std::vector<v1::Item> Refresh(const std::vector<v1::Item>& running,
                                const std::vector<v1::Item>& all) override {
    std::vector<v1::Item> changed;
    for (const auto& it : running) {
      if (it.phy().mode() != v1::PHY_MODE_MACVLAN || it.eths_size() != 1 ||
          it.eths(0).lan().empty())
        continue;
      const std::string mac = GuestMacOn(it.eths(0).lan(), all);
      if (mac.empty()) continue;
      // Idempotent in lan_switch: also puts back a MAC a restart lost.
      if (auto s = lans_->SetPhyMac(it.name(), mac); !s.ok()) {
        spdlog::warn("phy {}: cannot take MAC {}: {}", it.name(), mac,
                     s.ToString());
        continue;
      }
      if (it.phy().mac() != mac) {
        v1::Item next = it;
        next.mutable_phy()->set_mac(mac);
        changed.push_back(std::move(next));
      }
    }
    return changed;
  }

 private:
  LanBackend* lans_;
};

}  // namespace

std::unique_ptr<KindDriver> MakePhyDriver(const Backends& b) {
  return std::make_unique<PhyDriver>(b.lans);
}

}  // namespace cloonix
