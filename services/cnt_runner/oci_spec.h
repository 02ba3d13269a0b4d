// OCI runtime spec (runtime-spec 1.0) of a lab container, as JSON for
// containerd's Containers.Create (Any type_url
// "types.containerd.io/opencontainers/runtime-spec/1/Spec").
#ifndef CLOONIX_SERVICES_CNT_RUNNER_OCI_SPEC_H_
#define CLOONIX_SERVICES_CNT_RUNNER_OCI_SPEC_H_

#include <cstdint>
#include <string>
#include <vector>

namespace cloonix {

// A bind mount of a host path (Cloonix's --vmount).
struct OciBindMount {
  std::string host_path, guest_path;  // absolute, validated
  bool readonly = false;
};

struct OciSpecParams {
  std::string hostname;
  std::vector<std::string> args;  // non-empty
  std::vector<std::string> env;   // KEY=value
  std::string cwd = "/";
  std::string netns_path;    // /run/netns/<name>
  std::string cgroups_path;  // e.g. /cloonix/<net>/<name>
  // Entries of the host's /proc/sys (abi, debug, dev, fs, kernel, net, user,
  // vm, ...): each one but "net" is made read-only in the container. Empty:
  // all of /proc/sys is read-only.
  std::vector<std::string> proc_sys_entries;
  // The OCI linux.seccomp object (JSON, see seccomp.h); empty: no filter.
  std::string seccomp_json;
  // rbind mounts after the container's own (/proc, /dev, /sys, /tmp ...).
  std::vector<OciBindMount> mounts;
  // Docker's --privileged: AllCapabilities(), no seccomp filter (whatever
  // seccomp_json says), no masked or read-only paths, /sys read-write, the
  // host's /dev (rbind) and every device allowed, no no_new_privileges.
  bool privileged = false;
  // The capabilities of a privileged container; empty: AllCapabilities().
  // The runner gives those of its own bounding set (as Docker does): runc
  // cannot grant what it does not hold.
  std::vector<std::string> privileged_caps;
};

// Every capability Linux 6.1 knows (CAP_LAST_CAP: 40), in number order.
std::vector<std::string> AllCapabilities();
// The names of the capabilities whose bits are set in `mask`.
std::vector<std::string> CapabilitiesInMask(uint64_t mask);
// This process's bounding set (CapBnd of /proc/self/status); all ones if it
// cannot be read.
uint64_t OwnBoundingSet();

// The capabilities of a lab container: Docker's default set plus NET_ADMIN
// (a lab container configures its own interfaces, routes and net.* sysctls).
// Never SYS_ADMIN, SYS_MODULE, SYS_PTRACE, SYS_TIME, SYS_RAWIO.
std::vector<std::string> ContainerCapabilities();

// Namespaces pid, ipc, uts, mount and the given network; /proc, /dev, /sys;
// ContainerCapabilities(); Docker's masked and read-only paths, except that
// /proc/sys/net stays writable: the container has its own netns and the
// kernel shows a process only its own netns' net.* sysctls there, so
// `sysctl -w net.ipv4.ip_forward=1` changes the container's netns and
// nothing of the host (kernel.*, vm.*, fs.* ... are read-only).
std::string OciSpecJson(const OciSpecParams& p);

// The entries of /proc/sys on this host (for OciSpecParams).
std::vector<std::string> HostProcSysEntries();

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_CNT_RUNNER_OCI_SPEC_H_
