// Start-up steps shared by the daemons' main.cc and the CLI.
#ifndef CLOONIX_COMMON_DAEMON_SETUP_H_
#define CLOONIX_COMMON_DAEMON_SETUP_H_

#include <string>

#include "absl/status/statusor.h"

namespace cloonix {

struct DaemonSetup {
  std::string net;
  std::string work_dir;  // default /var/lib/cloonix/<net>
  std::string socket;    // default <work_dir>/<service>.sock
};

// Validates the net name, fills the defaults of empty paths and creates the
// work dir (0700). INVALID_ARGUMENT for a bad net name.
absl::StatusOr<DaemonSetup> SetUpDaemon(const std::string& net,
                                        const std::string& work_dir,
                                        const std::string& socket,
                                        const std::string& service);

// `name` next to the running binary if it is there, else `name` (PATH).
std::string SiblingOrPath(const std::string& name);

}  // namespace cloonix

#endif  // CLOONIX_COMMON_DAEMON_SETUP_H_
