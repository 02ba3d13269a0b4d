#include "services/orchestrator/net_manager.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/a2b_settings.h"
#include "common/atomic_file.h"
#include "common/error_reasons.h"
#include "common/grpc_status.h"
#include "common/names.h"
#include "common/status_macros.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/util/time_util.h"
#include "spdlog/spdlog.h"

namespace cloonix {

NetManager::NetManager(std::string net, std::string state_path,
                       LanBackend* lans, CntBackend* cnts, A2bBackend* a2bs,
                       VmBackend* vms, NatBackend* nats, C2cBackend* c2cs,
                       C2cPeers* peers)
    : state_path_(std::move(state_path)),
      backends_{lans, cnts, a2bs, vms, nats, c2cs, peers},
      drivers_(MakeDrivers(backends_)),
      topo_(std::move(net)) {}

KindDriver* NetManager::Driver(v1::ItemKind kind) const {
  for (const auto& d : drivers_) {
    if (d->kind() == kind) return d.get();
  }
  return nullptr;
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

// Topology.SetLayout's bounds on a coordinate.
absl::Status ValidatePosition(const std::string& name, const v1::Position& p) {
  constexpr double kMaxCoord = 1e6;
  for (double c : {p.x(), p.y()}) {
    if (!std::isfinite(c) || std::fabs(c) > kMaxCoord) {
      return absl::InvalidArgumentError(absl::StrCat(
          "position of ", name, ": coordinates are finite numbers within +-",
          kMaxCoord, " (got ", c, ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<LoadReport> NetManager::Load() {
  absl::MutexLock l(&mu_);
  LoadReport report;
  const std::string net = topo_.net();
  auto cur = ReadTopology(state_path_, net);
  if (cur.ok()) {
    topo_ = *std::move(cur);
    MarkStateFileGood();
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
  std::vector<std::string> out;
  for (const auto& d : drivers_) {
    if (!d->is_guest()) continue;
    std::vector<v1::Item> desired;
    {
      absl::MutexLock l(&mu_);
      for (auto& it : topo_.Items()) {
        if (it.kind() == d->kind()) desired.push_back(std::move(it));
      }
    }
    ASSIGN_OR_RETURN(auto observed, d->Observe(desired));
    absl::MutexLock l(&mu_);
    for (const auto& [name, running] : observed) {
      if (topo_.Find(name) == nullptr)
        out.push_back(absl::StrCat(KindName(d->kind()), " ", name));
    }
  }
  return out;
}

absl::Status NetManager::AdoptGuests() {
  // Written before the answer, with no lock held (Flush).
  absl::Cleanup flush = [this] { Flush().IgnoreError(); };
  // At start, before requests are served; the lists without the lock.
  ASSIGN_OR_RETURN(std::vector<RunningCnt> cnts, backends_.cnts->List());
  ASSIGN_OR_RETURN(std::vector<RunningVm> vms, backends_.vms->List());
  ASSIGN_OR_RETURN(auto bridges, backends_.lans->ListBridges());
  absl::MutexLock l(&mu_);
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
  Persist();
  return absl::OkStatus();
}

void NetManager::Persist() {
  staged_json_ = topo_.ToJson();
  staged_settled_ = true;
  for (const auto& it : topo_.Items()) {
    if (it.state() == v1::ITEM_STATE_CREATING ||
        it.state() == v1::ITEM_STATE_DELETING)
      staged_settled_ = false;
  }
  ++staged_version_;
}

// A failure here is logged, and returned only by Reconcile and AdoptGuests:
// the services already applied the change, so reporting failure would make
// the client's view wrong; the next successful write persists the state.
// The last state.json with no operation in flight (no CREATING or DELETING
// item) is kept as state.json.prev (a hard link swapped in atomically, so
// state.json is never absent), for a state.json that a crash or a disk
// problem damages.
absl::Status NetManager::Flush() {
  absl::MutexLock w(&write_mu_);
  std::string json;
  bool settled;
  uint64_t version;
  {
    absl::MutexLock l(&mu_);
    if (staged_version_ <= written_version_) return written_status_;
    json = staged_json_;
    settled = staged_settled_;
    version = staged_version_;
  }
  if (state_file_good_ && state_file_settled_) {
    const std::string prev = state_path_ + ".prev";
    const std::string tmp = prev + ".tmp";
    unlink(tmp.c_str());
    if (link(state_path_.c_str(), tmp.c_str()) != 0 ||
        rename(tmp.c_str(), prev.c_str()) != 0) {
      spdlog::warn("cannot keep {}: {}", prev, strerror(errno));
      unlink(tmp.c_str());
    }
  }
  absl::Status s = WriteFileAtomic(state_path_, json);
  if (!s.ok()) {
    spdlog::error("cannot persist the topology: {}", s.ToString());
  } else {
    state_file_good_ = true;
    state_file_settled_ = settled;
  }
  written_version_ = version;
  written_status_ = s;
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

// ---------------------------------------------------------------------------
// Reservations.

absl::Status NetManager::Reserve(const std::vector<std::string>& names,
                                 absl::Time deadline) {
  auto free = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (exclusive_) return false;
    for (const auto& n : names) {
      if (busy_.count(n)) return false;
    }
    return true;
  };
  const absl::Time start = absl::Now();
  auto stopping = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return WithReason(
        absl::UnavailableError("the net is stopping: nothing more is created, "
                               "cabled or changed"),
        reason::kNetStopping);
  };
  if (stopping_) return stopping();
  while (!free()) {
    const bool timed_out = changed_.WaitWithDeadline(&mu_, deadline);
    if (stopping_) return stopping();
    if (timed_out && !free()) {
      std::string why = "the net is being reconciled or stopped", held;
      for (const auto& n : names) {
        if (!busy_.count(n)) continue;
        const v1::Item* it = topo_.Find(n);
        held = n;
        why = absl::StrCat(
            n, " is ",
            it != nullptr && it->state() == v1::ITEM_STATE_CREATING
                ? "still being created"
            : it != nullptr && it->state() == v1::ITEM_STATE_DELETING
                ? "being deleted"
                : "held by another request");
        break;
      }
      return WithReason(
          absl::DeadlineExceededError(absl::StrCat(
              why, " after ", absl::FormatDuration(absl::Now() - start),
              "; try again when `cloonix ls` shows it running")),
          reason::kItemBusy, {{"item", held}});
    }
  }
  for (const auto& n : names) busy_.insert(n);
  return absl::OkStatus();
}

void NetManager::Release(const std::vector<std::string>& names) {
  for (const auto& n : names) busy_.erase(n);
  changed_.SignalAll();
}

void NetManager::ReserveAll() {
  while (exclusive_) changed_.Wait(&mu_);
  exclusive_ = true;  // new operations wait from here on
  while (!busy_.empty()) changed_.Wait(&mu_);
}

void NetManager::ReleaseAll() {
  exclusive_ = false;
  changed_.SignalAll();
}

void NetManager::AwaitExists(const std::string& name, absl::Time until) {
  while (topo_.Find(name) == nullptr) {
    if (changed_.WaitWithDeadline(&mu_, until)) return;
  }
}

// ---------------------------------------------------------------------------
// Create, delete, cable.

namespace {

// Cloonix's --natplug=<eth> of a kvm or cnt, if any.
std::optional<uint32_t> Natplug(const v1::Item& it) {
  if (it.has_kvm() && it.kvm().has_natplug()) return it.kvm().natplug();
  if (it.has_cnt() && it.cnt().has_natplug()) return it.cnt().natplug();
  return std::nullopt;
}

v1::Item& Stamp(v1::Item& item) {
  *item.mutable_create_time() =
      google::protobuf::util::TimeUtil::GetCurrentTime();
  return item;
}

}  // namespace

absl::StatusOr<v1::Item> NetManager::CreateItem(const v1::Item& request) {
  if (request.has_position()) {
    RETURN_IF_ERROR(ValidatePosition(request.name(), request.position()));
  }
  std::optional<uint32_t> plug = Natplug(request);
  std::vector<std::string> free;
  const std::string nat = "nat-" + request.name();
  const std::string lan = "lan-" + request.name();
  if (plug.has_value()) {
    // Checked first so that nothing is created for nothing.
    RETURN_IF_ERROR(ValidateName(nat, "natplug's nat name"));
    free = {nat, lan};
  }
  ASSIGN_OR_RETURN(v1::Item item, CreateOne(request, free));
  if (!plug.has_value()) return item;
  v1::Item nreq;
  nreq.set_name(nat);
  nreq.mutable_nat()->set_natplug_of(item.name());
  auto undo = [&](absl::Status s) -> absl::StatusOr<v1::Item> {
    for (const auto& n : {item.name(), nat, lan}) {
      DeleteItem(n, /*allow_missing=*/true).IgnoreError();
    }
    return absl::Status(s.code(), absl::StrCat("natplug: ", s.message()));
  };
  if (auto n = CreateOne(nreq, {}); !n.ok()) return undo(n.status());
  if (auto c = ConnectEth(nat, 0, lan, true); !c.ok()) return undo(c.status());
  auto c = ConnectEth(item.name(), *plug, lan, true);
  if (!c.ok()) return undo(c.status());
  return *c;
}

absl::StatusOr<v1::Item> NetManager::CreateOne(
    const v1::Item& request, const std::vector<std::string>& free) {
  // Written before the answer, with no lock held (Flush).
  absl::Cleanup flush = [this] { Flush().IgnoreError(); };
  v1::Item item;
  KindDriver* driver = nullptr;
  {
    absl::MutexLock l(&mu_);
    RETURN_IF_ERROR(Reserve({}, absl::Now() + kMaxWait));  // not during
                                                           // reconcile/stop
    for (const auto& n : free) {
      if (topo_.Find(n) != nullptr || busy_.count(n)) {
        return absl::AlreadyExistsError(
            absl::StrCat("natplug needs the name ", n, ", which is taken"));
      }
    }
    ASSIGN_OR_RETURN(item, topo_.PrepareCreate(request));
    driver = Driver(item.kind());
    if (driver == nullptr) {  // the table misses a kind: a programming error
      return absl::InternalError(
          absl::StrCat("no driver for ", KindName(item.kind()), " items"));
    }
    // Reserved and visible while its service creates it.
    topo_.Commit(Stamp(item));
    busy_.insert(item.name());
    Persist();
    bus_.Publish(v1::EVENT_TYPE_CREATED, topo_.WithEndpoints(item));
    changed_.SignalAll();
  }
  Flush().IgnoreError();  // the `creating` mark, for a crash from here on
  absl::Status s = driver->Create(&item);
  absl::MutexLock l(&mu_);
  Release({item.name()});
  if (!s.ok()) {
    topo_.Remove(item.name());
    topo_.ReleaseId(item.id());
    Persist();
    spdlog::warn("create {} {} failed: {}", KindName(item.kind()), item.name(),
                 s.ToString());
    item.set_state_message(absl::StrCat("creation failed: ", s.message()));
    bus_.Publish(v1::EVENT_TYPE_DELETED, item);
    return s;
  }
  item.set_state(v1::ITEM_STATE_RUNNING);
  v1::Item* stored = topo_.FindMutable(item.name());
  // SetLayout may have placed it while it was being created.
  if (stored->has_position()) *item.mutable_position() = stored->position();
  *stored = item;
  Persist();  // logged; the live state already changed
  spdlog::info("created {} {} (id {})", KindName(item.kind()), item.name(),
               item.id());
  v1::Item out = topo_.WithEndpoints(item);
  bus_.Publish(v1::EVENT_TYPE_UPDATED, out);
  return out;
}

absl::StatusOr<v1::Item> NetManager::GetItem(const std::string& name) {
  std::vector<v1::Item> one;
  {
    absl::MutexLock l(&mu_);
    const v1::Item* it = topo_.Find(name);
    if (it == nullptr) {
      return ItemNotFound(name);
    }
    one.push_back(topo_.WithEndpoints(*it));
  }
  Present(&one);
  return one.front();
}

void NetManager::Present(std::vector<v1::Item>* items) {
  for (const auto& d : drivers_) {
    std::vector<v1::Item*> mine;
    for (auto& it : *items) {
      if (it.kind() == d->kind() && it.state() == v1::ITEM_STATE_RUNNING)
        mine.push_back(&it);
    }
    if (!mine.empty()) d->Present(mine);
  }
}

std::vector<v1::Item> NetManager::ListItems(v1::ItemKind kind) {
  std::vector<v1::Item> lans, others;
  {
    absl::MutexLock l(&mu_);
    for (auto& it : topo_.Items()) {
      if (kind != v1::ITEM_KIND_UNSPECIFIED && it.kind() != kind) continue;
      (it.kind() == v1::ITEM_KIND_LAN ? lans : others).push_back(std::move(it));
    }
  }
  Present(&others);
  lans.insert(lans.end(), others.begin(), others.end());
  return lans;
}

absl::Status NetManager::DeleteRuntime(const v1::Item& item) {
  KindDriver* d = Driver(item.kind());
  // The runtime first: if it refuses, the item keeps running, cabled.
  if (d != nullptr) RETURN_IF_ERROR(d->Delete(item));
  if (item.kind() == v1::ITEM_KIND_LAN) return absl::OkStatus();
  for (const auto& e : item.eths()) {
    if (e.lan().empty()) continue;
    absl::Status s = backends_.lans->DeletePort(e.port());
    if (!s.ok()) spdlog::warn("delete port {}: {}", e.port(), s.ToString());
  }
  return absl::OkStatus();
}

void NetManager::CommitDelete(const v1::Item& item) {
  std::vector<std::string> touched = topo_.Remove(item.name());
  for (const auto& e : item.eths()) {
    if (!e.lan().empty() && topo_.Find(e.lan()) != nullptr)
      touched.push_back(e.lan());
  }
  Persist();  // logged; the live state already changed
  spdlog::info("deleted {} {}", KindName(item.kind()), item.name());
  for (const auto& t : touched) {
    if (const v1::Item* it = topo_.Find(t))
      bus_.Publish(v1::EVENT_TYPE_UPDATED, topo_.WithEndpoints(*it));
  }
  bus_.Publish(v1::EVENT_TYPE_DELETED, item);
  changed_.SignalAll();
}

absl::Status NetManager::DeleteItem(const std::string& name, bool allow_missing,
                                    bool* deleted, absl::Duration max_wait) {
  // Written before the answer, with no lock held (Flush).
  absl::Cleanup flush = [this] { Flush().IgnoreError(); };
  if (deleted != nullptr) *deleted = false;
  v1::Item item;
  {
    absl::MutexLock l(&mu_);
    auto missing = [&]() -> absl::Status {
      if (allow_missing) return absl::OkStatus();
      return ItemNotFound(name);
    };
    if (topo_.Find(name) == nullptr) return missing();
    // An item being created is deleted once created.
    RETURN_IF_ERROR(Reserve({name}, absl::Now() + max_wait));
    v1::Item* it = topo_.FindMutable(name);
    if (it == nullptr) {  // its creation failed, or another delete won
      Release({name});
      return missing();
    }
    item = topo_.WithEndpoints(*it);
    it->set_state(v1::ITEM_STATE_DELETING);
    it->clear_state_message();
    Persist();
    bus_.Publish(v1::EVENT_TYPE_UPDATED, topo_.WithEndpoints(*it));
  }
  Flush().IgnoreError();  // the `deleting` mark, for a crash from here on
  absl::Status s = DeleteRuntime(item);
  {
    absl::MutexLock l(&mu_);
    Release({name});
    if (!s.ok()) {
      SetState(name, item.state(), item.state_message());
      Persist();
      return s;
    }
    CommitDelete(item);
  }
  if (deleted != nullptr) *deleted = true;
  if (Natplug(item).has_value()) DeleteNatplugParts(item.name());
  return absl::OkStatus();
}

void NetManager::DeleteNatplugParts(const std::string& owner) {
  const std::string nat = "nat-" + owner, lan = "lan-" + owner;
  {
    absl::MutexLock l(&mu_);
    const v1::Item* n = topo_.Find(nat);
    if (n == nullptr || n->nat().natplug_of() != owner) return;
  }
  DeleteItem(nat, /*allow_missing=*/true).IgnoreError();
  {
    absl::MutexLock l(&mu_);
    const v1::Item* lp = topo_.Find(lan);
    if (lp == nullptr || !topo_.WithEndpoints(*lp).lan().endpoints().empty())
      return;
  }
  DeleteItem(lan, /*allow_missing=*/true).IgnoreError();
}

absl::Status NetManager::DeleteAll() {
  // Written before the answer, with no lock held (Flush).
  absl::Cleanup flush = [this] { Flush().IgnoreError(); };
  std::vector<v1::Item> items;
  {
    absl::MutexLock l(&mu_);
    // Requests waiting or arriving from now on are refused (NET_STOPPING):
    // none may create what the teardown would leave behind.
    stopping_ = true;
    changed_.SignalAll();
    ReserveAll();
    items = topo_.Items();
  }
  absl::Status result;
  // Endpoints first, lans last.
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& it : items) {
      if ((it.kind() == v1::ITEM_KIND_LAN) != (pass == 1)) continue;
      v1::Item item;
      {
        absl::MutexLock l(&mu_);
        const v1::Item* cur = topo_.Find(it.name());
        if (cur == nullptr) continue;
        item = topo_.WithEndpoints(*cur);
        SetState(it.name(), v1::ITEM_STATE_DELETING, "");
      }
      absl::Status s = DeleteRuntime(item);
      absl::MutexLock l(&mu_);
      if (!s.ok()) {
        SetState(it.name(), item.state(), item.state_message());
        result.Update(s);
        continue;
      }
      CommitDelete(item);
    }
  }
  absl::MutexLock l(&mu_);
  Persist();
  ReleaseAll();
  return result;
}

absl::StatusOr<v1::Item> NetManager::ConnectEth(const std::string& item,
                                                uint32_t eth,
                                                const std::string& lan,
                                                bool create_lan,
                                                absl::Duration max_wait) {
  absl::Cleanup flush = [this] { Flush().IgnoreError(); };
  KindDriver* lan_driver = Driver(v1::ITEM_KIND_LAN);
  std::string port, bridge;
  v1::Item lan_item;
  bool need_lan = false;
  {
    absl::MutexLock l(&mu_);
    const absl::Time now = absl::Now();
    const absl::Time deadline = now + max_wait;
    const absl::Time grace = std::min(deadline, now + kAppearGrace);
    AwaitExists(item, grace);
    if (!create_lan) AwaitExists(lan, grace);
    RETURN_IF_ERROR(Reserve({item, lan}, deadline));
    auto fail = [&](absl::Status s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      Release({item, lan});
      return s;
    };
    auto need = topo_.CheckConnect(item, eth, lan, create_lan);
    if (!need.ok()) return fail(need.status());
    need_lan = *need;
    const v1::Item* it = topo_.Find(item);
    if (!need_lan && it->eths(eth).lan() == lan) {
      Release({item, lan});
      return topo_.WithEndpoints(*it);  // already
    }
    port = it->eths(eth).port();
    if (need_lan) {
      v1::Item req;
      req.set_name(lan);
      req.mutable_lan();
      auto prepared = topo_.PrepareCreate(req);
      if (!prepared.ok()) return fail(prepared.status());
      lan_item = *std::move(prepared);
      topo_.Commit(Stamp(lan_item));
      Persist();
      bus_.Publish(v1::EVENT_TYPE_CREATED, topo_.WithEndpoints(lan_item));
    }
    bridge = topo_.Find(lan)->lan().bridge();
  }
  if (need_lan) Flush().IgnoreError();  // the new lan's `creating` mark
  absl::Status s;
  if (need_lan) s = lan_driver->Create(&lan_item);
  if (s.ok()) {
    s = backends_.lans->AddPort(bridge, port);
    if (!s.ok() && need_lan) lan_driver->Delete(lan_item).IgnoreError();
  }
  absl::MutexLock l(&mu_);
  Release({item, lan});
  if (!s.ok()) {
    if (need_lan) {
      topo_.Remove(lan);
      topo_.ReleaseId(lan_item.id());
      Persist();
      lan_item.set_state_message(
          absl::StrCat("creation failed: ", s.message()));
      bus_.Publish(v1::EVENT_TYPE_DELETED, lan_item);
    }
    return s;
  }
  if (need_lan) topo_.FindMutable(lan)->set_state(v1::ITEM_STATE_RUNNING);
  topo_.SetCable(item, eth, lan);
  Persist();  // logged; the live state already changed
  spdlog::info("cabled {} eth{} to lan {}", item, eth, lan);
  bus_.Publish(v1::EVENT_TYPE_UPDATED, topo_.WithEndpoints(*topo_.Find(lan)));
  v1::Item out = topo_.WithEndpoints(*topo_.Find(item));
  bus_.Publish(v1::EVENT_TYPE_UPDATED, out);
  return out;
}

absl::StatusOr<v1::Item> NetManager::DisconnectEth(const std::string& item,
                                                   uint32_t eth,
                                                   const std::string& lan) {
  absl::Cleanup flush = [this] { Flush().IgnoreError(); };
  std::string port, cabled_lan;
  {
    absl::MutexLock l(&mu_);
    RETURN_IF_ERROR(topo_.CheckDisconnect(item, eth, lan));
    cabled_lan = topo_.Find(item)->eths(eth).lan();
    RETURN_IF_ERROR(Reserve({item, cabled_lan}, absl::Now() + kMaxWait));
    // Checked again: the eth may have changed while we waited.
    if (auto s = topo_.CheckDisconnect(item, eth, cabled_lan); !s.ok()) {
      Release({item, cabled_lan});
      return s;
    }
    port = topo_.Find(item)->eths(eth).port();
  }
  absl::Status s = backends_.lans->DeletePort(port);
  absl::MutexLock l(&mu_);
  Release({item, cabled_lan});
  RETURN_IF_ERROR(s);
  topo_.SetCable(item, eth, "");
  Persist();  // logged; the live state already changed
  spdlog::info("uncabled {} eth{} from lan {}", item, eth, cabled_lan);
  if (const v1::Item* l2 = topo_.Find(cabled_lan)) {
    bus_.Publish(v1::EVENT_TYPE_UPDATED, topo_.WithEndpoints(*l2));
  }
  v1::Item out = topo_.WithEndpoints(*topo_.Find(item));
  bus_.Publish(v1::EVENT_TYPE_UPDATED, out);
  return out;
}

// ---------------------------------------------------------------------------
// Kind verbs.

namespace {

// The item `name` of `kind`: NOT_FOUND, or INVALID_ARGUMENT for another kind.
absl::StatusOr<v1::Item*> FindKind(Topology* topo, const std::string& name,
                                   v1::ItemKind kind, const char* article) {
  v1::Item* it = topo->FindMutable(name);
  if (it == nullptr) return ItemNotFound(name);
  if (it->kind() != kind) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " is a ", KindName(it->kind()), ", not ", article,
                     " ", KindName(kind)));
  }
  return it;
}

}  // namespace

absl::StatusOr<v1::Item> NetManager::ConfigureA2b(
    const std::string& name, uint32_t dir, const v1::A2bSettingsPatch& patch) {
  absl::Cleanup flush = [this] { Flush().IgnoreError(); };
  v1::A2bSettings next;
  {
    absl::MutexLock l(&mu_);
    RETURN_IF_ERROR(FindKind(&topo_, name, v1::ITEM_KIND_A2B, "an").status());
    if (dir > 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "dir is ", dir,
          "; it must be 0 (end 0 to end 1) or 1 (end 1 to end 0)"));
    }
    RETURN_IF_ERROR(Reserve({name}, absl::Now() + kMaxWait));
    const v1::Item* it = topo_.Find(name);
    if (it == nullptr) {
      Release({name});
      return absl::NotFoundError(absl::StrCat("item ", name, " was deleted"));
    }
    next = dir == 0 ? it->a2b().dir0() : it->a2b().dir1();
    ApplyA2bPatch(patch, &next);
    if (auto s = ValidateA2bSettings(next); !s.ok()) {
      Release({name});
      return s;
    }
  }
  absl::Status s = backends_.a2bs->Set(name, dir, next);
  v1::Item out;
  {
    absl::MutexLock l(&mu_);
    Release({name});
    RETURN_IF_ERROR(s);
    v1::Item* it = topo_.FindMutable(name);
    *(dir == 0 ? it->mutable_a2b()->mutable_dir0()
               : it->mutable_a2b()->mutable_dir1()) = next;
    Persist();  // logged; the live state already changed
    spdlog::info("a2b {} dir {}: {}", name, dir, A2bSettingsText(next));
    out = topo_.WithEndpoints(*it);
  }
  std::vector<v1::Item> one{out};
  Present(&one);
  bus_.Publish(v1::EVENT_TYPE_UPDATED, one.front());
  return one.front();
}

absl::StatusOr<v1::Item> NetManager::ConfigureC2c(const std::string& name,
                                                  const std::string& mac) {
  absl::Cleanup flush = [this] { Flush().IgnoreError(); };
  if (!mac.empty()) RETURN_IF_ERROR(ValidateMac(mac));
  const std::string lower = absl::AsciiStrToLower(mac);
  {
    absl::MutexLock l(&mu_);
    RETURN_IF_ERROR(FindKind(&topo_, name, v1::ITEM_KIND_C2C, "a").status());
    if (backends_.c2cs == nullptr)
      return absl::FailedPreconditionError("this net has no c2c worker");
    RETURN_IF_ERROR(Reserve({name}, absl::Now() + kMaxWait));
  }
  auto end = backends_.c2cs->SetMacMangle(name, lower);
  v1::Item out;
  {
    absl::MutexLock l(&mu_);
    Release({name});
    RETURN_IF_ERROR(end.status());
    v1::Item* it = topo_.FindMutable(name);
    if (it == nullptr)
      return absl::NotFoundError(absl::StrCat("item ", name, " was deleted"));
    it->mutable_c2c()->set_mac_mangle(lower);
    Persist();  // logged; the live state already changed
    spdlog::info("c2c {}: mac_mangle {}", name, lower.empty() ? "off" : lower);
    out = topo_.WithEndpoints(*it);
  }
  std::vector<v1::Item> one{out};
  Present(&one);
  bus_.Publish(v1::EVENT_TYPE_UPDATED, one.front());
  return one.front();
}

absl::StatusOr<v1::SetLayoutResponse> NetManager::SetLayout(
    const v1::SetLayoutRequest& req) {
  constexpr int kMaxPositions = 4096;
  if (req.positions_size() > kMaxPositions) {
    return absl::InvalidArgumentError(
        absl::StrCat("positions: ", req.positions_size(), " entries, at most ",
                     kMaxPositions));
  }
  // Sorted, so that the events and the answer come in name order.
  std::map<std::string, v1::Position> wanted(req.positions().begin(),
                                             req.positions().end());
  for (const auto& [name, p] : wanted) {
    RETURN_IF_ERROR(ValidatePosition(name, p));
  }
  absl::Cleanup flush = [this] { Flush().IgnoreError(); };
  std::vector<v1::Item> changed;
  {
    absl::MutexLock l(&mu_);
    for (const auto& [name, p] : wanted) {
      if (topo_.Find(name) == nullptr) {
        return absl::NotFoundError(
            absl::StrCat("item ", name, " does not exist"));
      }
    }
    for (const auto& [name, p] : wanted) {
      v1::Item* it = topo_.FindMutable(name);
      if (it->has_position() && it->position().x() == p.x() &&
          it->position().y() == p.y()) {
        continue;
      }
      *it->mutable_position() = p;
      changed.push_back(topo_.WithEndpoints(*it));
    }
    if (!changed.empty()) Persist();
  }
  Present(&changed);
  v1::SetLayoutResponse out;
  for (const auto& it : changed) {
    bus_.Publish(v1::EVENT_TYPE_UPDATED, it);
    *out.add_items() = it;
  }
  return out;
}

absl::StatusOr<v1::SaveKvmDiskResponse> NetManager::SaveKvmDisk(
    const std::string& name, const std::string& path) {
  {
    absl::MutexLock l(&mu_);
    RETURN_IF_ERROR(FindKind(&topo_, name, v1::ITEM_KIND_KVM, "a").status());
    RETURN_IF_ERROR(Reserve({name}, absl::Now() + kMaxWait));
  }
  auto r = backends_.vms->SaveDisk(name, path);
  {
    absl::MutexLock l(&mu_);
    Release({name});
  }
  if (!r.ok()) return r.status();
  v1::SaveKvmDiskResponse out;
  out.set_path(r->first);
  out.set_size_bytes(r->second);
  spdlog::info("kvm {}: disk saved to {} ({} bytes)", name, r->first,
               r->second);
  return out;
}

absl::StatusOr<v1::Item> NetManager::ControlKvm(const std::string& name,
                                                v1::KvmAction action) {
  absl::Cleanup flush = [this] { Flush().IgnoreError(); };
  VmBackend* vms = backends_.vms;
  v1::Item item;
  std::map<std::string, std::string> bridge_of_lan;  // for START's re-plug
  {
    absl::MutexLock l(&mu_);
    RETURN_IF_ERROR(FindKind(&topo_, name, v1::ITEM_KIND_KVM, "a").status());
    RETURN_IF_ERROR(Reserve({name}, absl::Now() + kMaxWait));
    const v1::Item* it = topo_.Find(name);
    auto fail = [&](absl::Status s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      Release({name});
      return s;
    };
    if (it == nullptr)
      return fail(absl::NotFoundError(absl::StrCat(name, " was deleted")));
    item = *it;
    const bool stopped = it->state() == v1::ITEM_STATE_STOPPED;
    switch (action) {
      case v1::KVM_ACTION_REBOOT:
        if (stopped) {
          return fail(absl::FailedPreconditionError(
              absl::StrCat(name, " is stopped: start it")));
        }
        break;
      case v1::KVM_ACTION_STOP:
        if (stopped) {
          return fail(absl::FailedPreconditionError(
              absl::StrCat(name, " is already stopped")));
        }
        break;
      case v1::KVM_ACTION_START:
        if (!stopped) {
          return fail(absl::FailedPreconditionError(
              absl::StrCat(name, " is not stopped")));
        }
        for (const auto& e : item.eths()) {
          const v1::Item* lan = topo_.Find(e.lan());
          if (lan != nullptr) bridge_of_lan[e.lan()] = lan->lan().bridge();
        }
        break;
      default:
        return fail(absl::InvalidArgumentError(
            "action must be KVM_ACTION_REBOOT, KVM_ACTION_STOP or "
            "KVM_ACTION_START"));
    }
  }
  absl::Status s;
  switch (action) {
    case v1::KVM_ACTION_REBOOT:
      s = vms->Reboot(name);
      break;
    case v1::KVM_ACTION_STOP:
      s = vms->Stop(name);
      break;
    default:
      s = vms->Create(&item, /*restart=*/true);
      if (!s.ok()) break;
      // New taps: plug them again where the eths are cabled.
      for (const auto& e : item.eths()) {
        if (e.lan().empty()) continue;
        backends_.lans->DeletePort(e.port()).IgnoreError();
        auto b = bridge_of_lan.find(e.lan());
        if (b == bridge_of_lan.end()) continue;
        absl::Status p = backends_.lans->AddPort(b->second, e.port());
        if (!p.ok()) spdlog::warn("re-plug {}: {}", e.port(), p.ToString());
      }
  }
  absl::MutexLock l(&mu_);
  Release({name});
  RETURN_IF_ERROR(s);
  v1::Item* it = topo_.FindMutable(name);
  switch (action) {
    case v1::KVM_ACTION_REBOOT:
      it->mutable_kvm()->set_agent_up(false);
      spdlog::info("kvm {} rebooted", name);
      break;
    case v1::KVM_ACTION_STOP:
      it->set_state(v1::ITEM_STATE_STOPPED);
      it->mutable_kvm()->set_agent_up(false);
      it->mutable_kvm()->set_pid(0);
      spdlog::info("kvm {} stopped", name);
      break;
    default:
      *it->mutable_kvm() = item.kvm();
      it->set_state(v1::ITEM_STATE_RUNNING);
      it->clear_state_message();
      spdlog::info("kvm {} started again", name);
  }
  Persist();  // logged; the live state already changed
  v1::Item out = topo_.WithEndpoints(*it);
  bus_.Publish(v1::EVENT_TYPE_UPDATED, out);
  return out;
}

absl::StatusOr<v1::WhatIpResponse> NetManager::WhatIp(const std::string& nat,
                                                      const std::string& item) {
  v1::Item it;
  std::string lan;
  {
    absl::MutexLock l(&mu_);
    const v1::Item* n = topo_.Find(nat);
    if (n == nullptr || n->kind() != v1::ITEM_KIND_NAT) {
      return WithReason(
          absl::NotFoundError(absl::StrCat("nat ", nat, " does not exist")),
          reason::kItemNotFound, {{"item", nat}});
    }
    const v1::Item* found = topo_.Find(item);
    if (found == nullptr) {
      return ItemNotFound(item);
    }
    it = *found;
    lan = n->eths(0).lan();
  }
  if (lan.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("nat ", nat, " is not cabled to a lan"));
  }
  ASSIGN_OR_RETURN(std::vector<NatState> live, backends_.nats->List());
  bool on_lan = false;
  for (const auto& e : it.eths()) {
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

absl::StatusOr<v1::NatForward> NetManager::OpenNatForward(
    const std::string& item, uint32_t guest_port) {
  if (guest_port == 0 || guest_port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("port ", guest_port, " is not a TCP port"));
  }
  v1::NatForward fwd;
  {
    absl::MutexLock l(&mu_);
    const v1::Item* it = topo_.Find(item);
    if (it == nullptr) return ItemNotFound(item);
    if (it->kind() != v1::ITEM_KIND_KVM && it->kind() != v1::ITEM_KIND_CNT) {
      return absl::FailedPreconditionError(
          absl::StrCat(item, " is a ", KindName(it->kind()),
                       ": only kvm and cnt items have guests"));
    }
    // The natplug eth first, then any eth on a lan with a nat.
    std::optional<uint32_t> plug = Natplug(*it);
    std::map<std::string, std::string> nat_of_lan;
    for (const auto& n : topo_.Items()) {
      if (n.kind() == v1::ITEM_KIND_NAT && !n.eths(0).lan().empty())
        nat_of_lan[n.eths(0).lan()] = n.name();
    }
    for (int pass = 0; pass < 2 && fwd.nat().empty(); ++pass) {
      for (const auto& e : it->eths()) {
        if (pass == 0 && (!plug.has_value() || e.index() != *plug)) continue;
        auto n = nat_of_lan.find(e.lan());
        if (e.lan().empty() || n == nat_of_lan.end()) continue;
        fwd.set_nat(n->second);
        fwd.set_eth(e.index());
        fwd.set_mac(e.mac());
        break;
      }
    }
  }
  if (fwd.nat().empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no nat on the lans of ", item,
        ": cable a nat to one of its lans, or create it with --natplug=<eth>"));
  }
  ASSIGN_OR_RETURN(uint32_t port, backends_.nats->AddHostForward(
                                      fwd.nat(), fwd.mac(), guest_port));
  fwd.set_host_port(port);
  return fwd;
}

absl::Status NetManager::CloseNatForward(const std::string& nat,
                                         uint32_t host_port) {
  return backends_.nats->RemoveHostForward(nat, host_port);
}

// ---------------------------------------------------------------------------
// Reconcile and refresh: one loop for every kind.

absl::Status NetManager::Reconcile() {
  std::vector<v1::Item> items;
  {
    absl::MutexLock l(&mu_);
    ReserveAll();
    items = topo_.Items();
  }
  absl::Status result;
  // Operations a crash cut short: a create is rolled back, a delete
  // finished, so that each item is fully there or absent.
  std::vector<v1::Item> desired;
  for (const auto& it : items) {
    if (it.state() != v1::ITEM_STATE_CREATING &&
        it.state() != v1::ITEM_STATE_DELETING) {
      desired.push_back(it);
      continue;
    }
    spdlog::warn(
        "reconcile: {} {} was being {} when the orchestrator "
        "stopped: deleting it",
        KindName(it.kind()), it.name(),
        it.state() == v1::ITEM_STATE_CREATING ? "created" : "deleted");
    absl::Status s = DeleteRuntime(it);
    absl::MutexLock l(&mu_);
    if (!s.ok()) {
      spdlog::warn("reconcile: delete {}: {}", it.name(), s.ToString());
    }
    CommitDelete(it);
  }
  std::vector<std::string> replug;
  for (const auto& d : drivers_) {
    const std::string kind = KindName(d->kind());
    std::vector<v1::Item> mine;
    for (const auto& it : desired) {
      if (it.kind() == d->kind()) mine.push_back(it);
    }
    auto observed = d->Observe(mine);
    if (!observed.ok()) {
      spdlog::error("reconcile: cannot list the {} items: {}", kind,
                    observed.status().ToString());
      result.Update(observed.status());
      continue;
    }
    std::set<std::string> wanted;
    for (const auto& it : mine) wanted.insert(it.name());
    for (const auto& [name, running] : *observed) {
      if (wanted.count(name)) continue;
      spdlog::info("reconcile: deleting unknown {} {}", kind, name);
      v1::Item unknown;
      unknown.set_name(name);
      unknown.set_kind(d->kind());
      d->Delete(unknown).IgnoreError();
    }
    for (const auto& it : mine) {
      if (it.state() == v1::ITEM_STATE_STOPPED) continue;  // stays stopped
      auto o = observed->find(it.name());
      if (o != observed->end() && o->second) {
        absl::MutexLock l(&mu_);
        SetState(it.name(), v1::ITEM_STATE_RUNNING, "");
        continue;
      }
      if (o != observed->end()) {
        spdlog::info("reconcile: {} {} is stopped, recreating", kind,
                     it.name());
        d->Delete(it).IgnoreError();
      } else {
        spdlog::info("reconcile: {} {} is missing, recreating", kind,
                     it.name());
      }
      v1::Item again = it;
      absl::Status s = d->Recreate(&again);
      absl::MutexLock l(&mu_);
      if (!s.ok()) {
        SetState(it.name(), v1::ITEM_STATE_FAILED,
                 absl::StrCat("cannot recreate: ", s.message()));
        continue;
      }
      if (v1::Item* stored = topo_.FindMutable(it.name())) {
        *stored = again;
        stored->set_state(it.state());  // SetState publishes the change
      }
      SetState(it.name(), v1::ITEM_STATE_RUNNING, "");
      if (d->ports_survive_recreate()) continue;
      for (const auto& e : it.eths()) {
        if (!e.lan().empty()) replug.push_back(e.port());
      }
    }
  }
  // New ports (recreated veths and taps) are plugged by Sync.
  for (const auto& p : replug) backends_.lans->DeletePort(p).IgnoreError();
  std::map<std::string, std::vector<std::string>> bridges;
  {
    absl::MutexLock l(&mu_);
    bridges = topo_.DesiredBridges();
  }
  auto missing = backends_.lans->Sync(bridges);
  if (!missing.ok()) {
    result.Update(missing.status());
  } else if (!missing->empty()) {
    spdlog::warn("reconcile: ports missing from the net: {}",
                 absl::StrJoin(*missing, ", "));
  }
  {
    absl::MutexLock l(&mu_);
    Persist();
    ReleaseAll();
  }
  result.Update(Flush());
  return result;
}

void NetManager::Refresh() {
  // Written before the answer, with no lock held (Flush).
  absl::Cleanup flush = [this] { Flush().IgnoreError(); };
  std::vector<v1::Item> all;
  {
    absl::MutexLock l(&mu_);
    if (exclusive_) return;
    all = topo_.Items();
  }
  for (const auto& d : drivers_) {
    std::vector<v1::Item> running;
    {
      absl::MutexLock l(&mu_);
      if (exclusive_) return;
      for (auto& it : topo_.Items()) {
        if (it.kind() == d->kind() && it.state() == v1::ITEM_STATE_RUNNING &&
            !busy_.count(it.name()))
          running.push_back(std::move(it));
      }
    }
    if (running.empty()) continue;
    std::vector<v1::Item> changed = d->Refresh(running, all);
    if (changed.empty()) continue;
    absl::MutexLock l(&mu_);
    if (exclusive_) return;
    bool persist = false;
    for (const auto& next : changed) {
      v1::Item* cur = topo_.FindMutable(next.name());
      if (cur == nullptr || busy_.count(next.name())) continue;
      // Stored only if nothing changed the item since it was read.
      const v1::Item* before = nullptr;
      for (const auto& r : running) {
        if (r.name() == next.name()) before = &r;
      }
      if (before == nullptr ||
          !google::protobuf::util::MessageDifferencer::Equals(
              topo_.WithEndpoints(*cur), *before))
        continue;
      persist |= cur->state() != next.state();
      v1::Item eths_kept = next;
      *eths_kept.mutable_eths() = cur->eths();
      *cur = eths_kept;
      bus_.Publish(v1::EVENT_TYPE_UPDATED, topo_.WithEndpoints(*cur));
    }
    if (persist) Persist();
  }
}

bool NetManager::AwaitingAgents(absl::Duration window) {
  const absl::Time since = absl::Now() - window;
  absl::MutexLock l(&mu_);
  for (const auto& it : topo_.Items()) {
    if (it.kind() != v1::ITEM_KIND_KVM) continue;
    if (absl::FromUnixSeconds(it.create_time().seconds()) < since) continue;
    if (it.state() == v1::ITEM_STATE_CREATING ||
        (it.state() == v1::ITEM_STATE_RUNNING && !it.kvm().agent_up())) {
      return true;
    }
  }
  return false;
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
