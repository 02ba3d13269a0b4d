// tap: a host interface named as the item, whose other end is eth0's port
// on a lan (a veth made by lan_switch, marked as this net's by its alias).
// The host configures it (ip addr add) and reaches the guests through it.
// A restart of lan_switch keeps it (the netns stays); if it is gone the loop
// makes it again and re-plugs eth0.
#include "absl/strings/str_cat.h"
#include "common/names.h"
#include "common/status_macros.h"
#include "services/orchestrator/drivers/drivers.h"

namespace cloonix {
namespace {

class TapDriver : public KindDriver {
 public:
  explicit TapDriver(LanBackend* lans) : lans_(lans) {}
  v1::ItemKind kind() const override { return v1::ITEM_KIND_TAP; }
  absl::StatusOr<uint32_t> Validate(const v1::Item& request) const override {
    if (!ValidateIfname(request.name()).ok() || request.name().size() > 15) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tap name \"", request.name(),
          "\" is also its host interface name: at most 15 characters"));
    }
    return 1;
  }
  absl::Status Create(v1::Item* item) override {
    return lans_->CreateTap(item->name(), item->eths(0).port());
  }
  absl::Status Delete(const v1::Item& item) override {
    return OkIfNotFound(lans_->DeleteTap(item.name()));
  }
  absl::StatusOr<std::map<std::string, bool>> Observe(
      const std::vector<v1::Item>&) override {
    ASSIGN_OR_RETURN(std::vector<std::string> live, lans_->ListTaps());
    std::map<std::string, bool> out;
    for (const auto& n : live) out[n] = true;
    return out;
  }

 private:
  LanBackend* lans_;
};

}  // namespace

std::unique_ptr<KindDriver> MakeTapDriver(const Backends& b) {
  return std::make_unique<TapDriver>(b.lans);
}

}  // namespace cloonix
