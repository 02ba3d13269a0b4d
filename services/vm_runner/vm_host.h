// What vm_runner needs from a hypervisor, behind an interface: LibvirtHost
// (libvirt_host.h) in production, a fake in vm_runner_test.cc.
#ifndef CLOONIX_SERVICES_VM_RUNNER_VM_HOST_H_
#define CLOONIX_SERVICES_VM_RUNNER_VM_HOST_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

struct _virStream;

namespace cloonix {

struct DomainInfo {
  std::string name;
  bool running = false;
  uint32_t pid = 0;  // QEMU's pid
};

class VmHost {
 public:
  virtual ~VmHost() = default;
  // Starts a transient domain from its libvirt XML. INVALID_ARGUMENT or
  // UNAVAILABLE with the hypervisor's message.
  virtual absl::Status Create(const std::string& xml) = 0;
  // Destroys the domain (QEMU killed). NOT_FOUND if there is none.
  virtual absl::Status Destroy(const std::string& name) = 0;
  // Hard reset.
  virtual absl::Status Reset(const std::string& name) = 0;
  // Domains whose name starts with `prefix`.
  virtual absl::StatusOr<std::vector<DomainInfo>> List(
      const std::string& prefix) = 0;
  // A non-blocking libvirt stream on the domain's serial console (forcibly
  // taking it from another client). NOT_FOUND, UNAVAILABLE.
  virtual absl::StatusOr<struct _virStream*> OpenConsole(
      const std::string& name) = 0;
  // A full copy of the running domain's disk `dev` (e.g. "vda") as a
  // standalone qcow2 at `dest`, taken at one instant by QEMU (libvirt's
  // push-mode backup: what QEMU holds in memory is in it), within
  // `timeout`. NOT_FOUND, UNAVAILABLE, DEADLINE_EXCEEDED (the job is
  // aborted).
  virtual absl::Status BackupDisk(const std::string& name,
                                  const std::string& dev,
                                  const std::string& dest,
                                  absl::Duration timeout) = 0;
};

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_VM_RUNNER_VM_HOST_H_
