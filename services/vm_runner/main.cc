// cloonix-vm-runner: the VMs of one net, as QEMU domains of the host's
// libvirt (started here when not running). Serves
// cloonix.vmrunner.v1.VmRunner and cloonix.v1.Guest (exec, copies through
// the VMs' agents) on a unix socket (0600). On SIGTERM it exits and leaves
// the VMs running: a restarted vm_runner adopts them and reconnects to
// their agents. Teardown destroys them.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "common/daemon_setup.h"
#include "common/host_links.h"
#include "common/logging.h"
#include "common/server.h"
#include "services/vm_runner/agent_delivery.h"
#include "services/vm_runner/libvirt_host.h"
#include "services/vm_runner/vm_guest_service.h"
#include "services/vm_runner/vm_runner_service.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(std::string, net, "nemo", "Name of the net.");
ABSL_FLAG(std::string, work_dir, "",
          "The net's work dir (default /var/lib/cloonix/<net>).");
ABSL_FLAG(std::string, bulk_dir, "/var/lib/cloonix/bulk",
          "Where images are looked up.");
ABSL_FLAG(std::string, socket, "",
          "Unix socket to serve (default <work_dir>/vm_runner.sock).");
ABSL_FLAG(std::string, libvirt_uri, "qemu:///system", "libvirt to use.");
ABSL_FLAG(std::string, libvirt_dir, "/var/lib/cloonix/libvirt",
          "Configs of the libvirtd/virtlogd this runner starts when none "
          "runs, and the cached KVM probe.");
ABSL_FLAG(bool, start_libvirtd, true,
          "Start virtlogd and libvirtd when libvirt does not answer.");
ABSL_FLAG(std::string, domain_type, "auto",
          "qemu (TCG), kvm, or auto (kvm only when a probe boots a guest).");
ABSL_FLAG(std::string, kernel_firmware, "/usr/share/qemu/qboot.rom",
          "Firmware ROM of VMs that boot a kernel directly (qboot: faster "
          "than SeaBIOS); empty or missing: SeaBIOS.");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn or error.");
ABSL_FLAG(std::string, agent_path, "",
          "The static cloonix-agent delivered to guests through their config "
          "disk and hvc0 (default: cloonix-agent beside this binary, else "
          "<prefix>/share/cloonix/cloonix-agent); none found: no delivery.");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "cloonix-vm-runner --net=<net> [--work_dir=DIR] [--bulk_dir=DIR]\n"
      "Runs the net's VMs through libvirt; serves "
      "cloonix.vmrunner.v1.VmRunner and cloonix.v1.Guest.");
  absl::ParseCommandLine(argc, argv);
  cloonix::BlockShutdownSignals();
  cloonix::InitLogging("vm_runner", absl::GetFlag(FLAGS_log_level));
  auto setup = cloonix::SetUpDaemon(absl::GetFlag(FLAGS_net),
                                    absl::GetFlag(FLAGS_work_dir),
                                    absl::GetFlag(FLAGS_socket), "vm_runner");
  if (!setup.ok()) {
    spdlog::error("{}", setup.status().ToString());
    return 2;
  }
  const std::string dir = absl::GetFlag(FLAGS_libvirt_dir);
  auto libvirt =
      cloonix::LibvirtHost::Open(absl::GetFlag(FLAGS_libvirt_uri), dir,
                                 absl::GetFlag(FLAGS_start_libvirtd));
  if (!libvirt.ok()) {
    spdlog::error("{}", libvirt.status().ToString());
    return 1;
  }
  std::string type = absl::GetFlag(FLAGS_domain_type);
  const std::string bulk = absl::GetFlag(FLAGS_bulk_dir);
  if (type == "auto") {
    type = cloonix::LibvirtHost::ProbeDomainType(dir, bulk + "/tiny-vmlinux",
                                                 bulk + "/tiny-initrd.img");
  } else if (type != "qemu" && type != "kvm") {
    spdlog::error("--domain_type must be qemu, kvm or auto, not {}", type);
    return 2;
  }
  // The config disk every VM gets (agent_delivery.h), made fresh at start.
  std::string agent = absl::GetFlag(FLAGS_agent_path);
  if (agent.empty()) {
    agent = cloonix::SiblingOrPath("cloonix-agent");
    if (agent == "cloonix-agent") {
      std::string self = cloonix::SiblingOrPath("cloonix-vm-runner");
      agent = self.substr(0, self.find_last_of('/') + 1) +
              "../share/cloonix/cloonix-agent";
    }
  }
  std::string agent_disk = setup->work_dir + "/agent-cfg.img";
  if (access(agent.c_str(), R_OK) != 0) {
    spdlog::warn(
        "no agent at {}: VMs get no config disk (images need their "
        "own agent)",
        agent);
    agent_disk.clear();
  } else if (auto s = cloonix::MakeAgentDisk(agent, agent_disk); !s.ok()) {
    spdlog::warn("config disk {}: {} (no agent delivery)", agent_disk,
                 s.ToString());
    agent_disk.clear();
  } else {
    spdlog::info("config disk {} holds {}", agent_disk, agent);
  }
  std::string firmware = absl::GetFlag(FLAGS_kernel_firmware);
  if (!firmware.empty() && access(firmware.c_str(), R_OK) != 0) {
    spdlog::warn("no firmware {} ({}): kernel boots use SeaBIOS", firmware,
                 std::strerror(errno));
    firmware.clear();
  }
  cloonix::IpHostLinks links;
  cloonix::VmRunner runner(
      {setup->net, setup->work_dir, bulk, type, agent_disk, firmware},
      libvirt->get(), &links);
  if (auto s = runner.Adopt(); !s.ok()) {
    spdlog::error("cannot list the net's VMs: {}", s.ToString());
    return 1;
  }
  absl::Notification shutdown;
  cloonix::VmRunnerService service(&runner, &shutdown);
  cloonix::VmGuestService guest(&runner);
  auto server = cloonix::StartUnixServer(setup->socket, {&service, &guest});
  if (!server.ok()) {
    spdlog::error("{}", server.status().ToString());
    return 1;
  }
  runner.StartAgentDelivery();
  spdlog::info("serving on {} (domain type {})", setup->socket, type);
  cloonix::ServeUntilShutdown(server->get(), setup->socket, &shutdown);
  spdlog::info("stopped");
  return 0;
}
