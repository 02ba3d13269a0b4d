#include "services/vm_runner/vm_runner.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/notification.h"
#include "common/atomic_file.h"
#include "common/error_reasons.h"
#include "common/exec.h"
#include "common/file_tree.h"
#include "common/grpc_status.h"
#include "common/guest_convert.h"
#include "common/names.h"
#include "common/netns.h"
#include "common/process.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "services/vm_runner/agent_delivery.h"
#include "services/vm_runner/domain_xml.h"
#include "spdlog/spdlog.h"

namespace cloonix {

namespace vr = ::cloonix::vmrunner::v1;
namespace v1 = ::cloonix::v1;

namespace {

// Kernel options of kernel-set guests under TCG (no usable KVM): no
// speculation to mitigate in an emulated CPU, no zeroing of every page
// allocated, 4-level paging (cheaper emulated page walks). Measured 4.6 s
// instead of 5.5 s from add kvm to agent up for the tiny guest (issue 16).
// Under KVM the guest's own defaults stay.
// Under TCG: no speculation mitigations, no zeroing of every allocation,
// and no crypto self-tests at boot (cryptomgr.notests: ~0.37 s of an
// emulated CPU; the guest is a lab machine, not a FIPS one). Issue 16.
constexpr char kTcgCmdline[] =
    "mitigations=off init_on_alloc=0 no5lvl cryptomgr.notests ";

bool FileExists(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// How an image boots: a disk (maybe with a kernel from a .boot sidecar), or
// a kernel set without disk.
struct BootPlan {
  std::string disk_base;  // "" for none
  std::string kernel, initrd, cmdline_extra;
};

// A file an option names (Cloonix's add kvm --added_disk= ...): a name in
// the bulk dir or an absolute path, a regular file.
absl::StatusOr<std::string> OptionFile(const std::string& bulk,
                                       const std::string& option,
                                       const std::string& name) {
  if (name.empty() || (name[0] != '/' && name.find('/') != std::string::npos) ||
      absl::StrContains(name, "..")) {
    return absl::InvalidArgumentError(
        absl::StrCat("kvm --", option, "=", name,
                     ": give a file name in the bulk dir or an absolute path"));
  }
  std::string path = name[0] == '/' ? name : bulk + "/" + name;
  struct stat st;
  if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat("kvm --", option, "=", name, ": no file ", path));
  }
  return path;
}

// Cloonix's add kvm options into the domain.
absl::Status ApplyOptions(const std::string& bulk,
                          const vr::CreateVmRequest& req, const BootPlan& plan,
                          VmDef* def) {
  const v1::KvmOptions& o = req.options();
  const bool boots_itself = plan.kernel.empty();
  if ((!o.install_cdrom().empty() || o.with_pxe()) && !boots_itself) {
    return absl::InvalidArgumentError(absl::StrCat(
        "kvm --", o.with_pxe() ? "with_pxe" : "install_cdrom",
        " needs an image that boots by itself (a .qcow2 with its "
        "bootloader); ",
        req.image(),
        " boots a kernel directly (a kernel set or a .boot sidecar)"));
  }
  if (!o.install_cdrom().empty()) {
    ASSIGN_OR_RETURN(def->install_cdrom,
                     OptionFile(bulk, "install_cdrom", o.install_cdrom()));
  }
  if (!o.added_cdrom().empty()) {
    ASSIGN_OR_RETURN(def->added_cdrom,
                     OptionFile(bulk, "added_cdrom", o.added_cdrom()));
  }
  if (!o.added_disk().empty()) {
    ASSIGN_OR_RETURN(def->added_disk,
                     OptionFile(bulk, "added_disk", o.added_disk()));
    std::ifstream f(def->added_disk, std::ios::binary);  // qcow2's magic
    char magic[4] = {};
    f.read(magic, sizeof(magic));
    def->added_disk_format =
        f.gcount() == 4 && std::memcmp(magic, "QFI\xfb", 4) == 0 ? "qcow2"
                                                                 : "raw";
  }
  def->with_pxe = o.with_pxe();
  def->no_reboot = o.no_reboot();
  def->fullvirt = o.fullvirt();
  def->balloon = o.balloon();
  return absl::OkStatus();
}

absl::StatusOr<BootPlan> ResolveImage(const std::string& bulk,
                                      const std::string& image) {
  auto in_bulk = [&](const std::string& f) {
    return f.empty() || f[0] == '/' ? f : bulk + "/" + f;
  };
  BootPlan plan;
  if (absl::EndsWith(image, ".qcow2")) {
    plan.disk_base = in_bulk(image);
    if (!FileExists(plan.disk_base)) {
      return absl::NotFoundError(absl::StrCat(
          "image ", image, " not found (looked for ", plan.disk_base,
          "; build one with tools/images/build-debian-guest.sh)"));
    }
    std::string sidecar =
        plan.disk_base.substr(0, plan.disk_base.size() - 6) + ".boot";
    if (FileExists(sidecar)) {
      ASSIGN_OR_RETURN(std::string text, ReadFile(sidecar));
      for (absl::string_view line : absl::StrSplit(text, '\n')) {
        std::pair<std::string, std::string> kv =
            absl::StrSplit(line, absl::MaxSplits('=', 1));
        if (kv.first == "kernel") plan.kernel = in_bulk(kv.second);
        if (kv.first == "initrd") plan.initrd = in_bulk(kv.second);
        if (kv.first == "cmdline") plan.cmdline_extra = kv.second;
      }
    }
    return plan;
  }
  plan.kernel = in_bulk(image + "-vmlinux");
  plan.initrd = in_bulk(image + "-initrd.img");
  if (!FileExists(plan.kernel) || !FileExists(plan.initrd)) {
    return absl::NotFoundError(absl::StrCat(
        "image ", image, " not found: neither ", in_bulk(image),
        " is a .qcow2 nor ", plan.kernel, " + ", plan.initrd,
        " exist (build the tiny guest with tools/images/build-tiny-guest.sh)"));
  }
  return plan;
}

}  // namespace

std::string VmRunner::DomainName(const std::string& item) const {
  // '.' is not allowed in cloonix names: no two (net, item) pairs collide.
  return absl::StrCat("cloonix.", config_.net, ".", item);
}

std::string VmRunner::VmDir(const std::string& item) const {
  return absl::StrCat(config_.work_dir, "/vm/", item);
}

std::string VmRunner::TapName(uint32_t id, uint32_t eth) const {
  // Host-side name until moved into the net's netns: unique per net.
  return absl::StrCat("ct", NetTag(config_.net), id, "e", eth);
}

absl::Status VmRunner::Adopt() {
  ASSIGN_OR_RETURN(std::vector<DomainInfo> doms, host_->List(DomainName("")));
  absl::MutexLock l(&mu_);
  for (const auto& d : doms) {
    std::string item = d.name.substr(DomainName("").size());
    if (agents_.count(item)) continue;
    spdlog::info("adopting VM {} (qemu pid {})", item, d.pid);
    agents_[item] =
        std::make_shared<AgentLink>(item, VmDir(item) + "/agent.sock");
  }
  return absl::OkStatus();
}

vr::Vm VmRunner::Describe(const std::string& name, const DomainInfo* info) {
  vr::Vm vm;
  vm.set_name(name);
  if (info != nullptr) {
    vm.set_running(info->running);
    vm.set_qemu_pid(info->pid);
  }
  auto it = agents_.find(name);
  bool up = it != agents_.end() && it->second->Up();
  vm.set_agent(up ? vr::AGENT_STATE_UP : vr::AGENT_STATE_DOWN);
  if (it != agents_.end()) vm.set_agent_hostname(it->second->Hostname());
  vm.set_domain_type(config_.domain_type);
  vm.set_console_log(VmDir(name) + "/console.log");
  return vm;
}

absl::StatusOr<vr::Vm> VmRunner::Create(const vr::CreateVmRequest& req) {
  RETURN_IF_ERROR(ValidateName(req.name(), "kvm name"));
  if (req.id() == 0 || req.id() > 99999) {
    return absl::InvalidArgumentError(
        absl::StrCat("id ", req.id(), " is out of range (1 to 99999)"));
  }
  if (req.ram_mb() < 64 || req.cpu() < 1 || req.eths_size() < 1) {
    return absl::InvalidArgumentError("ram_mb >= 64, cpu >= 1, eths >= 1");
  }
  for (const auto& e : req.eths()) {
    RETURN_IF_ERROR(ValidateIfname(e.port()));
    RETURN_IF_ERROR(ValidateMac(e.mac()));
  }
  // Creates of different VMs run in parallel; one VM's create and delete
  // one after the other.
  const std::string name = req.name();
  NameLocks::Hold hold = names_.Lock(name);
  const std::string dom = DomainName(name);
  ASSIGN_OR_RETURN(std::vector<DomainInfo> doms, host_->List(dom));
  for (const auto& d : doms) {
    if (d.name == dom) {
      return absl::AlreadyExistsError(
          absl::StrCat("VM ", name, " already runs (domain ", dom, ")"));
    }
  }
  ASSIGN_OR_RETURN(BootPlan plan, ResolveImage(config_.bulk_dir, req.image()));
  const std::string dir = VmDir(name);
  const std::string sock = dir + "/agent.sock";
  if (sock.size() > 107) {
    return absl::InvalidArgumentError(
        absl::StrCat("the agent socket path ", sock,
                     " is longer than 107 bytes: use a shorter work dir"));
  }
  const bool keep_disk = req.restart() && !plan.disk_base.empty() &&
                         !req.persistent() &&
                         access((dir + "/disk.qcow2").c_str(), F_OK) == 0;
  if (keep_disk) {
    unlink(sock.c_str());  // QEMU binds it again
    spdlog::info("VM {}: restarting on its overlay", name);
  } else {
    RemoveTree(dir).IgnoreError();  // a leftover of a crash
  }
  RETURN_IF_ERROR(MakeDirs(dir, 0700));
  VmDef def;
  def.domain_name = dom;
  def.domain_type = config_.domain_type;
  def.ram_mb = req.ram_mb();
  def.cpu = req.cpu();
  def.kernel = plan.kernel;
  def.initrd = plan.initrd;
  if (!def.kernel.empty()) def.firmware = config_.kernel_firmware;
  def.cmdline = absl::StrCat(
      "console=ttyS0 panic=-1 loglevel=4 ",
      config_.domain_type == "qemu" ? kTcgCmdline : "", "cloonix_name=", name,
      plan.cmdline_extra.empty() ? "" : " ", plan.cmdline_extra);
  def.agent_socket = sock;
  def.console_log = dir + "/console.log";
  if (!config_.agent_disk.empty()) {
    def.agent_disk = config_.agent_disk;
    def.hvc_socket = dir + "/hvc0.sock";  // shorter than agent.sock
  }
  absl::Status opts = ApplyOptions(config_.bulk_dir, req, plan, &def);
  if (opts.ok() && req.options().cloud_init()) {
    if (config_.agent_disk.empty()) {
      opts = absl::FailedPreconditionError(
          "kvm --cloud-init starts the agent from the config disk, and this "
          "vm_runner makes none (no agent found: --agent_path)");
    } else {
      // The agent comes from cloud-init: nothing is typed into hvc0.
      def.hvc_socket.clear();
      def.seed_disk = dir + "/seed.iso";
      opts = MakeCloudInitSeed(def.seed_disk,
                               absl::StrCat("cloonix-", config_.net, "-", name),
                               name);
    }
  }
  if (opts.ok() && (req.files().dirs_size() || req.files().delete__size())) {
    def.files_disk = dir + "/files.img";
    // A restart keeps what the VM was made with (its dirs may be gone).
    const bool have = keep_disk && access(def.files_disk.c_str(), F_OK) == 0;
    opts =
        have
            ? absl::OkStatus()
            : MakeFilesDisk(
                  def.files_disk,
                  {req.files().dirs().begin(), req.files().dirs().end()},
                  {req.files().delete_().begin(), req.files().delete_().end()});
    // The kernel sets' initramfs waits for that disk.
    if (opts.ok() && !def.kernel.empty()) def.cmdline += " cloonix_files=1";
  }
  if (!opts.ok()) {
    if (!keep_disk) RemoveTree(dir).IgnoreError();
    return opts;
  }
  auto fail = [&](absl::Status s) {
    host_->Destroy(dom).IgnoreError();
    if (!keep_disk) RemoveTree(dir).IgnoreError();
    spdlog::warn("create VM {} failed: {}", name, s.ToString());
    return s;
  };
  if (!plan.disk_base.empty()) {
    if (req.persistent()) {
      def.disk = plan.disk_base;
    } else if (keep_disk) {
      def.disk = dir + "/disk.qcow2";
    } else {
      def.disk = dir + "/disk.qcow2";
      auto r = ExecOk({"qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2",
                       "-b", plan.disk_base, def.disk},
                      absl::StatusCode::kFailedPrecondition);
      if (!r.ok()) return fail(r.status());
    }
  }
  std::vector<std::pair<std::string, std::string>> moves;  // tmp, port
  for (int i = 0; i < req.eths_size(); ++i) {
    std::string tmp = TapName(req.id(), static_cast<uint32_t>(i));
    if (links_->LinkExists("", tmp)) links_->DeleteLink("", tmp).IgnoreError();
    def.taps.push_back({tmp, req.eths(i).mac()});
    moves.push_back({tmp, req.eths(i).port()});
  }
  absl::Time t0 = absl::Now();
  if (auto s = host_->Create(DomainXml(def)); !s.ok()) return fail(s);
  spdlog::info("VM {} started ({} domain, {:.0f} ms)", name,
               config_.domain_type,
               absl::ToDoubleMilliseconds(absl::Now() - t0));
  const std::string netns = NetNetns(config_.net);
  for (const auto& [tmp, port] : moves) {
    if (absl::Status s = links_->MoveLink(tmp, netns, port); !s.ok())
      return fail(s);
  }
  {
    absl::MutexLock l(&mu_);
    agents_[name] = std::make_shared<AgentLink>(name, sock);
  }
  ASSIGN_OR_RETURN(std::vector<DomainInfo> now, host_->List(dom));
  const DomainInfo* info = nullptr;
  for (const auto& d : now)
    if (d.name == dom) info = &d;
  absl::MutexLock l(&mu_);
  vr::Vm vm = Describe(name, info);
  vm.set_disk(def.disk);
  return vm;
}

VmRunner::~VmRunner() {
  stop_delivery_.Notify();
  if (delivery_.joinable()) delivery_.join();
}

void VmRunner::StartAgentDelivery(absl::Duration every, absl::Duration grace,
                                  absl::Duration retry) {
  if (config_.agent_disk.empty() || delivery_.joinable()) return;
  delivery_ = std::thread([=] { DeliveryLoop(every, grace, retry); });
}

void VmRunner::DeliveryLoop(absl::Duration every, absl::Duration grace,
                            absl::Duration retry) {
  struct Seen {
    absl::Time since;          // agent down since
    absl::Time last_try;       // last typing
    std::string last_outcome;  // logged once per change
  };
  std::map<std::string, Seen> seen;
  while (!stop_delivery_.WaitForNotificationWithTimeout(every)) {
    std::map<std::string, std::shared_ptr<AgentLink>> links;
    {
      absl::MutexLock l(&mu_);
      links = agents_;
    }
    const absl::Time now = absl::Now();
    for (auto it = seen.begin(); it != seen.end();) {
      it = links.count(it->first) ? std::next(it) : seen.erase(it);
    }
    for (const auto& [name, link] : links) {
      if (link->Up()) {
        seen.erase(name);
        continue;
      }
      const std::string hvc = VmDir(name) + "/hvc0.sock";
      if (access(hvc.c_str(), F_OK) != 0) continue;  // made without one
      auto [s, fresh] = seen.try_emplace(name);
      if (fresh) s->second.since = now;
      if (now - s->second.since < grace || now - s->second.last_try < retry) {
        continue;
      }
      s->second.last_try = now;
      std::string shown;
      absl::Status st = TypeIntoHvc0(hvc, absl::Milliseconds(400), &shown);
      if (!shown.empty()) {
        std::string log = VmDir(name) + "/hvc0.log";
        if (FILE* f = fopen(log.c_str(), "ae")) {
          fwrite(shown.data(), 1, shown.size(), f);
          fclose(f);
        }
      }
      std::string outcome = st.ok() ? "typed" : st.ToString();
      if (outcome != s->second.last_outcome) {
        if (st.ok()) {
          spdlog::info("VM {}: agent down, its start typed into hvc0", name);
        } else {
          spdlog::info("VM {}: agent down; hvc0: {}", name, st.ToString());
        }
        s->second.last_outcome = outcome;
      }
    }
  }
}

absl::Status VmRunner::Delete(const std::string& name, bool keep_disk) {
  RETURN_IF_ERROR(ValidateName(name, "kvm name"));
  NameLocks::Hold hold = names_.Lock(name);
  std::shared_ptr<AgentLink> link;
  {
    absl::MutexLock l(&mu_);
    auto it = agents_.find(name);
    if (it != agents_.end()) {
      link = std::move(it->second);
      agents_.erase(it);
    }
  }
  if (link) link->Stop();  // open sessions get an error
  link.reset();
  absl::Status s = host_->Destroy(DomainName(name));
  bool existed = s.ok();
  if (!s.ok() && !absl::IsNotFound(s)) return s;
  std::string dir = VmDir(name);
  bool had_dir = access(dir.c_str(), F_OK) == 0;
  if (keep_disk) {
    if (!existed)
      return absl::NotFoundError(absl::StrCat("VM ", name, " is not running"));
    spdlog::info("VM {} stopped", name);
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(RemoveTree(dir));
  if (!existed && !had_dir)
    return absl::NotFoundError(absl::StrCat("VM ", name, " does not exist"));
  spdlog::info("VM {} deleted", name);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<vr::Vm>> VmRunner::List() {
  ASSIGN_OR_RETURN(std::vector<DomainInfo> doms, host_->List(DomainName("")));
  absl::MutexLock l(&mu_);
  std::vector<vr::Vm> out;
  for (const auto& d : doms) {
    out.push_back(Describe(d.name.substr(DomainName("").size()), &d));
  }
  return out;
}

absl::StatusOr<vr::Vm> VmRunner::Reboot(const std::string& name) {
  RETURN_IF_ERROR(host_->Reset(DomainName(name)));
  spdlog::info("VM {} reset", name);
  ASSIGN_OR_RETURN(std::vector<DomainInfo> doms, host_->List(DomainName(name)));
  absl::MutexLock l(&mu_);
  for (const auto& d : doms)
    if (d.name == DomainName(name)) return Describe(name, &d);
  return absl::NotFoundError(absl::StrCat("VM ", name, " does not exist"));
}

absl::StatusOr<vr::SaveDiskResponse> VmRunner::SaveDisk(
    const std::string& name, const std::string& path) {
  RETURN_IF_ERROR(ValidateName(name, "VM name"));
  if (!absl::EndsWith(path, ".qcow2") || path.size() <= 6 ||
      absl::StrContains(path, "\n")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", path.substr(0, 200), "\": the file name must end in .qcow2"));
  }
  if (path[0] != '/' && absl::StrContains(path, '/')) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", path,
                     "\": give an absolute path, or a file name "
                     "(written in the bulk dir ",
                     config_.bulk_dir, ")"));
  }
  const std::string dest =
      path[0] == '/' ? path : absl::StrCat(config_.bulk_dir, "/", path);
  if (access(dest.c_str(), F_OK) == 0) {
    return absl::AlreadyExistsError(
        absl::StrCat(dest, " exists: remove it or choose another name"));
  }
  const std::string dir = VmDir(name);
  const std::string overlay = dir + "/disk.qcow2";
  NameLocks::Hold hold = names_.Lock(name);
  ASSIGN_OR_RETURN(std::vector<DomainInfo> doms, host_->List(DomainName(name)));
  bool running = false;
  for (const auto& d : doms) running |= d.name == DomainName(name) && d.running;
  if (!running && access(dir.c_str(), F_OK) != 0) {
    return absl::NotFoundError(absl::StrCat("VM ", name, " does not exist"));
  }
  if (access(overlay.c_str(), F_OK) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "VM ", name,
        " has no overlay disk: a guest booted from kernel + initrd has no "
        "disk, and a persistent VM writes into its image (copy that file)"));
  }
  // The image under the overlay, for its .boot sidecar.
  std::string base;
  if (auto info = ExecOk({"qemu-img", "info", "-U", "--output=json", overlay},
                         absl::StatusCode::kUnavailable);
      info.ok()) {
    nlohmann::json j = nlohmann::json::parse(*info, nullptr, false);
    if (j.is_object()) base = j.value("full-backing-filename", "");
  }
  const std::string tmp = dest + ".tmp";
  unlink(tmp.c_str());
  absl::Time t0 = absl::Now();
  absl::Status s;
  if (running) {
    s = host_->BackupDisk(DomainName(name), "vda", tmp, absl::Minutes(30));
  } else {
    s = ExecOk({"qemu-img", "convert", "-O", "qcow2", overlay, tmp},
               absl::StatusCode::kUnavailable, absl::Minutes(30))
            .status();
  }
  if (s.ok() && rename(tmp.c_str(), dest.c_str()) != 0) {
    s = absl::PermissionDeniedError(
        absl::StrCat("cannot write ", dest, ": ", std::strerror(errno)));
  }
  if (!s.ok()) {
    unlink(tmp.c_str());
    return s;
  }
  if (absl::EndsWith(base, ".qcow2")) {
    const std::string side = base.substr(0, base.size() - 6) + ".boot";
    if (auto text = ReadFile(side); text.ok()) {
      WriteFileAtomic(dest.substr(0, dest.size() - 6) + ".boot", *text)
          .IgnoreError();
    }
  }
  struct stat st;
  vr::SaveDiskResponse out;
  out.set_path(dest);
  if (stat(dest.c_str(), &st) == 0) out.set_size_bytes(st.st_size);
  spdlog::info("VM {}: disk saved to {} ({} bytes, {}, {})", name, dest,
               out.size_bytes(), running ? "running: backup" : "stopped",
               absl::FormatDuration(absl::Now() - t0));
  return out;
}

absl::Status VmRunner::DeleteAll() {
  ASSIGN_OR_RETURN(std::vector<vr::Vm> vms, List());
  absl::Status result;
  for (const auto& vm : vms) result.Update(Delete(vm.name()));
  RemoveTree(config_.work_dir + "/vm").IgnoreError();
  return result;
}

absl::StatusOr<std::shared_ptr<AgentLink>> VmRunner::UpLink(
    const std::string& name) {
  absl::MutexLock l(&mu_);
  auto it = agents_.find(name);
  if (it == agents_.end()) {
    return absl::FailedPreconditionError(
        absl::StrCat("VM ", name, " is not running (stopped?)"));
  }
  if (!it->second->Up()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the agent of ", name,
        " is not up (the VM is red): wait until it boots, or read its "
        "console log ",
        VmDir(name), "/console.log"));
  }
  return it->second;
}

}  // namespace cloonix
