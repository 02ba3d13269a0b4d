// cloonix-lan-switch: the lans of one net, as OVS bridges in netns
// cloonix_<net> (userspace datapath). Serves cloonix.lanswitch.v1.LanSwitch
// on a unix socket. On SIGTERM it exits and leaves OVS running (a restarted
// lan_switch adopts it); the Teardown RPC removes everything.
#include <unistd.h>

#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "common/daemon_setup.h"
#include "common/exec.h"
#include "common/logging.h"
#include "common/names.h"
#include "common/process.h"
#include "common/server.h"
#include "services/lan_switch/lan_switch_service.h"
#include "services/lan_switch/ovs_daemons.h"
#include "services/lan_switch/ovsdb_client.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(std::string, net, "nemo", "Name of the net.");
ABSL_FLAG(std::string, work_dir, "",
          "The net's work dir (default /var/lib/cloonix/<net>).");
ABSL_FLAG(std::string, socket, "",
          "Unix socket to serve (default <work_dir>/lan_switch.sock).");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn or error.");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "cloonix-lan-switch --net=<net> [--work_dir=DIR] [--socket=PATH]\n"
      "Runs the net's OVS (userspace datapath) in netns cloonix_<net> and "
      "serves "
      "cloonix.lanswitch.v1.LanSwitch.");
  absl::ParseCommandLine(argc, argv);
  cloonix::BlockShutdownSignals();
  cloonix::InitLogging("lan_switch", absl::GetFlag(FLAGS_log_level));
  auto setup = cloonix::SetUpDaemon(absl::GetFlag(FLAGS_net),
                                    absl::GetFlag(FLAGS_work_dir),
                                    absl::GetFlag(FLAGS_socket), "lan_switch");
  if (!setup.ok()) {
    spdlog::error("{}", setup.status().ToString());
    return 2;
  }
  const std::string net = setup->net;
  const std::string work_dir = setup->work_dir;
  const std::string socket = setup->socket;

  cloonix::OvsDaemons daemons({cloonix::NetNetns(net), work_dir + "/ovs"});
  if (auto s = daemons.Start(); !s.ok()) {
    spdlog::error("cannot start OVS: {} (logs in {}/ovs/log)", s.ToString(),
                  work_dir);
    return 1;
  }
  auto runner = std::make_shared<cloonix::RealCommandRunner>();
  cloonix::OvsdbClient ovsdb(daemons.DbRemote(), cloonix::NetNetns(net),
                             runner);
  cloonix::HostTaps taps(net, runner);
  cloonix::HostPhys phys(net, work_dir + "/phys.json", std::to_string(getpid()),
                         runner);
  if (auto s = phys.Load(); !s.ok()) {
    spdlog::error(
        "{}: the NICs it records are not given back until it is "
        "repaired or removed",
        s.ToString());
    return 1;
  }
  absl::Notification shutdown;
  cloonix::LanSwitchService service(&daemons, &ovsdb, &taps, &phys,
                                    cloonix::NetNetns(net), &shutdown);
  auto server = cloonix::StartUnixServer(socket, {&service});
  if (!server.ok()) {
    spdlog::error("{}", server.status().ToString());
    return 1;
  }
  spdlog::info("serving on {}", socket);
  cloonix::ServeUntilShutdown(server->get(), socket, &shutdown);
  spdlog::info("stopped");
  return 0;
}
