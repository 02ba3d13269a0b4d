// A kind driver: everything the orchestrator knows about one item kind (lan,
// cnt, kvm, nat, a2b, ...), behind one interface, so that NetManager and its
// reconcile loop are generic. The drivers are registered in one table
// (MakeDrivers, drivers/registry.cc); adding a kind is a driver, its proto
// message and a CLI entry.
//
// Threading: NetManager calls Create, Recreate, Delete, Observe, Present and
// Refresh with no lock held, from several threads at once, never two
// operations on the same item at once. Validate and Prepare are pure.
#ifndef CLOONIX_SERVICES_ORCHESTRATOR_KIND_DRIVER_H_
#define CLOONIX_SERVICES_ORCHESTRATOR_KIND_DRIVER_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cloonix/v1/topology.pb.h"
#include "services/orchestrator/backends.h"

namespace cloonix {

class C2cPeers;

// The services of a net, as the drivers reach them. A driver built for
// validation only (ValidationDriver) has none.
struct Backends {
  LanBackend* lans = nullptr;
  CntBackend* cnts = nullptr;
  A2bBackend* a2bs = nullptr;
  VmBackend* vms = nullptr;
  NatBackend* nats = nullptr;
  C2cBackend* c2cs = nullptr;
  C2cPeers* peers = nullptr;  // the other nets the c2cs join
};

class KindDriver {
 public:
  virtual ~KindDriver() = default;
  virtual cloonix::v1::ItemKind kind() const = 0;

  // Checks the kind's part of a create request (name and uniqueness are
  // checked by Topology). Returns how many eths the item has.
  // INVALID_ARGUMENT with a message a person can act on.
  virtual absl::StatusOr<uint32_t> Validate(
      const cloonix::v1::Item& request) const = 0;
  // Fills what derives from the item's id and eths (a lan's bridge, a kvm's
  // given MACs) and clears the spec's output-only fields.
  virtual void Prepare(cloonix::v1::Item* /*item*/) const {}

  // Starts the item in its service; may fill output fields (pid, netns).
  virtual absl::Status Create(cloonix::v1::Item* item) = 0;
  // Brings back an item whose runtime is gone (a service restarted, a
  // process died). Its eths' ports are new afterwards unless
  // ports_survive_recreate().
  virtual absl::Status Recreate(cloonix::v1::Item* item) {
    return Create(item);
  }
  virtual bool ports_survive_recreate() const { return false; }
  // Removes the item from its service. NOT_FOUND counts as done.
  virtual absl::Status Delete(const cloonix::v1::Item& item) = 0;

  // What the service holds: item name -> true (runs) or false (there but
  // dead: deleted, then recreated). `desired` are the topology's items of
  // this kind; a name the service holds that is not among them is deleted
  // by the reconcile loop. A name absent from the map is recreated.
  virtual absl::StatusOr<std::map<std::string, bool>> Observe(
      const std::vector<cloonix::v1::Item>& desired) = 0;
  // Guests (cnt, kvm) are never deleted only because a state was lost
  // (NetManager::UnknownGuests).
  virtual bool is_guest() const { return false; }
  // A kvm stopped by the user stays stopped: the loop skips items in
  // ITEM_STATE_STOPPED.

  // Live details for clients (a nat's leases, an a2b's counters), filled in
  // place into items of this kind. Best effort: a service that does not
  // answer leaves the items as stored.
  virtual void Present(std::vector<cloonix::v1::Item*>& /*items*/) {}

  // Called every second with the running items of this kind that no
  // operation holds, and every item of the net (`all`, for what follows
  // other items: a macvlan phy's MAC follows its lan's guest). Returns those
  // whose live state changed (a kvm's agent up/down, QEMU gone), as they
  // should be stored; NetManager stores each one only if the item did not
  // change meanwhile. Never acts on a silent guest.
  virtual std::vector<cloonix::v1::Item> Refresh(
      const std::vector<cloonix::v1::Item>& /*running*/,
      const std::vector<cloonix::v1::Item>& /*all*/) {
    return {};
  }
};

// The table: one driver per kind, on `backends` (every ItemKind but
// UNSPECIFIED has one).
std::vector<std::unique_ptr<KindDriver>> MakeDrivers(const Backends& backends);
// The table's driver of `kind` with no services, for Validate and Prepare
// (Topology); nullptr if the kind has none.
const KindDriver* ValidationDriver(cloonix::v1::ItemKind kind);

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_ORCHESTRATOR_KIND_DRIVER_H_
