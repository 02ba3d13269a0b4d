// cloonix-nat: the nat items of one net (DHCP, DNS relay, TCP/UDP/ICMP to
// the host through libslirp, behind DPDK ports on the lans). Serves
// cloonix.nat.v1.NatWorker on a unix socket (0600). It runs in the host's
// netns (slirp's sockets are the host's) and, with --resolv_conf, in a
// private mount namespace where that file is bind-mounted over
// /etc/resolv.conf (slirp's DNS relay reads the host's resolvers there).
// The worker holds no state across restarts: the orchestrator recreates the
// nats after one.
#include <sched.h>
#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "common/daemon_setup.h"
#include "common/logging.h"
#include "common/server.h"
#include "services/nat/nat_service.h"
#include "services/nat/nat_worker.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(std::string, net, "nemo", "Name of the net.");
ABSL_FLAG(std::string, work_dir, "",
          "The net's work dir (default /var/lib/cloonix/<net>).");
ABSL_FLAG(std::string, socket, "",
          "Unix socket to serve (default <work_dir>/nat.sock).");
ABSL_FLAG(std::string, resolv_conf, "",
          "resolv.conf whose nameservers the DNS relay (172.17.0.3) uses "
          "(default: the host's /etc/resolv.conf).");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn or error.");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "cloonix-nat --net=<net> [--work_dir=DIR] [--resolv_conf=FILE]\n"
      "Runs the net's nat items (DPDK + libslirp) and serves "
      "cloonix.nat.v1.NatWorker.");
  absl::ParseCommandLine(argc, argv);
  // Before any thread: a private mount namespace for the resolv.conf.
  const std::string resolv = absl::GetFlag(FLAGS_resolv_conf);
  std::string mount_error;
  if (!resolv.empty()) {
    if (unshare(CLONE_NEWNS) != 0 ||
        mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        mount(resolv.c_str(), "/etc/resolv.conf", nullptr, MS_BIND, nullptr) !=
            0) {
      mount_error = std::strerror(errno);
    }
  }
  cloonix::BlockShutdownSignals();
  cloonix::InitLogging("nat", absl::GetFlag(FLAGS_log_level));
  if (!mount_error.empty()) {
    spdlog::error("cannot use {} as /etc/resolv.conf: {}", resolv, mount_error);
    return 1;
  }
  auto setup = cloonix::SetUpDaemon(absl::GetFlag(FLAGS_net),
                                    absl::GetFlag(FLAGS_work_dir),
                                    absl::GetFlag(FLAGS_socket), "nat");
  if (!setup.ok()) {
    spdlog::error("{}", setup.status().ToString());
    return 2;
  }
  auto worker = cloonix::NatWorker::Create(
      {setup->net, "cxnat-" + setup->net, setup->work_dir + "/nat"});
  if (!worker.ok()) {
    spdlog::error("{}", worker.status().ToString());
    return 1;
  }
  absl::Notification shutdown;
  cloonix::NatService service(worker->get(), &shutdown);
  auto server = cloonix::StartUnixServer(setup->socket, {&service});
  if (!server.ok()) {
    spdlog::error("{}", server.status().ToString());
    (*worker)->Cleanup();
    return 1;
  }
  spdlog::info("serving on {}", setup->socket);
  std::thread control([&] {
    cloonix::ServeUntilShutdown(server->get(), setup->socket, &shutdown);
    (*worker)->Stop();
  });
  (*worker)->Run();
  control.join();
  (*worker)->Cleanup();
  spdlog::info("stopped");
  return 0;
}
