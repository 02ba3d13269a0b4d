#include "services/lan_switch/host_phys.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/atomic_file.h"
#include "common/names.h"
#include "common/status_macros.h"
#include "spdlog/spdlog.h"

namespace cloonix {
namespace {

using json = nlohmann::json;

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

bool HasFlag(const json& link, const char* flag) {
  auto it = link.find("flags");
  if (it == link.end() || !it->is_array()) return false;
  for (const auto& f : *it) {
    if (f.is_string() && f.get<std::string>() == flag) return true;
  }
  return false;
}

absl::Status ValidateNetnsName(const std::string& ns) {
  if (ns.empty()) return absl::OkStatus();
  if (ns.size() > 64 || ns == "." || ns == ".." ||
      ns.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWX"
                           "YZ0123456789_.-") != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "host netns \"", ns,
        "\" is not a netns name (ip netns: letters, digits, _ . -)"));
  }
  if (absl::StartsWith(ns, "cloonix_")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "host netns ", ns, " is a cloonix net's own: not a host's netns"));
  }
  return absl::OkStatus();
}

json RequestJson(const PhyRequest& r) {
  return json{
      {"name", r.name},       {"nic", r.nic},     {"host_netns", r.host_netns},
      {"macvlan", r.macvlan}, {"force", r.force}, {"port", r.port}};
}

PhyRequest RequestFrom(const json& j) {
  PhyRequest r;
  r.name = Str(j, "name");
  r.nic = Str(j, "nic");
  r.host_netns = Str(j, "host_netns");
  r.macvlan = j.value("macvlan", false);
  r.force = j.value("force", false);
  r.port = Str(j, "port");
  return r;
}

bool SameNic(const PhyRequest& a, const PhyRequest& b) {
  return a.nic == b.nic && a.host_netns == b.host_netns;
}

}  // namespace

HostPhys::HostPhys(std::string net, std::string records_path,
                   std::string host_ref, std::shared_ptr<CommandRunner> runner)
    : net_(std::move(net)),
      netns_(NetNetns(net_)),
      records_path_(std::move(records_path)),
      host_ref_(std::move(host_ref)),
      runner_(std::move(runner)) {}

std::vector<std::string> HostPhys::HostIp(std::vector<std::string> args) const {
  // args[0] is the host netns ("" for the host's own), the rest ip's words.
  std::vector<std::string> argv = {"ip"};
  if (!args[0].empty()) argv.insert(argv.end(), {"-n", args[0]});
  argv.insert(argv.end(), args.begin() + 1, args.end());
  return argv;
}

std::vector<std::string> HostPhys::NetIp(std::vector<std::string> args) const {
  std::vector<std::string> argv = {"ip", "-n", netns_};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

absl::Status HostPhys::Run(const std::vector<std::string>& argv) {
  ASSIGN_OR_RETURN(ExecResult r, runner_->Run(argv));
  if (r.exit_code != 0) {
    return absl::InternalError(absl::StrCat(absl::StrJoin(argv, " "), ": ",
                                            absl::StripAsciiWhitespace(r.err)));
  }
  return absl::OkStatus();
}

absl::StatusOr<json> HostPhys::Link(const std::vector<std::string>& ip,
                                    const std::string& name) {
  std::vector<std::string> argv = ip;
  argv.insert(argv.end(), {"-j", "-d", "link", "show", "dev", name});
  ASSIGN_OR_RETURN(ExecResult r, runner_->Run(argv));
  if (r.exit_code != 0) return absl::NotFoundError(absl::StrCat("no ", name));
  json j = json::parse(r.out, nullptr, false);
  if (!j.is_array() || j.empty() || !j[0].is_object())
    return absl::InternalError(
        absl::StrCat(absl::StrJoin(argv, " "), ": unreadable output"));
  return j[0];
}

std::string HostPhys::Alias(const PhyRequest& r) const {
  return absl::StrCat("cloonix:", net_, ":phy:", r.name, ":", r.nic,
                      r.host_netns.empty() ? "" : "@", r.host_netns);
}

absl::Status HostPhys::Load() {
  auto text = ReadFile(records_path_);
  if (absl::IsNotFound(text.status())) return absl::OkStatus();
  RETURN_IF_ERROR(text.status());
  json j = json::parse(*text, nullptr, false);
  if (!j.is_object() || !j.contains("phys") || !j["phys"].is_array())
    return absl::DataLossError(
        absl::StrCat(records_path_, ": unreadable phy records"));
  for (const auto& p : j["phys"]) {
    if (!p.is_object() || !p.contains("request")) continue;
    Record rec{RequestFrom(p["request"]), p.value("saved", json::object())};
    records_[rec.req.name] = std::move(rec);
  }
  spdlog::info("{} phy record(s) loaded from {}", records_.size(),
               records_path_);
  return absl::OkStatus();
}

absl::Status HostPhys::Store() {
  if (records_.empty()) {
    if (unlink(records_path_.c_str()) != 0 && errno != ENOENT)
      return absl::InternalError(
          absl::StrCat("cannot remove ", records_path_, ": ", strerror(errno)));
    return absl::OkStatus();
  }
  json phys = json::array();
  for (const auto& [name, rec] : records_) {
    phys.push_back({{"request", RequestJson(rec.req)}, {"saved", rec.saved}});
  }
  return WriteFileAtomic(records_path_,
                         json{{"net", net_}, {"phys", phys}}.dump(1) + "\n");
}

absl::Status HostPhys::CheckNotInUse(const PhyRequest& r) {
  for (const auto& [name, rec] : records_) {
    if (name != r.name && SameNic(rec.req, r)) {
      return absl::FailedPreconditionError(
          absl::StrCat("NIC ", r.nic, " is already used by phy ", name,
                       " of this net (", net_, ")"));
    }
  }
  ASSIGN_OR_RETURN(ExecResult nsl, runner_->Run({"ip", "netns", "list"}));
  const std::string nicref =
      absl::StrCat(r.nic, r.host_netns.empty() ? "" : "@", r.host_netns);
  for (absl::string_view line : absl::StrSplit(nsl.out, '\n')) {
    std::string ns(line.substr(0, line.find(' ')));
    if (!absl::StartsWith(ns, "cloonix_")) continue;
    auto links = runner_->Run({"ip", "-n", ns, "-j", "link", "show"});
    if (!links.ok() || links->exit_code != 0) continue;
    json j = json::parse(links->out, nullptr, false);
    if (!j.is_array()) continue;
    for (const auto& l : j) {
      if (!l.is_object()) continue;
      std::vector<std::string> p = absl::StrSplit(Str(l, "ifalias"), ':');
      if (p.size() != 5 || p[0] != "cloonix" || p[2] != "phy" || p[4] != nicref)
        continue;
      if (p[1] == net_ && p[3] == r.name) continue;  // this very phy
      return absl::FailedPreconditionError(absl::StrCat(
          "NIC ", r.nic, " is already used by phy ", p[3], " of net ", p[1]));
    }
  }
  return absl::OkStatus();
}

absl::Status HostPhys::CheckUsable(const PhyRequest& r, const json& link) {
  const std::string type = Str(link, "link_type");
  if (r.nic == "lo" || type != "ether") {
    return absl::InvalidArgumentError(
        absl::StrCat("NIC ", r.nic, " is not an Ethernet interface (link type ",
                     type.empty() ? "unknown" : type, ")"));
  }
  if (const std::string master = Str(link, "master"); !master.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "NIC ", r.nic, " is a port of ", master,
        ": take it out first (ip link set dev ", r.nic, " nomaster)"));
  }
  if (const std::string alias = Str(link, "ifalias");
      absl::StartsWith(alias, "cloonix:")) {
    return absl::FailedPreconditionError(
        absl::StrCat(r.nic, " belongs to a cloonix net (alias \"", alias,
                     "\"): not a host NIC"));
  }
  if (r.macvlan || r.force) return absl::OkStatus();
  for (const char* family : {"-4", "-6"}) {
    auto routes = runner_->Run(
        HostIp({r.host_netns, family, "-j", "route", "show", "default"}));
    if (!routes.ok() || routes->exit_code != 0) continue;
    json j = json::parse(routes->out, nullptr, false);
    if (!j.is_array()) continue;
    for (const auto& rt : j) {
      if (!rt.is_object() || Str(rt, "dev") != r.nic) continue;
      std::string via = Str(rt, "gateway");
      return absl::FailedPreconditionError(absl::StrCat(
          "NIC ", r.nic, " holds the default route of ",
          r.host_netns.empty() ? "the host" : "netns " + r.host_netns,
          via.empty() ? "" : " (via " + via + ")",
          ": absorbing it would cut the host off. Use --force to absorb it "
          "anyway, or --mode macvlan to keep it the host's"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<json> HostPhys::SaveState(const PhyRequest& r,
                                         const json& link) {
  json saved = {{"mtu", link.value("mtu", 0)},
                {"up", HasFlag(link, "UP")},
                {"alias", Str(link, "ifalias")},
                {"addrs", json::array()},
                {"routes", json::array()}};
  if (r.macvlan) return saved;
  ASSIGN_OR_RETURN(
      ExecResult a,
      runner_->Run(HostIp({r.host_netns, "-j", "addr", "show", "dev", r.nic})));
  json aj = json::parse(a.out, nullptr, false);
  if (a.exit_code != 0 || !aj.is_array() || aj.empty())
    return absl::InternalError(
        absl::StrCat("cannot read the addresses of ", r.nic, ": ", a.err));
  for (const auto& ai : aj[0].value("addr_info", json::array())) {
    // Link-local IPv6 addresses come back by themselves.
    if (Str(ai, "family") == "inet6" && Str(ai, "scope") == "link") continue;
    json addr = {{"family", Str(ai, "family")},
                 {"local", Str(ai, "local")},
                 {"prefixlen", ai.value("prefixlen", 0)}};
    if (!Str(ai, "broadcast").empty()) addr["broadcast"] = Str(ai, "broadcast");
    saved["addrs"].push_back(addr);
  }
  for (const char* family : {"-4", "-6"}) {
    ASSIGN_OR_RETURN(ExecResult rt,
                     runner_->Run(HostIp({r.host_netns, family, "-j", "route",
                                          "show", "dev", r.nic})));
    json rj = json::parse(rt.out, nullptr, false);
    if (rt.exit_code != 0 || !rj.is_array()) continue;
    for (auto& route : rj) {
      // Routes the kernel made for the addresses come back with them.
      if (Str(route, "protocol") == "kernel") continue;
      if (absl::StartsWith(Str(route, "dst"), "fe80:")) continue;
      route["family"] = family;
      saved["routes"].push_back(route);
    }
  }
  return saved;
}

absl::Status HostPhys::Absorb(const Record& rec) {
  const PhyRequest& r = rec.req;
  // The NIC may be in the net's netns already, not yet renamed (a crash).
  if (!Link(NetIp({}), r.nic).ok()) {
    RETURN_IF_ERROR(
        Run(HostIp({r.host_netns, "link", "set", "dev", r.nic, "down"})));
    RETURN_IF_ERROR(Run(
        HostIp({r.host_netns, "link", "set", "dev", r.nic, "netns", netns_})));
  }
  RETURN_IF_ERROR(Run(NetIp({"link", "set", "dev", r.nic, "alias", Alias(r)})));
  RETURN_IF_ERROR(Run(NetIp({"link", "set", "dev", r.nic, "name", r.port})));
  return Run(NetIp({"link", "set", "dev", r.port, "up"}));
}

absl::Status HostPhys::MakeMacvlan(const PhyRequest& r) {
  // A macvlan carries frames only while its NIC is up.
  RETURN_IF_ERROR(
      Run(HostIp({r.host_netns, "link", "set", "dev", r.nic, "up"})));
  RETURN_IF_ERROR(
      Run(HostIp({r.host_netns, "link", "add", "link", r.nic, "name", r.port,
                  "netns", netns_, "type", "macvlan", "mode", "bridge"})));
  absl::Status s =
      Run(NetIp({"link", "set", "dev", r.port, "alias", Alias(r)}));
  if (s.ok()) s = Run(NetIp({"link", "set", "dev", r.port, "up"}));
  if (!s.ok()) Run(NetIp({"link", "del", r.port})).IgnoreError();
  return s;
}

absl::StatusOr<std::string> HostPhys::Create(const PhyRequest& r) {
  if (r.name.empty()) return absl::InvalidArgumentError("a phy needs a name");
  RETURN_IF_ERROR(ValidateIfname(r.nic));
  RETURN_IF_ERROR(ValidateIfname(r.port));
  RETURN_IF_ERROR(ValidateNetnsName(r.host_netns));
  if (!r.host_netns.empty()) {
    auto ns = runner_->Run({"ip", "netns", "exec", r.host_netns, "true"});
    if (!ns.ok() || ns->exit_code != 0)
      return absl::NotFoundError(
          absl::StrCat("no netns ", r.host_netns, " (ip netns list)"));
  }
  auto mac_of_port = [&]() -> absl::StatusOr<std::string> {
    ASSIGN_OR_RETURN(json port, Link(NetIp({}), r.port));
    return Str(port, "address");
  };

  auto known = records_.find(r.name);
  if (known != records_.end() && (!SameNic(known->second.req, r) ||
                                  known->second.req.macvlan != r.macvlan ||
                                  known->second.req.port != r.port)) {
    // Another phy under this name before: give that NIC back first.
    RETURN_IF_ERROR(Delete(r.name));
    known = records_.end();
  }
  if (known != records_.end()) {
    auto port = Link(NetIp({}), r.port);
    if (port.ok() && Str(*port, "ifalias") == Alias(r)) {
      if (!HasFlag(*port, "UP"))
        RETURN_IF_ERROR(Run(NetIp({"link", "set", "dev", r.port, "up"})));
      return Str(*port, "address");
    }
    // Its port is gone: made again from the same record.
    if (r.macvlan) {
      if (!Link(HostIp({r.host_netns}), r.nic).ok())
        return absl::NotFoundError(
            absl::StrCat("NIC ", r.nic, " of phy ", r.name, " is gone"));
      RETURN_IF_ERROR(MakeMacvlan(r));
    } else {
      if (!Link(HostIp({r.host_netns}), r.nic).ok() &&
          !Link(NetIp({}), r.nic).ok())
        return absl::NotFoundError(
            absl::StrCat("NIC ", r.nic, " of phy ", r.name, " is gone"));
      absl::Status s = Absorb(known->second);
      if (!s.ok()) {
        GiveBack(known->second).IgnoreError();
        return s;
      }
    }
    spdlog::info("phy {}: port {} made again", r.name, r.port);
    return mac_of_port();
  }

  auto link = Link(HostIp({r.host_netns}), r.nic);
  if (absl::IsNotFound(link.status())) {
    RETURN_IF_ERROR(CheckNotInUse(r));  // gone into another net?
    return absl::NotFoundError(absl::StrCat(
        "no interface ", r.nic, " on ",
        r.host_netns.empty() ? "the host" : "netns " + r.host_netns,
        " (ip link show)"));
  }
  RETURN_IF_ERROR(link.status());
  RETURN_IF_ERROR(CheckUsable(r, *link));
  RETURN_IF_ERROR(CheckNotInUse(r));
  ASSIGN_OR_RETURN(json saved, SaveState(r, *link));
  Record rec{r, saved};
  records_[r.name] = rec;
  if (absl::Status s = Store(); !s.ok()) {
    records_.erase(r.name);
    return s;
  }
  absl::Status s = r.macvlan ? MakeMacvlan(r) : Absorb(rec);
  if (!s.ok()) {
    spdlog::warn("phy {}: {}; giving {} back", r.name, s.ToString(), r.nic);
    if (GiveBack(rec).ok()) {
      records_.erase(r.name);
      Store().IgnoreError();
    }
    return s;
  }
  spdlog::info("phy {}: NIC {}{}{} {} as {} in {}", r.name, r.nic,
               r.host_netns.empty() ? "" : " of netns ", r.host_netns,
               r.macvlan ? "joined by a macvlan" : "absorbed", r.port, netns_);
  return mac_of_port();
}

void HostPhys::Restore(const Record& rec) {
  const PhyRequest& r = rec.req;
  const json& saved = rec.saved;
  auto warn = [&](absl::Status s) {
    if (!s.ok())
      spdlog::warn("phy {}: giving {} back: {}", r.name, r.nic, s.ToString());
  };
  if (int mtu = saved.value("mtu", 0); mtu > 0) {
    warn(Run(HostIp({r.host_netns, "link", "set", "dev", r.nic, "mtu",
                     std::to_string(mtu)})));
  }
  for (const auto& a : saved.value("addrs", json::array())) {
    std::vector<std::string> cmd = {
        r.host_netns, Str(a, "family") == "inet6" ? "-6" : "-4", "addr",
        "replace", absl::StrCat(Str(a, "local"), "/", a.value("prefixlen", 0))};
    if (!Str(a, "broadcast").empty())
      cmd.insert(cmd.end(), {"broadcast", Str(a, "broadcast")});
    if (Str(a, "family") == "inet6") cmd.push_back("nodad");
    cmd.insert(cmd.end(), {"dev", r.nic});
    warn(Run(HostIp(cmd)));
  }
  if (saved.value("up", false)) {
    warn(Run(HostIp({r.host_netns, "link", "set", "dev", r.nic, "up"})));
  }
  for (const auto& rt : saved.value("routes", json::array())) {
    std::vector<std::string> cmd = {r.host_netns, Str(rt, "family"), "route",
                                    "replace", Str(rt, "dst")};
    if (!Str(rt, "gateway").empty())
      cmd.insert(cmd.end(), {"via", Str(rt, "gateway")});
    cmd.insert(cmd.end(), {"dev", r.nic});
    if (rt.contains("metric") && rt["metric"].is_number())
      cmd.insert(cmd.end(),
                 {"metric", std::to_string(rt["metric"].get<int>())});
    if (!Str(rt, "protocol").empty())
      cmd.insert(cmd.end(), {"proto", Str(rt, "protocol")});
    if (!Str(rt, "scope").empty())
      cmd.insert(cmd.end(), {"scope", Str(rt, "scope")});
    if (!Str(rt, "prefsrc").empty())
      cmd.insert(cmd.end(), {"src", Str(rt, "prefsrc")});
    warn(Run(HostIp(cmd)));
  }
}

absl::Status HostPhys::GiveBack(const Record& rec) {
  const PhyRequest& r = rec.req;
  const std::string alias = Alias(r);
  if (r.macvlan) {
    auto port = Link(NetIp({}), r.port);
    if (port.ok() && Str(*port, "ifalias") == alias)
      RETURN_IF_ERROR(Run(NetIp({"link", "del", r.port})));
    if (!rec.saved.value("up", true) &&
        Link(HostIp({r.host_netns}), r.nic).ok())
      Run(HostIp({r.host_netns, "link", "set", "dev", r.nic, "down"}))
          .IgnoreError();
    spdlog::info("phy {}: macvlan of {} removed", r.name, r.nic);
    return absl::OkStatus();
  }
  // Where is the NIC: in the net's netns as the port, or not yet renamed,
  // or already on the host side.
  std::string here;
  for (const std::string& n : {r.port, r.nic}) {
    auto l = Link(NetIp({}), n);
    if (l.ok() && Str(*l, "ifalias") == alias) here = n;
  }
  if (!here.empty()) {
    Run(NetIp({"link", "set", "dev", here, "down"})).IgnoreError();
    if (here != r.nic &&
        Run(NetIp({"link", "set", "dev", here, "name", r.nic})).ok())
      here = r.nic;
    const std::string old_alias = Str(rec.saved, "alias");
    Run(NetIp({"link", "set", "dev", here, "alias", old_alias})).IgnoreError();
    RETURN_IF_ERROR(
        Run(NetIp({"link", "set", "dev", here, "netns",
                   r.host_netns.empty() ? host_ref_ : r.host_netns})));
    if (here != r.nic)
      RETURN_IF_ERROR(Run(
          HostIp({r.host_netns, "link", "set", "dev", here, "name", r.nic})));
  } else if (!Link(HostIp({r.host_netns}), r.nic).ok()) {
    spdlog::warn(
        "phy {}: NIC {} is neither in {} nor on the host: nothing to give "
        "back (a veth whose peer was deleted is gone for good)",
        r.name, r.nic, netns_);
    return absl::OkStatus();
  }
  Restore(rec);
  spdlog::info("phy {}: NIC {} given back", r.name, r.nic);
  return absl::OkStatus();
}

absl::Status HostPhys::Delete(const std::string& name) {
  auto it = records_.find(name);
  if (it == records_.end()) return absl::OkStatus();
  RETURN_IF_ERROR(GiveBack(it->second));
  records_.erase(it);
  return Store();
}

absl::Status HostPhys::GiveBackAll() {
  absl::Status result;
  std::vector<std::string> names;
  for (const auto& [name, rec] : records_) names.push_back(name);
  for (const auto& n : names) result.Update(Delete(n));
  return result;
}

absl::StatusOr<std::vector<PhyState>> HostPhys::List() {
  std::vector<PhyState> out;
  for (const auto& [name, rec] : records_) {
    PhyState st;
    st.request = rec.req;
    auto port = Link(NetIp({}), rec.req.port);
    st.present = port.ok() && Str(*port, "ifalias") == Alias(rec.req);
    if (st.present) st.mac = Str(*port, "address");
    out.push_back(std::move(st));
  }
  return out;
}

absl::Status HostPhys::SetMac(const std::string& name, const std::string& mac) {
  auto it = records_.find(name);
  if (it == records_.end())
    return absl::NotFoundError(absl::StrCat("no phy ", name));
  if (!it->second.req.macvlan)
    return absl::FailedPreconditionError(
        absl::StrCat("phy ", name, " absorbs its NIC: its MAC is the NIC's"));
  ASSIGN_OR_RETURN(json port, Link(NetIp({}), it->second.req.port));
  if (absl::AsciiStrToLower(Str(port, "address")) == absl::AsciiStrToLower(mac))
    return absl::OkStatus();
  RETURN_IF_ERROR(
      Run(NetIp({"link", "set", "dev", it->second.req.port, "address", mac})));
  spdlog::info("phy {}: macvlan MAC set to {} (its lan's guest)", name, mac);
  return absl::OkStatus();
}

}  // namespace cloonix
