// kvm: a VM run by vm_runner (libvirt + QEMU), one tap per eth whose name is
// the eth's port. Running VMs are adopted as they are (their agents
// reconnect by themselves); a VM that is gone is started again on its
// overlay, with new taps.
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/names.h"
#include "common/status_macros.h"
#include "services/orchestrator/drivers/drivers.h"
#include "spdlog/spdlog.h"

namespace cloonix {
namespace {

class KvmDriver : public KindDriver {
 public:
  explicit KvmDriver(VmBackend* vms) : vms_(vms) {}
  v1::ItemKind kind() const override { return v1::ITEM_KIND_KVM; }
  bool is_guest() const override { return true; }

  absl::StatusOr<uint32_t> Validate(const v1::Item& request) const override {
    const v1::KvmSpec& k = request.kvm();
    if (k.image().empty()) {
      return absl::InvalidArgumentError(
          "kvm.image is empty: name a .qcow2 of the bulk dir or a kernel "
          "set such as \"tiny\"");
    }
    if (k.image().find("..") != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "kvm.image \"", k.image(), "\" must not contain \"..\""));
    }
    if (k.ram_mb() < 64 || k.ram_mb() > 65536) {
      return absl::InvalidArgumentError(absl::StrCat(
          "kvm.ram_mb is ", k.ram_mb(), "; it must be 64 to 65536 (MiB)"));
    }
    if (k.cpu() < 1 || k.cpu() > 32) {
      return absl::InvalidArgumentError(
          absl::StrCat("kvm.cpu is ", k.cpu(), "; it must be 1 to 32"));
    }
    RETURN_IF_ERROR(CheckEthCount(k.eth_count(), "kvm.eth_count"));
    if (k.has_natplug()) {
      RETURN_IF_ERROR(CheckNatplug("kvm", k.natplug(), k.eth_count()));
    }
    RETURN_IF_ERROR(ValidateFilesSpec(k.files()));
    for (const auto& [idx, mac] : k.macs()) {
      if (idx >= k.eth_count()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "mac for eth", idx, ": the kvm has only ", k.eth_count(), " eths"));
      }
      RETURN_IF_ERROR(ValidateMac(mac));
    }
    return k.eth_count();
  }

  void Prepare(v1::Item* item) const override {
    v1::KvmSpec* k = item->mutable_kvm();
    // Stored lowercase whatever the case given (whatip, osh and the runners
    // compare MACs as text).
    for (auto& [idx, mac] : *k->mutable_macs()) {
      mac = absl::AsciiStrToLower(mac);
      if (idx < static_cast<uint32_t>(item->eths_size())) {
        item->mutable_eths(static_cast<int>(idx))->set_mac(mac);
      }
    }
    k->set_agent_up(false);
    k->set_pid(0);
    k->clear_domain_type();
    k->clear_console_log();
  }

  absl::Status Create(v1::Item* item) override {
    return vms_->Create(item, /*restart=*/false);
  }
  absl::Status Recreate(v1::Item* item) override {
    return vms_->Create(item, /*restart=*/true);
  }
  absl::Status Delete(const v1::Item& item) override {
    return OkIfNotFound(vms_->Delete(item.name()));
  }
  absl::StatusOr<std::map<std::string, bool>> Observe(
      const std::vector<v1::Item>&) override {
    ASSIGN_OR_RETURN(std::vector<RunningVm> vms, vms_->List());
    std::map<std::string, bool> out;
    for (const auto& v : vms) out[v.name] = v.running;
    return out;
  }

  // Agent states (blue/red) and QEMUs that are gone. A running kvm whose
  // QEMU is gone (crashed, killed) becomes STOPPED with the reason: it is
  // not restarted behind the user's back.
  std::vector<v1::Item> Refresh(const std::vector<v1::Item>& running,
                                const std::vector<v1::Item>&) override {
    std::vector<v1::Item> changed;
    auto vms = vms_->List();
    if (!vms.ok()) return changed;  // vm_runner restarting: keep the states
    std::map<std::string, const RunningVm*> live;
    for (const auto& v : *vms) live[v.name] = &v;
    for (const auto& it : running) {
      auto v = live.find(it.name());
      v1::Item next = it;
      if (v == live.end()) {
        spdlog::warn("kvm {}: QEMU is gone", it.name());
        next.mutable_kvm()->set_agent_up(false);
        next.mutable_kvm()->set_pid(0);
        next.set_state(v1::ITEM_STATE_STOPPED);
        next.set_state_message(
            absl::StrCat("QEMU exited (crashed or killed); cloonix cnf kvm ",
                         it.name(), " start runs it again"));
        changed.push_back(std::move(next));
        continue;
      }
      const RunningVm& r = *v->second;
      if (it.kvm().agent_up() == r.agent_up && it.kvm().pid() == r.pid)
        continue;
      if (it.kvm().agent_up() != r.agent_up) {
        spdlog::info("kvm {}: agent {}", it.name(), r.agent_up ? "up" : "down");
      }
      next.mutable_kvm()->set_agent_up(r.agent_up);
      next.mutable_kvm()->set_pid(r.pid);
      changed.push_back(std::move(next));
    }
    return changed;
  }

 private:
  VmBackend* vms_;
};

}  // namespace

std::unique_ptr<KindDriver> MakeKvmDriver(const Backends& b) {
  return std::make_unique<KvmDriver>(b.vms);
}

}  // namespace cloonix
