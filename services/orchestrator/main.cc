// cloonix-orchestrator: owns the topology of one net. Starts (or adopts) and
// supervises the net's services (lan_switch, cnt_runner, a2b, vm_runner,
// nat, doorway), reconciles them with
// the persisted topology at start and after any restart, and serves
// cloonix.v1.Topology and cloonix.v1.Net on <work_dir>/orchestrator.sock
// (unix, 0600).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/daemon_setup.h"
#include "common/logging.h"
#include "common/names.h"
#include "common/netns.h"
#include "common/notify_once.h"
#include "common/process.h"
#include "common/rpc_client.h"
#include "common/server.h"
#include "common/supervisor.h"
#include "services/orchestrator/c2c_peers.h"
#include "services/orchestrator/grpc_backends.h"
#include "services/orchestrator/keeper.h"
#include "services/orchestrator/net_manager.h"
#include "services/orchestrator/orchestrator_service.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(std::string, net, "nemo", "Name of the net.");
ABSL_FLAG(std::string, work_dir, "",
          "The net's work dir (default /var/lib/cloonix/<net>).");
ABSL_FLAG(std::string, bulk_dir, "/var/lib/cloonix/bulk",
          "Images dir, passed to the runners.");
ABSL_FLAG(
    std::string, lan_switch_bin, "",
    "cloonix-lan-switch binary (default: next to this binary, else PATH).");
ABSL_FLAG(
    std::string, cnt_runner_bin, "",
    "cloonix-cnt-runner binary (default: next to this binary, else PATH).");
ABSL_FLAG(std::string, a2b_bin, "",
          "cloonix-a2b binary (default: next to this binary, else PATH).");
ABSL_FLAG(
    std::string, host_netns, "",
    "A named netns (ip netns) that stands for this net's host on the "
    "network: the doorway's listener, the nat and the c2c worker (and "
    "this orchestrator, which calls the c2c peers) run in it; lan_switch, "
    "cnt_runner, a2b and vm_runner stay in the host's own. Tests use it "
    "to stand two hosts on one machine.");
ABSL_FLAG(std::string, c2c_bin, "",
          "cloonix-c2c binary (default: next to this binary, else PATH).");
ABSL_FLAG(std::string, vm_runner_bin, "",
          "cloonix-vm-runner binary (default: next to this binary, else "
          "PATH).");
ABSL_FLAG(std::string, doorway_bin, "",
          "cloonix-doorway binary (default: next to this binary, else PATH).");
ABSL_FLAG(std::string, doorway_listen, "",
          "Let the doorway also listen on TCP host:port (mutual TLS).");
ABSL_FLAG(std::string, nat_bin, "",
          "cloonix-nat binary (default: next to this binary, else PATH).");
ABSL_FLAG(std::string, nat_resolv_conf, "",
          "resolv.conf for the nats' DNS relay (default: the host's).");
ABSL_FLAG(std::string, libvirt_dir, "",
          "Passed to vm_runner (default /var/lib/cloonix/libvirt).");
ABSL_FLAG(std::string, lan_switch_socket, "",
          "Use a lan_switch already running at this unix socket instead of "
          "starting one.");
ABSL_FLAG(std::string, cnt_runner_socket, "",
          "Use a cnt_runner already running at this unix socket instead of "
          "starting one.");
ABSL_FLAG(std::string, on_lost_state, "refuse",
          "When state.json is missing or unreadable and guests run that the "
          "state left does not know: 'refuse' (exit with code 4, the guests "
          "untouched), 'reset' (delete them: net start --reset) or 'adopt' "
          "(take the containers into the topology: net start --adopt).");
ABSL_FLAG(bool, stop, false,
          "Stop the net and exit: adopt or start its services, delete every "
          "item, tear the services down (what `net stop` runs when the net's "
          "orchestrator is gone or cannot load its state).");
ABSL_FLAG(bool, keeper, false,
          "Run as the net's keeper: restart the orchestrator (the same "
          "command line without --keeper) when it dies without a deliberate "
          "exit. Started by the orchestrator itself.");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn or error.");

namespace {

std::string FlagOrSibling(const std::string& flag, const std::string& name) {
  return flag.empty() ? cloonix::SiblingOrPath(name) : flag;
}

// Exit code when the state is lost and guests run (--on_lost_state=refuse).
constexpr int kExitStateLost = 4;

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "cloonix-orchestrator --net=<net> [--work_dir=DIR] [--bulk_dir=DIR]\n"
      "Owns one net's topology and serves cloonix.v1.Topology and "
      "cloonix.v1.Net.");
  std::vector<std::string> orch_argv;
  for (int i = 0; i < argc; ++i) {
    if (std::string(argv[i]) != "--keeper") orch_argv.push_back(argv[i]);
  }
  std::vector<std::string> keeper_argv = orch_argv;
  keeper_argv.insert(keeper_argv.begin() + 1, "--keeper");
  absl::ParseCommandLine(argc, argv);
  const bool keeper = absl::GetFlag(FLAGS_keeper);
  if (!keeper) cloonix::BlockShutdownSignals();  // the keeper blocks its own
  cloonix::InitLogging(keeper ? "keeper" : "orchestrator",
                       absl::GetFlag(FLAGS_log_level));
  auto setup =
      cloonix::SetUpDaemon(absl::GetFlag(FLAGS_net),
                           absl::GetFlag(FLAGS_work_dir), "", "orchestrator");
  if (!setup.ok()) {
    spdlog::error("{}", setup.status().ToString());
    return 2;
  }
  if (keeper) {
    return cloonix::RunKeeper({setup->work_dir, orch_argv,
                               setup->work_dir + "/log/orchestrator.log"});
  }
  const std::string net = setup->net;
  const std::string work_dir = setup->work_dir;
  const std::string bulk = absl::GetFlag(FLAGS_bulk_dir);
  // Before any thread: every later thread and child is in the host netns
  // given, except the services put back into the machine's own.
  int machine_netns = -1;
  if (const std::string hn = absl::GetFlag(FLAGS_host_netns); !hn.empty()) {
    // Started from the machine's netns (by the CLI or the keeper, which
    // is put back there).
    machine_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (machine_netns < 0) {
      spdlog::error("cannot open /proc/self/ns/net: {}", strerror(errno));
      return 1;
    }
    if (auto s = cloonix::EnterNetns(hn); !s.ok()) {
      spdlog::error("--host_netns: {}", s.ToString());
      return 1;
    }
    spdlog::info("host netns {}: doorway, nat and c2c run there", hn);
  }
  std::string lvl = "--log_level=" + absl::GetFlag(FLAGS_log_level);
  const std::string ext_ls = absl::GetFlag(FLAGS_lan_switch_socket);
  const std::string ext_cr = absl::GetFlag(FLAGS_cnt_runner_socket);
  const std::string ls_sock =
      ext_ls.empty() ? work_dir + "/lan_switch.sock" : ext_ls;
  const std::string cr_sock =
      ext_cr.empty() ? work_dir + "/cnt_runner.sock" : ext_cr;
  const std::string a2b_sock = work_dir + "/a2b.sock";
  const std::string c2c_sock = work_dir + "/c2c.sock";
  const std::string vr_sock = work_dir + "/vm_runner.sock";
  const std::string dw_sock = work_dir + "/doorway.sock";
  const std::string nat_sock = work_dir + "/nat.sock";
  std::vector<std::string> nat_argv = {
      FlagOrSibling(absl::GetFlag(FLAGS_nat_bin), "cloonix-nat"),
      "--net=" + net, "--work_dir=" + work_dir, "--socket=" + nat_sock, lvl};
  if (!absl::GetFlag(FLAGS_nat_resolv_conf).empty())
    nat_argv.push_back("--resolv_conf=" + absl::GetFlag(FLAGS_nat_resolv_conf));
  std::vector<std::string> vr_argv = {
      FlagOrSibling(absl::GetFlag(FLAGS_vm_runner_bin), "cloonix-vm-runner"),
      "--net=" + net,
      "--work_dir=" + work_dir,
      "--socket=" + vr_sock,
      "--bulk_dir=" + bulk,
      lvl};
  if (!absl::GetFlag(FLAGS_libvirt_dir).empty())
    vr_argv.push_back("--libvirt_dir=" + absl::GetFlag(FLAGS_libvirt_dir));
  std::vector<std::string> dw_argv = {
      FlagOrSibling(absl::GetFlag(FLAGS_doorway_bin), "cloonix-doorway"),
      "--net=" + net,
      "--work_dir=" + work_dir,
      "--socket=" + dw_sock,
      "--orchestrator_socket=" + setup->socket,
      "--vm_runner_socket=" + vr_sock,
      "--cnt_runner_socket=" + cr_sock,
      lvl};
  if (!absl::GetFlag(FLAGS_doorway_listen).empty())
    dw_argv.push_back("--listen=" + absl::GetFlag(FLAGS_doorway_listen));
  std::vector<cloonix::ServiceSpec> specs = {
      {"lan_switch",
       {FlagOrSibling(absl::GetFlag(FLAGS_lan_switch_bin),
                      "cloonix-lan-switch"),
        "--net=" + net, "--work_dir=" + work_dir, "--socket=" + ls_sock, lvl},
       ls_sock,
       work_dir + "/lan_switch.pid",
       work_dir + "/log/lan_switch.log"},
      {"cnt_runner",
       {FlagOrSibling(absl::GetFlag(FLAGS_cnt_runner_bin),
                      "cloonix-cnt-runner"),
        "--net=" + net, "--work_dir=" + work_dir, "--socket=" + cr_sock,
        "--bulk_dir=" + bulk, lvl},
       cr_sock,
       work_dir + "/cnt_runner.pid",
       work_dir + "/log/cnt_runner.log"},
      {"a2b",
       {FlagOrSibling(absl::GetFlag(FLAGS_a2b_bin), "cloonix-a2b"),
        "--net=" + net, "--work_dir=" + work_dir, "--socket=" + a2b_sock, lvl},
       a2b_sock,
       work_dir + "/a2b.pid",
       work_dir + "/log/a2b.log"},
      {"c2c",
       {FlagOrSibling(absl::GetFlag(FLAGS_c2c_bin), "cloonix-c2c"),
        "--net=" + net, "--work_dir=" + work_dir, "--socket=" + c2c_sock, lvl},
       c2c_sock,
       work_dir + "/c2c.pid",
       work_dir + "/log/c2c.log"},
      {"vm_runner", vr_argv, vr_sock, work_dir + "/vm_runner.pid",
       work_dir + "/log/vm_runner.log"},
      {"nat", nat_argv, nat_sock, work_dir + "/nat.pid",
       work_dir + "/log/nat.log"},
      // Last: it forwards to the others (and to this orchestrator, which
      // serves a moment after: the doorway's calls wait for it).
      {"doorway", dw_argv, dw_sock, work_dir + "/doorway.pid",
       work_dir + "/log/doorway.log"},
  };

  specs[0].external = !ext_ls.empty();
  specs[1].external = !ext_cr.empty();
  for (auto& spec : specs) {
    if (spec.name == "lan_switch" || spec.name == "cnt_runner" ||
        spec.name == "a2b" || spec.name == "vm_runner")
      spec.netns_fd = machine_netns;
  }
  cloonix::GrpcLanBackend lans(ls_sock);
  cloonix::GrpcCntBackend cnts(cr_sock);
  cloonix::GrpcA2bBackend a2bs(a2b_sock);
  cloonix::GrpcC2cBackend c2cs(c2c_sock);
  cloonix::C2cPeers peers(net, work_dir);
  cloonix::GrpcVmBackend vms(vr_sock);
  cloonix::GrpcNatBackend nats(nat_sock);
  cloonix::NetManager manager(net, work_dir + "/state.json", &lans, &cnts,
                              &a2bs, &vms, &nats, &c2cs, &peers);
  const bool stop_only = absl::GetFlag(FLAGS_stop);
  const std::string on_lost = absl::GetFlag(FLAGS_on_lost_state);
  if (on_lost != "refuse" && on_lost != "reset" && on_lost != "adopt") {
    spdlog::error("--on_lost_state must be refuse, reset or adopt, not \"{}\"",
                  on_lost);
    return 2;
  }
  const std::string orch_pid_file = work_dir + "/orchestrator.pid";
  auto deliberate_exit = [&](const char* reason) {
    cloonix::MarkDeliberateExit(work_dir, reason, /*stop_keeper=*/true);
    if (cloonix::ReadPidFile(orch_pid_file) == getpid()) {
      unlink(orch_pid_file.c_str());
    }
  };
  if (stop_only) {
    deliberate_exit("stopped");  // no keeper restarts an orchestrator now
  } else {
    cloonix::ClearDeliberateExit(work_dir);
    if (auto s = cloonix::WritePidFile(orch_pid_file, getpid()); !s.ok()) {
      spdlog::error("{}", s.ToString());
      return 1;
    }
  }
  auto loaded = manager.Load();
  if (!loaded.ok() && !stop_only) {
    spdlog::error("cannot load the topology: {}", loaded.status().ToString());
    return 1;
  }
  if (!loaded.ok()) {
    spdlog::warn("stopping with an empty topology: {}",
                 loaded.status().ToString());
  }
  cloonix::Supervisor supervisor(specs, [&](const std::string& service) {
    spdlog::info("{} restarted: reconciling", service);
    if (auto s = manager.Reconcile(); !s.ok())
      spdlog::error("reconcile: {}", s.ToString());
  });
  if (auto s = supervisor.StartAll(absl::Seconds(60)); !s.ok()) {
    spdlog::error("cannot start the net's services: {}", s.ToString());
    supervisor.StopAll();
    return 1;
  }
  // Tears the net down: items, then each service removes what it runs
  // (containerd, OVS, netns) and exits: no restart from here on. The doorway
  // goes last (StopNet's reply goes through it).
  auto teardown = [&]() -> absl::Status {
    peers.SetStopping();  // the peers keep their c2c ends (shown down)
    absl::Status result = manager.DeleteAll();
    if (!result.ok()) spdlog::warn("deleting items: {}", result.ToString());
    supervisor.StopWatch();
    result.Update(vms.Teardown());
    result.Update(nats.Teardown());
    result.Update(a2bs.Teardown());
    result.Update(c2cs.Teardown());
    result.Update(cnts.Teardown());
    result.Update(lans.Teardown());
    cloonix::DeleteNetns(cloonix::NetNetns(net)).IgnoreError();
    unlink((work_dir + "/state.json").c_str());
    unlink((work_dir + "/state.json.prev").c_str());
    return result;
  };
  if (stop_only) {
    spdlog::info("stopping net {} (--stop)", net);
    absl::Status s = teardown();
    supervisor.StopAll();
    if (!s.ok()) spdlog::error("net stop: {}", s.ToString());
    spdlog::info("net {} stopped", net);
    return s.ok() ? 0 : 1;
  }
  // Never delete running guests only because the state was lost.
  if (loaded->source != cloonix::LoadReport::kCurrent) {
    auto unknown = manager.UnknownGuests();
    if (!unknown.ok()) {
      spdlog::error("cannot list the running guests: {}",
                    unknown.status().ToString());
      return 1;
    }
    if (!unknown->empty()) {
      std::string what = absl::StrJoin(*unknown, ", ");
      if (on_lost == "reset") {
        spdlog::warn("state.json is {}; --on_lost_state=reset: deleting {}",
                     loaded->problem, what);
      } else if (on_lost == "adopt") {
        spdlog::warn("state.json is {}; --on_lost_state=adopt: adopting {}",
                     loaded->problem, what);
        if (auto s = manager.AdoptGuests(); !s.ok()) {
          spdlog::error("net start --adopt: {}. Nothing was changed.",
                        std::string(s.message()));
          deliberate_exit("refused");
          return kExitStateLost;
        }
      } else {
        spdlog::error(
            "state.json of net {} is {} ({}) and guests run that it does not "
            "hold: {}. Nothing was changed. Choose: `cloonix net start "
            "--adopt` takes the containers into the net (with their eths and "
            "cables); `cloonix net start --reset` deletes them and keeps what "
            "the state holds; `cloonix net stop` removes the whole net.",
            net, loaded->problem,
            loaded->source == cloonix::LoadReport::kPrevious
                ? "state.json.prev was loaded"
                : "no state.json.prev either",
            what);
        deliberate_exit("refused");
        return kExitStateLost;  // the services and guests keep running
      }
    }
  }
  if (auto s = manager.Reconcile(); !s.ok()) {
    spdlog::error("initial reconcile failed: {}", s.ToString());
  }
  supervisor.Watch();

  absl::Notification shutdown;
  // Agent states (blue/red) of the VMs, every second (every 100 ms while a
  // new VM waits for its agent: NetManager::AwaitingAgents). Only read: a
  // silent agent never makes the orchestrator act on its VM. Also: a keeper
  // restarts this orchestrator if it dies (kill -9, a crash); a dead keeper is
  // started again.
  std::thread vm_refresh([&] {
    // The keeper first: an orchestrator killed in its first second comes
    // back too.
    cloonix::EnsureKeeper(work_dir, keeper_argv,
                          work_dir + "/log/orchestrator.log", machine_netns);
    absl::Time keeper_checked = absl::Now();
    while (!shutdown.WaitForNotificationWithTimeout(
        manager.AwaitingAgents() ? absl::Milliseconds(100)
                                 : absl::Seconds(1))) {
      manager.Refresh();
      if (!shutdown.HasBeenNotified() &&
          absl::Now() - keeper_checked >= absl::Seconds(1)) {
        keeper_checked = absl::Now();
        cloonix::EnsureKeeper(work_dir, keeper_argv,
                              work_dir + "/log/orchestrator.log",
                              machine_netns);
      }
    }
  });
  absl::Notification stopping;
  absl::Mutex stop_mu;

  cloonix::TopologyService topology(&manager, cloonix::UnixChannel(ls_sock),
                                    work_dir + "/snf", &c2cs, &peers);
  cloonix::NetService net_service({net, work_dir, cloonix::NetNetns(net)},
                                  &manager, &supervisor, [&]() -> absl::Status {
                                    absl::MutexLock l(&stop_mu);
                                    if (stopping.HasBeenNotified())
                                      return absl::OkStatus();
                                    spdlog::info("stopping net {}", net);
                                    topology.StopRecordings();
                                    absl::Status result = teardown();
                                    supervisor.StopAll("doorway");
                                    deliberate_exit("stopped");
                                    stopping.Notify();
                                    topology.EndWatches();
                                    cloonix::NotifyOnce(&shutdown);
                                    return result;
                                  });
  const std::string socket = setup->socket;
  auto server = cloonix::StartUnixServer(socket, {&topology, &net_service});
  if (!server.ok()) {
    spdlog::error("{}", server.status().ToString());
    return 1;
  }
  spdlog::info("net {} ready, serving on {}", net, socket);
  cloonix::ServeUntilShutdown(server->get(), socket, &shutdown,
                              [&] { topology.EndWatches(); });
  vm_refresh.join();
  if (!stopping.HasBeenNotified()) {
    // SIGTERM: leave the services and the lab running; a new orchestrator
    // adopts them.
    deliberate_exit("sigterm");
    stopping.Notify();
  } else {
    supervisor.StopAll();  // the doorway, now that StopNet was answered
  }
  spdlog::info("orchestrator exits");
  return 0;
}
