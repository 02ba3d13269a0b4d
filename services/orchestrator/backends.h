// What the orchestrator needs from the services of its net, behind
// interfaces (gRPC clients in production, fakes in unit tests).
#ifndef CLOONIX_SERVICES_ORCHESTRATOR_BACKENDS_H_
#define CLOONIX_SERVICES_ORCHESTRATOR_BACKENDS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cloonix/v1/topology.pb.h"

namespace cloonix {

class LanBackend {
 public:
  virtual ~LanBackend() = default;
  virtual absl::Status CreateBridge(const std::string& bridge) = 0;
  virtual absl::Status DeleteBridge(const std::string& bridge) = 0;
  virtual absl::Status AddPort(const std::string& bridge,
                               const std::string& port) = 0;
  virtual absl::Status DeletePort(const std::string& port) = 0;
  // Makes the switch hold exactly `bridges`; returns ports left out because
  // their interface is missing.
  virtual absl::StatusOr<std::vector<std::string>> Sync(
      const std::map<std::string, std::vector<std::string>>& bridges) = 0;
  // The bridges the switch holds and their ports.
  virtual absl::StatusOr<std::map<std::string, std::vector<std::string>>>
  ListBridges() = 0;
  virtual absl::Status Teardown() = 0;
  // Taps: a veth with its end `name` in the host's netns and `port` in the
  // net's netns (lan_switch.proto CreateTap). ALREADY_EXISTS if the host has
  // another interface so named.
  virtual absl::Status CreateTap(const std::string& name,
                                 const std::string& port) = 0;
  virtual absl::Status DeleteTap(const std::string& name) = 0;
  virtual absl::StatusOr<std::vector<std::string>> ListTaps() = 0;
  // Phys (lan_switch.proto CreatePhy): host NIC item.phy().host_ifname()
  // brought in as eth0's port. Returns eth0's MAC on the wire.
  virtual absl::StatusOr<std::string> CreatePhy(
      const cloonix::v1::Item& item) = 0;
  // Gives the NIC back; a phy with no record: OK.
  virtual absl::Status DeletePhy(const std::string& name) = 0;
  struct PhyPort {
    std::string name;
    bool present = false;  // its port is in the net's netns
    std::string mac;
  };
  virtual absl::StatusOr<std::vector<PhyPort>> ListPhys() = 0;
  // A macvlan phy's MAC (it follows its lan's guest).
  virtual absl::Status SetPhyMac(const std::string& name,
                                 const std::string& mac) = 0;
};

struct RunningEth {
  uint32_t index = 0;
  std::string port;  // its end in the net's netns
  std::string mac;
};

struct RunningCnt {
  std::string name;
  bool running = false;
  uint32_t pid = 0;
  std::string image;
  std::vector<RunningEth> eths;
};

class CntBackend {
 public:
  virtual ~CntBackend() = default;
  // Creates and starts the container of `item` (a cnt with eths set).
  // Returns its pid and fills cnt.netns.
  virtual absl::Status Create(cloonix::v1::Item* item) = 0;
  virtual absl::Status Delete(const std::string& name) = 0;
  virtual absl::StatusOr<std::vector<RunningCnt>> List() = 0;
  virtual absl::Status Teardown() = 0;
};

class A2bBackend {
 public:
  virtual ~A2bBackend() = default;
  // Creates the a2b of `item` (eth0/eth1 ports, a2b.dir0/dir1 settings).
  virtual absl::Status Create(const cloonix::v1::Item& item) = 0;
  virtual absl::Status Delete(const std::string& name) = 0;
  virtual absl::Status Set(const std::string& name, uint32_t dir,
                           const cloonix::v1::A2bSettings& settings) = 0;
  // Settings and live counters.
  virtual absl::StatusOr<cloonix::v1::A2bSpec> Get(const std::string& name) = 0;
  virtual absl::StatusOr<std::vector<std::string>> List() = 0;
  virtual absl::Status Teardown() = 0;
};

struct RunningVm {
  std::string name;
  bool running = false;
  bool agent_up = false;
  uint32_t pid = 0;
};

class VmBackend {
 public:
  virtual ~VmBackend() = default;
  // Starts the VM of `item` (a kvm with eths set); fills kvm.pid,
  // domain_type and console_log. `restart`: its QEMU is gone, keep its
  // overlay.
  virtual absl::Status Create(cloonix::v1::Item* item, bool restart) = 0;
  virtual absl::Status Delete(const std::string& name) = 0;
  // QEMU ends; the overlay stays for Create(restart).
  virtual absl::Status Stop(const std::string& name) = 0;
  virtual absl::Status Reboot(const std::string& name) = 0;
  // The VM's disk as one qcow2 at `path` (VmRunner.SaveDisk); returns the
  // absolute path and its size in bytes.
  virtual absl::StatusOr<std::pair<std::string, uint64_t>> SaveDisk(
      const std::string& name, const std::string& path) = 0;
  virtual absl::StatusOr<std::vector<RunningVm>> List() = 0;
  virtual absl::Status Teardown() = 0;
};

struct NatState {
  std::string name;
  std::vector<cloonix::v1::NatLease> leases;
};

class NatBackend {
 public:
  virtual ~NatBackend() = default;
  // Creates the nat of `item` (eth0's port).
  virtual absl::Status Create(const cloonix::v1::Item& item) = 0;
  virtual absl::Status Delete(const std::string& name) = 0;
  virtual absl::StatusOr<std::vector<NatState>> List() = 0;
  // Forwards a host loopback port to `mac`'s lease, port `guest_port`.
  virtual absl::StatusOr<uint32_t> AddHostForward(const std::string& nat,
                                                  const std::string& mac,
                                                  uint32_t guest_port) = 0;
  // Releases one AddHostForward.
  virtual absl::Status RemoveHostForward(const std::string& nat,
                                         uint32_t host_port) = 0;
  virtual absl::Status Teardown() = 0;
};

// One c2c end as the c2c worker runs it (c2c.proto).
struct C2cEnd {
  std::string name;
  uint32_t vni = 0;
  uint32_t udp_port = 0;
  std::string peer_ip;
  uint32_t peer_udp_port = 0;
  uint32_t inner_mtu = 0;
  std::string mac_mangle;  // "" off
  cloonix::v1::C2cCounters counters;
};

class C2cBackend {
 public:
  virtual ~C2cBackend() = default;
  // `udp_port` 0: 4789 if free, else any; `peer_ip` may be empty (SetPeer
  // later); `mac_mangle` "" or a unicast MAC (C2cSpec.mac_mangle).
  virtual absl::StatusOr<C2cEnd> Create(const std::string& name,
                                        const std::string& port, uint32_t vni,
                                        uint32_t udp_port,
                                        const std::string& peer_ip,
                                        uint32_t peer_udp_port,
                                        const std::string& mac_mangle) = 0;
  // Sets ("" clears) an end's mac_mangle, live.
  virtual absl::StatusOr<C2cEnd> SetMacMangle(const std::string& name,
                                              const std::string& mac) = 0;
  virtual absl::StatusOr<C2cEnd> SetPeer(const std::string& name,
                                         const std::string& peer_ip,
                                         uint32_t peer_udp_port) = 0;
  virtual absl::Status Delete(const std::string& name) = 0;
  virtual absl::StatusOr<std::vector<C2cEnd>> List() = 0;
  virtual absl::Status Teardown() = 0;
};

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_ORCHESTRATOR_BACKENDS_H_
