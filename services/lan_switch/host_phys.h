// The net's phys (Cloonix's phy item, topology.proto PhySpec): host NICs
// joined to a lan. absorb moves the NIC itself into netns cloonix_<net> as an
// OVS port; macvlan makes a macvlan of it there. Before a NIC is touched its
// state (addresses, MTU, up/down, routes, alias) is written to a records file
// (<work_dir>/phys.json, fsync'd), so that a delete, a teardown, or a
// lan_switch started after a crash gives it back as it was. A NIC moved into a
// netns is destroyed with that netns if it is a veth, so giving back comes
// before the netns goes (Teardown).
//
// The ports carry the alias "cloonix:<net>:phy:<item>:<nic>[@<host_netns>]",
// which tells, across nets, which NICs are in use. Runs iproute2 through a
// CommandRunner.
#ifndef CLOONIX_SERVICES_LAN_SWITCH_HOST_PHYS_H_
#define CLOONIX_SERVICES_LAN_SWITCH_HOST_PHYS_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/exec.h"
#include "nlohmann/json.hpp"

namespace cloonix {

struct PhyRequest {
  std::string name;        // the item
  std::string nic;         // the host NIC
  std::string host_netns;  // empty: the host's netns
  bool macvlan = false;    // false: absorb
  bool force = false;      // absorb a NIC holding a default route
  std::string port;        // its interface in netns cloonix_<net>
};

struct PhyState {
  PhyRequest request;
  bool present = false;  // the port is in netns cloonix_<net>
  std::string mac;
};

class HostPhys {
 public:
  // `host_ref`: how `ip ... netns` names the host's netns from another one
  // (the pid of a process in it, e.g. this one's).
  HostPhys(std::string net, std::string records_path, std::string host_ref,
           std::shared_ptr<CommandRunner> runner);

  // Loads the records file (missing: none). A record of a NIC already given
  // back is dropped by the next Delete or GiveBackAll.
  absl::Status Load();
  // See lan_switch.proto CreatePhy. Returns the MAC on the wire.
  absl::StatusOr<std::string> Create(const PhyRequest& r);
  // Gives the NIC back and drops the record; no record: OK.
  absl::Status Delete(const std::string& name);
  absl::StatusOr<std::vector<PhyState>> List();
  // macvlan phys only.
  absl::Status SetMac(const std::string& name, const std::string& mac);
  // Every recorded phy given back (teardown); the first error is returned
  // after trying all.
  absl::Status GiveBackAll();

 private:
  struct Record {
    PhyRequest req;
    nlohmann::json saved;  // the NIC as it was (absorb), see SaveState
  };
  std::vector<std::string> HostIp(std::vector<std::string> args) const;
  std::vector<std::string> NetIp(std::vector<std::string> args) const;
  absl::Status Run(const std::vector<std::string>& argv);
  // `ip -j -d link show dev NAME` parsed; NOT_FOUND if absent.
  absl::StatusOr<nlohmann::json> Link(const std::vector<std::string>& ip,
                                      const std::string& name);
  std::string Alias(const PhyRequest& r) const;
  // FAILED_PRECONDITION naming the phy that uses `nic` (any net).
  absl::Status CheckNotInUse(const PhyRequest& r);
  absl::Status CheckUsable(const PhyRequest& r, const nlohmann::json& link);
  absl::StatusOr<nlohmann::json> SaveState(const PhyRequest& r,
                                           const nlohmann::json& link);
  absl::Status Absorb(const Record& rec);
  absl::Status MakeMacvlan(const PhyRequest& r);
  absl::Status GiveBack(const Record& rec);
  void Restore(const Record& rec);
  absl::Status Store();

  const std::string net_;
  const std::string netns_;
  const std::string records_path_;
  const std::string host_ref_;
  std::shared_ptr<CommandRunner> runner_;
  std::map<std::string, Record> records_;
};

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_LAN_SWITCH_HOST_PHYS_H_
