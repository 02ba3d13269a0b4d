// cloonix add kvm, cnf kvm: VMs.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "cli/a2b_args.h"
#include "cli/commands/commands.h"
#include "cli/context.h"
#include "cli/guest_client.h"
#include "cli/output.h"
#include "common/a2b_settings.h"
#include "common/atomic_file.h"
#include "common/daemon_setup.h"
#include "common/item_kind.h"
#include "common/names.h"
#include "common/netns.h"
#include "common/pki.h"
#include "common/process.h"
#include "common/rpc_client.h"

namespace cloonix::cli {

namespace {

int ControlKvm(const Globals& g, const std::string& name,
               const std::string& verb) {
  Client c(g);
  if (!c.Exists()) return NotRunning(g);
  v1::ControlKvmRequest req;
  req.set_name(name);
  req.set_action(verb == "reboot" ? v1::KVM_ACTION_REBOOT
                 : verb == "stop" ? v1::KVM_ACTION_STOP
                                  : v1::KVM_ACTION_START);
  v1::Item resp;
  auto ctx = c.Ctx();
  grpc::Status s = c.topo()->ControlKvm(ctx.get(), req, &resp);
  if (!s.ok()) return FailRpc(g, s);
  if (g.Json()) {
    std::cout << ToJsonLine(resp) << std::endl;
  } else {
    std::cout << "kvm " << name << ": "
              << (verb == "reboot" ? "rebooted"
                  : verb == "stop" ? "stopped"
                                   : "started")
              << std::endl;
  }
  return 0;
}

// sav [kvm] <vm> <file.qcow2>: sync in the guest (agent up), then the
// net writes the disk.
int SaveDisk(const Globals& g, std::vector<std::string> args) {
  if (args.size() == 3 && args[0] == "kvm") args.erase(args.begin());
  if (args.size() != 2) {
    return Fail("usage: cloonix sav [kvm] <vm> <file.qcow2>", kExitUsage);
  }
  Client c(g);
  if (!c.Exists()) return NotRunning(g);
  v1::GetItemRequest greq;
  greq.set_name(args[0]);
  v1::Item item;
  auto gctx = c.Ctx(absl::Seconds(30));
  grpc::Status s = c.topo()->GetItem(gctx.get(), greq, &item);
  if (!s.ok()) return FailRpc(g, s);
  if (item.has_kvm() && item.kvm().agent_up()) {
    CapturedRun r = RunCaptured(c.guest(), args[0], "sync", absl::Minutes(2));
    if (r.code != 0 && !g.Json()) {
      std::cerr << "cloonix: sync in " << args[0] << " failed ("
                << (r.code < 0 ? r.status.error_message() : r.err)
                << "): saving what is on its disk" << std::endl;
    }
  } else if (item.has_kvm() && item.state() == v1::ITEM_STATE_RUNNING &&
             !g.Json()) {
    std::cerr << "cloonix: " << args[0]
              << " has no agent up: what its guest has not written to its "
                 "disk yet is not saved (run sync in it first)"
              << std::endl;
  }
  if (!g.Json() && item.has_kvm()) {
    std::cerr << "saving the disk of " << args[0] << " ..." << std::flush;
  }
  v1::SaveKvmDiskRequest req;
  req.set_name(args[0]);
  req.set_path(args[1]);
  v1::SaveKvmDiskResponse resp;
  auto ctx = c.Ctx(absl::Minutes(32));
  absl::Time t0 = absl::Now();
  s = c.topo()->SaveKvmDisk(ctx.get(), req, &resp);
  if (!g.Json() && item.has_kvm()) std::cerr << std::endl;
  if (!s.ok()) return FailRpc(g, s);
  if (g.Json()) {
    std::cout << ToJsonLine(resp) << std::endl;
  } else {
    std::cout << absl::StrFormat("saved kvm %s to %s (%.1f MB, %.1f s)",
                                 args[0], resp.path(), resp.size_bytes() / 1e6,
                                 absl::ToDoubleSeconds(absl::Now() - t0))
              << std::endl;
  }
  return 0;
}

}  // namespace

void AddSavCommand(CLI::App* app, Context& ctx) {
  static std::vector<std::string> args;
  auto* sav = app->add_subcommand(
      "sav",
      "sav [kvm] <vm> <file.qcow2>: write a VM's disk (its overlay over the "
      "image) as one standalone qcow2 on the net's host (a file name goes "
      "to the bulk dir) that add kvm boots; runs sync in the guest first "
      "when its agent is up (Cloonix's sav)");
  sav->add_option("args", args, "[kvm] <vm> <file.qcow2>")
      ->required()
      ->expected(2, 3);
  sav->callback([&] { ctx.action = [&] { return SaveDisk(ctx.g, args); }; });
}

void AddKvmCommands(CLI::App* add, CLI::App* cnf, Context& ctx) {
  Globals& g = ctx.g;
  static std::string kvm_name;
  static std::vector<std::string> kvm_args;
  static bool persistent = false;
  static std::vector<std::string> mac_addrs;
  auto* add_kvm = add->add_subcommand(
      "kvm",
      "add kvm <name> ram=<MiB> cpu=<n> eth=<n> <image>: create a VM; image "
      "is a .qcow2 of the bulk dir or a kernel set such as tiny");
  add_kvm->add_option("name", kvm_name, "VM name")->required();
  add_kvm->add_option("settings", kvm_args, "ram=, cpu=, eth= and the image")
      ->required();
  add_kvm->add_flag("--persistent", persistent,
                    "Write the image itself, no copy-on-write overlay");
  add_kvm->add_option("--mac_addr,--mac-addr", mac_addrs,
                      "ethN:xx:xx:xx:xx:xx:xx (repeatable)");
  // Cloonix's other add kvm options (KvmOptions in topology.proto).
  static std::string install_cdrom, added_cdrom, added_disk;
  static bool with_pxe = false, no_reboot = false, fullvirt = false,
              balloon = false, cloud_init = false;
  add_kvm->add_option("--install_cdrom,--install-cdrom", install_cdrom,
                      "ISO booted first, the disk attached (install a "
                      "system); the image must boot by itself");
  add_kvm->add_option("--added_cdrom,--added-cdrom", added_cdrom,
                      "One more CD-ROM (ISO in the bulk dir or absolute)");
  add_kvm->add_option("--added_disk,--added-disk", added_disk,
                      "One more disk after the root disk (qcow2 or raw, "
                      "written in place)");
  add_kvm->add_flag("--with_pxe,--with-pxe", with_pxe,
                    "Network boot first, then the disk");
  add_kvm->add_flag("--no_reboot,--no-reboot", no_reboot,
                    "A reboot from inside ends QEMU (the VM shows stopped)");
  add_kvm->add_flag("--fullvirt", fullvirt,
                    "Emulated e1000 NICs and SATA disks (guests without "
                    "virtio drivers)");
  add_kvm->add_flag("--balloon", balloon, "A virtio memory balloon");
  static std::vector<std::string> kvm_files, kvm_deletes;
  add_kvm->add_option("--files", kvm_files,
                      "DIR: its content is copied into the guest's root "
                      "before its init runs (repeatable, in order; a "
                      "directory of the net's host)");
  add_kvm->add_option("--delete", kvm_deletes,
                      "PATH: removed from the guest's root before its init "
                      "runs (repeatable)");
  add_kvm->add_flag("--cloud-init,--cloud_init", cloud_init,
                    "A NoCloud seed whose cloud-init starts the agent from "
                    "the config disk at every boot (cloud images without "
                    "hvc0 autologin)");
  static std::string kvm_natplug;
  add_kvm->add_option("--natplug", kvm_natplug,
                      "ethN or N: create nat-<name> and lan-<name> cabled to "
                      "that eth (for guests without agent: cloonix osh/ocp)");
  add_kvm->callback([&] {
    ctx.action = [&]() -> int {
      auto it =
          cloonix::cli::ParseAddKvm(kvm_name, kvm_args, persistent, mac_addrs);
      if (!it.ok()) return Fail(std::string(it.status().message()), kExitUsage);
      auto* o = it->mutable_kvm()->mutable_options();
      o->set_install_cdrom(install_cdrom);
      o->set_added_cdrom(added_cdrom);
      o->set_added_disk(added_disk);
      o->set_with_pxe(with_pxe);
      o->set_no_reboot(no_reboot);
      o->set_fullvirt(fullvirt);
      o->set_balloon(balloon);
      o->set_cloud_init(cloud_init);
      *it->mutable_kvm()->mutable_files() =
          cloonix::cli::MakeGuestFiles(kvm_files, kvm_deletes);
      if (!kvm_natplug.empty()) {
        auto eth = cloonix::cli::ParseEth(kvm_natplug);
        if (!eth.ok())
          return Fail(std::string(eth.status().message()), kExitUsage);
        it->mutable_kvm()->set_natplug(*eth);
      }
      return CreateItem(g, *it);
    };
  });
  static std::string cnf_kvm_name, cnf_kvm_action;
  auto* cnf_kvm = cnf->add_subcommand(
      "kvm",
      "cnf kvm <name> reboot|stop|start (or Cloonix's order: cnf kvm reboot "
      "<name>): hard reset; stop QEMU keeping the overlay and cables; start "
      "it again");
  cnf_kvm->add_option("name", cnf_kvm_name, "kvm name")->required();
  cnf_kvm->add_option("action", cnf_kvm_action, "reboot, stop or start")
      ->required();
  cnf_kvm->callback([&] {
    ctx.action = [&]() -> int {
      auto is_action = [](const std::string& a) {
        return a == "reboot" || a == "stop" || a == "start";
      };
      if (is_action(cnf_kvm_name) && !is_action(cnf_kvm_action)) {
        std::swap(cnf_kvm_name, cnf_kvm_action);  // Cloonix's order
      }
      if (!is_action(cnf_kvm_action)) {
        return Fail(absl::StrCat("cnf kvm: \"", cnf_kvm_action,
                                 "\" is not reboot, stop or start"),
                    kExitUsage);
      }
      return ControlKvm(g, cnf_kvm_name, cnf_kvm_action);
    };
  });
}

}  // namespace cloonix::cli
