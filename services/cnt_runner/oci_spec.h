// OCI runtime spec (runtime-spec 1.0) of a lab container, as JSON for
// containerd's Containers.Create (Any type_url
// "types.containerd.io/opencontainers/runtime-spec/1/Spec").
#ifndef CLOONIX_SERVICES_CNT_RUNNER_OCI_SPEC_H_
#define CLOONIX_SERVICES_CNT_RUNNER_OCI_SPEC_H_

#include <string>
#include <vector>

namespace cloonix {

struct OciSpecParams {
  std::string hostname;
  std::vector<std::string> args;  // non-empty
  std::vector<std::string> env;   // KEY=value
  std::string cwd = "/";
  std::string netns_path;    // /run/netns/<name>
  std::string cgroups_path;  // e.g. /cloonix/<net>/<name>
};

// Namespaces pid, ipc, uts, mount and the given network; /proc, /dev, /sys;
// Docker's default capabilities plus NET_ADMIN and NET_RAW (a lab container
// configures its own interfaces and pings).
std::string OciSpecJson(const OciSpecParams& p);

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_CNT_RUNNER_OCI_SPEC_H_
