#include "services/lan_switch/ovsdb_client.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "spdlog/spdlog.h"

namespace cloonix {

namespace {
std::vector<std::string> Lines(const std::string& out) {
  std::vector<std::string> v;
  for (absl::string_view l :
       absl::StrSplit(out, '\n', absl::SkipWhitespace())) {
    v.emplace_back(absl::StripAsciiWhitespace(l));
  }
  return v;
}
std::vector<std::string> AddBridgeCmd(const std::string& b) {
  return {"--may-exist", "add-br", b, "--",
          "set",         "bridge", b, "datapath_type=netdev"};
}
}  // namespace

OvsdbClient::OvsdbClient(std::string db_remote, std::string netns,
                         std::shared_ptr<CommandRunner> runner)
    : db_remote_(std::move(db_remote)),
      netns_(std::move(netns)),
      runner_(std::move(runner)) {}

std::vector<std::string> OvsdbClient::Transaction(
    const std::vector<std::vector<std::string>>& commands) const {
  std::vector<std::string> argv = {"ovs-vsctl", "--db=" + db_remote_,
                                   "--timeout=20"};
  for (const auto& c : commands) {
    argv.push_back("--");
    argv.insert(argv.end(), c.begin(), c.end());
  }
  return argv;
}

absl::StatusOr<std::string> OvsdbClient::Run(
    const std::vector<std::vector<std::string>>& cmds) {
  auto argv = Transaction(cmds);
  ASSIGN_OR_RETURN(ExecResult r, runner_->Run(argv));
  if (r.exit_code != 0) {
    return absl::UnavailableError(
        absl::StrCat("ovs-vsctl failed: ", absl::StripAsciiWhitespace(r.err)));
  }
  return r.out;
}

bool OvsdbClient::InterfaceExists(const std::string& ifname) {
  auto r = runner_->Run({"ip", "-n", netns_, "link", "show", "dev", ifname});
  return r.ok() && r->exit_code == 0;
}

absl::Status OvsdbClient::CreateBridge(const std::string& bridge) {
  return Run({AddBridgeCmd(bridge)}).status();
}

absl::Status OvsdbClient::DeleteBridge(const std::string& bridge) {
  return Run({{"--if-exists", "del-br", bridge}}).status();
}

absl::Status OvsdbClient::AddPort(const std::string& bridge,
                                  const std::string& port) {
  // br-exists: exit 0 if it exists, 2 if not.
  ASSIGN_OR_RETURN(ExecResult exists,
                   runner_->Run(Transaction({{"br-exists", bridge}})));
  if (exists.exit_code == 2) {
    return absl::NotFoundError(
        absl::StrCat("bridge ", bridge, " does not exist"));
  }
  if (exists.exit_code != 0) {
    return absl::UnavailableError(
        absl::StrCat("ovs-vsctl br-exists failed: ",
                     absl::StripAsciiWhitespace(exists.err)));
  }
  if (!InterfaceExists(port)) {
    return absl::NotFoundError(
        absl::StrCat("interface ", port, " does not exist in netns ", netns_));
  }
  // del-port + add-port in one transaction: moves a port between bridges.
  return Run({{"--if-exists", "del-port", port}, {"add-port", bridge, port}})
      .status();
}

absl::Status OvsdbClient::DeletePort(const std::string& port) {
  return Run({{"--if-exists", "del-port", port}}).status();
}

absl::Status OvsdbClient::AddMirror(const std::string& bridge,
                                    const std::string& port) {
  return Run({{"add-port", bridge, port},
              {"set", "interface", port, "type=internal"},
              {"--id=@p", "get", "port", port},
              {"--id=@m", "create", "mirror", "name=" + port, "select-all=true",
               "output-port=@p"},
              {"add", "bridge", bridge, "mirrors", "@m"}})
      .status();
}

absl::Status OvsdbClient::DeleteMirror(const std::string& bridge,
                                       const std::string& port) {
  // The mirror first (a bridge's mirror goes once the bridge drops it); it
  // may already be gone with its port.
  Run({{"--id=@m", "get", "mirror", port},
       {"remove", "bridge", bridge, "mirrors", "@m"}})
      .IgnoreError();
  return Run({{"--if-exists", "del-port", bridge, port}}).status();
}

absl::StatusOr<BridgeMap> OvsdbClient::ListBridges() {
  ASSIGN_OR_RETURN(std::string out, Run({{"list-br"}}));
  BridgeMap m;
  std::vector<std::string> names = Lines(out);
  for (const auto& b : names) {
    ASSIGN_OR_RETURN(std::string p, Run({{"list-ports", b}}));
    m[b] = Lines(p);
  }
  return m;
}

absl::StatusOr<std::vector<std::string>> OvsdbClient::Sync(
    const BridgeMap& desired) {
  ASSIGN_OR_RETURN(BridgeMap current, ListBridges());
  std::vector<std::vector<std::string>> cmds;
  std::vector<std::string> missing;
  for (const auto& [b, ports] : current) {
    if (!desired.count(b)) cmds.push_back({"--if-exists", "del-br", b});
  }
  for (const auto& [b, ports] : desired) {
    std::set<std::string> want;
    for (const auto& p : ports) {
      if (InterfaceExists(p)) {
        want.insert(p);
      } else {
        missing.push_back(p);
      }
    }
    std::set<std::string> have;
    if (current.count(b)) have.insert(current[b].begin(), current[b].end());
    if (!current.count(b)) cmds.push_back(AddBridgeCmd(b));
    for (const auto& p : have) {
      if (!want.count(p)) cmds.push_back({"--if-exists", "del-port", b, p});
    }
    for (const auto& p : want) {
      if (!have.count(p)) {
        cmds.push_back({"--if-exists", "del-port", p});
        cmds.push_back({"add-port", b, p});
      }
    }
  }
  if (!cmds.empty()) {
    spdlog::info("sync: {} commands in one transaction", cmds.size());
    RETURN_IF_ERROR(Run(cmds).status());
  }
  return missing;
}

}  // namespace cloonix
