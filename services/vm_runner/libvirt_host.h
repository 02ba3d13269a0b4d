// The host's libvirt (qemu:///system) through its C API. When nothing
// answers, starts virtlogd and libvirtd itself (no systemd here) with
// cloonix's configuration: libvirtd.conf (unix socket 0700, root only) and a
// qemu.conf (QEMU as root, no cgroups, no private namespaces, no security
// driver) bind-mounted over /etc/libvirt/qemu.conf in libvirtd's own mount
// namespace, so /etc is not edited. Those daemons are host services: they
// outlive the net (other nets share them).
#ifndef CLOONIX_SERVICES_VM_RUNNER_LIBVIRT_HOST_H_
#define CLOONIX_SERVICES_VM_RUNNER_LIBVIRT_HOST_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "services/vm_runner/vm_host.h"

struct _virConnect;

namespace cloonix {

class LibvirtHost : public VmHost {
 public:
  // `dir` holds the generated configs and a start lock.
  static absl::StatusOr<std::unique_ptr<LibvirtHost>> Open(
      const std::string& uri, const std::string& dir, bool start_daemons);
  ~LibvirtHost() override;

  // Starts a transient domain. INVALID_ARGUMENT/UNAVAILABLE with libvirt's
  // message.
  absl::Status Create(const std::string& xml) override;
  // Destroys the domain (QEMU killed). NOT_FOUND if there is none.
  absl::Status Destroy(const std::string& name) override;
  absl::Status Reset(const std::string& name) override;
  absl::Status BackupDisk(const std::string& name, const std::string& dev,
                          const std::string& dest,
                          absl::Duration timeout) override;
  // Domains whose name starts with `prefix`.
  absl::StatusOr<std::vector<DomainInfo>> List(
      const std::string& prefix) override;

  // "kvm" when /dev/kvm boots `kernel`+`initrd` to the tiny guest's marker
  // within 20 s, else "qemu" (TCG). The result is cached in `dir` per host
  // kernel release.
  // A non-blocking stream on the domain's serial console (forcibly taking
  // it from another client). NOT_FOUND, UNAVAILABLE.
  absl::StatusOr<struct _virStream*> OpenConsole(
      const std::string& name) override;

  static std::string ProbeDomainType(const std::string& dir,
                                     const std::string& kernel,
                                     const std::string& initrd);

 private:
  // A reference to the live connection (virConnectRef'd, closed at the
  // end of its scope). libvirt connections are thread-safe: calls run
  // concurrently on it (creates of different VMs overlap, and a List does
  // not wait for a create's ~1 s); mu_ only guards replacing a dead one.
  class ConnRef {
   public:
    explicit ConnRef(_virConnect* c) : c_(c) {}
    ConnRef(ConnRef&& o) noexcept : c_(o.c_) { o.c_ = nullptr; }
    ConnRef(const ConnRef&) = delete;
    ConnRef& operator=(const ConnRef&) = delete;
    ConnRef& operator=(ConnRef&&) = delete;
    ~ConnRef();
    _virConnect* get() const { return c_; }

   private:
    _virConnect* c_;
  };
  LibvirtHost(std::string uri, _virConnect* conn)
      : uri_(std::move(uri)), conn_(conn) {}
  // The connection, reconnected first when libvirtd went away. UNAVAILABLE.
  absl::StatusOr<ConnRef> Acquire();
  absl::Status Reconnect() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  const std::string uri_;
  absl::Mutex mu_;
  _virConnect* conn_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_VM_RUNNER_LIBVIRT_HOST_H_
