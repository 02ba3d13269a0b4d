#include "common/daemon_setup.h"

#include <unistd.h>

#include "common/names.h"
#include "common/process.h"
#include "common/status_macros.h"

namespace cloonix {

absl::StatusOr<DaemonSetup> SetUpDaemon(const std::string& net,
                                        const std::string& work_dir,
                                        const std::string& socket,
                                        const std::string& service) {
  RETURN_IF_ERROR(ValidateNetName(net, "net name"));
  DaemonSetup d;
  d.net = net;
  d.work_dir = work_dir.empty() ? "/var/lib/cloonix/" + net : work_dir;
  d.socket = socket.empty() ? d.work_dir + "/" + service + ".sock" : socket;
  RETURN_IF_ERROR(MakeDirs(d.work_dir + "/log"));
  return d;
}

std::string SiblingOrPath(const std::string& name) {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n > 0) {
    std::string self(buf, n);
    std::string sib = self.substr(0, self.find_last_of('/') + 1) + name;
    if (access(sib.c_str(), X_OK) == 0) return sib;
  }
  return name;
}

}  // namespace cloonix
