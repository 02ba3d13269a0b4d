// Bridges and ports of the net's OVS, through ovs-vsctl: each call is one
// OVSDB transaction (ovs-vsctl chains commands with "--"), waiting until
// ovs-vswitchd has applied it. Bridges use datapath_type=netdev.
#ifndef CLOONIX_SERVICES_LAN_SWITCH_OVSDB_CLIENT_H_
#define CLOONIX_SERVICES_LAN_SWITCH_OVSDB_CLIENT_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/exec.h"

namespace cloonix {

// bridge name -> port names
using BridgeMap = std::map<std::string, std::vector<std::string>>;

class OvsdbClient {
 public:
  // `db_remote`: "unix:<path>". `netns`: where the ports' interfaces live.
  OvsdbClient(std::string db_remote, std::string netns,
              std::shared_ptr<CommandRunner> runner);

  absl::Status CreateBridge(const std::string& bridge);
  absl::Status DeleteBridge(const std::string& bridge);
  // NOT_FOUND if the bridge or the interface does not exist.
  absl::Status AddPort(const std::string& bridge, const std::string& port);
  absl::Status DeletePort(const std::string& port);
  // A mirror of every frame of `bridge` to a new internal port `port` (its
  // interface appears in the netns); for captures of a whole lan.
  absl::Status AddMirror(const std::string& bridge, const std::string& port);
  // Removes that mirror and its port (idempotent).
  absl::Status DeleteMirror(const std::string& bridge, const std::string& port);
  absl::StatusOr<BridgeMap> ListBridges();
  // One transaction turning the current bridges into `desired`. Ports whose
  // interface is missing are skipped and returned.
  absl::StatusOr<std::vector<std::string>> Sync(const BridgeMap& desired);
  // True if interface `ifname` exists in the netns.
  bool InterfaceExists(const std::string& ifname);

  // The ovs-vsctl argv for a transaction of `commands` (each a list of words);
  // public for tests.
  std::vector<std::string> Transaction(
      const std::vector<std::vector<std::string>>& commands) const;

 private:
  absl::StatusOr<std::string> Run(
      const std::vector<std::vector<std::string>>& cmds);

  std::string db_remote_;
  std::string netns_;
  std::shared_ptr<CommandRunner> runner_;
};

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_LAN_SWITCH_OVSDB_CLIENT_H_
