#include "cli/output.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/a2b_settings.h"
#include "common/item_kind.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"

namespace cloonix::cli {

namespace v1 = cloonix::v1;

absl::StatusOr<uint32_t> ParseEth(const std::string& s) {
  std::string digits = absl::StartsWith(s, "eth") ? s.substr(3) : s;
  uint32_t n = 0;
  if (digits.empty() || !absl::SimpleAtoi(digits, &n) || digits[0] == '-' ||
      digits[0] == '+') {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", s, "\" is not an eth (use eth0 or 0)"));
  }
  return n;
}

absl::StatusOr<cloonix::v1::BindMount> ParseVmount(const std::string& s) {
  std::vector<std::string> parts = absl::StrSplit(s, ':');
  cloonix::v1::BindMount m;
  if (parts.size() == 3 && (parts[2] == "ro" || parts[2] == "rw")) {
    m.set_readonly(parts[2] == "ro");
    parts.pop_back();
  }
  if (parts.size() != 2 || parts[0].empty() || parts[1].empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", s, "\" is not a mount: write HOST_PATH:GUEST_PATH[:ro]"));
  }
  m.set_host_path(parts[0]);
  m.set_guest_path(parts[1]);
  return m;
}

cloonix::v1::GuestFiles MakeGuestFiles(
    const std::vector<std::string>& dirs,
    const std::vector<std::string>& deletes) {
  cloonix::v1::GuestFiles f;
  for (const auto& d : dirs) {
    std::error_code ec;
    std::filesystem::path p = std::filesystem::absolute(d, ec);
    f.add_dirs(ec ? d : p.lexically_normal().string());
  }
  for (const auto& p : deletes) f.add_delete_(p);
  return f;
}

std::string ToJsonLine(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, o);
  return out;
}

namespace {
std::string Kind(const v1::Item& it) { return KindName(it.kind()); }

std::string Details(const v1::Item& it) {
  std::vector<std::string> parts;
  if (it.kind() == v1::ITEM_KIND_LAN) {
    for (const auto& e : it.lan().endpoints()) {
      parts.push_back(absl::StrCat(e.item(), ":eth", e.eth()));
    }
    if (parts.empty()) parts.push_back("(no endpoint)");
    return absl::StrJoin(parts, " ");
  }
  if (it.kind() == v1::ITEM_KIND_CNT) {
    parts.push_back("image=" + it.cnt().image());
  }
  if (it.kind() == v1::ITEM_KIND_NAT) {
    parts.push_back(absl::StrCat("leases=", it.nat().leases_size()));
  }
  if (it.kind() == v1::ITEM_KIND_KVM) {
    // Cloonix's colours: blue = agent up, red = not (yet).
    parts.push_back(it.kvm().agent_up() ? "agent=up(blue)" : "agent=down(red)");
    parts.push_back(absl::StrCat("image=", it.kvm().image(), " ram=",
                                 it.kvm().ram_mb(), " cpu=", it.kvm().cpu()));
  }
  if (it.kind() == v1::ITEM_KIND_TAP) {
    parts.push_back("host=" + it.name());
  }
  if (it.kind() == v1::ITEM_KIND_C2C) {
    const v1::C2cSpec& c = it.c2c();
    parts.push_back(absl::StrCat("peer=", c.peer_net(), "@", c.peer_address(),
                                 " ", c.peer_up() ? "up(blue)" : "down(red)",
                                 " mtu=", c.inner_mtu()));
  }
  if (it.kind() == v1::ITEM_KIND_PHY) {
    parts.push_back(absl::StrCat(
        "nic=", it.phy().host_ifname(),
        it.phy().host_netns().empty() ? "" : "@" + it.phy().host_netns(),
        " mode=",
        it.phy().mode() == v1::PHY_MODE_MACVLAN ? "macvlan" : "absorb"));
  }
  if (it.kind() == v1::ITEM_KIND_A2B) {
    parts.push_back("dir0: " + A2bSettingsText(it.a2b().dir0()) + ";");
    parts.push_back("dir1: " + A2bSettingsText(it.a2b().dir1()) + ";");
  }
  for (const auto& e : it.eths()) {
    parts.push_back(
        absl::StrCat("eth", e.index(), "->", e.lan().empty() ? "-" : e.lan()));
  }
  return absl::StrJoin(parts, " ");
}
}  // namespace

std::string StateText(const v1::Item& it) {
  switch (it.state()) {
    case v1::ITEM_STATE_CREATING:
      return "creating";
    case v1::ITEM_STATE_RUNNING:
      return "running";
    case v1::ITEM_STATE_DELETING:
      return "deleting";
    case v1::ITEM_STATE_STOPPED:
      return it.state_message().empty() ? "stopped"
                                        : "stopped: " + it.state_message();
    case v1::ITEM_STATE_FAILED:
      return it.state_message().empty() ? "failed"
                                        : "failed: " + it.state_message();
    default:
      return "unknown";
  }
}

std::string ItemsTable(const std::vector<v1::Item>& items) {
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "KIND", "STATE", "DETAILS"}};
  for (const auto& it : items) {
    rows.push_back({it.name(), Kind(it), StateText(it), Details(it)});
  }
  size_t w[3] = {0, 0, 0};
  for (const auto& r : rows) {
    for (int i = 0; i < 3; ++i) w[i] = std::max(w[i], r[i].size());
  }
  std::string out;
  for (const auto& r : rows) {
    for (int i = 0; i < 3; ++i) {
      absl::StrAppend(&out, r[i], std::string(w[i] - r[i].size() + 2, ' '));
    }
    absl::StrAppend(&out, r[3], "\n");
  }
  return out;
}

std::string ItemDetails(const v1::Item& it) {
  std::string out =
      absl::StrCat("name:  ", it.name(), "\nkind:  ", Kind(it),
                   "\nid:    ", it.id(), "\nstate: ", StateText(it), "\n");
  if (it.kind() == v1::ITEM_KIND_LAN) {
    absl::StrAppend(&out, "bridge: ", it.lan().bridge(),
                    "\nendpoints: ", Details(it), "\n");
  }
  if (it.kind() == v1::ITEM_KIND_CNT) {
    absl::StrAppend(&out, "image: ", it.cnt().image(),
                    "\nnetns: ", it.cnt().netns(), "\n");
    for (const auto& m : it.cnt().mounts()) {
      absl::StrAppend(&out, "mount: ", m.host_path(), " -> ", m.guest_path(),
                      m.readonly() ? " (read-only)" : "", "\n");
    }
    if (it.cnt().privileged()) {
      absl::StrAppend(&out, "privileged: yes (no isolation from the host)\n");
    }
    for (const auto& d : it.cnt().files().dirs()) {
      absl::StrAppend(&out, "files: ", d, "\n");
    }
  }
  if (it.kind() == v1::ITEM_KIND_NAT) {
    absl::StrAppend(&out,
                    "gateway: 172.17.0.2 (the host's loopback), DNS: "
                    "172.17.0.3, DHCP from 172.17.0.10\n");
    if (!it.nat().natplug_of().empty())
      absl::StrAppend(&out, "natplug of: ", it.nat().natplug_of(), "\n");
    for (const auto& l : it.nat().leases()) {
      absl::StrAppend(&out, "lease: ", l.mac(), " -> ", l.ip(), " (", l.age_s(),
                      " s ago)\n");
    }
  }
  if (it.kind() == v1::ITEM_KIND_KVM) {
    const v1::KvmSpec& k = it.kvm();
    absl::StrAppend(&out, "agent: ", k.agent_up() ? "up (blue)" : "down (red)",
                    "\nimage: ", k.image(),
                    k.persistent() ? " (persistent)" : "",
                    "\nram:   ", k.ram_mb(), " MiB\ncpu:   ", k.cpu(),
                    "\nqemu:  pid ", k.pid(), ", domain type ", k.domain_type(),
                    "\nconsole log: ", k.console_log(), "\n");
  }
  if (it.kind() == v1::ITEM_KIND_TAP) {
    absl::StrAppend(&out, "host interface: ", it.name(),
                    " (in the host's netns; configure it with ip addr add)\n");
  }
  if (it.kind() == v1::ITEM_KIND_C2C) {
    const v1::C2cSpec& c = it.c2c();
    const v1::C2cCounters& k = c.counters();
    absl::StrAppend(
        &out, "peer:  net ", c.peer_net(), " at ", c.peer_address(), ", ",
        c.peer_up() ? "up (blue)" : "down (red): " + c.peer_state(),
        "\nvxlan: vni ", c.vni(), ", UDP ", c.udp_port(), " -> ",
        c.peer_ip().empty() ? "-" : c.peer_ip(), ":", c.peer_udp_port(),
        "\ninner MTU: ", c.inner_mtu(),
        " (the largest IP packet it carries; give it to the guests on its "
        "lan)\ntx ",
        k.tx_frames(), " frames ", k.tx_bytes(), " B, rx ", k.rx_frames(),
        " frames ", k.rx_bytes(), " B; dropped: foreign ", k.drop_foreign(),
        ", bad vni ", k.drop_bad_vni(), ", too big ", k.drop_too_big(),
        ", other ", k.drop_other(), "; TCP frames cut to fit ", k.tcp_split(),
        "\n");
    if (!c.mac_mangle().empty()) {
      absl::StrAppend(&out, "mac_mangle: ", c.mac_mangle(), " (", k.mangled(),
                      " frames rewritten)\n");
    }
  }
  if (it.kind() == v1::ITEM_KIND_PHY) {
    const v1::PhySpec& p = it.phy();
    const bool macvlan = p.mode() == v1::PHY_MODE_MACVLAN;
    absl::StrAppend(
        &out, "nic:  ", p.host_ifname(),
        p.host_netns().empty() ? " (host netns)"
                               : " (netns " + p.host_netns() + ")",
        "\nmode: ",
        macvlan ? "macvlan (the host keeps the NIC)"
                : "absorb (the NIC is the net's until the phy is deleted)",
        p.force() ? ", forced" : "",
        "\nmac:  ", p.mac().empty() ? "-" : p.mac(),
        macvlan ? " (follows the guest on its lan)" : "", "\n");
  }
  if (it.kind() == v1::ITEM_KIND_A2B) {
    const v1::A2bCounters* cs[2] = {&it.a2b().counters0(),
                                    &it.a2b().counters1()};
    const v1::A2bSettings* ss[2] = {&it.a2b().dir0(), &it.a2b().dir1()};
    for (int d = 0; d < 2; ++d) {
      const auto& c = *cs[d];
      absl::StrAppend(&out, "dir", d, " (end ", d, " -> end ", 1 - d,
                      "): ", A2bSettingsText(*ss[d]), "\n  rx ", c.rx_packets(),
                      " pkts ", c.rx_bytes(), " B, tx ", c.tx_packets(),
                      " pkts ", c.tx_bytes(), " B, dropped: loss ",
                      c.drop_loss(), ", queue ", c.drop_queue(), ", tx ",
                      c.drop_tx(), "; queued ", c.queued_packets(), "\n");
    }
  }
  for (const auto& e : it.eths()) {
    absl::StrAppend(&out, "eth", e.index(), ": mac ", e.mac(), ", port ",
                    e.port(), ", lan ", e.lan().empty() ? "-" : e.lan(), "\n");
  }
  return out;
}

std::string EventLine(const v1::Event& e) {
  std::string what;
  switch (e.type()) {
    case v1::EVENT_TYPE_EXISTING:
      what = "existing";
      break;
    case v1::EVENT_TYPE_SYNCED:
      return "-- synced: changes follow --";
    case v1::EVENT_TYPE_CREATED:
      what = "created";
      break;
    case v1::EVENT_TYPE_UPDATED:
      what = "updated";
      break;
    case v1::EVENT_TYPE_DELETED:
      what = "deleted";
      break;
    default:
      what = "event";
      break;
  }
  return absl::StrCat(google::protobuf::util::TimeUtil::ToString(e.time()), " ",
                      what, " ", Kind(e.item()), " ", e.item().name(), ": ",
                      StateText(e.item()), ", ", Details(e.item()));
}

}  // namespace cloonix::cli
