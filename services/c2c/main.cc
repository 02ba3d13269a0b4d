// cloonix-c2c: the c2c ends of one net (VXLAN over UDP to other nets), as one
// DPDK worker process in the host's netns (its UDP sockets face the other
// hosts; its ports are veths into netns cloonix_<net>). Serves
// cloonix.c2c.v1.C2cWorker on a unix socket; the packet loop runs on the
// main thread (the EAL main lcore) and sleeps when idle.
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "common/daemon_setup.h"
#include "common/logging.h"
#include "common/server.h"
#include "services/c2c/c2c_service.h"
#include "services/c2c/worker.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(std::string, net, "nemo", "Name of the net.");
ABSL_FLAG(std::string, work_dir, "",
          "The net's work dir (default /var/lib/cloonix/<net>).");
ABSL_FLAG(std::string, socket, "",
          "Unix socket to serve (default <work_dir>/c2c.sock).");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn or error.");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "cloonix-c2c --net=<net> [--work_dir=DIR] [--socket=PATH]\n"
      "Runs the net's c2c data plane (DPDK, VXLAN over UDP) and serves "
      "cloonix.c2c.v1.C2cWorker.");
  absl::ParseCommandLine(argc, argv);
  cloonix::BlockShutdownSignals();
  cloonix::InitLogging("c2c", absl::GetFlag(FLAGS_log_level));
  auto setup = cloonix::SetUpDaemon(absl::GetFlag(FLAGS_net),
                                    absl::GetFlag(FLAGS_work_dir),
                                    absl::GetFlag(FLAGS_socket), "c2c");
  if (!setup.ok()) {
    spdlog::error("{}", setup.status().ToString());
    return 2;
  }
  auto worker = cloonix::C2cWorker::Create({setup->net, "cxc2c-" + setup->net});
  if (!worker.ok()) {
    spdlog::error("{}", worker.status().ToString());
    return 1;
  }
  absl::Notification shutdown;
  cloonix::C2cService service(worker->get(), &shutdown);
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
