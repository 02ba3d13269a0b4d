// containerlab topology files read into a Lab (docs/LABS.md, "containerlab
// files", has the mapping).
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "cli/lab/lab.h"
#include "common/names.h"
#include "yaml-cpp/yaml.h"

namespace cloonix::cli::lab {

namespace v1 = cloonix::v1;

namespace {

Pos At(const YAML::Node& n) {
  const YAML::Mark m = n.Mark();
  if (m.is_null()) return {};
  return {m.line + 1, m.column + 1};
}

struct ClabReader {
  Lab* lab;
  std::vector<LabError>* errors;
  std::set<std::string> bridges;

  void Err(const YAML::Node& n, std::string msg) {
    errors->push_back({At(n), std::move(msg)});
  }

  // Keys of a linux node (or of defaults / kinds.linux) into the cnt.
  void NodeKeys(const YAML::Node& m, LabItem* li) {
    auto* c = li->item.mutable_cnt();
    for (const auto& kv : m) {
      const std::string k = kv.first.Scalar();
      const YAML::Node& v = kv.second;
      if (k == "kind" || k == "labels" || k == "group") continue;
      if (k == "image") {
        if (v.IsScalar()) c->set_image(v.Scalar());
      } else if (k == "env") {
        if (!v.IsMap()) {
          Err(v, "env: a map of NAME: value");
          continue;
        }
        for (const auto& e : v) {
          c->add_env(absl::StrCat(e.first.Scalar(), "=", e.second.Scalar()));
        }
      } else if (k == "cmd") {
        if (!v.IsScalar()) {
          Err(v, "cmd: a string");
          continue;
        }
        c->clear_command();
        c->add_command("/bin/sh");
        c->add_command("-c");
        c->add_command(v.Scalar());
      } else if (k == "exec") {
        if (!v.IsSequence()) {
          Err(v, "exec: a list of commands");
          continue;
        }
        for (const auto& e : v) li->exec.push_back(e.Scalar());
      } else {
        Err(kv.first,
            absl::StrCat("containerlab's \"", k, "\" (node ", li->item.name(),
                         ") has no cloonix equivalent yet: cloonix maps "
                         "image, env, cmd and exec of linux nodes"));
      }
    }
  }

  // "node:ethN" or {node:, interface:}.
  bool Endpoint(const YAML::Node& n, std::string* node, uint32_t* eth,
                std::string* ifname) {
    std::string s;
    if (n.IsMap()) {
      if (!n["node"] || !n["interface"]) {
        Err(n, "an endpoint has node: and interface:");
        return false;
      }
      s = absl::StrCat(n["node"].Scalar(), ":", n["interface"].Scalar());
    } else if (n.IsScalar()) {
      s = n.Scalar();
    } else {
      Err(n, "an endpoint is \"node:ethN\"");
      return false;
    }
    std::pair<std::string, std::string> p =
        absl::StrSplit(s, absl::MaxSplits(':', 1));
    *node = p.first;
    *ifname = p.second;
    if (*node == "host") return true;
    absl::string_view e = p.second;
    if (!absl::ConsumePrefix(&e, "eth") || !absl::SimpleAtoi(e, eth) ||
        *eth > 31) {
      Err(n, absl::StrCat("endpoint \"", s,
                          "\": cloonix maps interfaces eth0 to eth31"));
      return false;
    }
    return true;
  }
};

}  // namespace

Lab ParseClab(const std::string& text, const std::string& file,
              std::vector<LabError>* errors) {
  Lab lab;
  lab.file = file;
  ClabReader r{&lab, errors, {}};
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    errors->push_back({{e.mark.line + 1, e.mark.column + 1}, e.msg});
    return lab;
  }
  for (const auto& kv : root) {
    const std::string k = kv.first.Scalar();
    if (k == "name") {
      lab.net = kv.second.Scalar();
      lab.net_pos = At(kv.second);
      if (auto s = cloonix::ValidateNetName(lab.net, "lab name (the net)");
          !s.ok()) {
        r.Err(kv.second, std::string(s.message()));
      }
    } else if (k != "topology") {
      r.Err(kv.first, absl::StrCat("containerlab's \"", k,
                                   "\" has no cloonix equivalent (cloonix "
                                   "reads name and topology)"));
    }
  }
  const YAML::Node topo = root["topology"];
  if (!topo.IsMap()) {
    r.Err(topo, "topology: a map with nodes and links");
    return lab;
  }
  YAML::Node defaults, linux_kind;
  for (const auto& kv : topo) {
    const std::string k = kv.first.Scalar();
    if (k == "defaults") {
      defaults = kv.second;
    } else if (k == "kinds") {
      for (const auto& kk : kv.second) {
        if (kk.first.Scalar() == "linux") {
          linux_kind = kk.second;
        } else if (kk.first.Scalar() != "bridge" &&
                   kk.first.Scalar() != "ovs-bridge") {
          r.Err(kk.first,
                absl::StrCat("containerlab kind \"", kk.first.Scalar(),
                             "\" has no cloonix equivalent (linux, "
                             "bridge, ovs-bridge map)"));
        }
      }
    } else if (k != "nodes" && k != "links") {
      r.Err(kv.first, absl::StrCat("containerlab's topology.", k,
                                   " has no cloonix equivalent"));
    }
  }
  for (const auto& kv : topo["nodes"]) {
    const std::string name = kv.first.Scalar();
    if (auto s = cloonix::ValidateName(name, "node name"); !s.ok()) {
      r.Err(kv.first, std::string(s.message()));
      continue;
    }
    const YAML::Node& body = kv.second;
    std::string kind = body["kind"] ? body["kind"].Scalar() : "";
    if (kind.empty() && defaults && defaults["kind"]) {
      kind = defaults["kind"].Scalar();
    }
    if (kind == "bridge" || kind == "ovs-bridge") {
      lab.lans[name] = At(kv.first);
      r.bridges.insert(name);
      continue;
    }
    if (kind != "linux") {
      r.Err(body["kind"] ? body["kind"] : kv.first,
            absl::StrCat("node ", name, ": containerlab kind \"", kind,
                         "\" has no cloonix equivalent (linux -> cnt, "
                         "bridge/ovs-bridge -> lan)"));
      continue;
    }
    LabItem li;
    li.item.set_name(name);
    li.item.set_kind(v1::ITEM_KIND_CNT);
    li.pos = At(kv.first);
    li.key_pos["image"] = body["image"] ? At(body["image"]) : li.pos;
    if (defaults) r.NodeKeys(defaults, &li);
    if (linux_kind) r.NodeKeys(linux_kind, &li);
    r.NodeKeys(body, &li);
    if (li.item.cnt().image().empty()) {
      r.Err(kv.first, absl::StrCat("node ", name, " has no image"));
    }
    lab.items.push_back(std::move(li));
  }
  for (const auto& link : topo["links"]) {
    const YAML::Node eps = link["endpoints"];
    for (const auto& kv : link) {
      const std::string k = kv.first.Scalar();
      if (k != "endpoints" && !(k == "type" && kv.second.Scalar() == "veth")) {
        r.Err(kv.first,
              absl::StrCat("link key \"", k, "\" has no cloonix equivalent"));
      }
    }
    if (!eps.IsSequence() || eps.size() != 2) {
      r.Err(link, "a link has two endpoints");
      continue;
    }
    std::string n[2], ifn[2];
    uint32_t e[2] = {0, 0};
    if (!r.Endpoint(eps[0], &n[0], &e[0], &ifn[0]) ||
        !r.Endpoint(eps[1], &n[1], &e[1], &ifn[1])) {
      continue;
    }
    Pos pos = At(link);
    // host:<ifname> -> a tap of that name; a bridge -> its lan.
    for (int i : {0, 1}) {
      if (n[i] != "host") continue;
      if (auto s = cloonix::ValidateName(ifn[i], "host interface (tap)");
          !s.ok()) {
        r.Err(eps[i], std::string(s.message()));
        n[i].clear();
        continue;
      }
      LabItem tap;
      tap.item.set_name(ifn[i]);
      tap.item.set_kind(v1::ITEM_KIND_TAP);
      tap.item.mutable_tap();
      tap.pos = pos;
      tap.wait = Wait::kRunning;
      lab.items.push_back(tap);
      n[i] = ifn[i];
      e[i] = 0;
    }
    if (n[0].empty() || n[1].empty()) continue;
    bool br0 = r.bridges.count(n[0]) > 0, br1 = r.bridges.count(n[1]) > 0;
    if (br0 && br1) {
      r.Err(link, "a link between two bridges has no cloonix equivalent");
    } else if (br0 || br1) {
      int node = br0 ? 1 : 0;
      lab.cables.push_back({n[node], e[node], n[1 - node], pos});
    } else {
      std::string lan = P2pLanName(n[0], e[0], n[1], e[1]);
      lab.cables.push_back({n[0], e[0], lan, pos});
      lab.cables.push_back({n[1], e[1], lan, pos});
    }
  }
  for (const auto& c : lab.cables) {
    if (!lab.lans.count(c.lan)) lab.lans[c.lan] = c.pos;
  }
  for (auto& li : lab.items) {
    if (li.item.has_cnt())
      li.item.mutable_cnt()->set_eth_count(EthCount(lab, li));
  }
  return lab;
}

}  // namespace cloonix::cli::lab
