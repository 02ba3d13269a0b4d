// The core of cloonix-vm-runner: the life cycle of the net's VMs, written
// against VmHost (libvirt) and HostLinks (the taps), so that it can be
// unit-tested with fakes (vm_runner_test.cc). Its gRPC faces are
// vm_runner_service.h (cloonix.vmrunner.v1.VmRunner) and vm_guest_service.h
// (cloonix.v1.Guest).
//
// Layout of a VM: domain "cloonix.<net>.<item>" (transient: it exists while
// QEMU runs), files in <work_dir>/vm/<item>/ (disk.qcow2 overlay,
// agent.sock, console.log). Each eth is a tap libvirt creates in the host
// netns under a temporary name, then moved into cloonix_<net> and renamed to
// its port name (cx<id>e<eth>); it disappears with QEMU.
#ifndef CLOONIX_SERVICES_VM_RUNNER_VM_RUNNER_H_
#define CLOONIX_SERVICES_VM_RUNNER_VM_RUNNER_H_

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "cloonix/vmrunner/v1/vm_runner.grpc.pb.h"
#include "common/host_links.h"
#include "common/name_locks.h"
#include "services/vm_runner/agent_link.h"
#include "services/vm_runner/vm_host.h"

namespace cloonix {

struct VmRunnerConfig {
  std::string net;
  std::string work_dir;
  std::string bulk_dir;
  std::string domain_type;  // "qemu" or "kvm"
  // The config disk with the agent (agent_delivery.h); "" for none: no
  // config disk, no hvc0, nothing typed.
  std::string agent_disk;
  // Firmware ROM for VMs that boot a kernel directly (tiny guests, kernel
  // sets, .boot sidecars): qboot skips SeaBIOS's device scans (~0.27 s of
  // boot under TCG, issue 16). "" keeps SeaBIOS, as do disk boots and
  // --fullvirt (domain_xml.h).
  std::string kernel_firmware;
};

class VmRunner {
 public:
  // `host` runs the domains, `links` moves their taps.
  VmRunner(VmRunnerConfig config, VmHost* host, HostLinks* links)
      : config_(std::move(config)), host_(host), links_(links) {}
  ~VmRunner();

  // Starts the thread that types the agent into the hvc0 of VMs whose agent
  // does not answer (agent_delivery.h): every `every`, a VM at most once per
  // `retry`, none in its first `grace` (an image's own agent answers first).
  void StartAgentDelivery(absl::Duration every = absl::Seconds(2),
                          absl::Duration grace = absl::Seconds(4),
                          absl::Duration retry = absl::Seconds(6));

  // Adopts the net's running domains (after a vm_runner restart).
  absl::Status Adopt();
  absl::StatusOr<vmrunner::v1::Vm> Create(
      const vmrunner::v1::CreateVmRequest& req);
  absl::Status Delete(const std::string& name, bool keep_disk = false);
  absl::StatusOr<std::vector<vmrunner::v1::Vm>> List();
  absl::StatusOr<vmrunner::v1::Vm> Reboot(const std::string& name);
  // See VmRunner.SaveDisk in vm_runner.proto.
  absl::StatusOr<vmrunner::v1::SaveDiskResponse> SaveDisk(
      const std::string& name, const std::string& path);
  absl::Status DeleteAll();
  // The agent link of a VM. NOT_FOUND, FAILED_PRECONDITION (agent down).
  // Shared: a session keeps its link alive after the VM is deleted (it then
  // gets an error instead of a dangling pointer).
  absl::StatusOr<std::shared_ptr<AgentLink>> UpLink(const std::string& name);
  VmHost* host() { return host_; }
  std::string DomainOf(const std::string& item) const {
    return DomainName(item);
  }

 private:
  std::string DomainName(const std::string& item) const;
  std::string VmDir(const std::string& item) const;
  std::string TapName(uint32_t id, uint32_t eth) const;
  vmrunner::v1::Vm Describe(const std::string& name, const DomainInfo* info)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  void DeliveryLoop(absl::Duration every, absl::Duration grace,
                    absl::Duration retry);

  VmRunnerConfig config_;
  VmHost* host_;
  HostLinks* links_;
  NameLocks names_;  // one create or delete per VM at a time
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<AgentLink>> agents_
      ABSL_GUARDED_BY(mu_);
  absl::Notification stop_delivery_;
  std::thread delivery_;
};

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_VM_RUNNER_VM_RUNNER_H_
