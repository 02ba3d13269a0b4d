#include "cli/lab/plan.h"

#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/a2b_settings.h"
#include "common/item_kind.h"
#include "google/protobuf/util/message_differencer.h"

namespace cloonix::cli::lab {

namespace v1 = cloonix::v1;

namespace {

using Eth = std::pair<std::string, uint32_t>;

template <typename T>
std::string Diff(const char* what, const T& want, const T& have) {
  if (want == have) return "";
  return absl::StrCat(what, " ", have, " -> ", want);
}

std::string Joined(const google::protobuf::RepeatedPtrField<std::string>& r) {
  return absl::StrCat("[", absl::StrJoin(r, " "), "]");
}

}  // namespace

NatplugOwned FindNatplugOwned(const std::vector<v1::Item>& items) {
  NatplugOwned o;
  for (const auto& it : items) {
    if (it.has_nat() && !it.nat().natplug_of().empty()) {
      o.items.insert(it.name());
      o.eths.insert({it.name(), 0});
      for (const auto& e : it.eths()) {
        if (!e.lan().empty()) o.items.insert(e.lan());
      }
    }
    if (it.has_kvm() && it.kvm().has_natplug()) {
      o.eths.insert({it.name(), it.kvm().natplug()});
    }
    if (it.has_cnt() && it.cnt().has_natplug()) {
      o.eths.insert({it.name(), it.cnt().natplug()});
    }
  }
  return o;
}

std::string RecreateReason(const v1::Item& want, const v1::Item& have) {
  if (want.kind() != have.kind()) {
    return absl::StrCat("kind ", cloonix::KindName(have.kind()), " -> ",
                        cloonix::KindName(want.kind()));
  }
  std::vector<std::string> why;
  auto add = [&](std::string s) {
    if (!s.empty()) why.push_back(std::move(s));
  };
  if (want.has_kvm()) {
    const auto &w = want.kvm(), &h = have.kvm();
    add(Diff("image", w.image(), h.image()));
    add(Diff("ram", w.ram_mb(), h.ram_mb()));
    add(Diff("cpu", w.cpu(), h.cpu()));
    add(Diff("eths", w.eth_count(), h.eth_count()));
    add(Diff("persistent", w.persistent(), h.persistent()));
    if (!google::protobuf::util::MessageDifferencer::Equals(w.options(),
                                                            h.options())) {
      why.push_back("kvm options");
    }
    if (!google::protobuf::util::MessageDifferencer::Equals(w.files(),
                                                            h.files())) {
      why.push_back("files");
    }
    if (w.has_natplug() != h.has_natplug() || w.natplug() != h.natplug()) {
      why.push_back("natplug");
    }
  } else if (want.has_cnt()) {
    const auto &w = want.cnt(), &h = have.cnt();
    add(Diff("image", w.image(), h.image()));
    add(Diff("eths", w.eth_count(), h.eth_count()));
    add(Diff("cmd", Joined(w.command()), Joined(h.command())));
    add(Diff("env", Joined(w.env()), Joined(h.env())));
    if (w.has_natplug() != h.has_natplug() || w.natplug() != h.natplug()) {
      why.push_back("natplug");
    }
    bool same_mounts = w.mounts_size() == h.mounts_size();
    for (int i = 0; same_mounts && i < w.mounts_size(); ++i) {
      same_mounts = google::protobuf::util::MessageDifferencer::Equals(
          w.mounts(i), h.mounts(i));
    }
    if (!same_mounts) why.push_back("mounts");
    add(Diff("privileged", w.privileged(), h.privileged()));
    if (!google::protobuf::util::MessageDifferencer::Equals(w.files(),
                                                            h.files())) {
      why.push_back("files");
    }
  } else if (want.has_phy()) {
    const auto &w = want.phy(), &h = have.phy();
    add(Diff("nic", w.host_ifname(), h.host_ifname()));
    add(Diff("mode", static_cast<int>(w.mode()), static_cast<int>(h.mode())));
    add(Diff("netns", w.host_netns(), h.host_netns()));
  } else if (want.has_c2c()) {
    add(Diff("peer_net", want.c2c().peer_net(), have.c2c().peer_net()));
    add(Diff("mac_mangle", want.c2c().mac_mangle(), have.c2c().mac_mangle()));
  }
  return absl::StrJoin(why, ", ");
}

Plan MakePlan(const Lab& lab, const std::vector<v1::Item>& current) {
  Plan p;
  const NatplugOwned owned = FindNatplugOwned(current);
  std::map<std::string, const v1::Item*> have;
  for (const auto& it : current) have[it.name()] = &it;

  // Items.
  std::set<std::string> fresh;   // created by this plan: no cables yet
  std::set<std::string> absent;  // foreign items not made yet: no cables
  for (const auto& li : lab.items) {
    auto h = have.find(li.item.name());
    if (li.foreign) {  // another net makes it: kept as it is
      if (h == have.end()) absent.insert(li.item.name());
      continue;
    }
    if (h == have.end() || h->second->kind() == v1::ITEM_KIND_LAN) {
      if (h != have.end()) {  // a lan of that name goes first
        p.deletes.push_back(li.item.name());
        p.recreate[li.item.name()] =
            "lan -> " + cloonix::KindName(li.item.kind());
      }
      p.creates.push_back(&li);
      fresh.insert(li.item.name());
      continue;
    }
    std::string why = RecreateReason(li.item, *h->second);
    if (!why.empty()) {
      p.deletes.push_back(li.item.name());
      p.recreate[li.item.name()] = why;
      p.creates.push_back(&li);
      fresh.insert(li.item.name());
      continue;
    }
    if (li.item.has_a2b()) {
      const v1::A2bSpec& cur = h->second->a2b();
      const v1::A2bSettings* now[2] = {&cur.dir0(), &cur.dir1()};
      for (uint32_t d : {0u, 1u}) {
        if (!google::protobuf::util::MessageDifferencer::Equals(li.a2b[d],
                                                                *now[d])) {
          p.a2b.push_back({li.item.name(), d, li.a2b[d]});
        }
      }
    }
  }
  for (const auto& it : current) {
    if (it.kind() == v1::ITEM_KIND_LAN || owned.items.count(it.name())) {
      continue;
    }
    if (lab.Find(it.name()) == nullptr) p.deletes.push_back(it.name());
  }
  std::set<std::string> gone(p.deletes.begin(), p.deletes.end());

  // Cables: what kept items have against what the file wants.
  std::map<Eth, std::string> want, now;
  for (const auto& c : lab.cables) want[{c.item, c.eth}] = c.lan;
  for (const auto& it : current) {
    if (gone.count(it.name())) continue;
    for (const auto& e : it.eths()) {
      if (!e.lan().empty() && !owned.eths.count({it.name(), e.index()})) {
        now[{it.name(), e.index()}] = e.lan();
      }
    }
  }
  for (const auto& [eth, lan] : now) {
    auto w = want.find(eth);
    if (w == want.end() || w->second != lan) {
      p.uncables.push_back({eth.first, eth.second, lan, {}});
    }
  }
  for (const auto& c : lab.cables) {
    if (absent.count(c.item)) continue;
    auto n = now.find({c.item, c.eth});
    if (fresh.count(c.item) || n == now.end() || n->second != c.lan) {
      p.cables.push_back(c);
    }
  }

  // Lans.
  for (const auto& [lan, _] : lab.lans) {
    auto h = have.find(lan);
    if (h == have.end() || gone.count(lan)) p.lan_creates.push_back(lan);
  }
  for (const auto& it : current) {
    if (it.kind() == v1::ITEM_KIND_LAN && !lab.lans.count(it.name()) &&
        !owned.items.count(it.name()) && lab.Find(it.name()) == nullptr) {
      p.lan_deletes.push_back(it.name());
    }
  }
  return p;
}

std::string Plan::Text(const std::vector<v1::Item>& current) const {
  std::map<std::string, const v1::Item*> have;
  for (const auto& it : current) have[it.name()] = &it;
  std::string out;
  for (const auto& d : deletes) {
    if (recreate.count(d)) continue;
    const v1::Item* it = have.count(d) ? have[d] : nullptr;
    absl::StrAppend(&out, "- ", it ? cloonix::KindName(it->kind()) : "item",
                    " ", d, "\n");
  }
  for (const auto& c : uncables) {
    absl::StrAppend(&out, "- cable ", c.item, ":eth", c.eth, " -- ", c.lan,
                    "\n");
  }
  for (const auto& l : lan_deletes) absl::StrAppend(&out, "- lan ", l, "\n");
  for (const auto& l : lan_creates) absl::StrAppend(&out, "+ lan ", l, "\n");
  for (const LabItem* li : creates) {
    auto r = recreate.find(li->item.name());
    absl::StrAppend(
        &out, r == recreate.end() ? "+ " : "! ",
        cloonix::KindName(li->item.kind()), " ", li->item.name(),
        r == recreate.end() ? "" : " (made again: " + r->second + ")", "\n");
  }
  for (const auto& c : cables) {
    absl::StrAppend(&out, "+ cable ", c.item, ":eth", c.eth, " -- ", c.lan,
                    "\n");
  }
  for (const auto& a : a2b) {
    std::string before = "?";
    if (have.count(a.name) && have[a.name]->has_a2b()) {
      const auto& s = have[a.name]->a2b();
      before = cloonix::A2bSettingsText(a.dir == 0 ? s.dir0() : s.dir1());
    }
    absl::StrAppend(&out, "~ a2b ", a.name, " dir", a.dir, ": ", before, " -> ",
                    cloonix::A2bSettingsText(a.settings), "\n");
  }
  return out.empty() ? "no changes\n" : out;
}

}  // namespace cloonix::cli::lab
