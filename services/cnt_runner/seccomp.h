// The seccomp filter of lab containers: a profile in Docker's format (by
// default Docker's own, embedded from Debian's golang-github-docker-docker-dev:
// an allow-list of about 370 syscalls, EPERM for the rest, and mount, unshare,
// setns, bpf, kexec, modules, clock changes, reboot... only with the
// capability the rule names, which a lab container does not hold) turned into
// the OCI runtime spec's `linux.seccomp` object for one architecture,
// capability set and kernel, as moby's profiles/seccomp setupSeccomp does.
#ifndef CLOONIX_SERVICES_CNT_RUNNER_SECCOMP_H_
#define CLOONIX_SERVICES_CNT_RUNNER_SECCOMP_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cloonix {

struct SeccompTarget {
  // Go's name of the architecture ("amd64", "arm64", "386", ...), the names
  // the profile's includes/excludes use.
  std::string arch;
  // The container's bounding capabilities ("CAP_NET_ADMIN", ...).
  std::vector<std::string> caps;
  // The running kernel's release ("6.1.0-18-amd64"), for minKernel rules.
  std::string kernel_release;
};

// The OCI `linux.seccomp` object (JSON text) for `target`. INVALID_ARGUMENT
// when `profile_json` is not a profile (not JSON, no defaultAction, no
// syscalls list, a rule without names) or has no entry for the architecture.
absl::StatusOr<std::string> OciSeccompFromProfile(
    absl::string_view profile_json, const SeccompTarget& target);

// This host: the compiled architecture and uname's release.
SeccompTarget HostSeccompTarget(std::vector<std::string> caps);

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_CNT_RUNNER_SECCOMP_H_
