// The orchestrator's core: applies topology requests to the net's services
// through the kind drivers (kind_driver.h), persists the topology after every
// change (atomic write of state.json), publishes an event per change, and
// reconciles the services with the topology after any restart (one generic
// desired-vs-running loop). A failed request changes nothing (what a service
// did is undone).
//
// Concurrency (docs/ARCHITECTURE.md, "Concurrency rules"):
// - mu_ guards the topology and is never held across a backend RPC: it is
//   taken to check and reserve, released for the RPCs, taken again to
//   commit, persist and publish.
// - An operation reserves the names it works on (busy_): the item, and the
//   lan it cables. Operations on different names run in parallel; one on a
//   busy name waits for it, up to a bound, then fails with
//   DEADLINE_EXCEEDED and a message that says what holds it.
// - An item being created is in the topology in ITEM_STATE_CREATING (shown
//   by ls and events); being deleted, ITEM_STATE_DELETING.
// - Reads (GetItem, ListItems, Watch) copy the topology under mu_ and never
//   wait for a backend or for another request.
// - Reconcile and DeleteAll are exclusive: they wait for the operations in
//   flight and hold new ones back, still without mu_ across RPCs.
// - Every change is staged under mu_ and written to state.json (fsync'd)
//   with no lock held before the request answers; one write covers the
//   changes of every request waiting for it (group commit), so a slow disk
//   never holds mu_. A crash leaves CREATING items (rolled back) and
//   DELETING items (deleted) that the next Reconcile finishes, so each item
//   is fully there or absent.
#ifndef CLOONIX_SERVICES_ORCHESTRATOR_NET_MANAGER_H_
#define CLOONIX_SERVICES_ORCHESTRATOR_NET_MANAGER_H_

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/orchestrator/backends.h"
#include "services/orchestrator/event_bus.h"
#include "services/orchestrator/kind_driver.h"
#include "services/orchestrator/topology.h"

namespace cloonix {

// Where the topology came from at start-up (NetManager::Load).
struct LoadReport {
  enum Source {
    kCurrent,   // state.json
    kPrevious,  // state.json.prev: state.json was missing or unreadable
    kNone,      // neither: a new net, or a lost state
  };
  Source source = kNone;
  // Why state.json was not used ("missing", "unreadable: ..."); empty when
  // source is kCurrent.
  std::string problem;
};

class NetManager {
 public:
  NetManager(std::string net, std::string state_path, LanBackend* lans,
             CntBackend* cnts, A2bBackend* a2bs, VmBackend* vms,
             NatBackend* nats, C2cBackend* c2cs = nullptr,
             C2cPeers* peers = nullptr);

  // Reads state.json; if it is missing or cannot be parsed (a crash, a disk
  // problem, a hand edit), state.json.prev: the state before the last
  // committed change, which Persist keeps. FAILED_PRECONDITION if the file
  // belongs to another net.
  absl::StatusOr<LoadReport> Load();

  // Guests (cnt and kvm items) that run in the services but that the
  // topology does not hold: what Reconcile would delete. Called after a Load
  // that did not read state.json, so that guests are never deleted only
  // because the state was lost.
  absl::StatusOr<std::vector<std::string>> UnknownGuests();

  // `net start --adopt`: takes the running containers that the topology
  // does not hold into it, as cnt items with the image, eths, ports and MACs
  // they run with, cabled to the lans whose bridges hold their ports (a
  // bridge no lan holds becomes lan "lan<id>" of its id). Their processes are
  // untouched. FAILED_PRECONDITION, adopting nothing, if a VM the topology
  // does not hold runs (its settings cannot be read back yet) or a port
  // name is not cloonix's.
  absl::Status AdoptGuests();

  // How long a request waits for the items it needs (an item being created
  // or held by another request), unless the caller gives less.
  static constexpr absl::Duration kMaxWait = absl::Minutes(5);
  // How long ConnectEth waits for an item or lan that does not exist yet:
  // a script that starts `add kvm` in the background and cables it right
  // after may reach us before its create.
  static constexpr absl::Duration kAppearGrace = absl::Seconds(2);

  absl::StatusOr<cloonix::v1::Item> CreateItem(
      const cloonix::v1::Item& request);
  absl::StatusOr<cloonix::v1::Item> GetItem(const std::string& name);
  std::vector<cloonix::v1::Item> ListItems(cloonix::v1::ItemKind kind);
  // `deleted` (optional) tells whether an item was deleted: false when
  // allow_missing and there was none.
  absl::Status DeleteItem(const std::string& name, bool allow_missing,
                          bool* deleted = nullptr,
                          absl::Duration max_wait = kMaxWait);
  // Waits for an item (or lan) being created, then cables.
  absl::StatusOr<cloonix::v1::Item> ConnectEth(
      const std::string& item, uint32_t eth, const std::string& lan,
      bool create_lan, absl::Duration max_wait = kMaxWait);
  absl::StatusOr<cloonix::v1::Item> DisconnectEth(const std::string& item,
                                                  uint32_t eth,
                                                  const std::string& lan);

  // Changes the settings of direction `dir` of a2b `name` with the fields set
  // in `patch`. NOT_FOUND, INVALID_ARGUMENT (not an a2b, dir, values).
  absl::StatusOr<cloonix::v1::Item> ConfigureA2b(
      const std::string& name, uint32_t dir,
      const cloonix::v1::A2bSettingsPatch& patch);

  // Sets ("" clears) the mac_mangle of c2c `name`, live (Topology.
  // ConfigureC2c). NOT_FOUND, INVALID_ARGUMENT (not a c2c, not a unicast
  // MAC), FAILED_PRECONDITION (no c2c worker).
  absl::StatusOr<cloonix::v1::Item> ConfigureC2c(const std::string& name,
                                                 const std::string& mac);

  // Sets where items are drawn (Topology.SetLayout): all or nothing.
  absl::StatusOr<cloonix::v1::SetLayoutResponse> SetLayout(
      const cloonix::v1::SetLayoutRequest& req);

  // Reboot, stop or start a kvm (see Topology.ControlKvm).
  // Topology.SaveKvmDisk: the kvm must exist (not being created or
  // deleted: its name is held meanwhile).
  absl::StatusOr<cloonix::v1::SaveKvmDiskResponse> SaveKvmDisk(
      const std::string& name, const std::string& path);
  absl::StatusOr<cloonix::v1::Item> ControlKvm(const std::string& name,
                                               cloonix::v1::KvmAction action);

  // The lease that `item` got from `nat` (see Topology.WhatIp).
  absl::StatusOr<cloonix::v1::WhatIpResponse> WhatIp(const std::string& nat,
                                                     const std::string& item);

  // A host loopback port forwarded by a nat to `guest_port` of `item` (see
  // Topology.OpenNatForward), and its release.
  absl::StatusOr<cloonix::v1::NatForward> OpenNatForward(
      const std::string& item, uint32_t guest_port);
  absl::Status CloseNatForward(const std::string& nat, uint32_t host_port);

  // Brings the services in line with the topology: recreates missing or
  // dead containers, deletes unknown ones, syncs bridges and ports. Items
  // that cannot be brought back become ITEM_STATE_FAILED with a reason.
  absl::Status Reconcile();
  // Asks each driver for the live state of its running items (a kvm's agent
  // up or down, its QEMU gone) and stores and publishes what changed
  // (called every second). Never acts on a silent agent: a red VM keeps
  // running.
  void Refresh();
  // Whether a kvm made in the last `window` is being created or still waits
  // for its agent: the refresh then runs every 100 ms instead of every
  // second, so that blue shows without a second's lag (issue 16) while a VM
  // without an agent does not keep the net polling.
  bool AwaitingAgents(absl::Duration window = absl::Minutes(3));
  // Deletes every item (net stop). From its start on, requests that wait or
  // arrive are refused with UNAVAILABLE, reason NET_STOPPING.
  absl::Status DeleteAll();

  // Current items and a subscription to the changes after them, atomically.
  // `notify` (optional) is called after each new event.
  std::shared_ptr<EventBus::Subscription> Watch(
      std::vector<cloonix::v1::Item>* current,
      std::function<void()> notify = nullptr);
  void Unwatch(const std::shared_ptr<EventBus::Subscription>& sub) {
    bus_.Unsubscribe(sub);
  }
  size_t ItemCount();

 private:
  KindDriver* Driver(cloonix::v1::ItemKind kind) const;
  // Stages the topology for the next Flush (no I/O under mu_).
  void Persist() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes the latest staged topology to state.json unless a later write
  // already did (one write covers every request waiting here); with no lock
  // held, before a request answers.
  absl::Status Flush() ABSL_LOCKS_EXCLUDED(mu_, write_mu_);
  void MarkStateFileGood() { state_file_good_ = true; }
  // Waits until no exclusive operation runs and none of `names` is busy,
  // then marks them busy. DEADLINE_EXCEEDED at `deadline`.
  absl::Status Reserve(const std::vector<std::string>& names,
                       absl::Time deadline) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Release(const std::vector<std::string>& names)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Waits for the operations in flight and holds new ones back.
  void ReserveAll() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ReleaseAll() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Waits up to `until` for `name` to exist (see kAppearGrace).
  void AwaitExists(const std::string& name, absl::Time until)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Creates one item (no natplug); `free` are names that must not exist.
  absl::StatusOr<cloonix::v1::Item> CreateOne(
      const cloonix::v1::Item& request, const std::vector<std::string>& free);
  // Removes `item` from its service and its ports from their lans; no lock.
  absl::Status DeleteRuntime(const cloonix::v1::Item& item);
  // Takes a deleted item out of the topology; persists and publishes.
  void CommitDelete(const cloonix::v1::Item& item)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The nat and lan that --natplug made for `owner` go with it.
  void DeleteNatplugParts(const std::string& owner);
  void SetState(const std::string& name, cloonix::v1::ItemState state,
                const std::string& msg) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Live details from the drivers (nat leases, a2b counters); no lock.
  void Present(std::vector<cloonix::v1::Item>* items);

  std::string state_path_;
  Backends backends_;
  std::vector<std::unique_ptr<KindDriver>> drivers_;
  EventBus bus_;
  absl::Mutex mu_;
  // Signalled when busy_, exclusive_ or the items change.
  absl::CondVar changed_;
  Topology topo_ ABSL_GUARDED_BY(mu_);
  // The topology to write, staged under mu_ by Persist.
  std::string staged_json_ ABSL_GUARDED_BY(mu_);
  bool staged_settled_ ABSL_GUARDED_BY(mu_) = true;
  uint64_t staged_version_ ABSL_GUARDED_BY(mu_) = 0;
  // Serializes writes of state.json. Never taken under mu_; mu_ is taken
  // under it, briefly, to read what is staged.
  absl::Mutex write_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  uint64_t written_version_ ABSL_GUARDED_BY(write_mu_) = 0;
  absl::Status written_status_ ABSL_GUARDED_BY(write_mu_);
  // state.json is a file this process read or wrote (Flush keeps it as
  // state.json.prev before replacing it; never an unreadable one).
  // (Atomic: Load sets it under mu_, Flush reads it under write_mu_.)
  std::atomic<bool> state_file_good_{false};
  // state.json holds no operation in flight (Flush keeps only such a file
  // as state.json.prev).
  bool state_file_settled_ ABSL_GUARDED_BY(write_mu_) = true;
  // Names an operation holds.
  std::set<std::string> busy_ ABSL_GUARDED_BY(mu_);
  // Reconcile or DeleteAll runs.
  bool exclusive_ ABSL_GUARDED_BY(mu_) = false;
  // DeleteAll (net stop) started: every new operation is refused.
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_ORCHESTRATOR_NET_MANAGER_H_
