// cloonix save (the net as a lab file), the lab of a running net, and graph.
#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "cli/lab/lab.h"
#include "common/item_kind.h"
#include "yaml-cpp/yaml.h"

namespace cloonix::cli::lab {

namespace v1 = cloonix::v1;

namespace {

// "12.5" rather than "12.500000"; integers without a point.
std::string Num(double d) { return absl::StrFormat("%g", d); }

void EmitFiles(YAML::Emitter& out, const v1::GuestFiles& f) {
  if (f.dirs_size()) {
    out << YAML::Key << "files" << YAML::Value << YAML::BeginSeq;
    for (const auto& d : f.dirs()) out << d;
    out << YAML::EndSeq;
  }
  if (f.delete__size()) {
    out << YAML::Key << "delete" << YAML::Value << YAML::BeginSeq;
    for (const auto& p : f.delete_()) out << p;
    out << YAML::EndSeq;
  }
}

void EmitA2b(YAML::Emitter& out, const char* key, const v1::A2bSettings& s) {
  if (s.ByteSizeLong() == 0) return;
  out << YAML::Key << key << YAML::Value << YAML::Flow << YAML::BeginMap;
  if (s.delay_ms() != 0)
    out << YAML::Key << "delay" << YAML::Value << Num(s.delay_ms());
  if (s.jitter_ms() != 0)
    out << YAML::Key << "jitter" << YAML::Value << Num(s.jitter_ms());
  if (s.loss_percent() != 0)
    out << YAML::Key << "loss" << YAML::Value << Num(s.loss_percent());
  if (s.rate_kbps() != 0)
    out << YAML::Key << "rate" << YAML::Value << s.rate_kbps();
  if (s.burst_bytes() != 0)
    out << YAML::Key << "burst" << YAML::Value << s.burst_bytes();
  if (s.queue_packets() != 0)
    out << YAML::Key << "qsize" << YAML::Value << s.queue_packets();
  if (s.queue_bytes() != 0)
    out << YAML::Key << "bsize" << YAML::Value << s.queue_bytes();
  if (s.allow_reorder()) out << YAML::Key << "reorder" << YAML::Value << true;
  out << YAML::EndMap;
}

}  // namespace

std::string SaveLab(const std::string& net,
                    const std::vector<v1::Item>& unsorted) {
  // In the order they were made (ids grow): a diff of two saves is small.
  std::vector<v1::Item> items = unsorted;
  std::stable_sort(
      items.begin(), items.end(),
      [](const v1::Item& a, const v1::Item& b) { return a.id() < b.id(); });
  const NatplugOwned np = FindNatplugOwned(items);
  YAML::Emitter out;
  out << YAML::Comment("cloonix lab file (cloonix save); docs/LABS.md");
  out << YAML::BeginMap;
  out << YAML::Key << "net" << YAML::Value << net;
  out << YAML::Key << "items" << YAML::Value << YAML::BeginMap;
  std::vector<std::string> lone_lans;
  std::map<std::string, std::vector<std::pair<std::string, uint32_t>>> ends;
  for (const auto& it : items) {
    for (const auto& e : it.eths()) {
      if (!e.lan().empty() && !np.eths.count({it.name(), e.index()})) {
        ends[e.lan()].push_back({it.name(), e.index()});
      }
    }
  }
  for (const auto& it : items) {
    if (np.items.count(it.name())) continue;  // natplug's nat or lan
    if (it.kind() == v1::ITEM_KIND_LAN) {
      if (!ends.count(it.name())) lone_lans.push_back(it.name());
      continue;
    }
    out << YAML::Key << it.name() << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "kind" << YAML::Value << cloonix::KindName(it.kind());
    if (it.has_kvm()) {
      const auto& k = it.kvm();
      out << YAML::Key << "image" << YAML::Value << k.image();
      out << YAML::Key << "ram" << YAML::Value << k.ram_mb();
      out << YAML::Key << "cpu" << YAML::Value << k.cpu();
      out << YAML::Key << "eths" << YAML::Value << k.eth_count();
      if (k.persistent())
        out << YAML::Key << "persistent" << YAML::Value << true;
      const auto& o = k.options();
      using Text = std::pair<const char*, std::string>;
      for (const Text& t :
           std::vector<Text>{{"install_cdrom", o.install_cdrom()},
                             {"added_cdrom", o.added_cdrom()},
                             {"added_disk", o.added_disk()}}) {
        if (!t.second.empty())
          out << YAML::Key << t.first << YAML::Value << t.second;
      }
      using Flag = std::pair<const char*, bool>;
      for (const Flag& f : std::vector<Flag>{{"with_pxe", o.with_pxe()},
                                             {"no_reboot", o.no_reboot()},
                                             {"fullvirt", o.fullvirt()},
                                             {"balloon", o.balloon()},
                                             {"cloud_init", o.cloud_init()}}) {
        if (f.second) out << YAML::Key << f.first << YAML::Value << true;
      }
      if (k.has_natplug()) {
        out << YAML::Key << "natplug" << YAML::Value
            << absl::StrCat("eth", k.natplug());
      }
      EmitFiles(out, k.files());
    } else if (it.has_cnt()) {
      const auto& c = it.cnt();
      out << YAML::Key << "image" << YAML::Value << c.image();
      out << YAML::Key << "eths" << YAML::Value << c.eth_count();
      if (c.env_size()) {
        out << YAML::Key << "env" << YAML::Value << YAML::BeginSeq;
        for (const auto& e : c.env()) out << e;
        out << YAML::EndSeq;
      }
      if (c.command_size() == 3 && c.command(0) == "/bin/sh" &&
          c.command(1) == "-c") {
        out << YAML::Key << "cmd" << YAML::Value << c.command(2);
      } else if (c.command_size()) {
        out << YAML::Key << "cmd" << YAML::Value << YAML::Flow
            << YAML::BeginSeq;
        for (const auto& a : c.command()) out << a;
        out << YAML::EndSeq;
      }
      if (c.has_natplug()) {
        out << YAML::Key << "natplug" << YAML::Value
            << absl::StrCat("eth", c.natplug());
      }
      if (c.mounts_size()) {
        out << YAML::Key << "mounts" << YAML::Value << YAML::BeginSeq;
        for (const auto& m : c.mounts()) {
          out << absl::StrCat(m.host_path(), ":", m.guest_path(),
                              m.readonly() ? ":ro" : "");
        }
        out << YAML::EndSeq;
      }
      if (c.privileged())
        out << YAML::Key << "privileged" << YAML::Value << true;
      EmitFiles(out, c.files());
    } else if (it.has_a2b()) {
      EmitA2b(out, "dir0", it.a2b().dir0());
      EmitA2b(out, "dir1", it.a2b().dir1());
    } else if (it.has_phy()) {
      const auto& p = it.phy();
      out << YAML::Key << "nic" << YAML::Value << p.host_ifname();
      out << YAML::Key << "mode" << YAML::Value
          << (p.mode() == v1::PHY_MODE_MACVLAN ? "macvlan" : "absorb");
      if (p.force()) out << YAML::Key << "force" << YAML::Value << true;
      if (!p.host_netns().empty()) {
        out << YAML::Key << "netns" << YAML::Value << p.host_netns();
      }
    } else if (it.has_c2c()) {
      // The peer's credentials stay in the net: an apply of this file to
      // this net reuses them (Cloonix's add c2c <name> <peer-net>).
      const auto& c = it.c2c();
      out << YAML::Key << "peer_net" << YAML::Value << c.peer_net();
      if (!c.peer_address().empty()) {
        out << YAML::Key << "peer" << YAML::Value << c.peer_address();
      }
      if (!c.mac_mangle().empty()) {
        out << YAML::Key << "mac_mangle" << YAML::Value << c.mac_mangle();
      }
    }
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
  if (!lone_lans.empty()) {
    out << YAML::Key << "lans" << YAML::Value << YAML::Flow << YAML::BeginSeq;
    for (const auto& l : lone_lans) out << l;
    out << YAML::EndSeq;
  }
  out << YAML::Key << "cables" << YAML::Value << YAML::BeginSeq;
  for (const auto& [lan, eps] : ends) {
    if (eps.size() == 2 && lan == P2pLanName(eps[0].first, eps[0].second,
                                             eps[1].first, eps[1].second)) {
      out << absl::StrCat(eps[0].first, ":eth", eps[0].second, " -- ",
                          eps[1].first, ":eth", eps[1].second);
      continue;
    }
    for (const auto& [item, eth] : eps) {
      out << absl::StrCat(item, ":eth", eth, " -- ", lan);
    }
  }
  out << YAML::EndSeq;
  bool placed = false;
  for (const auto& it : items) {
    if (!it.has_position() || np.items.count(it.name())) continue;
    if (!placed) out << YAML::Key << "layout" << YAML::Value << YAML::BeginMap;
    placed = true;
    out << YAML::Key << it.name() << YAML::Value << YAML::Flow << YAML::BeginSeq
        << Num(it.position().x()) << Num(it.position().y()) << YAML::EndSeq;
  }
  if (placed) out << YAML::EndMap;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

Lab LabFromItems(const std::string& net, const std::vector<v1::Item>& items) {
  Lab lab;
  lab.net = net;
  for (const auto& it : items) {
    if (it.has_position()) lab.layout[it.name()] = it.position();
    if (it.kind() == v1::ITEM_KIND_LAN) {
      lab.lans[it.name()] = {};
      continue;
    }
    LabItem li;
    li.item = it;
    li.item.clear_eths();
    li.item.clear_position();
    lab.items.push_back(li);
    for (const auto& e : it.eths()) {
      if (!e.lan().empty())
        lab.cables.push_back({it.name(), e.index(), e.lan(), {}});
    }
  }
  return lab;
}

namespace {

// Mermaid ids: a prefix keeps names such as "end" from its keywords.
std::string MermaidId(const std::string& s) {
  return "n_" + absl::StrReplaceAll(s, {{"-", "_h_"}});
}

}  // namespace

namespace {

// A node placed in the gui keeps its place (neato reads pos in inches, y
// up; a pixel of the gui is a point, 1/72 inch).
std::string DotPos(const Lab& lab, const std::string& name) {
  auto p = lab.layout.find(name);
  if (p == lab.layout.end()) return "";
  return absl::StrFormat(", pos=\"%.3f,%.3f!\"", p->second.x() / 72,
                         -p->second.y() / 72);
}

}  // namespace

std::string GraphLab(const Lab& lab, const std::string& format) {
  std::string out;
  if (format == "dot") {
    absl::StrAppend(&out, "graph \"", lab.net.empty() ? "lab" : lab.net,
                    "\" {\n  node [fontname=\"sans\"];\n");
    for (const auto& li : lab.items) {
      static const std::map<v1::ItemKind, const char*> shapes = {
          {v1::ITEM_KIND_KVM, "box"},          {v1::ITEM_KIND_CNT, "box3d"},
          {v1::ITEM_KIND_NAT, "hexagon"},      {v1::ITEM_KIND_A2B, "diamond"},
          {v1::ITEM_KIND_TAP, "cds"},          {v1::ITEM_KIND_PHY, "component"},
          {v1::ITEM_KIND_C2C, "doubleoctagon"}};
      auto s = shapes.find(li.item.kind());
      absl::StrAppend(&out, "  \"", li.item.name(),
                      "\" [shape=", s == shapes.end() ? "box" : s->second,
                      ", label=\"", li.item.name(), "\\n",
                      cloonix::KindName(li.item.kind()), "\"",
                      DotPos(lab, li.item.name()), "];\n");
    }
    for (const auto& [lan, _] : lab.lans) {
      absl::StrAppend(&out, "  \"", lan,
                      "\" [shape=ellipse, style=filled, "
                      "fillcolor=lightgrey",
                      DotPos(lab, lan), "];\n");
    }
    for (const auto& c : lab.cables) {
      absl::StrAppend(&out, "  \"", c.item, "\" -- \"", c.lan,
                      "\" [label=\"eth", c.eth, "\"];\n");
    }
    absl::StrAppend(&out, "}\n");
    return out;
  }
  // Mermaid flowchart: a shape per kind, lans as circles.
  absl::StrAppend(&out, "flowchart LR\n");
  for (const auto& li : lab.items) {
    const std::string id = MermaidId(li.item.name());
    const std::string label = absl::StrCat(
        "\"", li.item.name(), "<br/>", cloonix::KindName(li.item.kind()), "\"");
    switch (li.item.kind()) {
      case v1::ITEM_KIND_KVM:
        absl::StrAppend(&out, "  ", id, "[", label, "]\n");
        break;
      case v1::ITEM_KIND_CNT:
        absl::StrAppend(&out, "  ", id, "(", label, ")\n");
        break;
      case v1::ITEM_KIND_NAT:
        absl::StrAppend(&out, "  ", id, "{{", label, "}}\n");
        break;
      case v1::ITEM_KIND_A2B:
        absl::StrAppend(&out, "  ", id, "{", label, "}\n");
        break;
      case v1::ITEM_KIND_C2C:
        absl::StrAppend(&out, "  ", id, "[[", label, "]]\n");
        break;
      default:  // tap, phy
        absl::StrAppend(&out, "  ", id, "[/", label, "/]\n");
    }
  }
  for (const auto& [lan, _] : lab.lans) {
    absl::StrAppend(&out, "  ", MermaidId(lan), "((\"", lan, "\"))\n");
  }
  for (const auto& c : lab.cables) {
    absl::StrAppend(&out, "  ", MermaidId(c.item), " ---|eth", c.eth, "| ",
                    MermaidId(c.lan), "\n");
  }
  return out;
}

}  // namespace cloonix::cli::lab
