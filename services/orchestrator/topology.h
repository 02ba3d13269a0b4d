// The topology of one net: items, their eths and cables. Pure logic, no I/O:
// validation with actionable errors, id and derived-name assignment, and the
// persisted form (cloonix.v1.internal.NetState as JSON).
#ifndef CLOONIX_SERVICES_ORCHESTRATOR_TOPOLOGY_H_
#define CLOONIX_SERVICES_ORCHESTRATOR_TOPOLOGY_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cloonix/v1/internal/net_state.pb.h"
#include "cloonix/v1/topology.pb.h"
#include "common/item_kind.h"
#include "services/orchestrator/kind_driver.h"

namespace cloonix {

cloonix::v1::ItemKind KindOf(const cloonix::v1::Item& item);

// NOT_FOUND "item <name> does not exist", reason ITEM_NOT_FOUND.
absl::Status ItemNotFound(const std::string& name);

class Topology {
 public:
  explicit Topology(std::string net) { state_.set_net(std::move(net)); }

  // Validates a create request and returns the item as it would be stored:
  // kind, id, eths with derived ports and MACs, state CREATING. Nothing is
  // changed. The kind's checks are its driver's (kind_driver.h).
  // INVALID_ARGUMENT or ALREADY_EXISTS.
  absl::StatusOr<cloonix::v1::Item> PrepareCreate(
      const cloonix::v1::Item& request) const;
  // Stores an item returned by PrepareCreate (consumes its id).
  void Commit(cloonix::v1::Item item);
  // Gives back the id of an item whose creation failed, if no id was taken
  // after it (ids stay dense for the common case).
  void ReleaseId(uint32_t id) {
    if (state_.next_id() == id + 1) state_.set_next_id(id);
  }
  // Stores an item found running (NetManager::AdoptGuests) with the id and
  // ports it already has; the next ids stay above it. ALREADY_EXISTS for a
  // name or id in use.
  absl::Status Adopt(cloonix::v1::Item item);
  // Removes an item; uncables the eths cabled to it if it is a lan.
  // Returns the names of the items whose eths were uncabled.
  std::vector<std::string> Remove(const std::string& name);

  const cloonix::v1::Item* Find(const std::string& name) const;
  cloonix::v1::Item* FindMutable(const std::string& name);

  // Checks a ConnectEth. Returns whether the lan must be created. Errors:
  // NOT_FOUND (item; lan when !create_lan), INVALID_ARGUMENT (eth index, item
  // is a lan, bad lan name), FAILED_PRECONDITION (eth cabled elsewhere, `lan`
  // names an item that is not a lan).
  absl::StatusOr<bool> CheckConnect(const std::string& item, uint32_t eth,
                                    const std::string& lan,
                                    bool create_lan) const;
  // Checks a DisconnectEth: NOT_FOUND, INVALID_ARGUMENT, FAILED_PRECONDITION
  // (eth not cabled, or cabled to another lan than `lan` when given).
  absl::Status CheckDisconnect(const std::string& item, uint32_t eth,
                               const std::string& lan) const;
  void SetCable(const std::string& item, uint32_t eth, const std::string& lan);

  // Items in creation order; a lan's endpoints are filled in.
  std::vector<cloonix::v1::Item> Items() const;
  cloonix::v1::Item WithEndpoints(const cloonix::v1::Item& item) const;
  // lan bridge -> ports cabled to it.
  std::map<std::string, std::vector<std::string>> DesiredBridges() const;

  std::string ToJson() const;
  static absl::StatusOr<Topology> FromJson(const std::string& json);
  const std::string& net() const { return state_.net(); }

 private:
  cloonix::v1::internal::NetState state_;
};

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_ORCHESTRATOR_TOPOLOGY_H_
