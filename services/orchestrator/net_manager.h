// The orchestrator's core: applies topology requests to the net's services,
// persists the topology after every change (atomic write of state.json),
// publishes an event per change, and reconciles the services with the
// topology after any restart. Requests are serialized; a failed request
// changes nothing (what a service did is undone).
#ifndef CLOONIX_SERVICES_ORCHESTRATOR_NET_MANAGER_H_
#define CLOONIX_SERVICES_ORCHESTRATOR_NET_MANAGER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "services/orchestrator/backends.h"
#include "services/orchestrator/event_bus.h"
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
             NatBackend* nats);

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

  absl::StatusOr<cloonix::v1::Item> CreateItem(
      const cloonix::v1::Item& request);
  absl::StatusOr<cloonix::v1::Item> GetItem(const std::string& name);
  std::vector<cloonix::v1::Item> ListItems(cloonix::v1::ItemKind kind);
  // `deleted` (optional) tells whether an item was deleted: false when
  // allow_missing and there was none.
  absl::Status DeleteItem(const std::string& name, bool allow_missing,
                          bool* deleted = nullptr);
  absl::StatusOr<cloonix::v1::Item> ConnectEth(const std::string& item,
                                               uint32_t eth,
                                               const std::string& lan,
                                               bool create_lan);
  absl::StatusOr<cloonix::v1::Item> DisconnectEth(const std::string& item,
                                                  uint32_t eth,
                                                  const std::string& lan);

  // Changes the settings of direction `dir` of a2b `name` with the fields set
  // in `patch`. NOT_FOUND, INVALID_ARGUMENT (not an a2b, dir, values).
  absl::StatusOr<cloonix::v1::Item> ConfigureA2b(
      const std::string& name, uint32_t dir,
      const cloonix::v1::A2bSettingsPatch& patch);

  // Reboot, stop or start a kvm (see Topology.ControlKvm).
  absl::StatusOr<cloonix::v1::Item> ControlKvm(const std::string& name,
                                               cloonix::v1::KvmAction action);

  // The lease that `item` got from `nat` (see Topology.WhatIp).
  absl::StatusOr<cloonix::v1::WhatIpResponse> WhatIp(const std::string& nat,
                                                     const std::string& item);

  // Brings the services in line with the topology: recreates missing or
  // dead containers, deletes unknown ones, syncs bridges and ports. Items
  // that cannot be brought back become ITEM_STATE_FAILED with a reason.
  absl::Status Reconcile();
  // Reads the VMs' agent states and publishes an UPDATED event for each kvm
  // whose agent came up or went down (called every second). Never acts on a
  // silent agent: a red VM keeps running.
  void RefreshVms();
  // Deletes every item (net stop).
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
  absl::Status Persist() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status DeleteLocked(const std::string& name)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<cloonix::v1::Item> CreateLocked(const cloonix::v1::Item& req)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<cloonix::v1::Item> ConnectLocked(const std::string& item,
                                                  uint32_t eth,
                                                  const std::string& lan,
                                                  bool create_lan)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SetState(const std::string& name, cloonix::v1::ItemState state,
                const std::string& msg) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::string state_path_;
  // state.json is a file this process read or wrote (Persist keeps it as
  // state.json.prev before replacing it; never an unreadable one).
  bool state_file_good_ ABSL_GUARDED_BY(mu_) = false;
  // The item as shown to clients: lan endpoints, a2b live counters.
  // `nats`: the nat worker's list when the caller already has it.
  cloonix::v1::Item Present(const cloonix::v1::Item& item,
                            const std::vector<NatState>* nats = nullptr)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  LanBackend* lans_;
  CntBackend* cnts_;
  A2bBackend* a2bs_;
  VmBackend* vms_;
  NatBackend* nats_;
  EventBus bus_;
  absl::Mutex mu_;
  Topology topo_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_ORCHESTRATOR_NET_MANAGER_H_
