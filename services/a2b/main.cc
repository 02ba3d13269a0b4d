// cloonix-a2b: the a2b items of one net (per-direction delay, jitter, loss,
// rate), as one DPDK worker process inside netns cloonix_<net>. Serves
// cloonix.a2b.v1.A2bWorker on a unix socket; the packet loop runs on the
// main thread (the EAL main lcore) and sleeps when idle.
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "common/daemon_setup.h"
#include "common/logging.h"
#include "common/names.h"
#include "common/netns.h"
#include "common/server.h"
#include "services/a2b/a2b_service.h"
#include "services/a2b/worker.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(std::string, net, "nemo", "Name of the net.");
ABSL_FLAG(std::string, work_dir, "",
          "The net's work dir (default /var/lib/cloonix/<net>).");
ABSL_FLAG(std::string, socket, "",
          "Unix socket to serve (default <work_dir>/a2b.sock).");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn or error.");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "cloonix-a2b --net=<net> [--work_dir=DIR] [--socket=PATH]\n"
      "Runs the net's a2b data plane (DPDK) in netns cloonix_<net> and serves "
      "cloonix.a2b.v1.A2bWorker.");
  absl::ParseCommandLine(argc, argv);
  cloonix::BlockShutdownSignals();
  cloonix::InitLogging("a2b", absl::GetFlag(FLAGS_log_level));
  auto setup = cloonix::SetUpDaemon(absl::GetFlag(FLAGS_net),
                                    absl::GetFlag(FLAGS_work_dir),
                                    absl::GetFlag(FLAGS_socket), "a2b");
  if (!setup.ok()) {
    spdlog::error("{}", setup.status().ToString());
    return 2;
  }
  // Before EAL init: every thread started later lives in the net's netns.
  if (auto s = cloonix::EnterNetns(cloonix::NetNetns(setup->net)); !s.ok()) {
    spdlog::error("{} (is the net's lan_switch running?)", s.ToString());
    return 1;
  }
  auto worker = cloonix::Worker::Create({"cxa2b-" + setup->net});
  if (!worker.ok()) {
    spdlog::error("{}", worker.status().ToString());
    return 1;
  }
  absl::Notification shutdown;
  cloonix::A2bService service(worker->get(), &shutdown);
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
