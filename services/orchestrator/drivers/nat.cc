// nat: a slirp stack in the nat worker (libslirp + DPDK), one eth whose
// port the worker opens. The worker keeps no state across its restarts (its
// leases are replayed from its own file): the loop recreates its nats.
#include "common/status_macros.h"
#include "services/orchestrator/drivers/drivers.h"

namespace cloonix {
namespace {

class NatDriver : public KindDriver {
 public:
  explicit NatDriver(NatBackend* nats) : nats_(nats) {}
  v1::ItemKind kind() const override { return v1::ITEM_KIND_NAT; }
  absl::StatusOr<uint32_t> Validate(const v1::Item&) const override {
    return 1;
  }
  void Prepare(v1::Item* item) const override {
    item->mutable_nat()->clear_leases();
  }
  absl::Status Create(v1::Item* item) override { return nats_->Create(*item); }
  absl::Status Delete(const v1::Item& item) override {
    return OkIfNotFound(nats_->Delete(item.name()));
  }
  absl::StatusOr<std::map<std::string, bool>> Observe(
      const std::vector<v1::Item>&) override {
    ASSIGN_OR_RETURN(std::vector<NatState> live, nats_->List());
    std::map<std::string, bool> out;
    for (const auto& n : live) out[n.name] = true;
    return out;
  }
  // One list of the worker for all the nats.
  void Present(std::vector<v1::Item*>& items) override {
    if (items.empty()) return;
    auto live = nats_->List();
    if (!live.ok()) return;
    for (v1::Item* it : items) {
      it->mutable_nat()->clear_leases();
      for (const auto& n : *live) {
        if (n.name != it->name()) continue;
        for (const auto& l : n.leases) *it->mutable_nat()->add_leases() = l;
      }
    }
  }

 private:
  NatBackend* nats_;
};

}  // namespace

std::unique_ptr<KindDriver> MakeNatDriver(const Backends& b) {
  return std::make_unique<NatDriver>(b.nats);
}

}  // namespace cloonix
