#include "services/orchestrator/net_manager.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/a2b_settings.h"
#include "common/atomic_file.h"
#include "common/names.h"
#include "common/status_macros.h"
#include "google/protobuf/util/time_util.h"
#include "spdlog/spdlog.h"

namespace cloonix {

NetManager::NetManager(std::string net, std::string state_path,
                       LanBackend* lans, CntBackend* cnts, A2bBackend* a2bs,
                       VmBackend* vms, NatBackend* nats)
    : state_path_(std::move(state_path)),
      lans_(lans),
      cnts_(cnts),
      a2bs_(a2bs),
      vms_(vms),
      nats_(nats),
      topo_(std::move(net)) {}

v1::Item NetManager::Present(const v1::Item& item,
                             const std::vector<NatState>* nats) {
  v1::Item out = topo_.WithEndpoints(item);
  if (out.kind() == v1::ITEM_KIND_NAT) {
    absl::StatusOr<std::vector<NatState>> live =
        nats != nullptr ? absl::StatusOr<std::vector<NatState>>(*nats)
                        : nats_->List();
    if (live.ok()) {
      for (const auto& n : *live) {
        if (n.name != out.name()) continue;
        for (const auto& l : n.leases) *out.mutable_nat()->add_leases() = l;
      }
    }
  }
  if (out.kind() == v1::ITEM_KIND_A2B) {
    auto live = a2bs_->Get(out.name());
    if (live.ok()) {
      *out.mutable_a2b()->mutable_counters0() = live->counters0();
      *out.mutable_a2b()->mutable_counters1() = live->counters1();
    }
  }
  return out;
}

namespace {

// The topology in `path`; NOT_FOUND if there is no such file, DATA_LOSS or
// INVALID_ARGUMENT if it cannot be read or parsed.
absl::StatusOr<Topology> ReadTopology(const std::string& path,
                                      const std::string& net) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  auto t = Topology::FromJson(text);
  if (!t.ok()) return absl::DataLossError(std::string(t.status().message()));
  if (t->net() != net) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " belongs to net ", t->net(), ", not ", net));
  }
  return t;
}

}  // namespace

absl::StatusOr<LoadReport> NetManager::Load() {
  absl::MutexLock l(&mu_);
  LoadReport report;
  const std::string net = topo_.net();
  auto cur = ReadTopology(state_path_, net);
  if (cur.ok()) {
    topo_ = *std::move(cur);
    state_file_good_ = true;
    report.source = LoadReport::kCurrent;
    spdlog::info("loaded {} items from {}", topo_.Items().size(), state_path_);
    return report;
  }
  if (absl::IsFailedPrecondition(cur.status())) return cur.status();
  report.problem =
      absl::IsNotFound(cur.status())
          ? "missing"
          : absl::StrCat("unreadable (", cur.status().message(), ")");
  const std::string prev_path = state_path_ + ".prev";
  auto prev = ReadTopology(prev_path, net);
  if (prev.ok()) {
    topo_ = *std::move(prev);
    report.source = LoadReport::kPrevious;
    spdlog::warn(
        "{} is {}: loaded {} items from {} (the state before the last change)",
        state_path_, report.problem, topo_.Items().size(), prev_path);
    return report;
  }
  if (absl::IsFailedPrecondition(prev.status())) return prev.status();
  if (!absl::IsNotFound(cur.status()) || !absl::IsNotFound(prev.status())) {
    spdlog::warn("{} is {} and {} is {}: starting from an empty topology",
                 state_path_, report.problem, prev_path,
                 prev.status().ToString());
  }
  report.source = LoadReport::kNone;
  return report;
}

absl::StatusOr<std::vector<std::string>> NetManager::UnknownGuests() {
  absl::MutexLock l(&mu_);
  std::vector<std::string> out;
  ASSIGN_OR_RETURN(std::vector<RunningCnt> cnts, cnts_->List());
  for (const auto& c : cnts) {
    if (topo_.Find(c.name) == nullptr) out.push_back("cnt " + c.name);
  }
  ASSIGN_OR_RETURN(std::vector<RunningVm> vms, vms_->List());
  for (const auto& v : vms) {
    if (topo_.Find(v.name) == nullptr) out.push_back("kvm " + v.name);
  }
  return out;
}

absl::Status NetManager::AdoptGuests() {
  absl::MutexLock l(&mu_);
  ASSIGN_OR_RETURN(std::vector<RunningCnt> cnts, cnts_->List());
  ASSIGN_OR_RETURN(std::vector<RunningVm> vms, vms_->List());
  ASSIGN_OR_RETURN(auto bridges, lans_->ListBridges());
  for (const auto& v : vms) {
    if (topo_.Find(v.name) == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat(
          "kvm ", v.name,
          " runs but cannot be adopted (its settings are not read back from "
          "the hypervisor yet): use net start --reset or net stop"));
    }
  }
  Topology next = topo_;  // all or nothing
  std::map<std::string, std::string> lan_of_bridge;
  for (const auto& it : next.Items()) {
    if (it.kind() == v1::ITEM_KIND_LAN)
      lan_of_bridge[it.lan().bridge()] = it.name();
  }
  std::map<std::string, std::string> bridge_of_port;
  for (const auto& [b, ports] : bridges) {
    for (const auto& p : ports) bridge_of_port[p] = b;
  }
  std::vector<std::string> adopted;        // "cnt c1", for the log
  std::vector<std::string> adopted_names;  // "c1", for the events
  for (const auto& c : cnts) {
    if (next.Find(c.name) != nullptr) continue;
    v1::Item item;
    item.set_name(c.name);
    item.set_kind(v1::ITEM_KIND_CNT);
    item.mutable_cnt()->set_image(c.image);
    uint32_t eth_count = 0;
    for (const auto& e : c.eths) eth_count = std::max(eth_count, e.index + 1);
    if (eth_count == 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "container ", c.name, " has no eth cloonix knows: cannot adopt it"));
    }
    item.mutable_cnt()->set_eth_count(eth_count);
    item.set_id(ItemIdOfPort(c.eths.front().port));
    if (item.id() == 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("container ", c.name, ": port ", c.eths.front().port,
                       " is not a cloonix port name: cannot adopt it"));
    }
    item.set_state(c.running ? v1::ITEM_STATE_RUNNING : v1::ITEM_STATE_FAILED);
    if (!c.running) item.set_state_message("adopted stopped");
    for (uint32_t i = 0; i < eth_count; ++i) item.add_eths()->set_index(i);
    for (const auto& e : c.eths) {
      auto* eth = item.mutable_eths(static_cast<int>(e.index));
      eth->set_port(e.port);
      eth->set_mac(e.mac);
      auto b = bridge_of_port.find(e.port);
      if (b == bridge_of_port.end()) continue;
      auto lan = lan_of_bridge.find(b->second);
      if (lan == lan_of_bridge.end()) {
        v1::Item l;
        uint32_t lid = LanIdOfBridge(b->second);
        l.set_name(absl::StrCat("lan", lid));
        l.set_kind(v1::ITEM_KIND_LAN);
        l.set_id(lid);
        l.set_state(v1::ITEM_STATE_RUNNING);
        l.mutable_lan()->set_bridge(b->second);
        if (lid == 0) {
          return absl::FailedPreconditionError(absl::StrCat(
              "bridge ", b->second, " is not a cloonix bridge name"));
        }
        RETURN_IF_ERROR(next.Adopt(l));
        lan = lan_of_bridge.emplace(b->second, l.name()).first;
        adopted.push_back("lan " + l.name());
        adopted_names.push_back(l.name());
      }
      eth->set_lan(lan->second);
    }
    RETURN_IF_ERROR(next.Adopt(item));
    adopted.push_back("cnt " + c.name);
    adopted_names.push_back(c.name);
  }
  topo_ = std::move(next);
  for (const auto& name : adopted_names) {
    bus_.Publish(v1::EVENT_TYPE_CREATED,
                 topo_.WithEndpoints(*topo_.Find(name)));
  }
  spdlog::warn("adopted {}", absl::StrJoin(adopted, ", "));
  return Persist();
}

// A failure here is logged and not returned: the services already applied
// the change, so reporting failure would make the client's view wrong; the
// next successful write persists the state. The state it replaces is kept
// as state.json.prev (a hard link swapped in atomically, so state.json is
// never absent), for a state.json that a crash or a disk problem damages.
absl::Status NetManager::Persist() {
  if (state_file_good_) {
    const std::string prev = state_path_ + ".prev";
    const std::string tmp = prev + ".tmp";
    unlink(tmp.c_str());
    if (link(state_path_.c_str(), tmp.c_str()) != 0 ||
        rename(tmp.c_str(), prev.c_str()) != 0) {
      spdlog::warn("cannot keep {}: {}", prev, strerror(errno));
      unlink(tmp.c_str());
    }
  }
  auto s = WriteFileAtomic(state_path_, topo_.ToJson());
  if (!s.ok()) {
    spdlog::error("cannot persist the topology: {}", s.ToString());
  } else {
    state_file_good_ = true;
  }
  return s;
}

void NetManager::SetState(const std::string& name, v1::ItemState state,
                          const std::string& msg) {
  v1::Item* it = topo_.FindMutable(name);
  if (it == nullptr) return;
  if (it->state() == state && it->state_message() == msg) return;
  it->set_state(state);
  it->set_state_message(msg);
  bus_.Publish(v1::EVENT_TYPE_UPDATED, topo_.WithEndpoints(*it));
}

namespace {

// Cloonix's --natplug=<eth> of a kvm or cnt, if any.
std::optional<uint32_t> Natplug(const v1::Item& it) {
  if (it.has_kvm() && it.kvm().has_natplug()) return it.kvm().natplug();
  if (it.has_cnt() && it.cnt().has_natplug()) return it.cnt().natplug();
  return std::nullopt;
}

}  // namespace

absl::StatusOr<v1::Item> NetManager::CreateItem(const v1::Item& request) {
  absl::MutexLock l(&mu_);
  std::optional<uint32_t> plug = Natplug(request);
  const std::string nat = "nat-" + request.name();
  const std::string lan = "lan-" + request.name();
  if (plug.has_value()) {
    // Checked first so that nothing is created for nothing.
    RETURN_IF_ERROR(ValidateName(nat, "natplug's nat name"));
    for (const auto& n : {nat, lan}) {
      if (topo_.Find(n) != nullptr) {
        return absl::AlreadyExistsError(
            absl::StrCat("natplug needs the name ", n, ", which is taken"));
      }
    }
  }
  ASSIGN_OR_RETURN(v1::Item item, CreateLocked(request));
  if (!plug.has_value()) return item;
  v1::Item nreq;
  nreq.set_name(nat);
  nreq.mutable_nat()->set_natplug_of(item.name());
  auto undo = [&](absl::Status s) -> absl::StatusOr<v1::Item> {
    for (const auto& n : {nat, lan, item.name()}) {
      if (topo_.Find(n) != nullptr) DeleteLocked(n).IgnoreError();
    }
    return absl::Status(s.code(), absl::StrCat("natplug: ", s.message()));
  };
  if (auto n = CreateLocked(nreq); !n.ok()) return undo(n.status());
  if (auto c = ConnectLocked(nat, 0, lan, true); !c.ok())
    return undo(c.status());
  auto c = ConnectLocked(item.name(), *plug, lan, true);
  if (!c.ok()) return undo(c.status());
  return *c;
}

absl::StatusOr<v1::Item> NetManager::CreateLocked(const v1::Item& request) {
  ASSIGN_OR_RETURN(v1::Item item, topo_.PrepareCreate(request));
  *item.mutable_create_time() =
      google::protobuf::util::TimeUtil::GetCurrentTime();
  if (item.kind() == v1::ITEM_KIND_LAN) {
    RETURN_IF_ERROR(lans_->CreateBridge(item.lan().bridge()));
  } else if (item.kind() == v1::ITEM_KIND_CNT) {
    RETURN_IF_ERROR(cnts_->Create(&item));
  } else if (item.kind() == v1::ITEM_KIND_A2B) {
    RETURN_IF_ERROR(a2bs_->Create(item));
  } else if (item.kind() == v1::ITEM_KIND_KVM) {
    RETURN_IF_ERROR(vms_->Create(&item, /*restart=*/false));
  } else if (item.kind() == v1::ITEM_KIND_NAT) {
    RETURN_IF_ERROR(nats_->Create(item));
  }
  item.set_state(v1::ITEM_STATE_RUNNING);
  topo_.Commit(item);
  Persist().IgnoreError();  // logged; the live state already changed
  spdlog::info("created {} {} (id {})", KindName(item.kind()), item.name(),
               item.id());
  v1::Item out = topo_.WithEndpoints(item);
  bus_.Publish(v1::EVENT_TYPE_CREATED, out);
  return out;
}

absl::StatusOr<v1::Item> NetManager::GetItem(const std::string& name) {
  absl::MutexLock l(&mu_);
  const v1::Item* it = topo_.Find(name);
  if (it == nullptr)
    return absl::NotFoundError(absl::StrCat("item ", name, " does not exist"));
  return Present(*it);
}

std::vector<v1::Item> NetManager::ListItems(v1::ItemKind kind) {
  absl::MutexLock l(&mu_);
  std::vector<v1::Item> lans, others;
  // One list of the nat worker for all the nats, not one per nat.
  std::optional<std::vector<NatState>> nats;
  for (auto& it : topo_.Items()) {
    if (kind != v1::ITEM_KIND_UNSPECIFIED && it.kind() != kind) continue;
    if (it.kind() == v1::ITEM_KIND_NAT && !nats.has_value()) {
      auto live = nats_->List();
      nats = live.ok() ? std::move(*live) : std::vector<NatState>{};
    }
    if (it.kind() == v1::ITEM_KIND_A2B || it.kind() == v1::ITEM_KIND_NAT)
      it = Present(it, nats.has_value() ? &*nats : nullptr);
    (it.kind() == v1::ITEM_KIND_LAN ? lans : others).push_back(std::move(it));
  }
  lans.insert(lans.end(), others.begin(), others.end());
  return lans;
}

absl::Status NetManager::DeleteLocked(const std::string& name_ref) {
  const std::string name = name_ref;  // the caller's may live in topo_
  const v1::Item* found = topo_.Find(name);
  v1::Item item = *found;
  if (item.kind() == v1::ITEM_KIND_LAN) {
    RETURN_IF_ERROR(lans_->DeleteBridge(item.lan().bridge()));
  } else {
    // The runtime first: if it refuses, the item keeps running, cabled.
    if (item.kind() == v1::ITEM_KIND_CNT) {
      absl::Status s = cnts_->Delete(name);
      if (!s.ok() && !absl::IsNotFound(s)) return s;
    }
    if (item.kind() == v1::ITEM_KIND_A2B) {
      absl::Status s = a2bs_->Delete(name);
      if (!s.ok() && !absl::IsNotFound(s)) return s;
    }
    if (item.kind() == v1::ITEM_KIND_KVM) {
      absl::Status s = vms_->Delete(name);
      if (!s.ok() && !absl::IsNotFound(s)) return s;
    }
    if (item.kind() == v1::ITEM_KIND_NAT) {
      absl::Status s = nats_->Delete(name);
      if (!s.ok() && !absl::IsNotFound(s)) return s;
    }
    for (const auto& e : item.eths()) {
      if (e.lan().empty()) continue;
      absl::Status s = lans_->DeletePort(e.port());
      if (!s.ok()) spdlog::warn("delete port {}: {}", e.port(), s.ToString());
    }
  }
  std::vector<std::string> touched = topo_.Remove(name);
  for (const auto& e : item.eths()) {
    if (!e.lan().empty() && topo_.Find(e.lan()) != nullptr)
      touched.push_back(e.lan());
  }
  Persist().IgnoreError();  // logged; the live state already changed
  spdlog::info("deleted {} {}", KindName(item.kind()), name);
  for (const auto& t : touched)
    bus_.Publish(v1::EVENT_TYPE_UPDATED, topo_.WithEndpoints(*topo_.Find(t)));
  bus_.Publish(v1::EVENT_TYPE_DELETED, item);
  // The nat and lan that --natplug made for this item go with it.
  if (Natplug(item).has_value()) {
    const std::string owner = item.name();  // `name` may point into topo_
    const std::string nat = "nat-" + owner, lan = "lan-" + owner;
    const v1::Item* n = topo_.Find(nat);
    if (n != nullptr && n->nat().natplug_of() == owner) {
      DeleteLocked(nat).IgnoreError();
      const v1::Item* l = topo_.Find(lan);
      if (l != nullptr && topo_.WithEndpoints(*l).lan().endpoints().empty())
        DeleteLocked(lan).IgnoreError();
    }
  }
  return absl::OkStatus();
}

absl::Status NetManager::DeleteItem(const std::string& name, bool allow_missing,
                                    bool* deleted) {
  absl::MutexLock l(&mu_);
  if (deleted != nullptr) *deleted = false;
  if (topo_.Find(name) == nullptr) {
    if (allow_missing) return absl::OkStatus();
    return absl::NotFoundError(absl::StrCat("item ", name, " does not exist"));
  }
  RETURN_IF_ERROR(DeleteLocked(name));
  if (deleted != nullptr) *deleted = true;
  return absl::OkStatus();
}

absl::Status NetManager::DeleteAll() {
  absl::MutexLock l(&mu_);
  absl::Status result;
  // Endpoints first, lans last.
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& it : topo_.Items()) {
      if ((it.kind() == v1::ITEM_KIND_LAN) != (pass == 1)) continue;
      if (topo_.Find(it.name()) == nullptr) continue;  // went with its owner
      result.Update(DeleteLocked(it.name()));
    }
  }
  return result;
}

absl::StatusOr<v1::Item> NetManager::ConnectEth(const std::string& item,
                                                uint32_t eth,
                                                const std::string& lan,
                                                bool create_lan) {
  absl::MutexLock l(&mu_);
  return ConnectLocked(item, eth, lan, create_lan);
}

absl::StatusOr<v1::Item> NetManager::ConnectLocked(const std::string& item,
                                                   uint32_t eth,
                                                   const std::string& lan,
                                                   bool create_lan) {
  ASSIGN_OR_RETURN(bool need_lan,
                   topo_.CheckConnect(item, eth, lan, create_lan));
  const v1::Item* it = topo_.Find(item);
  if (!need_lan && it->eths(eth).lan() == lan)
    return topo_.WithEndpoints(*it);  // already
  std::string port = it->eths(eth).port();
  v1::Item lan_item;
  if (need_lan) {
    v1::Item req;
    req.set_name(lan);
    req.mutable_lan();
    ASSIGN_OR_RETURN(lan_item, topo_.PrepareCreate(req));
    *lan_item.mutable_create_time() =
        google::protobuf::util::TimeUtil::GetCurrentTime();
    RETURN_IF_ERROR(lans_->CreateBridge(lan_item.lan().bridge()));
  } else {
    lan_item = *topo_.Find(lan);
  }
  absl::Status s = lans_->AddPort(lan_item.lan().bridge(), port);
  if (!s.ok()) {
    if (need_lan) lans_->DeleteBridge(lan_item.lan().bridge()).IgnoreError();
    return s;
  }
  if (need_lan) {
    lan_item.set_state(v1::ITEM_STATE_RUNNING);
    topo_.Commit(lan_item);
  }
  topo_.SetCable(item, eth, lan);
  Persist().IgnoreError();  // logged; the live state already changed
  spdlog::info("cabled {} eth{} to lan {}", item, eth, lan);
  if (need_lan)
    bus_.Publish(v1::EVENT_TYPE_CREATED, topo_.WithEndpoints(*topo_.Find(lan)));
  else
    bus_.Publish(v1::EVENT_TYPE_UPDATED, topo_.WithEndpoints(*topo_.Find(lan)));
  v1::Item out = topo_.WithEndpoints(*topo_.Find(item));
  bus_.Publish(v1::EVENT_TYPE_UPDATED, out);
  return out;
}

absl::StatusOr<v1::Item> NetManager::DisconnectEth(const std::string& item,
                                                   uint32_t eth,
                                                   const std::string& lan) {
  absl::MutexLock l(&mu_);
  RETURN_IF_ERROR(topo_.CheckDisconnect(item, eth, lan));
  const v1::Item* it = topo_.Find(item);
  std::string cabled_lan = it->eths(eth).lan();
  RETURN_IF_ERROR(lans_->DeletePort(it->eths(eth).port()));
  topo_.SetCable(item, eth, "");
  Persist().IgnoreError();  // logged; the live state already changed
  spdlog::info("uncabled {} eth{} from lan {}", item, eth, cabled_lan);
  if (const v1::Item* l2 = topo_.Find(cabled_lan)) {
    bus_.Publish(v1::EVENT_TYPE_UPDATED, topo_.WithEndpoints(*l2));
  }
  v1::Item out = topo_.WithEndpoints(*topo_.Find(item));
  bus_.Publish(v1::EVENT_TYPE_UPDATED, out);
  return out;
}

absl::StatusOr<v1::Item> NetManager::ConfigureA2b(
    const std::string& name, uint32_t dir, const v1::A2bSettingsPatch& patch) {
  absl::MutexLock l(&mu_);
  v1::Item* it = topo_.FindMutable(name);
  if (it == nullptr) {
    return absl::NotFoundError(absl::StrCat("item ", name, " does not exist"));
  }
  if (it->kind() != v1::ITEM_KIND_A2B) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " is a ", KindName(it->kind()), ", not an a2b"));
  }
  if (dir > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("dir is ", dir,
                     "; it must be 0 (end 0 to end 1) or 1 (end 1 to end 0)"));
  }
  v1::A2bSettings next = dir == 0 ? it->a2b().dir0() : it->a2b().dir1();
  ApplyA2bPatch(patch, &next);
  if (auto s = ValidateA2bSettings(next); !s.ok()) return s;
  RETURN_IF_ERROR(a2bs_->Set(name, dir, next));
  *(dir == 0 ? it->mutable_a2b()->mutable_dir0()
             : it->mutable_a2b()->mutable_dir1()) = next;
  Persist().IgnoreError();  // logged; the live state already changed
  spdlog::info("a2b {} dir {}: {}", name, dir, A2bSettingsText(next));
  v1::Item out = Present(*it);
  bus_.Publish(v1::EVENT_TYPE_UPDATED, out);
  return out;
}

absl::Status NetManager::Reconcile() {
  absl::MutexLock l(&mu_);
  ASSIGN_OR_RETURN(std::vector<RunningCnt> running, cnts_->List());
  std::set<std::string> wanted;
  for (const auto& it : topo_.Items()) {
    if (it.kind() == v1::ITEM_KIND_CNT) wanted.insert(it.name());
  }
  for (const auto& r : running) {
    if (!wanted.count(r.name)) {
      spdlog::info("reconcile: deleting unknown container {}", r.name);
      cnts_->Delete(r.name).IgnoreError();
    }
  }
  for (const auto& name : wanted) {
    bool ok = false;
    for (const auto& r : running) {
      if (r.name == name) {
        ok = r.running;
        if (!ok) {
          spdlog::info("reconcile: container {} is stopped, recreating", name);
          cnts_->Delete(name).IgnoreError();
        }
      }
    }
    if (ok) {
      SetState(name, v1::ITEM_STATE_RUNNING, "");
      continue;
    }
    v1::Item item = *topo_.Find(name);
    spdlog::info("reconcile: creating container {}", name);
    absl::Status s = cnts_->Create(&item);
    if (s.ok()) {
      *topo_.FindMutable(name)->mutable_cnt() = item.cnt();
      SetState(name, v1::ITEM_STATE_RUNNING, "");
    } else {
      SetState(name, v1::ITEM_STATE_FAILED,
               absl::StrCat("cannot recreate: ", s.message()));
    }
  }
  // a2b: the worker holds no state across its restarts; recreate what is
  // missing and re-plug its ports (their veths are new).
  ASSIGN_OR_RETURN(std::vector<std::string> a2b_running, a2bs_->List());
  std::set<std::string> a2b_have(a2b_running.begin(), a2b_running.end());
  std::set<std::string> a2b_want;
  std::vector<std::string> replug;
  for (const auto& it : topo_.Items()) {
    if (it.kind() != v1::ITEM_KIND_A2B) continue;
    a2b_want.insert(it.name());
    if (a2b_have.count(it.name())) {
      SetState(it.name(), v1::ITEM_STATE_RUNNING, "");
      continue;
    }
    spdlog::info("reconcile: creating a2b {}", it.name());
    absl::Status s = a2bs_->Create(it);
    if (!s.ok()) {
      SetState(it.name(), v1::ITEM_STATE_FAILED,
               absl::StrCat("cannot recreate: ", s.message()));
      continue;
    }
    SetState(it.name(), v1::ITEM_STATE_RUNNING, "");
    for (const auto& e : it.eths()) {
      if (!e.lan().empty()) replug.push_back(e.port());
    }
  }
  for (const auto& n : a2b_running) {
    if (!a2b_want.count(n)) a2bs_->Delete(n).IgnoreError();
  }
  // nat: the worker holds no state across its restarts either.
  ASSIGN_OR_RETURN(std::vector<NatState> nat_running, nats_->List());
  std::set<std::string> nat_have, nat_want;
  for (const auto& n : nat_running) nat_have.insert(n.name);
  for (const auto& it : topo_.Items()) {
    if (it.kind() != v1::ITEM_KIND_NAT) continue;
    nat_want.insert(it.name());
    if (nat_have.count(it.name())) {
      SetState(it.name(), v1::ITEM_STATE_RUNNING, "");
      continue;
    }
    spdlog::info("reconcile: creating nat {}", it.name());
    absl::Status s = nats_->Create(it);
    if (!s.ok()) {
      SetState(it.name(), v1::ITEM_STATE_FAILED,
               absl::StrCat("cannot recreate: ", s.message()));
      continue;
    }
    SetState(it.name(), v1::ITEM_STATE_RUNNING, "");
    if (!it.eths(0).lan().empty()) replug.push_back(it.eths(0).port());
  }
  for (const auto& n : nat_have) {
    if (!nat_want.count(n)) nats_->Delete(n).IgnoreError();
  }
  // kvm: running VMs are adopted as they are (their agents reconnect by
  // themselves); a VM that is gone (host reboot, QEMU killed) is started
  // again on its overlay, and its taps are new: re-plug them.
  ASSIGN_OR_RETURN(std::vector<RunningVm> vms, vms_->List());
  std::set<std::string> vm_want;
  for (const auto& it : topo_.Items()) {
    if (it.kind() != v1::ITEM_KIND_KVM) continue;
    vm_want.insert(it.name());
    if (it.state() == v1::ITEM_STATE_STOPPED) continue;  // stays stopped
    bool running = false;
    for (const auto& v : vms) running |= v.name == it.name() && v.running;
    if (running) {
      SetState(it.name(), v1::ITEM_STATE_RUNNING, "");
      continue;
    }
    spdlog::info("reconcile: starting VM {} again", it.name());
    v1::Item item = it;
    absl::Status s = vms_->Create(&item, /*restart=*/true);
    if (!s.ok()) {
      SetState(it.name(), v1::ITEM_STATE_FAILED,
               absl::StrCat("cannot restart: ", s.message()));
      continue;
    }
    *topo_.FindMutable(it.name())->mutable_kvm() = item.kvm();
    SetState(it.name(), v1::ITEM_STATE_RUNNING, "");
    for (const auto& e : it.eths()) {
      if (!e.lan().empty()) replug.push_back(e.port());
    }
  }
  for (const auto& v : vms) {
    if (!vm_want.count(v.name)) {
      spdlog::info("reconcile: deleting unknown VM {}", v.name);
      vms_->Delete(v.name).IgnoreError();
    }
  }
  for (const auto& p : replug) lans_->DeletePort(p).IgnoreError();
  ASSIGN_OR_RETURN(std::vector<std::string> missing,
                   lans_->Sync(topo_.DesiredBridges()));
  if (!missing.empty()) {
    spdlog::warn("reconcile: ports missing from the net: {}",
                 absl::StrJoin(missing, ", "));
  }
  return Persist();
}

absl::StatusOr<v1::Item> NetManager::ControlKvm(const std::string& name,
                                                v1::KvmAction action) {
  absl::MutexLock l(&mu_);
  v1::Item* it = topo_.FindMutable(name);
  if (it == nullptr)
    return absl::NotFoundError(absl::StrCat("item ", name, " does not exist"));
  if (it->kind() != v1::ITEM_KIND_KVM) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " is a ", KindName(it->kind()), ", not a kvm"));
  }
  const bool stopped = it->state() == v1::ITEM_STATE_STOPPED;
  switch (action) {
    case v1::KVM_ACTION_REBOOT:
      if (stopped) {
        return absl::FailedPreconditionError(
            absl::StrCat(name, " is stopped: start it"));
      }
      RETURN_IF_ERROR(vms_->Reboot(name));
      it->mutable_kvm()->set_agent_up(false);
      spdlog::info("kvm {} rebooted", name);
      break;
    case v1::KVM_ACTION_STOP:
      if (stopped) {
        return absl::FailedPreconditionError(
            absl::StrCat(name, " is already stopped"));
      }
      RETURN_IF_ERROR(vms_->Stop(name));
      it->set_state(v1::ITEM_STATE_STOPPED);
      it->mutable_kvm()->set_agent_up(false);
      it->mutable_kvm()->set_pid(0);
      spdlog::info("kvm {} stopped", name);
      break;
    case v1::KVM_ACTION_START: {
      if (!stopped) {
        return absl::FailedPreconditionError(
            absl::StrCat(name, " is not stopped"));
      }
      v1::Item item = *it;
      RETURN_IF_ERROR(vms_->Create(&item, /*restart=*/true));
      // New taps: plug them again where the eths are cabled.
      for (const auto& e : item.eths()) {
        if (e.lan().empty()) continue;
        const v1::Item* lan = topo_.Find(e.lan());
        lans_->DeletePort(e.port()).IgnoreError();
        if (lan != nullptr) {
          absl::Status s = lans_->AddPort(lan->lan().bridge(), e.port());
          if (!s.ok()) spdlog::warn("re-plug {}: {}", e.port(), s.ToString());
        }
      }
      it = topo_.FindMutable(name);
      *it->mutable_kvm() = item.kvm();
      it->set_state(v1::ITEM_STATE_RUNNING);
      it->clear_state_message();
      spdlog::info("kvm {} started again", name);
      break;
    }
    default:
      return absl::InvalidArgumentError(
          "action must be KVM_ACTION_REBOOT, KVM_ACTION_STOP or "
          "KVM_ACTION_START");
  }
  Persist().IgnoreError();  // logged; the live state already changed
  v1::Item out = topo_.WithEndpoints(*it);
  bus_.Publish(v1::EVENT_TYPE_UPDATED, out);
  return out;
}

absl::StatusOr<v1::WhatIpResponse> NetManager::WhatIp(const std::string& nat,
                                                      const std::string& item) {
  absl::MutexLock l(&mu_);
  const v1::Item* n = topo_.Find(nat);
  if (n == nullptr || n->kind() != v1::ITEM_KIND_NAT) {
    return absl::NotFoundError(absl::StrCat("nat ", nat, " does not exist"));
  }
  const v1::Item* it = topo_.Find(item);
  if (it == nullptr)
    return absl::NotFoundError(absl::StrCat("item ", item, " does not exist"));
  const std::string& lan = n->eths(0).lan();
  if (lan.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("nat ", nat, " is not cabled to a lan"));
  }
  ASSIGN_OR_RETURN(std::vector<NatState> live, nats_->List());
  bool on_lan = false;
  for (const auto& e : it->eths()) {
    if (e.lan() != lan) continue;
    on_lan = true;
    for (const auto& st : live) {
      if (st.name != nat) continue;
      for (const auto& lease : st.leases) {
        if (lease.mac() == e.mac()) {
          v1::WhatIpResponse r;
          r.set_item(item);
          r.set_eth(e.index());
          r.set_mac(e.mac());
          r.set_ip(lease.ip());
          return r;
        }
      }
    }
  }
  if (!on_lan) {
    return absl::FailedPreconditionError(absl::StrCat(
        item, " has no eth on lan ", lan, ", the lan of nat ", nat));
  }
  return absl::NotFoundError(absl::StrCat(
      item, " has no lease from nat ", nat,
      " yet (is a DHCP client running on its eth on lan ", lan, "?)"));
}

void NetManager::RefreshVms() {
  // Under the lock: a VM created or started meanwhile is not "missing".
  absl::MutexLock l(&mu_);
  auto vms = vms_->List();
  if (!vms.ok()) return;  // vm_runner restarting: keep the last states
  // A running kvm whose QEMU is gone (crashed, killed): say so, and let the
  // user start it again; it is not restarted behind their back.
  std::set<std::string> live;
  for (const auto& v : *vms) live.insert(v.name);
  for (const auto& item : topo_.Items()) {
    if (item.kind() != v1::ITEM_KIND_KVM ||
        item.state() != v1::ITEM_STATE_RUNNING || live.count(item.name()))
      continue;
    spdlog::warn("kvm {}: QEMU is gone", item.name());
    v1::Item* it = topo_.FindMutable(item.name());
    it->mutable_kvm()->set_agent_up(false);
    it->mutable_kvm()->set_pid(0);
    it->set_state(v1::ITEM_STATE_STOPPED);
    it->set_state_message(
        absl::StrCat("QEMU exited (crashed or killed); cloonix cnf kvm ",
                     item.name(), " start runs it again"));
    Persist().IgnoreError();
    bus_.Publish(v1::EVENT_TYPE_UPDATED, topo_.WithEndpoints(*it));
  }
  for (const auto& v : *vms) {
    v1::Item* it = topo_.FindMutable(v.name);
    if (it == nullptr || it->kind() != v1::ITEM_KIND_KVM ||
        it->state() == v1::ITEM_STATE_STOPPED)
      continue;
    if (it->kvm().agent_up() == v.agent_up && it->kvm().pid() == v.pid)
      continue;
    if (it->kvm().agent_up() != v.agent_up) {
      spdlog::info("kvm {}: agent {}", v.name, v.agent_up ? "up" : "down");
    }
    it->mutable_kvm()->set_agent_up(v.agent_up);
    it->mutable_kvm()->set_pid(v.pid);
    bus_.Publish(v1::EVENT_TYPE_UPDATED, topo_.WithEndpoints(*it));
  }
}

std::shared_ptr<EventBus::Subscription> NetManager::Watch(
    std::vector<v1::Item>* current, std::function<void()> notify) {
  absl::MutexLock l(&mu_);
  *current = topo_.Items();
  return bus_.Subscribe(std::move(notify));
}

size_t NetManager::ItemCount() {
  absl::MutexLock l(&mu_);
  return topo_.Items().size();
}

}  // namespace cloonix
