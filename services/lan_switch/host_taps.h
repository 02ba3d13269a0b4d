// The net's taps (Cloonix's tap item): veth pairs with one end in the host's
// netns, named as the user asked, and the peer in netns cloonix_<net> as an
// OVS port. The host end's alias ("cloonix:<net>:tap") marks it as this
// net's: an interface without it is the host's own and is never changed.
// Runs iproute2 through a CommandRunner (fakes in tests).
#ifndef CLOONIX_SERVICES_LAN_SWITCH_HOST_TAPS_H_
#define CLOONIX_SERVICES_LAN_SWITCH_HOST_TAPS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/exec.h"

namespace cloonix {

class HostTaps {
 public:
  HostTaps(std::string net, std::shared_ptr<CommandRunner> runner);
  // See lan_switch.proto CreateTap: idempotent; ALREADY_EXISTS for a host
  // interface that is not this net's tap (untouched).
  absl::Status Create(const std::string& name, const std::string& port);
  // Deletes this net's tap `name`; anything else named so stays: OK.
  absl::Status Delete(const std::string& name);
  // This net's taps in the host's netns.
  absl::StatusOr<std::vector<std::string>> List();
  // The alias marking this net's taps.
  const std::string& alias() const { return alias_; }

 private:
  // The alias of host interface `name`; NOT_FOUND if there is none so named.
  absl::StatusOr<std::string> AliasOf(const std::string& name);
  absl::Status Ip(const std::vector<std::string>& args);
  const std::string netns_;
  const std::string alias_;
  std::shared_ptr<CommandRunner> runner_;
};

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_LAN_SWITCH_HOST_TAPS_H_
