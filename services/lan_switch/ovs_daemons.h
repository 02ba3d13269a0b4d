// The net's private Open vSwitch: one ovsdb-server and one ovs-vswitchd
// (userspace datapath, userspace TSO on) running inside netns cloonix_<net>,
// with run/db/log dirs under <work_dir>/ovs. Started with --detach; found
// again through their pid files, so a restarted lan_switch adopts them.
#ifndef CLOONIX_SERVICES_LAN_SWITCH_OVS_DAEMONS_H_
#define CLOONIX_SERVICES_LAN_SWITCH_OVS_DAEMONS_H_

#include <string>

#include "absl/status/status.h"

namespace cloonix {

struct OvsConfig {
  std::string netns;    // cloonix_<net>
  std::string ovs_dir;  // <work_dir>/ovs: run/, db/, log/
  std::string vswitchd_binary = "/usr/lib/openvswitch-switch/ovs-vswitchd";
};

class OvsDaemons {
 public:
  explicit OvsDaemons(OvsConfig config) : config_(std::move(config)) {}

  // Creates the netns and the database if missing; starts whichever daemon
  // does not run. Idempotent. UNAVAILABLE with the log's path on failure.
  absl::Status Start();
  // Stops both daemons (SIGTERM, then SIGKILL).
  void Stop();
  // Stop, then remove the netns and the ovs dir.
  absl::Status Teardown();

  // "unix:<ovs_dir>/run/db.sock"
  std::string DbRemote() const;
  std::string RunDir() const { return config_.ovs_dir + "/run"; }
  const OvsConfig& config() const { return config_; }

 private:
  absl::Status StartOvsdb();
  absl::Status StartVswitchd();

  OvsConfig config_;
};

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_LAN_SWITCH_OVS_DAEMONS_H_
