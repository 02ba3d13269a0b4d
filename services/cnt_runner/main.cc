// cloonix-cnt-runner: the containers of one net, through a private containerd
// driven by its gRPC API. Serves cloonix.cntrunner.v1.CntRunner on a unix
// socket. On SIGTERM it exits and leaves containerd and the containers
// running (a restarted cnt_runner adopts them); Teardown removes everything.
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "common/atomic_file.h"
#include "common/daemon_setup.h"
#include "common/host_links.h"
#include "common/logging.h"
#include "common/names.h"
#include "common/process.h"
#include "common/rpc_client.h"
#include "common/server.h"
#include "services/cnt_runner/cnt_guest_service.h"
#include "services/cnt_runner/cnt_runner_service.h"
#include "services/cnt_runner/containerd_client.h"
#include "services/cnt_runner/containerd_daemon.h"
#include "services/cnt_runner/oci_spec.h"
#include "services/cnt_runner/seccomp.h"
#include "spdlog/spdlog.h"
#include "third_party/seccomp/default_profile.h"

ABSL_FLAG(std::string, net, "nemo", "Name of the net.");
ABSL_FLAG(std::string, work_dir, "",
          "The net's work dir (default /var/lib/cloonix/<net>).");
ABSL_FLAG(std::string, bulk_dir, "/var/lib/cloonix/bulk",
          "Where image tarballs are looked up.");
ABSL_FLAG(std::string, socket, "",
          "Unix socket to serve (default <work_dir>/cnt_runner.sock).");
ABSL_FLAG(std::string, containerd, "containerd", "containerd binary.");
ABSL_FLAG(std::string, seccomp_profile, "",
          "Seccomp profile of the containers, in Docker's JSON format "
          "(default: Docker's default profile, embedded).");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn or error.");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "cloonix-cnt-runner --net=<net> [--work_dir=DIR] [--bulk_dir=DIR]\n"
      "Runs the net's containerd and serves cloonix.cntrunner.v1.CntRunner.");
  absl::ParseCommandLine(argc, argv);
  cloonix::BlockShutdownSignals();
  cloonix::InitLogging("cnt_runner", absl::GetFlag(FLAGS_log_level));
  auto setup = cloonix::SetUpDaemon(absl::GetFlag(FLAGS_net),
                                    absl::GetFlag(FLAGS_work_dir),
                                    absl::GetFlag(FLAGS_socket), "cnt_runner");
  if (!setup.ok()) {
    spdlog::error("{}", setup.status().ToString());
    return 2;
  }
  // The containers' seccomp filter, computed once; a profile that does not
  // convert stops the runner rather than run containers unfiltered.
  std::string profile = cloonix::DefaultSeccompProfileJson();
  if (!absl::GetFlag(FLAGS_seccomp_profile).empty()) {
    auto text = cloonix::ReadFile(absl::GetFlag(FLAGS_seccomp_profile));
    if (!text.ok()) {
      spdlog::error("--seccomp_profile: {}", text.status().ToString());
      return 2;
    }
    profile = *text;
  }
  auto seccomp = cloonix::OciSeccompFromProfile(
      profile, cloonix::HostSeccompTarget(cloonix::ContainerCapabilities()));
  if (!seccomp.ok()) {
    spdlog::error("{}", seccomp.status().ToString());
    return 2;
  }
  const std::string net = setup->net;
  const std::string work_dir = setup->work_dir;
  const std::string socket = setup->socket;
  cloonix::ContainerdDaemon daemon(work_dir + "/containerd",
                                   absl::GetFlag(FLAGS_containerd));
  if (auto s = daemon.Start(); !s.ok()) {
    spdlog::error("cannot start containerd: {}", s.ToString());
    return 1;
  }
  // One containerd namespace per net: runc keeps its state under
  // /run/containerd/runc/<namespace>/<id>, shared by every containerd.
  cloonix::ContainerdClient client(cloonix::UnixChannel(daemon.Socket()),
                                   "cloonix-" + net);
  absl::Notification shutdown;
  cloonix::IpHostLinks links;
  cloonix::CntRunner runner({net, work_dir, absl::GetFlag(FLAGS_bulk_dir),
                             *seccomp, cloonix::HostProcSysEntries()},
                            &client, &links);
  cloonix::CntRunnerService service(&runner, &daemon, &shutdown);
  if (auto s = runner.RemoveOrphanNetns(); !s.ok()) {
    spdlog::warn("cleaning up unfinished creates: {}", s.ToString());
  }
  cloonix::CntGuestService guest(work_dir, &client);
  auto server = cloonix::StartUnixServer(socket, {&service, &guest});
  if (!server.ok()) {
    spdlog::error("{}", server.status().ToString());
    return 1;
  }
  spdlog::info("serving on {}", socket);
  cloonix::ServeUntilShutdown(server->get(), socket, &shutdown);
  spdlog::info("stopped");
  return 0;
}
