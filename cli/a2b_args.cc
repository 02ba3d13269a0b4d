#include "cli/a2b_args.h"

#include <cstdint>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace cloonix::cli {

namespace {

absl::Status Set(const std::string& key, const std::string& value,
                 bool cloonix_units, A2bArgs* out) {
  auto bad = [&](const char* what) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", key, "=", value, "\": ", what));
  };
  double d;
  uint64_t u;
  auto& p = out->patch;
  if (key == "dir") {
    if (value != "0" && value != "1")
      return bad("dir is 0 (end 0 to end 1) or 1");
    out->dir = value == "0" ? 0 : 1;
  } else if (key == "delay" || key == "jitter") {
    if (!absl::SimpleAtod(value, &d))
      return bad("expects milliseconds, e.g. 20 or 0.5");
    key == "delay" ? p.set_delay_ms(d) : p.set_jitter_ms(d);
  } else if (key == "loss") {
    if (!absl::SimpleAtod(value, &d))
      return bad("expects a percentage, e.g. 10 or 0.5");
    p.set_loss_percent(cloonix_units ? d / 100.0 : d);
  } else if (cloonix_units && (key == "rate" || key == "qsize" ||
                               key == "bsize" || key == "silentms")) {
    // Cloonix's units (its a2b's sched.c): kilobytes.
    if (!absl::SimpleAtoi(value, &u) || u > UINT32_MAX / 1000) {
      return bad("expects a whole number (Cloonix's kilobytes or ms)");
    }
    if (key == "rate") {
      p.set_rate_kbps(u * 8);
      uint64_t q = u > 1000 ? u * 1000 / 4 : u > 100 ? u * 1000 / 2 : u * 1000;
      p.set_queue_bytes(static_cast<uint32_t>(q));
      p.set_burst_bytes(static_cast<uint32_t>(u * 125 + 2000));
    } else if (key == "qsize") {
      p.set_queue_bytes(static_cast<uint32_t>(u * 1000));
    } else if (key == "bsize") {
      p.set_burst_bytes(static_cast<uint32_t>(u * 1000));
    } else {
      out->silent_ms = static_cast<uint32_t>(u);
    }
  } else if (key == "rate" || key == "burst" || key == "qsize" ||
             key == "bsize") {
    if (!absl::SimpleAtoi(value, &u)) return bad("expects a whole number");
    if (key != "rate" && u > UINT32_MAX) {
      return bad("is too large (at most 4294967295)");
    }
    if (key == "rate") p.set_rate_kbps(u);
    if (key == "burst") p.set_burst_bytes(static_cast<uint32_t>(u));
    if (key == "qsize") p.set_queue_packets(static_cast<uint32_t>(u));
    if (key == "bsize") p.set_queue_bytes(static_cast<uint32_t>(u));
  } else if (key == "reorder") {
    if (value != "0" && value != "1") return bad("reorder is 0 or 1");
    p.set_allow_reorder(value == "1");
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown a2b setting \"", key,
                     "\" (use dir, delay, jitter, loss, rate, burst, qsize, "
                     "bsize, reorder)"));
  }
  return absl::OkStatus();
}

}  // namespace

uint64_t SilentBurstBytes(uint64_t rate_kbps, uint32_t silent_ms) {
  return rate_kbps * silent_ms / 8;  // kbit/s x ms = bits; / 8
}

absl::StatusOr<A2bArgs> ParseA2bArgs(const std::vector<std::string>& tokens) {
  A2bArgs out;
  std::string cmd, val;
  // Tokens may also come as one quoted string: "dir=0 cmd=loss val=100".
  std::vector<std::string> words;
  for (const auto& t : tokens) {
    for (absl::string_view w : absl::StrSplit(t, ' ', absl::SkipWhitespace())) {
      words.emplace_back(w);
    }
  }
  for (const auto& w : words) {
    std::vector<std::string> kv = absl::StrSplit(w, absl::MaxSplits('=', 1));
    if (kv.size() != 2 || kv[0].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", w, "\" is not key=value"));
    }
    if (kv[0] == "cmd") {
      cmd = kv[1];
    } else if (kv[0] == "val") {
      val = kv[1];
    } else if (auto s = Set(kv[0], kv[1], false, &out); !s.ok()) {
      return s;
    }
  }
  if (!cmd.empty() || !val.empty()) {
    if (cmd.empty() || val.empty()) {
      return absl::InvalidArgumentError(
          "Cloonix form needs both cmd=<setting> and val=<value>");
    }
    if (auto s = Set(cmd, val, true, &out); !s.ok()) return s;
  }
  return out;
}

}  // namespace cloonix::cli
