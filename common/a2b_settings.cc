#include "common/a2b_settings.h"

#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace cloonix {

namespace {
constexpr double kMaxMs = 60000;
}

absl::Status ValidateA2bSettings(const cloonix::v1::A2bSettings& s) {
  auto ms = [](const char* name, double v) -> absl::Status {
    if (!std::isfinite(v) || v < 0 || v > kMaxMs) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, " is ", v, "; it must be 0 to ", kMaxMs, " ms"));
    }
    return absl::OkStatus();
  };
  if (auto st = ms("delay_ms", s.delay_ms()); !st.ok()) return st;
  if (auto st = ms("jitter_ms", s.jitter_ms()); !st.ok()) return st;
  if (!std::isfinite(s.loss_percent()) || s.loss_percent() < 0 ||
      s.loss_percent() > 100) {
    return absl::InvalidArgumentError(absl::StrCat(
        "loss_percent is ", s.loss_percent(), "; it must be 0 to 100"));
  }
  if (s.rate_kbps() > 100000000) {
    return absl::InvalidArgumentError(
        absl::StrCat("rate_kbps is ", s.rate_kbps(),
                     "; it must be at most 100000000 (100 Gbit/s)"));
  }
  return absl::OkStatus();
}

void ApplyA2bPatch(const cloonix::v1::A2bSettingsPatch& p,
                   cloonix::v1::A2bSettings* s) {
  if (p.has_delay_ms()) s->set_delay_ms(p.delay_ms());
  if (p.has_jitter_ms()) s->set_jitter_ms(p.jitter_ms());
  if (p.has_allow_reorder()) s->set_allow_reorder(p.allow_reorder());
  if (p.has_loss_percent()) s->set_loss_percent(p.loss_percent());
  if (p.has_rate_kbps()) s->set_rate_kbps(p.rate_kbps());
  if (p.has_burst_bytes()) s->set_burst_bytes(p.burst_bytes());
  if (p.has_queue_packets()) s->set_queue_packets(p.queue_packets());
  if (p.has_queue_bytes()) s->set_queue_bytes(p.queue_bytes());
}

std::string A2bSettingsText(const cloonix::v1::A2bSettings& s) {
  std::vector<std::string> parts;
  if (s.delay_ms() > 0)
    parts.push_back(absl::StrCat("delay ", s.delay_ms(), " ms"));
  if (s.jitter_ms() > 0)
    parts.push_back(absl::StrCat("jitter ", s.jitter_ms(), " ms"));
  if (s.loss_percent() > 0)
    parts.push_back(absl::StrCat("loss ", s.loss_percent(), "%"));
  if (s.rate_kbps() > 0)
    parts.push_back(absl::StrCat("rate ", s.rate_kbps(), " kbit/s"));
  if (s.queue_packets() > 0)
    parts.push_back(absl::StrCat("qsize ", s.queue_packets()));
  if (s.queue_bytes() > 0)
    parts.push_back(absl::StrCat("bsize ", s.queue_bytes()));
  return parts.empty() ? "clean" : absl::StrJoin(parts, ", ");
}

}  // namespace cloonix
