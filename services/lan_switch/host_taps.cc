#include "services/lan_switch/host_taps.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "common/names.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace cloonix {

HostTaps::HostTaps(std::string net, std::shared_ptr<CommandRunner> runner)
    : netns_(NetNetns(net)),
      alias_(absl::StrCat("cloonix:", net, ":tap")),
      runner_(std::move(runner)) {}

absl::Status HostTaps::Ip(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"ip"};
  argv.insert(argv.end(), args.begin(), args.end());
  ASSIGN_OR_RETURN(ExecResult r, runner_->Run(argv));
  if (r.exit_code != 0) {
    return absl::InternalError(absl::StrCat(absl::StrJoin(argv, " "), ": ",
                                            absl::StripAsciiWhitespace(r.err)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> HostTaps::AliasOf(const std::string& name) {
  ASSIGN_OR_RETURN(ExecResult r,
                   runner_->Run({"ip", "-j", "link", "show", "dev", name}));
  if (r.exit_code != 0) {
    return absl::NotFoundError(absl::StrCat("no host interface ", name));
  }
  nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  if (!j.is_array() || j.empty() || !j[0].is_object())
    return absl::InternalError(
        absl::StrCat("ip -j link show ", name, ": ", "unreadable output"));
  auto it = j[0].find("ifalias");
  return it != j[0].end() && it->is_string() ? it->get<std::string>() : "";
}

absl::Status HostTaps::Create(const std::string& name,
                              const std::string& port) {
  RETURN_IF_ERROR(ValidateIfname(name));
  RETURN_IF_ERROR(ValidateIfname(port));
  auto alias = AliasOf(name);
  if (alias.ok()) {
    if (*alias != alias_) {
      return absl::AlreadyExistsError(absl::StrCat(
          "the host already has an interface named ", name,
          (alias->empty() ? "" : absl::StrCat(" (alias \"", *alias, "\")")),
          "; a tap's name is its host interface: choose another"));
    }
    auto peer = runner_->Run({"ip", "-n", netns_, "link", "show", "dev", port});
    if (peer.ok() && peer->exit_code == 0) return absl::OkStatus();
    // This net's tap whose peer is gone or renamed: made again.
    RETURN_IF_ERROR(Ip({"link", "del", name}));
  } else if (!absl::IsNotFound(alias.status())) {
    return alias.status();
  }
  // A stale peer (its host end deleted by hand) would block the new pair.
  auto stale = runner_->Run({"ip", "-n", netns_, "link", "show", "dev", port});
  if (stale.ok() && stale->exit_code == 0)
    RETURN_IF_ERROR(Ip({"-n", netns_, "link", "del", port}));
  RETURN_IF_ERROR(Ip({"link", "add", name, "type", "veth", "peer", "name", port,
                      "netns", netns_}));
  absl::Status s = Ip({"link", "set", "dev", name, "alias", alias_});
  if (s.ok()) s = Ip({"link", "set", "dev", name, "up"});
  if (s.ok()) s = Ip({"-n", netns_, "link", "set", "dev", port, "up"});
  if (!s.ok()) {
    Ip({"link", "del", name}).IgnoreError();  // nothing half-made stays
    return s;
  }
  spdlog::info("tap {} created (peer {} in {})", name, port, netns_);
  return absl::OkStatus();
}

absl::Status HostTaps::Delete(const std::string& name) {
  RETURN_IF_ERROR(ValidateIfname(name));
  auto alias = AliasOf(name);
  if (absl::IsNotFound(alias.status())) return absl::OkStatus();
  RETURN_IF_ERROR(alias.status());
  if (*alias != alias_) {
    spdlog::warn("not deleting host interface {}: not a tap of this net", name);
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(Ip({"link", "del", name}));
  spdlog::info("tap {} deleted", name);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> HostTaps::List() {
  ASSIGN_OR_RETURN(ExecResult r, runner_->Run({"ip", "-j", "link", "show"}));
  if (r.exit_code != 0)
    return absl::InternalError(absl::StrCat("ip link show: ", r.err));
  nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  if (!j.is_array()) return absl::InternalError("ip -j link show: unreadable");
  std::vector<std::string> out;
  for (const auto& l : j) {
    if (!l.is_object()) continue;
    auto a = l.find("ifalias");
    auto n = l.find("ifname");
    if (a == l.end() || n == l.end() || !a->is_string() || !n->is_string())
      continue;
    if (a->get<std::string>() == alias_) out.push_back(n->get<std::string>());
  }
  return out;
}

}  // namespace cloonix
