// lan: an OVS bridge in the net's netns (lan_switch). Its ports are the
// eths cabled to it; NetManager plugs them, and the reconcile loop's
// LanBackend::Sync makes the switch hold exactly the topology's bridges.
#include "common/names.h"
#include "common/status_macros.h"
#include "services/orchestrator/drivers/drivers.h"

namespace cloonix {
namespace {

class LanDriver : public KindDriver {
 public:
  explicit LanDriver(LanBackend* lans) : lans_(lans) {}
  v1::ItemKind kind() const override { return v1::ITEM_KIND_LAN; }
  absl::StatusOr<uint32_t> Validate(const v1::Item&) const override {
    return 0;
  }
  void Prepare(v1::Item* item) const override {
    item->mutable_lan()->set_bridge(LanBridgeName(item->id()));
    item->mutable_lan()->clear_endpoints();
  }
  absl::Status Create(v1::Item* item) override {
    return lans_->CreateBridge(item->lan().bridge());
  }
  // The bridge's ports are the cabled eths' veths and taps: they survive.
  bool ports_survive_recreate() const override { return true; }
  absl::Status Delete(const v1::Item& item) override {
    return OkIfNotFound(lans_->DeleteBridge(item.lan().bridge()));
  }
  // Bridges no lan holds are removed by the loop's Sync, not here.
  absl::StatusOr<std::map<std::string, bool>> Observe(
      const std::vector<v1::Item>& desired) override {
    ASSIGN_OR_RETURN(auto bridges, lans_->ListBridges());
    std::map<std::string, bool> out;
    for (const auto& lan : desired) {
      if (bridges.count(lan.lan().bridge())) out[lan.name()] = true;
    }
    return out;
  }

 private:
  LanBackend* lans_;
};

}  // namespace

std::unique_ptr<KindDriver> MakeLanDriver(const Backends& b) {
  return std::make_unique<LanDriver>(b.lans);
}

}  // namespace cloonix
