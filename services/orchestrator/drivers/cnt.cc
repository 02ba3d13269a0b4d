// cnt: a container run by cnt_runner (containerd), one veth per eth whose
// net-side end is the eth's port.
#include "absl/strings/str_cat.h"
#include "common/names.h"
#include "common/status_macros.h"
#include "services/orchestrator/drivers/drivers.h"

namespace cloonix {
namespace {

class CntDriver : public KindDriver {
 public:
  explicit CntDriver(CntBackend* cnts) : cnts_(cnts) {}
  v1::ItemKind kind() const override { return v1::ITEM_KIND_CNT; }
  bool is_guest() const override { return true; }

  absl::StatusOr<uint32_t> Validate(const v1::Item& request) const override {
    const v1::CntSpec& c = request.cnt();
    if (c.image().empty()) {
      return absl::InvalidArgumentError(
          "cnt.image is required (e.g. \"busybox\")");
    }
    RETURN_IF_ERROR(CheckEthCount(c.eth_count(), "cnt.eth_count"));
    if (c.has_natplug()) {
      RETURN_IF_ERROR(CheckNatplug("cnt", c.natplug(), c.eth_count()));
    }
    for (const auto& e : c.env()) {
      if (e.find('=') == std::string::npos || e[0] == '=') {
        return absl::InvalidArgumentError(
            absl::StrCat("env \"", e, "\" must be KEY=value"));
      }
    }
    if (c.mounts_size() > 32) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cnt.mounts has ", c.mounts_size(), " entries; at most 32"));
    }
    for (const auto& m : c.mounts()) {
      RETURN_IF_ERROR(ValidateBindMountPaths(m.host_path(), m.guest_path()));
    }
    RETURN_IF_ERROR(ValidateFilesSpec(c.files()));
    return c.eth_count();
  }
  void Prepare(v1::Item* item) const override {
    item->mutable_cnt()->clear_pid();
    item->mutable_cnt()->clear_netns();
  }

  absl::Status Create(v1::Item* item) override { return cnts_->Create(item); }
  absl::Status Delete(const v1::Item& item) override {
    return OkIfNotFound(cnts_->Delete(item.name()));
  }
  absl::StatusOr<std::map<std::string, bool>> Observe(
      const std::vector<v1::Item>&) override {
    ASSIGN_OR_RETURN(std::vector<RunningCnt> running, cnts_->List());
    std::map<std::string, bool> out;
    for (const auto& r : running) out[r.name] = r.running;
    return out;
  }

 private:
  CntBackend* cnts_;
};

}  // namespace

std::unique_ptr<KindDriver> MakeCntDriver(const Backends& b) {
  return std::make_unique<CntDriver>(b.cnts);
}

}  // namespace cloonix
