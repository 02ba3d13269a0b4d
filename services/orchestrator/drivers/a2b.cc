// a2b: a two-ended link with per-direction impairment in the a2b worker
// (DPDK), eth0 = end 0, eth1 = end 1. The worker keeps no state across its
// restarts: the loop recreates its a2bs, whose ports are new.
#include "absl/strings/str_cat.h"
#include "common/a2b_settings.h"
#include "common/status_macros.h"
#include "services/orchestrator/drivers/drivers.h"

namespace cloonix {
namespace {

class A2bDriver : public KindDriver {
 public:
  explicit A2bDriver(A2bBackend* a2bs) : a2bs_(a2bs) {}
  v1::ItemKind kind() const override { return v1::ITEM_KIND_A2B; }
  absl::StatusOr<uint32_t> Validate(const v1::Item& request) const override {
    if (auto st = ValidateA2bSettings(request.a2b().dir0()); !st.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("a2b.dir0: ", st.message()));
    }
    if (auto st = ValidateA2bSettings(request.a2b().dir1()); !st.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("a2b.dir1: ", st.message()));
    }
    return 2;
  }
  void Prepare(v1::Item* item) const override {
    item->mutable_a2b()->clear_counters0();
    item->mutable_a2b()->clear_counters1();
  }
  absl::Status Create(v1::Item* item) override { return a2bs_->Create(*item); }
  absl::Status Delete(const v1::Item& item) override {
    return OkIfNotFound(a2bs_->Delete(item.name()));
  }
  absl::StatusOr<std::map<std::string, bool>> Observe(
      const std::vector<v1::Item>&) override {
    ASSIGN_OR_RETURN(std::vector<std::string> live, a2bs_->List());
    std::map<std::string, bool> out;
    for (const auto& n : live) out[n] = true;
    return out;
  }
  void Present(std::vector<v1::Item*>& items) override {
    for (v1::Item* it : items) {
      auto live = a2bs_->Get(it->name());
      if (!live.ok()) continue;
      *it->mutable_a2b()->mutable_counters0() = live->counters0();
      *it->mutable_a2b()->mutable_counters1() = live->counters1();
    }
  }

 private:
  A2bBackend* a2bs_;
};

}  // namespace

std::unique_ptr<KindDriver> MakeA2bDriver(const Backends& b) {
  return std::make_unique<A2bDriver>(b.a2bs);
}

}  // namespace cloonix
