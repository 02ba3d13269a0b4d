// cloonix-vm-runner's services: cloonix.vmrunner.v1.VmRunner (VM life cycle
// through libvirt) and cloonix.v1.Guest for the net's VMs (exec, shells and
// copies through each VM's agent channel).
//
// Layout of a VM: domain "cloonix.<net>.<item>" (transient: it exists while
// QEMU runs), files in <work_dir>/vm/<item>/ (disk.qcow2 overlay,
// agent.sock, console.log). Each eth is a tap libvirt creates in the host
// netns under a temporary name, then moved into cloonix_<net> and renamed to
// its port name (cx<id>e<eth>); it disappears with QEMU.
#ifndef CLOONIX_SERVICES_VM_RUNNER_VM_RUNNER_SERVICE_H_
#define CLOONIX_SERVICES_VM_RUNNER_VM_RUNNER_SERVICE_H_

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "cloonix/v1/guest.grpc.pb.h"
#include "cloonix/vmrunner/v1/vm_runner.grpc.pb.h"
#include "common/name_locks.h"
#include "services/vm_runner/agent_link.h"
#include "services/vm_runner/libvirt_host.h"

namespace cloonix {

struct VmRunnerConfig {
  std::string net;
  std::string work_dir;
  std::string bulk_dir;
  std::string domain_type;  // "qemu" or "kvm"
};

class VmRunner {
 public:
  VmRunner(VmRunnerConfig config, LibvirtHost* libvirt)
      : config_(std::move(config)), libvirt_(libvirt) {}

  // Adopts the net's running domains (after a vm_runner restart).
  absl::Status Adopt();
  absl::StatusOr<vmrunner::v1::Vm> Create(
      const vmrunner::v1::CreateVmRequest& req);
  absl::Status Delete(const std::string& name, bool keep_disk = false);
  absl::StatusOr<std::vector<vmrunner::v1::Vm>> List();
  absl::StatusOr<vmrunner::v1::Vm> Reboot(const std::string& name);
  absl::Status DeleteAll();
  // The agent link of a VM. NOT_FOUND, FAILED_PRECONDITION (agent down).
  // Shared: a session keeps its link alive after the VM is deleted (it then
  // gets an error instead of a dangling pointer).
  absl::StatusOr<std::shared_ptr<AgentLink>> UpLink(const std::string& name);
  LibvirtHost* libvirt() { return libvirt_; }
  std::string DomainOf(const std::string& item) const {
    return DomainName(item);
  }

 private:
  std::string DomainName(const std::string& item) const;
  std::string VmDir(const std::string& item) const;
  std::string TapName(uint32_t id, uint32_t eth) const;
  vmrunner::v1::Vm Describe(const std::string& name, const DomainInfo* info)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  VmRunnerConfig config_;
  LibvirtHost* libvirt_;
  NameLocks names_;  // one create or delete per VM at a time
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<AgentLink>> links_ ABSL_GUARDED_BY(mu_);
};

class VmRunnerService final : public vmrunner::v1::VmRunner::Service {
 public:
  VmRunnerService(VmRunner* runner, absl::Notification* shutdown)
      : runner_(runner), shutdown_(shutdown) {}
  grpc::Status CreateVm(grpc::ServerContext*,
                        const vmrunner::v1::CreateVmRequest* req,
                        vmrunner::v1::Vm* resp) override;
  grpc::Status DeleteVm(grpc::ServerContext*,
                        const vmrunner::v1::DeleteVmRequest* req,
                        vmrunner::v1::DeleteVmResponse*) override;
  grpc::Status ListVms(grpc::ServerContext*,
                       const vmrunner::v1::ListVmsRequest*,
                       vmrunner::v1::ListVmsResponse* resp) override;
  grpc::Status RebootVm(grpc::ServerContext*,
                        const vmrunner::v1::RebootVmRequest* req,
                        vmrunner::v1::Vm* resp) override;
  grpc::Status Teardown(grpc::ServerContext*,
                        const vmrunner::v1::TeardownRequest*,
                        vmrunner::v1::TeardownResponse*) override;

 private:
  VmRunner* runner_;
  absl::Notification* shutdown_;
};

// cloonix.v1.Guest for VMs, through their agents.
class VmGuestService final : public cloonix::v1::Guest::Service {
 public:
  explicit VmGuestService(VmRunner* runner) : runner_(runner) {}
  grpc::Status Exec(
      grpc::ServerContext* ctx,
      grpc::ServerReaderWriter<cloonix::v1::ExecResponse,
                               cloonix::v1::ExecRequest>* stream) override;
  grpc::Status CopyTo(grpc::ServerContext* ctx,
                      grpc::ServerReader<cloonix::v1::CopyToRequest>* reader,
                      cloonix::v1::CopyToResponse* resp) override;
  grpc::Status CopyFrom(
      grpc::ServerContext* ctx, const cloonix::v1::CopyFromRequest* req,
      grpc::ServerWriter<cloonix::v1::CopyFromResponse>* writer) override;
  grpc::Status Console(
      grpc::ServerContext* ctx,
      grpc::ServerReaderWriter<cloonix::v1::ConsoleResponse,
                               cloonix::v1::ConsoleRequest>* stream) override;

 private:
  VmRunner* runner_;
};

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_VM_RUNNER_VM_RUNNER_SERVICE_H_
