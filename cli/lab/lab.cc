#include "cli/lab/lab.h"

#include <arpa/inet.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "cli/a2b_args.h"
#include "cli/output.h"
#include "common/a2b_settings.h"
#include "common/guest_files.h"
#include "common/item_kind.h"
#include "common/names.h"
#include "yaml-cpp/yaml.h"

namespace cloonix::cli::lab {

namespace v1 = cloonix::v1;

const LabItem* Lab::Find(const std::string& name) const {
  for (const auto& it : items) {
    if (it.item.name() == name) return &it;
  }
  return nullptr;
}

namespace {

Pos PosOf(const YAML::Node& n) {
  const YAML::Mark m = n.Mark();
  if (m.is_null()) return {};
  return {m.line + 1, m.column + 1};
}

bool FileExists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

// ItemKind from its name in files ("kvm", "cnt", ...); UNSPECIFIED if none.
v1::ItemKind KindFromName(const std::string& s) {
  static const std::map<std::string, v1::ItemKind> kinds = {
      {"lan", v1::ITEM_KIND_LAN}, {"kvm", v1::ITEM_KIND_KVM},
      {"cnt", v1::ITEM_KIND_CNT}, {"nat", v1::ITEM_KIND_NAT},
      {"tap", v1::ITEM_KIND_TAP}, {"phy", v1::ITEM_KIND_PHY},
      {"a2b", v1::ITEM_KIND_A2B}, {"c2c", v1::ITEM_KIND_C2C}};
  auto it = kinds.find(s);
  return it == kinds.end() ? v1::ITEM_KIND_UNSPECIFIED : it->second;
}

// "10.0.0.1/24" or "fd00::1/64": an address and a prefix length.
bool ValidCidr(const std::string& s) {
  std::pair<std::string, std::string> p = absl::StrSplit(s, '/');
  uint32_t len;
  if (p.second.empty() || !absl::SimpleAtoi(p.second, &len)) return false;
  unsigned char buf[16];
  if (inet_pton(AF_INET, p.first.c_str(), buf) == 1) return len <= 32;
  if (inet_pton(AF_INET6, p.first.c_str(), buf) == 1) return len <= 128;
  return false;
}

// "host:port" or "[v6]:port", port 1..65535 (0 too with port_zero).
bool ValidHostPort(const std::string& s, bool port_zero) {
  size_t colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  uint32_t port;
  if (!absl::SimpleAtoi(s.substr(colon + 1), &port) || port > 65535) {
    return false;
  }
  return port > 0 || port_zero;
}

// Reads YAML nodes into a Lab, collecting errors with their place.
class Reader {
 public:
  explicit Reader(std::vector<LabError>* errors) : errors_(errors) {}

  void Err(const YAML::Node& n, std::string msg) {
    errors_->push_back({PosOf(n), std::move(msg)});
  }
  void Err(Pos p, std::string msg) { errors_->push_back({p, std::move(msg)}); }

  bool Str(const YAML::Node& n, const std::string& what, std::string* out) {
    if (!n.IsScalar()) {
      Err(n, absl::StrCat(what, " must be a string"));
      return false;
    }
    *out = n.Scalar();
    return true;
  }
  bool Uint(const YAML::Node& n, const std::string& what, uint64_t lo,
            uint64_t hi, uint64_t* out) {
    uint64_t v;
    if (!n.IsScalar() || !absl::SimpleAtoi(n.Scalar(), &v)) {
      Err(n, absl::StrCat(what, " must be a whole number"));
      return false;
    }
    if (v < lo || v > hi) {
      Err(n, absl::StrCat(what, " is ", v, "; it must be ", lo, " to ", hi));
      return false;
    }
    *out = v;
    return true;
  }
  bool Bool(const YAML::Node& n, const std::string& what, bool* out) {
    std::string s = n.IsScalar() ? absl::AsciiStrToLower(n.Scalar()) : "";
    if (s == "true" || s == "yes" || s == "on" || s == "1") {
      *out = true;
    } else if (s == "false" || s == "no" || s == "off" || s == "0") {
      *out = false;
    } else {
      Err(n, absl::StrCat(what, " must be true or false"));
      return false;
    }
    return true;
  }
  // A string or a list of strings.
  bool StrList(const YAML::Node& n, const std::string& what,
               std::vector<std::string>* out) {
    if (n.IsScalar()) {
      out->push_back(n.Scalar());
      return true;
    }
    if (!n.IsSequence()) {
      Err(n, absl::StrCat(what, " must be a string or a list of strings"));
      return false;
    }
    for (const auto& e : n) {
      if (!e.IsScalar()) {
        Err(e, absl::StrCat(what, ": each entry must be a string"));
        return false;
      }
      out->push_back(e.Scalar());
    }
    return true;
  }
  // An item or lan name; a net's with `net` (no dots).
  bool Name(const YAML::Node& n, const std::string& what, std::string* out,
            bool net = false) {
    if (!Str(n, what, out)) return false;
    if (auto s = net ? cloonix::ValidateNetName(*out, what)
                     : cloonix::ValidateName(*out, what);
        !s.ok()) {
      Err(n, std::string(s.message()));
      return false;
    }
    return true;
  }
  // "eth3" or "3".
  bool Eth(const YAML::Node& n, const std::string& s, uint32_t* out) {
    absl::string_view v = s;
    absl::ConsumePrefix(&v, "eth");
    if (!absl::SimpleAtoi(v, out) || *out > 31) {
      Err(n, absl::StrCat("\"", s, "\" is not an eth (eth0 to eth31)"));
      return false;
    }
    return true;
  }
  // dir0/dir1/both: {delay: ms, jitter: ms, loss: %, rate: kbit/s, burst:
  // bytes, qsize: packets, bsize: bytes, reorder: bool}, through the CLI's
  // own parser (same keys as `cnf a2b`).
  bool A2b(const YAML::Node& n, v1::A2bSettings* s) {
    if (!n.IsMap()) {
      Err(n,
          "a2b settings must be a map (delay, jitter, loss, rate, burst, "
          "qsize, bsize, reorder)");
      return false;
    }
    std::vector<std::string> tokens;
    for (const auto& kv : n) {
      std::string k = kv.first.Scalar(), v;
      if (k == "dir") {
        Err(kv.first, "dir is given by dir0/dir1/both, not inside them");
        return false;
      }
      if (!Str(kv.second, k, &v)) return false;
      if (k == "reorder") {
        bool b;
        if (!Bool(kv.second, k, &b)) return false;
        v = b ? "1" : "0";
      }
      tokens.push_back(absl::StrCat(k, "=", v));
      auto one = ParseA2bArgs({tokens.back()});
      if (!one.ok()) {
        Err(kv.first, std::string(one.status().message()));
        return false;
      }
      cloonix::ApplyA2bPatch(one->patch, s);
    }
    if (auto st = cloonix::ValidateA2bSettings(*s); !st.ok()) {
      Err(n, std::string(st.message()));
      return false;
    }
    return true;
  }

 private:
  std::vector<LabError>* errors_;
};

const std::set<std::string>& KeysOf(v1::ItemKind k) {
  static const std::map<v1::ItemKind, std::set<std::string>> keys = {
      {v1::ITEM_KIND_KVM,
       {"image", "ram", "cpu", "eths", "persistent", "natplug", "install_cdrom",
        "added_cdrom", "added_disk", "with_pxe", "no_reboot", "fullvirt",
        "balloon", "cloud_init", "files", "delete"}},
      {v1::ITEM_KIND_CNT,
       {"image", "eths", "env", "cmd", "natplug", "mounts", "privileged",
        "files", "delete"}},
      {v1::ITEM_KIND_A2B, {"dir0", "dir1", "both"}},
      {v1::ITEM_KIND_PHY, {"nic", "mode", "force", "netns"}},
      {v1::ITEM_KIND_C2C,
       {"peer_net", "peer", "creds", "udp_port", "mac_mangle"}},
      {v1::ITEM_KIND_NAT, {}},
      {v1::ITEM_KIND_TAP, {}},
      {v1::ITEM_KIND_LAN, {}},
  };
  return keys.at(k);
}

bool IsGuest(v1::ItemKind k) {
  return k == v1::ITEM_KIND_KVM || k == v1::ITEM_KIND_CNT;
}

// One key of an item (or of defaults.<kind>) into `li`.
void ReadItemKey(Reader& r, const std::string& key, const YAML::Node& v,
                 LabItem* li, bool* eths_given) {
  v1::Item& it = li->item;
  const v1::ItemKind kind = it.kind();
  li->key_pos[key] = PosOf(v);
  uint64_t u;
  std::string s;
  bool b;
  if (key == "addresses") {
    if (!IsGuest(kind)) {
      r.Err(v, "addresses are set in kvm and cnt guests only");
      return;
    }
    if (!v.IsMap()) {
      r.Err(v, "addresses: a map of eth to address/prefix (eth0: 10.0.0.1/24)");
      return;
    }
    for (const auto& kv : v) {
      uint32_t eth;
      if (!r.Eth(kv.first, kv.first.Scalar(), &eth)) continue;
      std::vector<std::string> addrs;
      if (!r.StrList(kv.second, "addresses", &addrs)) continue;
      for (const auto& a : addrs) {
        if (!ValidCidr(a)) {
          r.Err(kv.second, absl::StrCat("\"", a,
                                        "\" is not an address with its prefix "
                                        "length (10.0.0.1/24, fd00::1/64)"));
          continue;
        }
        li->addresses[eth].push_back(a);
      }
    }
  } else if (key == "exec") {
    if (!IsGuest(kind)) {
      r.Err(v, "exec runs in kvm and cnt guests only");
      return;
    }
    li->exec.clear();
    r.StrList(v, "exec", &li->exec);
  } else if (key == "wait") {
    if (v.IsMap()) {
      if (v.size() != 1 || !v["command"]) {
        r.Err(v, "wait: agent, running, none or {command: \"...\"}");
        return;
      }
      if (!IsGuest(kind)) {
        r.Err(v, "a wait command runs in kvm and cnt guests only");
        return;
      }
      if (r.Str(v["command"], "wait command", &li->wait_command)) {
        li->wait = Wait::kCommand;
      }
      return;
    }
    if (!r.Str(v, "wait", &s)) return;
    if (s == "agent") {
      li->wait = Wait::kAgent;
    } else if (s == "running") {
      li->wait = Wait::kRunning;
    } else if (s == "none") {
      li->wait = Wait::kNone;
    } else {
      r.Err(v, absl::StrCat("wait: \"", s,
                            "\" is not agent, running, none or "
                            "{command: \"...\"}"));
    }
  } else if (key == "host") {
    r.Name(v, "host", &li->host);
  } else if (key == "depends_on") {
    std::vector<std::string> deps;
    if (!r.StrList(v, "depends_on", &deps)) return;
    li->depends_on = deps;
    for (const auto& d : deps) li->depends_pos[d] = PosOf(v);
  } else if (key == "image") {
    if (r.Str(v, "image", &s)) {
      if (s.empty()) {
        r.Err(v, "image is empty");
      } else if (kind == v1::ITEM_KIND_KVM) {
        it.mutable_kvm()->set_image(s);
      } else {
        it.mutable_cnt()->set_image(s);
      }
    }
  } else if (key == "ram") {
    if (r.Uint(v, "ram (MiB)", 64, 65536, &u)) it.mutable_kvm()->set_ram_mb(u);
  } else if (key == "cpu") {
    if (r.Uint(v, "cpu", 1, 64, &u)) it.mutable_kvm()->set_cpu(u);
  } else if (key == "eths") {
    if (r.Uint(v, "eths", 1, 32, &u)) {
      *eths_given = true;
      if (kind == v1::ITEM_KIND_KVM) {
        it.mutable_kvm()->set_eth_count(u);
      } else {
        it.mutable_cnt()->set_eth_count(u);
      }
    }
  } else if (key == "persistent") {
    if (r.Bool(v, "persistent", &b)) it.mutable_kvm()->set_persistent(b);
  } else if (key == "install_cdrom" || key == "added_cdrom" ||
             key == "added_disk") {
    if (!r.Str(v, key, &s)) return;
    auto* o = it.mutable_kvm()->mutable_options();
    if (key == "install_cdrom") o->set_install_cdrom(s);
    if (key == "added_cdrom") o->set_added_cdrom(s);
    if (key == "added_disk") o->set_added_disk(s);
  } else if (key == "with_pxe" || key == "no_reboot" || key == "fullvirt" ||
             key == "balloon" || key == "cloud_init") {
    if (!r.Bool(v, key, &b)) return;
    auto* o = it.mutable_kvm()->mutable_options();
    if (key == "with_pxe") o->set_with_pxe(b);
    if (key == "no_reboot") o->set_no_reboot(b);
    if (key == "fullvirt") o->set_fullvirt(b);
    if (key == "balloon") o->set_balloon(b);
    if (key == "cloud_init") o->set_cloud_init(b);
  } else if (key == "natplug") {
    if (!r.Str(v, "natplug", &s)) return;
    uint32_t eth;
    if (!r.Eth(v, s, &eth)) return;
    if (kind == v1::ITEM_KIND_KVM) {
      it.mutable_kvm()->set_natplug(eth);
    } else {
      it.mutable_cnt()->set_natplug(eth);
    }
  } else if (key == "env") {
    auto* c = it.mutable_cnt();
    c->clear_env();
    if (v.IsMap()) {
      for (const auto& kv : v) {
        c->add_env(absl::StrCat(
            kv.first.Scalar(), "=",
            kv.second.IsScalar() ? kv.second.Scalar() : std::string()));
      }
      return;
    }
    std::vector<std::string> env;
    if (!r.StrList(v, "env", &env)) return;
    for (const auto& e : env) {
      if (!absl::StrContains(e, '=')) {
        r.Err(v, absl::StrCat("env entry \"", e, "\" is not KEY=value"));
        continue;
      }
      c->add_env(e);
    }
  } else if (key == "mounts") {
    auto* c = it.mutable_cnt();
    c->clear_mounts();
    std::vector<std::string> mounts;
    if (!r.StrList(v, "mounts", &mounts)) return;
    for (const auto& text : mounts) {
      auto m = cloonix::cli::ParseVmount(text);
      if (!m.ok()) {
        r.Err(v, std::string(m.status().message()));
        continue;
      }
      // A relative host path is relative to the lab file (ResolvePaths).
      absl::Status st = cloonix::ValidateBindMountPaths(
          m->host_path()[0] == '/' ? m->host_path() : "/" + m->host_path(),
          m->guest_path());
      if (!st.ok()) {
        r.Err(v, std::string(st.message()));
        continue;
      }
      *c->add_mounts() = *m;
    }
  } else if (key == "files" || key == "delete") {
    v1::GuestFiles* f = kind == v1::ITEM_KIND_KVM
                            ? it.mutable_kvm()->mutable_files()
                            : it.mutable_cnt()->mutable_files();
    std::vector<std::string> list;
    if (!r.StrList(v, key, &list)) return;  // a string or a list
    if (key == "files") {
      f->clear_dirs();
      for (const auto& d : list) f->add_dirs(d);  // ResolvePaths: absolute
    } else {
      f->clear_delete_();
      for (const auto& p : list) f->add_delete_(p);
    }
    absl::Status st = cloonix::ValidateGuestFiles(
        {}, {f->delete_().begin(), f->delete_().end()});
    if (!st.ok()) r.Err(v, std::string(st.message()));
  } else if (key == "privileged") {
    if (r.Bool(v, "privileged", &b)) it.mutable_cnt()->set_privileged(b);
  } else if (key == "cmd") {
    auto* c = it.mutable_cnt();
    c->clear_command();
    if (v.IsScalar()) {
      c->add_command("/bin/sh");
      c->add_command("-c");
      c->add_command(v.Scalar());
      return;
    }
    std::vector<std::string> argv;
    if (r.StrList(v, "cmd", &argv)) {
      for (const auto& a : argv) c->add_command(a);
    }
  } else if (key == "dir0" || key == "dir1" || key == "both") {
    v1::A2bSettings s0 = li->a2b[0], s1 = li->a2b[1];
    if (key != "dir1" && !r.A2b(v, &s0)) return;
    if (key != "dir0" && !r.A2b(v, &s1)) return;
    li->a2b[0] = s0;
    li->a2b[1] = s1;
  } else if (key == "nic") {
    if (r.Str(v, "nic", &s)) {
      if (auto st = cloonix::ValidateIfname(s); !st.ok()) {
        r.Err(v, std::string(st.message()));
      } else {
        it.mutable_phy()->set_host_ifname(s);
      }
    }
  } else if (key == "mode") {
    if (!r.Str(v, "mode", &s)) return;
    if (s == "absorb") {
      it.mutable_phy()->set_mode(v1::PHY_MODE_ABSORB);
    } else if (s == "macvlan") {
      it.mutable_phy()->set_mode(v1::PHY_MODE_MACVLAN);
    } else {
      r.Err(v, absl::StrCat("mode \"", s, "\" is not absorb or macvlan"));
    }
  } else if (key == "force") {
    if (r.Bool(v, "force", &b)) it.mutable_phy()->set_force(b);
  } else if (key == "netns") {
    if (r.Str(v, "netns", &s)) it.mutable_phy()->set_host_netns(s);
  } else if (key == "peer_net") {
    if (r.Name(v, "peer_net", &s, /*net=*/true)) {
      it.mutable_c2c()->set_peer_net(s);
    }
  } else if (key == "peer") {
    if (r.Str(v, "peer", &s)) it.mutable_c2c()->set_peer_address(s);
  } else if (key == "creds") {
    r.Str(v, "creds", &li->c2c_creds);
  } else if (key == "mac_mangle") {
    if (!r.Str(v, "mac_mangle", &s)) return;
    if (auto st = cloonix::ValidateMac(s); !st.ok()) {
      r.Err(v, std::string(st.message()));
    } else {
      it.mutable_c2c()->set_mac_mangle(absl::AsciiStrToLower(s));
    }
  } else if (key == "udp_port") {
    if (r.Uint(v, "udp_port", 1, 65535, &u)) it.mutable_c2c()->set_udp_port(u);
  }
}

// layout: {name: [x, y], ...}: numbers within +-1e6 (Topology.SetLayout).
void ReadLayout(Reader& r, const YAML::Node& n, Lab* lab) {
  if (!n.IsMap()) {
    r.Err(n, "layout: a map of item or lan name to [x, y]");
    return;
  }
  for (const auto& kv : n) {
    std::string name;
    if (!r.Name(kv.first, "layout name", &name)) continue;
    double xy[2];
    bool ok = kv.second.IsSequence() && kv.second.size() == 2;
    for (size_t i = 0; ok && i < 2; ++i) {
      ok = kv.second[i].IsScalar() &&
           absl::SimpleAtod(kv.second[i].Scalar(), &xy[i]) &&
           std::isfinite(xy[i]) && std::fabs(xy[i]) <= 1e6;
    }
    if (!ok) {
      r.Err(kv.second, absl::StrCat("layout of ", name,
                                    ": [x, y], two numbers within +-1e6"));
      continue;
    }
    lab->layout[name].set_x(xy[0]);
    lab->layout[name].set_y(xy[1]);
    lab->layout_pos[name] = PosOf(kv.first);
  }
}

// hosts: {name: {address: HOST:PORT, creds: DIR}}.
void ReadHosts(Reader& r, const YAML::Node& n, Lab* lab) {
  if (!n.IsMap()) {
    r.Err(n, "hosts: a map of host name to {address: HOST:PORT, creds: DIR}");
    return;
  }
  for (const auto& kv : n) {
    LabHost h;
    if (!r.Name(kv.first, "host name", &h.name)) continue;
    h.pos = PosOf(kv.first);
    if (lab->hosts.count(h.name)) {
      r.Err(kv.first, absl::StrCat("host ", h.name, " is defined twice"));
      continue;
    }
    if (!kv.second.IsMap()) {
      r.Err(kv.second, absl::StrCat("host ", h.name,
                                    ": a map of address (HOST:PORT of its "
                                    "doorway) and creds (a dir from "
                                    "`cloonix net creds`)"));
      continue;
    }
    bool ok = true;
    for (const auto& e : kv.second) {
      const std::string k = e.first.Scalar();
      if (k == "address") {
        ok &= r.Str(e.second, "address", &h.address);
        if (ok && !ValidHostPort(h.address, /*port_zero=*/false)) {
          r.Err(e.second,
                absl::StrCat("address \"", h.address, "\" is not HOST:PORT"));
          ok = false;
        }
      } else if (k == "creds") {
        ok &= r.Str(e.second, "creds", &h.creds);
      } else {
        r.Err(e.first, absl::StrCat("unknown key \"", k, "\" for host ", h.name,
                                    " (address, creds)"));
        ok = false;
      }
    }
    if (ok && h.creds.empty()) {
      r.Err(kv.first,
            absl::StrCat("host ", h.name,
                         " needs creds: the dir `cloonix net creds DIR` "
                         "wrote on that host"));
      ok = false;
    }
    if (ok) lab->hosts[h.name] = h;
  }
}

void SetKind(v1::Item* it, v1::ItemKind k) {
  it->set_kind(k);
  switch (k) {
    case v1::ITEM_KIND_KVM:
      it->mutable_kvm();
      break;
    case v1::ITEM_KIND_CNT:
      it->mutable_cnt();
      break;
    case v1::ITEM_KIND_NAT:
      it->mutable_nat();
      break;
    case v1::ITEM_KIND_TAP:
      it->mutable_tap();
      break;
    case v1::ITEM_KIND_PHY:
      it->mutable_phy();
      break;
    case v1::ITEM_KIND_A2B:
      it->mutable_a2b();
      break;
    case v1::ITEM_KIND_C2C:
      it->mutable_c2c();
      break;
    default:
      it->mutable_lan();
  }
}

// "vm1:eth0" -> {vm1, 0, true}; "lan1" -> {lan1, 0, false}.
struct End {
  std::string name;
  uint32_t eth = 0;
  bool has_eth = false;
};

bool ParseEnd(Reader& r, const YAML::Node& n, std::string s, End* e) {
  s = std::string(absl::StripAsciiWhitespace(s));
  std::pair<std::string, std::string> p =
      absl::StrSplit(s, absl::MaxSplits(':', 1));
  e->name = p.first;
  if (auto st = cloonix::ValidateName(e->name, "cable end"); !st.ok()) {
    r.Err(n, std::string(st.message()));
    return false;
  }
  if (absl::StrContains(s, ':')) {
    e->has_eth = true;
    return r.Eth(n, p.second, &e->eth);
  }
  return true;
}

// Fills eth counts left to the cables; lans named by cables.
void Finish(Lab* lab) {
  for (const auto& c : lab->cables) {
    if (!lab->lans.count(c.lan)) lab->lans[c.lan] = c.pos;
  }
  for (auto& li : lab->items) {
    uint32_t n = EthCount(*lab, li);
    if (li.item.has_kvm() && li.item.kvm().eth_count() == 0) {
      li.item.mutable_kvm()->set_eth_count(n);
    }
    if (li.item.has_cnt() && li.item.cnt().eth_count() == 0) {
      li.item.mutable_cnt()->set_eth_count(n);
    }
  }
}

void AddCable(Lab* lab, Reader& r, const YAML::Node& n, const End& a,
              const End& b) {
  Pos pos = PosOf(n);
  if (a.has_eth && b.has_eth) {
    std::string lan = P2pLanName(a.name, a.eth, b.name, b.eth);
    lab->cables.push_back({a.name, a.eth, lan, pos});
    lab->cables.push_back({b.name, b.eth, lan, pos});
  } else if (a.has_eth) {
    lab->cables.push_back({a.name, a.eth, b.name, pos});
  } else if (b.has_eth) {
    lab->cables.push_back({b.name, b.eth, a.name, pos});
  } else {
    r.Err(n, absl::StrCat("cable \"", a.name, " -- ", b.name,
                          "\" joins no eth: write item:ethN -- lan or "
                          "item:ethN -- item:ethN"));
  }
}

std::unique_ptr<YAML::Node> Load(const std::string& text,
                                 std::vector<LabError>* errors) {
  try {
    return std::make_unique<YAML::Node>(YAML::Load(text));
  } catch (const YAML::Exception& e) {
    errors->push_back(
        {{e.mark.line + 1, e.mark.column + 1}, std::string(e.msg)});
    return nullptr;
  }
}

// hosts: each host's creds (the three PEM files) and address; items on
// known hosts; depends_on only within a net or from this net to a host (the
// hosts are applied first); the c2c names of shared lans free.
void CheckHosts(const Lab& lab,
                const std::map<std::string, const LabItem*>& by_name,
                std::vector<LabError>* errors) {
  auto err = [&](Pos p, std::string m) {
    errors->push_back({p, std::move(m)});
  };
  for (const auto& [name, h] : lab.hosts) {
    for (const char* f : {"ca.pem", "client.pem", "client.key"}) {
      if (!FileExists(absl::StrCat(h.creds, "/", f))) {
        err(h.pos, absl::StrCat("host ", name, ": no ", f, " in ", h.creds,
                                " (write it on that host with `cloonix net "
                                "creds DIR`)"));
        break;
      }
    }
    if (h.address.empty()) {
      err(h.pos, absl::StrCat("host ", name, ": no address, and no ", h.creds,
                              "/address file (give address: HOST:PORT)"));
    }
  }
  for (const auto& li : lab.items) {
    const std::string& host = li.host;
    if (!host.empty() && !lab.hosts.count(host)) {
      err(li.key_pos.count("host") ? li.key_pos.at("host") : li.pos,
          absl::StrCat(li.item.name(), ": no host ", host, " under hosts:"));
    }
    for (const auto& d : li.depends_on) {
      auto dep = by_name.find(d);
      if (dep == by_name.end() || dep->second->host == host || host.empty()) {
        continue;
      }
      err(li.depends_pos.at(d),
          absl::StrCat(li.item.name(), " (on host ", host, ") depends_on ", d,
                       " on ",
                       dep->second->host.empty()
                           ? "this net"
                           : absl::StrCat("host ", dep->second->host),
                       ": a host's item may depend on items of its own host "
                       "only (hosts are applied before this net)"));
    }
  }
  if (lab.hosts.empty()) return;
  std::map<std::string, std::set<std::string>> users;  // lan -> hosts
  for (const auto& c : lab.cables) {
    auto it = by_name.find(c.item);
    if (it != by_name.end()) users[c.lan].insert(it->second->host);
  }
  for (const auto& [lan, hosts] : users) {
    if (hosts.size() < 2) continue;
    for (const auto& h : hosts) {
      if (h.empty()) continue;
      std::string c2c = C2cName(lan, h);
      if (by_name.count(c2c) || lab.lans.count(c2c)) {
        err(lab.lans.count(lan) ? lab.lans.at(lan) : Pos{},
            absl::StrCat("lan ", lan, " spans this net and host ", h,
                         ": its c2c would be named ", c2c,
                         ", which the file already uses"));
      }
    }
  }
}

}  // namespace

std::string C2cName(const std::string& lan, const std::string& host) {
  std::string name = absl::StrCat("c2c-", lan, "-", host);
  if (name.size() <= 31) return name;
  return absl::StrFormat("c2c-%08x",
                         cloonix::Fnv1a(absl::StrCat(lan, "|", host)));
}

void ResolvePaths(const std::string& file, Lab* lab) {
  std::string dir = ".";
  if (file != "-" && file.find('/') != std::string::npos) {
    dir = file.substr(0, file.rfind('/'));
    if (dir.empty()) dir = "/";
  }
  auto resolve = [&](std::string* p) {
    if (!p->empty() && (*p)[0] != '/' && dir != ".") {
      *p = absl::StrCat(dir, "/", *p);
    }
  };
  for (auto& [_, h] : lab->hosts) {
    resolve(&h.creds);
    if (h.address.empty()) {
      std::FILE* f = std::fopen((h.creds + "/address").c_str(), "r");
      if (f != nullptr) {
        char buf[300] = {};
        size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
        std::fclose(f);
        h.address =
            std::string(absl::StripAsciiWhitespace(absl::string_view(buf, n)));
      }
    }
  }
  for (auto& li : lab->items) {
    resolve(&li.c2c_creds);
    v1::GuestFiles* files =
        li.item.has_kvm()   ? li.item.mutable_kvm()->mutable_files()
        : li.item.has_cnt() ? li.item.mutable_cnt()->mutable_files()
                            : nullptr;
    if (files != nullptr) {
      for (auto& d : *files->mutable_dirs()) resolve(&d);
    }
    if (!li.item.has_cnt()) continue;
    for (auto& m : *li.item.mutable_cnt()->mutable_mounts()) {
      resolve(m.mutable_host_path());
    }
  }
}

std::map<std::string, Lab> SplitByHost(
    const Lab& lab, const std::map<std::string, std::string>& host_nets) {
  auto net_of = [&](const std::string& h) {
    auto it = host_nets.find(h);
    return it == host_nets.end() ? h : it->second;
  };
  std::map<std::string, Lab> out;
  auto part = [&](const std::string& h) -> Lab& {
    auto [it, fresh] = out.try_emplace(h);
    if (fresh) {
      it->second.file = lab.file;
      it->second.net = h.empty() ? lab.net : net_of(h);
      if (h.empty()) it->second.listen = lab.listen;
    }
    return it->second;
  };
  part("");
  for (const auto& [h, _] : lab.hosts) part(h);
  std::map<std::string, std::string> host_of;  // item -> host
  for (const auto& li : lab.items) host_of[li.item.name()] = li.host;
  // Items, with the depends_on within their net; a dependency on another
  // net's item marks that item awaited.
  std::vector<std::pair<std::string, std::string>> awaited;  // host, item
  for (const auto& li : lab.items) {
    LabItem c = li;
    c.host.clear();
    c.depends_on.clear();
    for (const auto& d : li.depends_on) {
      auto h = host_of.find(d);
      if (h == host_of.end() || h->second == li.host) {
        c.depends_on.push_back(d);
      } else {
        awaited.push_back({h->second, d});
      }
    }
    part(li.host).items.push_back(std::move(c));
  }
  for (const auto& [h, name] : awaited) {
    for (auto& li : part(h).items) {
      if (li.item.name() == name) li.awaited = true;
    }
  }
  // Lans: on every net with a cable to them (uncabled ones: this net); a
  // lan on several nets is made on this net too and joined to each host's
  // by a c2c.
  std::map<std::string, std::set<std::string>> users;
  for (const auto& c : lab.cables) {
    auto h = host_of.find(c.item);
    std::string host = h == host_of.end() ? "" : h->second;
    users[c.lan].insert(host);
    part(host).cables.push_back(c);
  }
  for (const auto& [lan, pos] : lab.lans) {
    std::set<std::string> hosts = users[lan];
    if (hosts.size() != 1) hosts.insert("");
    for (const auto& h : hosts) part(h).lans[lan] = pos;
    if (hosts.size() < 2) continue;
    for (const auto& h : hosts) {
      if (h.empty()) continue;
      const LabHost& host = lab.hosts.at(h);
      LabItem end;
      end.item.set_name(C2cName(lan, h));
      end.item.set_kind(v1::ITEM_KIND_C2C);
      end.pos = pos;
      auto* c = end.item.mutable_c2c();
      c->set_peer_net(net_of(h));
      c->set_peer_address(host.address);
      end.c2c_creds = host.creds;
      LabItem far = end;
      far.foreign = true;
      far.wait = Wait::kNone;
      far.c2c_creds.clear();
      far.item.mutable_c2c()->set_peer_net(lab.net);
      far.item.mutable_c2c()->clear_peer_address();
      part("").items.push_back(std::move(end));
      part("").cables.push_back({C2cName(lan, h), 0, lan, pos});
      part(h).items.push_back(std::move(far));
      part(h).cables.push_back({C2cName(lan, h), 0, lan, pos});
    }
  }
  // Each net draws what it holds.
  for (auto& [h, l] : out) {
    for (const auto& [name, p] : lab.layout) {
      if (l.Find(name) != nullptr || l.lans.count(name)) {
        l.layout[name] = p;
        l.layout_pos[name] = lab.layout_pos.at(name);
      }
    }
  }
  return out;
}

std::string P2pLanName(const std::string& a, uint32_t ea, const std::string& b,
                       uint32_t eb) {
  std::string x = absl::StrCat(a, "-", ea), y = absl::StrCat(b, "-", eb);
  if (y < x) std::swap(x, y);
  std::string name = absl::StrCat("p2p-", x, "-", y);
  if (name.size() <= 31) return name;
  // A hash of both ends: stable across runs.
  return absl::StrFormat("p2p-%08x", cloonix::Fnv1a(absl::StrCat(x, "|", y)));
}

uint32_t EthCount(const Lab& lab, const LabItem& li) {
  const v1::Item& it = li.item;
  if (it.has_kvm() && it.kvm().eth_count() > 0) return it.kvm().eth_count();
  if (it.has_cnt() && it.cnt().eth_count() > 0) return it.cnt().eth_count();
  if (it.has_a2b()) return 2;
  if (!IsGuest(it.kind())) return 1;
  uint32_t n = 1;
  for (const auto& c : lab.cables) {
    if (c.item == it.name()) n = std::max(n, c.eth + 1);
  }
  for (const auto& [eth, _] : li.addresses) n = std::max(n, eth + 1);
  if (it.has_kvm() && it.kvm().has_natplug()) {
    n = std::max(n, it.kvm().natplug() + 1);
  }
  if (it.has_cnt() && it.cnt().has_natplug()) {
    n = std::max(n, it.cnt().natplug() + 1);
  }
  return n;
}

bool LooksLikeClab(const std::string& text) {
  std::vector<LabError> ignored;
  auto root = Load(text, &ignored);
  return root != nullptr && root->IsMap() && (*root)["topology"];
}

Lab ParseLab(const std::string& text, const std::string& file,
             std::vector<LabError>* errors) {
  Lab lab;
  lab.file = file;
  Reader r(errors);
  auto rootp = Load(text, errors);
  if (rootp == nullptr) return lab;
  const YAML::Node& root = *rootp;
  if (!root.IsMap()) {
    r.Err(root, "a lab file is a map with net, defaults, items, lans, cables");
    return lab;
  }
  std::map<std::string, YAML::Node> defaults;
  // Top-level files: and delete: apply to every kvm and cnt, before the
  // item's own (Cloonix's files_to_add_in_all_targets).
  std::vector<std::string> all_files, all_deletes;
  for (const auto& kv : root) {
    const std::string key = kv.first.Scalar();
    if (key == "files" || key == "delete") {
      r.StrList(kv.second, key, key == "files" ? &all_files : &all_deletes);
      if (key == "delete") {
        absl::Status st = cloonix::ValidateGuestFiles({}, all_deletes);
        if (!st.ok()) r.Err(kv.second, std::string(st.message()));
      }
    } else if (key == "net") {
      lab.net_pos = PosOf(kv.second);
      r.Name(kv.second, "net name", &lab.net, /*net=*/true);
    } else if (key == "defaults") {
      if (!kv.second.IsMap()) {
        r.Err(kv.second,
              "defaults: a map of kind to settings (kvm: {ram: 256})");
        continue;
      }
      for (const auto& d : kv.second) {
        v1::ItemKind k = KindFromName(d.first.Scalar());
        if (k == v1::ITEM_KIND_UNSPECIFIED || k == v1::ITEM_KIND_LAN) {
          r.Err(d.first, absl::StrCat("defaults: \"", d.first.Scalar(),
                                      "\" is not a kind with settings"));
        } else if (!d.second.IsMap()) {
          r.Err(d.second, "defaults of a kind must be a map");
        } else {
          defaults[d.first.Scalar()] = d.second;
        }
      }
    } else if (key == "listen") {
      if (r.Str(kv.second, "listen", &lab.listen) &&
          !ValidHostPort(lab.listen, /*port_zero=*/true)) {
        r.Err(kv.second, absl::StrCat("listen: \"", lab.listen,
                                      "\" is not HOST:PORT (0.0.0.0:7000)"));
      }
    } else if (key == "hosts") {
      ReadHosts(r, kv.second, &lab);
    } else if (key == "layout") {
      ReadLayout(r, kv.second, &lab);
    } else if (key != "items" && key != "lans" && key != "cables") {
      r.Err(kv.first, absl::StrCat("unknown key \"", key,
                                   "\" (a lab file has net, listen, hosts, "
                                   "defaults, files, delete, items, lans, "
                                   "cables, layout)"));
    }
  }

  std::set<std::string> seen;
  if (const YAML::Node items = root["items"]) {
    if (!items.IsMap()) r.Err(items, "items: a map of item name to settings");
    for (const auto& kv : items.IsMap() ? items : YAML::Node()) {
      std::string name;
      if (!r.Name(kv.first, "item name", &name)) continue;
      if (!seen.insert(name).second) {
        r.Err(kv.first, absl::StrCat("item ", name, " is defined twice"));
        continue;
      }
      const YAML::Node& body = kv.second;
      if (!body.IsMap() || !body["kind"]) {
        r.Err(body.IsMap() ? kv.first : body,
              absl::StrCat("item ", name,
                           ": a map with kind: (kvm, cnt, nat, a2b, tap, phy, "
                           "c2c or lan)"));
        continue;
      }
      std::string kind_name;
      if (!r.Str(body["kind"], "kind", &kind_name)) continue;
      v1::ItemKind kind = KindFromName(kind_name);
      if (kind == v1::ITEM_KIND_UNSPECIFIED) {
        r.Err(body["kind"], absl::StrCat("kind \"", kind_name,
                                         "\" is not kvm, cnt, nat, a2b, tap, "
                                         "phy, c2c or lan"));
        continue;
      }
      if (kind == v1::ITEM_KIND_LAN) {
        if (body.size() > 1) {
          r.Err(kv.first, absl::StrCat("lan ", name, " takes no settings"));
        }
        lab.lans[name] = PosOf(kv.first);
        continue;
      }
      LabItem li;
      li.item.set_name(name);
      li.pos = PosOf(kv.first);
      SetKind(&li.item, kind);
      if (kind == v1::ITEM_KIND_KVM) li.wait = Wait::kAgent;
      if (kind == v1::ITEM_KIND_PHY) {
        li.item.mutable_phy()->set_mode(v1::PHY_MODE_ABSORB);
        li.item.mutable_phy()->set_host_ifname(name);
      }
      const std::set<std::string>& own = KeysOf(kind);
      static const std::set<std::string> common = {
          "kind", "addresses", "exec", "wait", "depends_on", "host"};
      bool eths_given = false;
      auto read = [&](const YAML::Node& m, bool from_defaults) {
        for (const auto& e : m) {
          const std::string k = e.first.Scalar();
          if (k == "kind" && !from_defaults) continue;
          if (!own.count(k) && !common.count(k)) {
            std::vector<std::string> all(own.begin(), own.end());
            all.insert(all.end(),
                       {"addresses", "exec", "wait", "depends_on", "host"});
            r.Err(e.first,
                  absl::StrCat("unknown key \"", k, "\" for a ", kind_name,
                               " (", absl::StrJoin(all, ", "), ")"));
            continue;
          }
          ReadItemKey(r, k, e.second, &li, &eths_given);
        }
      };
      if (defaults.count(kind_name)) read(defaults[kind_name], true);
      read(body, false);
      if (kind == v1::ITEM_KIND_KVM) {
        auto* k = li.item.mutable_kvm();
        if (k->image().empty()) {
          r.Err(kv.first, absl::StrCat("kvm ", name,
                                       " needs an image (or defaults.kvm)"));
        }
        if (k->ram_mb() == 0) k->set_ram_mb(256);
        if (k->cpu() == 0) k->set_cpu(1);
      }
      if (kind == v1::ITEM_KIND_CNT && li.item.cnt().image().empty()) {
        li.item.mutable_cnt()->set_image("busybox");
      }
      if ((kind == v1::ITEM_KIND_KVM || kind == v1::ITEM_KIND_CNT) &&
          (!all_files.empty() || !all_deletes.empty())) {
        v1::GuestFiles* f = kind == v1::ITEM_KIND_KVM
                                ? li.item.mutable_kvm()->mutable_files()
                                : li.item.mutable_cnt()->mutable_files();
        v1::GuestFiles merged;
        for (const auto& d : all_files) merged.add_dirs(d);
        for (const auto& d : f->dirs()) merged.add_dirs(d);
        for (const auto& p : all_deletes) merged.add_delete_(p);
        for (const auto& p : f->delete_()) merged.add_delete_(p);
        *f = merged;
      }
      if (kind == v1::ITEM_KIND_A2B) {
        *li.item.mutable_a2b()->mutable_dir0() = li.a2b[0];
        *li.item.mutable_a2b()->mutable_dir1() = li.a2b[1];
      }
      if (kind == v1::ITEM_KIND_C2C && li.item.c2c().peer_net().empty()) {
        r.Err(kv.first, absl::StrCat("c2c ", name, " needs peer_net"));
      }
      lab.items.push_back(std::move(li));
    }
  }

  if (const YAML::Node lans = root["lans"]) {
    std::vector<std::string> names;
    if (!lans.IsSequence()) {
      r.Err(lans, "lans: a list of lan names");
    } else {
      for (const auto& n : lans) {
        std::string name;
        if (!r.Name(n, "lan name", &name)) continue;
        if (lab.lans.count(name) || seen.count(name)) {
          r.Err(n, absl::StrCat("lan ", name, " is defined twice"));
          continue;
        }
        lab.lans[name] = PosOf(n);
      }
    }
  }

  if (const YAML::Node cables = root["cables"]) {
    if (!cables.IsSequence()) {
      r.Err(cables, "cables: a list of \"item:ethN -- lan\" lines");
    } else {
      for (const auto& n : cables) {
        std::string s;
        if (!r.Str(n, "cable", &s)) continue;
        std::vector<std::string> ends = absl::StrSplit(s, "--");
        if (ends.size() != 2) {
          r.Err(n, absl::StrCat("cable \"", s,
                                "\" is not \"item:ethN -- lan\" or "
                                "\"item:ethN -- item:ethN\""));
          continue;
        }
        End a, b;
        if (!ParseEnd(r, n, ends[0], &a) || !ParseEnd(r, n, ends[1], &b)) {
          continue;
        }
        AddCable(&lab, r, n, a, b);
      }
    }
  }
  Finish(&lab);
  return lab;
}

void CheckLab(const Lab& lab, const std::string& bulk_dir,
              std::vector<LabError>* errors) {
  auto err = [&](Pos p, std::string m) {
    errors->push_back({p, std::move(m)});
  };
  std::map<std::string, const LabItem*> by_name;
  for (const auto& li : lab.items) {
    by_name[li.item.name()] = &li;
    if (lab.lans.count(li.item.name())) {
      err(lab.lans.at(li.item.name()),
          absl::StrCat(li.item.name(), " is both a lan and a ",
                       cloonix::KindName(li.item.kind())));
    }
  }
  for (const auto& [name, pos] : lab.layout_pos) {
    if (!by_name.count(name) && !lab.lans.count(name)) {
      err(pos, absl::StrCat("layout: no item or lan ", name, " in this file"));
    }
  }
  // Cables: known items, existing eths, one cable per eth, one nat per lan.
  std::map<std::pair<std::string, uint32_t>, Pos> cabled;
  std::map<std::string, std::string> nat_of_lan;
  for (const auto& c : lab.cables) {
    auto it = by_name.find(c.item);
    if (it == by_name.end()) {
      err(c.pos,
          lab.lans.count(c.item)
              ? absl::StrCat(c.item,
                             " is a lan: a cable joins an "
                             "item's eth to a lan")
              : absl::StrCat("cable: no item ", c.item, " in this file"));
      continue;
    }
    if (by_name.count(c.lan)) {
      err(c.pos, absl::StrCat(c.lan, " is a ",
                              cloonix::KindName(by_name[c.lan]->item.kind()),
                              ", not a lan: give its eth (", c.lan, ":eth0)"));
      continue;
    }
    const LabItem& li = *it->second;
    uint32_t n = EthCount(lab, li);
    if (c.eth >= n) {
      err(c.pos,
          absl::StrCat(c.item, " has no eth", c.eth, ": a ",
                       cloonix::KindName(li.item.kind()), " with ", n,
                       n == 1 ? " eth" : " eths",
                       IsGuest(li.item.kind()) ? " (raise its eths:)" : ""));
      continue;
    }
    auto [prev, fresh] = cabled.insert({{c.item, c.eth}, c.pos});
    if (!fresh) {
      err(c.pos, absl::StrCat(c.item, ":eth", c.eth,
                              " is cabled twice (first at line ",
                              prev->second.line, ")"));
      continue;
    }
    if (li.item.kind() == v1::ITEM_KIND_NAT) {
      auto [other, first] = nat_of_lan.insert({c.lan, c.item});
      if (!first) {
        err(c.pos, absl::StrCat("lan ", c.lan, " has two nats (", other->second,
                                " and ", c.item, "): one nat per lan"));
      }
    }
  }
  for (const auto& li : lab.items) {
    const std::string& name = li.item.name();
    uint32_t n = EthCount(lab, li);
    for (const auto& [eth, _] : li.addresses) {
      if (eth >= n) {
        err(li.key_pos.count("addresses") ? li.key_pos.at("addresses") : li.pos,
            absl::StrCat(name, " has no eth", eth, " for its addresses"));
      }
    }
    for (const auto& d : li.depends_on) {
      if (!by_name.count(d)) {
        err(li.depends_pos.at(d),
            absl::StrCat(name, " depends_on ", d,
                         lab.lans.count(d)
                             ? ", a lan (items only)"
                             : ", which this file does not have"));
      }
    }
    if (bulk_dir.empty()) continue;
    Pos ipos = li.key_pos.count("image") ? li.key_pos.at("image") : li.pos;
    auto in_bulk = [&](const std::string& f) {
      return f[0] == '/' ? f : absl::StrCat(bulk_dir, "/", f);
    };
    if (li.item.has_kvm() && !li.item.kvm().image().empty()) {
      const std::string& img = li.item.kvm().image();
      bool ok = absl::EndsWith(img, ".qcow2")
                    ? FileExists(in_bulk(img))
                    : FileExists(in_bulk(img + "-vmlinux")) &&
                          FileExists(in_bulk(img + "-initrd.img"));
      if (!ok) {
        err(ipos, absl::StrCat(
                      "kvm ", name, ": image ", img, " not found in ", bulk_dir,
                      absl::EndsWith(img, ".qcow2")
                          ? ""
                          : " (neither a .qcow2 nor -vmlinux + -initrd.img)"));
      }
    }
    if (li.item.has_cnt()) {
      const std::string& img = li.item.cnt().image();
      bool path = absl::EndsWith(img, ".tar") || img[0] == '/';
      bool ref =
          !path && (absl::StrContains(img, '/') || absl::StrContains(img, ':'));
      // A bare name: <bulk>/<name>.tar, else a rootfs <bulk>/<name> (a
      // directory or a .zip), as cnt_runner looks them up.
      if (!ref && !FileExists(path ? img : in_bulk(img + ".tar")) &&
          (path || !FileExists(in_bulk(img)))) {
        err(ipos,
            absl::StrCat("cnt ", name, ": image ", img, " not found (no ",
                         path ? img : in_bulk(img + ".tar"),
                         path ? "" : absl::StrCat(" nor ", in_bulk(img)), ")"));
      }
    }
  }
  CheckHosts(lab, by_name, errors);
  // depends_on cycles (each cycle reported once, at its first item).
  std::map<std::string, int> color;  // 0 new, 1 on the path, 2 done
  std::vector<std::string> path;
  std::function<void(const std::string&)> visit = [&](const std::string& n) {
    color[n] = 1;
    path.push_back(n);
    for (const auto& d : by_name[n]->depends_on) {
      if (!by_name.count(d)) continue;
      if (color[d] == 1) {
        auto from = std::find(path.begin(), path.end(), d);
        std::vector<std::string> cyc(from, path.end());
        cyc.push_back(d);
        err(by_name[d]->depends_pos.empty()
                ? by_name[d]->pos
                : by_name[d]->depends_pos.begin()->second,
            absl::StrCat("depends_on cycle: ", absl::StrJoin(cyc, " -> ")));
      } else if (color[d] == 0) {
        visit(d);
      }
    }
    path.pop_back();
    color[n] = 2;
  };
  for (const auto& li : lab.items) {
    if (color[li.item.name()] == 0) visit(li.item.name());
  }
}

std::string FormatErrors(const std::string& file,
                         const std::vector<LabError>& errors) {
  std::vector<LabError> sorted = errors;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const LabError& a, const LabError& b) {
                     return std::tie(a.pos.line, a.pos.col) <
                            std::tie(b.pos.line, b.pos.col);
                   });
  std::string out;
  for (const auto& e : sorted) {
    absl::StrAppend(&out, file, ":", e.pos.line, ":", e.pos.col, ": ", e.msg,
                    "\n");
  }
  return out;
}

}  // namespace cloonix::cli::lab
