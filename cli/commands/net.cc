// cloonix net start|stop|list|show|creds: a net's daemons on this host.
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

int NetStart(const Globals& g, const std::string& bulk_dir,
             const std::string& log_level, bool may_exist, int timeout_s,
             const std::string& listen, const std::string& resolv_conf,
             bool reset, bool adopt, const std::string& host_netns) {
  if (!g.remote.empty())
    return Fail("net start runs on the net's own host", kExitUsage);
  // The orchestrator decides whether the net runs (a doorway alone may
  // outlive a killed orchestrator; the new one adopts it).
  const std::string orch = g.WorkDir() + "/orchestrator.sock";
  if (cloonix::CheckHealth(cloonix::UnixChannel(orch), absl::Seconds(1)).ok()) {
    if (may_exist) {
      if (!g.Json()) {
        std::cout << "net " << g.net << " is already running" << std::endl;
      }
      return 0;
    }
    return Fail(absl::StrCat("ALREADY_EXISTS: net ", g.net,
                             " is already running (", g.Socket(), ")"));
  }
  for (const auto& d : {g.WorkDir(), g.WorkDir() + "/log"}) {
    if (auto s = cloonix::MakeDirs(d); !s.ok()) return Fail(s.ToString());
  }
  std::string log = g.WorkDir() + "/log/orchestrator.log";
  auto pid = cloonix::SpawnDaemon(
      {cloonix::SiblingOrPath("cloonix-orchestrator"), "--net=" + g.net,
       "--work_dir=" + g.WorkDir(), "--bulk_dir=" + bulk_dir,
       "--log_level=" + log_level, "--doorway_listen=" + listen,
       "--nat_resolv_conf=" + resolv_conf, "--host_netns=" + host_netns,
       std::string("--on_lost_state=") + (reset   ? "reset"
                                          : adopt ? "adopt"
                                                  : "refuse")},
      log);
  if (!pid.ok()) return Fail(pid.status().ToString());
  if (!g.Json()) {
    std::cerr << "starting net " << g.net << " (log: " << log << ") ..."
              << std::flush;
  }
  absl::Time start = absl::Now();
  absl::Time deadline = start + absl::Seconds(timeout_s);
  while (absl::Now() < deadline) {
    if (cloonix::ReapIfExited(*pid)) {
      if (!g.Json()) std::cerr << std::endl;
      std::string tail = cloonix::ReadFile(log).value_or("");
      if (tail.size() > 2000) tail = tail.substr(tail.size() - 2000);
      return Fail(absl::StrCat("the orchestrator of net ", g.net,
                               " exited; end of ", log, ":\n", tail));
    }
    if (cloonix::CheckHealth(cloonix::UnixChannel(orch),
                             absl::Milliseconds(300))
            .ok() &&
        cloonix::CheckHealth(cloonix::UnixChannel(g.Socket()),
                             absl::Milliseconds(300))
            .ok()) {
      if (g.Json()) {
        std::cout << absl::StrCat("{\"net\":\"", g.net, "\",\"pid\":", *pid,
                                  ",\"socket\":\"", g.Socket(), "\"}")
                  << std::endl;
      } else {
        std::cerr << " ready in " << absl::FormatDuration(absl::Now() - start)
                  << std::endl;
      }
      return 0;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  return Fail(absl::StrCat("DEADLINE_EXCEEDED: net ", g.net,
                           " not ready after ", timeout_s, " s; see ", log),
              kExitNotRunning);
}

// The daemons of a net, by the names of their pid files and sockets.
constexpr const char* kDaemons[] = {"lan_switch",  "cnt_runner", "a2b",
                                    "vm_runner",   "nat",        "doorway",
                                    "orchestrator"};

// Sockets and pid files that killed daemons could not remove.
void RemoveDaemonFiles(const Globals& g) {
  for (const char* d : kDaemons) {
    unlink(absl::StrCat(g.WorkDir(), "/", d, ".pid").c_str());
    unlink(absl::StrCat(g.WorkDir(), "/", d, ".sock").c_str());
  }
  unlink((g.WorkDir() + "/doorway.addr").c_str());
}

// Whether anything of the net is left on this host: its netns, a daemon's
// pid file, its state.
bool NetHasTraces(const Globals& g) {
  if (cloonix::NetnsExists(cloonix::NetNetns(g.net))) return true;
  std::vector<std::string> files = {"state.json", "state.json.prev"};
  for (const char* d : kDaemons) files.push_back(absl::StrCat(d, ".pid"));
  for (const auto& f : files) {
    if (access(absl::StrCat(g.WorkDir(), "/", f).c_str(), F_OK) == 0) {
      return true;
    }
  }
  return false;
}

// net stop without a working orchestrator (killed, or refusing to start on a
// lost state): a one-shot `cloonix-orchestrator --stop` adopts or starts the
// services, deletes every item and tears the services down.
int NetStopOffline(const Globals& g) {
  if (!NetHasTraces(g)) return NotRunning(g);
  std::string log = g.WorkDir() + "/log/orchestrator.log";
  if (auto s = cloonix::MakeDirs(g.WorkDir() + "/log"); !s.ok()) {
    return Fail(s.ToString());
  }
  if (!g.Json()) {
    std::cerr << "stopping net " << g.net
              << " (its orchestrator does not answer: stopping offline) ..."
              << std::flush;
  }
  auto pid = cloonix::SpawnDaemon(
      {cloonix::SiblingOrPath("cloonix-orchestrator"), "--net=" + g.net,
       "--work_dir=" + g.WorkDir(), "--stop"},
      log);
  if (!pid.ok()) return Fail(pid.status().ToString());
  absl::Time deadline = absl::Now() + absl::Minutes(5);
  int rc = -1;
  while (absl::Now() < deadline) {
    if (auto code = cloonix::ReapExitCode(*pid); code.has_value()) {
      rc = *code;
      break;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  if (!g.Json()) std::cerr << std::endl;
  RemoveDaemonFiles(g);
  if (rc != 0) {
    std::string tail = cloonix::ReadFile(log).value_or("");
    if (tail.size() > 2000) tail = tail.substr(tail.size() - 2000);
    return Fail(absl::StrCat("net ", g.net, " stop failed (",
                             rc < 0 ? "timeout" : absl::StrCat("exit ", rc),
                             "); end of ", log, ":\n", tail));
  }
  if (g.Json()) {
    std::cout << "{\"net\":\"" << g.net << "\",\"stopped\":true}" << std::endl;
  } else {
    std::cout << "net " << g.net << " stopped" << std::endl;
  }
  return 0;
}

int NetStop(const Globals& g) {
  Client c(g);
  if (!c.Exists()) {
    return g.remote.empty() ? NetStopOffline(g) : NotRunning(g);
  }
  v1::GetNetRequest greq;
  v1::NetInfo info;
  auto gctx = c.Ctx(absl::Seconds(10));
  grpc::Status s = c.net()->GetNet(gctx.get(), greq, &info);
  if (!s.ok() && g.remote.empty() &&
      s.error_code() == grpc::StatusCode::UNAVAILABLE) {
    return NetStopOffline(g);
  }
  if (!s.ok()) return FailRpc(g, s);
  if (!g.Json()) {
    std::cerr << "stopping net " << info.name() << " (" << info.item_count()
              << " items) ..." << std::flush;
  }
  v1::StopNetRequest req;
  v1::StopNetResponse resp;
  auto ctx = c.Ctx(absl::Minutes(5));
  s = c.net()->StopNet(ctx.get(), req, &resp);
  if (!g.Json()) std::cerr << std::endl;
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (
      g.remote.empty() &&
      cloonix::ProcessAlive(info.orchestrator_pid(), "cloonix-orchestrator") &&
      absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  if (g.remote.empty() &&
      !cloonix::ProcessAlive(info.orchestrator_pid(), "cloonix-orchestrator")) {
    RemoveDaemonFiles(g);
  }
  if (!s.ok()) return FailRpc(g, s);
  if (g.Json()) {
    std::cout << "{\"net\":\"" << info.name() << "\",\"stopped\":true}"
              << std::endl;
  } else {
    std::cout << "net " << info.name() << " stopped" << std::endl;
  }
  return 0;
}

int NetShow(const Globals& g) {
  Client c(g);
  if (!c.Exists()) return NotRunning(g);
  v1::GetNetRequest req;
  v1::NetInfo info;
  auto ctx = c.Ctx(absl::Seconds(10));
  grpc::Status s = c.net()->GetNet(ctx.get(), req, &info);
  if (!s.ok()) return FailRpc(g, s);
  if (g.Json()) {
    std::cout << ToJsonLine(info) << std::endl;
    return 0;
  }
  std::cout << "net:      " << info.name() << "\nwork dir: " << info.work_dir()
            << "\nnetns:    " << info.netns()
            << "\nitems:    " << info.item_count()
            << "\norchestrator pid: " << info.orchestrator_pid()
            << ", restarts " << info.orchestrator_restarts() << "\n";
  for (const auto& sv : info.services()) {
    std::cout << "service " << sv.name() << ": pid " << sv.pid() << ", "
              << (sv.healthy() ? "healthy" : "NOT healthy") << ", restarts "
              << sv.restarts() << "\n";
  }
  return 0;
}

int NetList(const Globals& g) {
  std::error_code ec;
  std::vector<v1::NetInfo> nets;
  for (const auto& d : std::filesystem::directory_iterator(g.work_root, ec)) {
    std::string sock = d.path().string() + "/doorway.sock";
    if (access(sock.c_str(), F_OK) != 0) continue;
    auto stub = v1::Net::NewStub(cloonix::UnixChannel(sock));
    auto ctx = cloonix::ContextWithDeadline(absl::Seconds(2));
    v1::GetNetRequest req;
    v1::NetInfo info;
    if (stub->GetNet(ctx.get(), req, &info).ok()) nets.push_back(info);
  }
  if (g.Json()) {
    std::string out = "{\"nets\":[";
    for (size_t i = 0; i < nets.size(); ++i) {
      absl::StrAppend(&out, i ? "," : "", ToJsonLine(nets[i]));
    }
    std::cout << out << "]}" << std::endl;
    return 0;
  }
  if (nets.empty()) {
    std::cout << "no net running under " << g.work_root << std::endl;
    return 0;
  }
  for (const auto& n : nets) {
    std::cout << n.name() << "  items=" << n.item_count()
              << "  pid=" << n.orchestrator_pid() << "  " << n.work_dir()
              << "\n";
  }
  return 0;
}

int NetCreds(const Globals& g, const std::string& out) {
  if (!g.remote.empty())
    return Fail("net creds runs on the net's own host", kExitUsage);
  const std::string pki = g.WorkDir() + "/pki";
  auto files = cloonix::PkiPaths(pki);
  auto addr = cloonix::ReadFile(g.WorkDir() + "/doorway.addr");
  if (access(files.client_key.c_str(), R_OK) != 0) {
    return Fail(
        absl::StrCat("net ", g.net, " has no TCP listener credentials in ", pki,
                     ": start it with cloonix net start --listen "
                     "HOST:PORT"),
        kExitFailed);
  }
  if (auto s = cloonix::MakeDirs(out, 0700); !s.ok()) return Fail(s.ToString());
  std::vector<std::pair<std::string, std::string>> copies = {
      {files.ca_cert, "ca.pem"},
      {files.client_cert, "client.pem"},
      {files.client_key, "client.key"}};
  for (const auto& [from, name] : copies) {
    auto data = cloonix::ReadFile(from);
    if (!data.ok()) return Fail(data.status().ToString());
    mode_t old = umask(0077);
    auto s = cloonix::WriteFileAtomic(out + "/" + name, *data);
    umask(old);
    if (!s.ok()) return Fail(s.ToString());
    chmod((out + "/" + name).c_str(), 0600);
  }
  std::string address(addr.ok() ? absl::StripAsciiWhitespace(*addr) : "");
  if (!address.empty()) {
    cloonix::WriteFileAtomic(out + "/address", address + "\n").IgnoreError();
  }
  if (g.Json()) {
    std::cout << absl::StrCat("{\"dir\":\"", out, "\",\"address\":\"", address,
                              "\"}")
              << std::endl;
  } else {
    std::cout << "credentials of net " << g.net << " written to " << out
              << " (keep client.key secret)\nuse: cloonix --remote "
              << (address.empty() ? "HOST:PORT" : address) << " --creds " << out
              << " ls" << std::endl;
  }
  return 0;
}

}  // namespace

int StartNetForLab(const Globals& g, const std::string& bulk_dir,
                   const std::string& listen) {
  return NetStart(g, bulk_dir, "info", /*may_exist=*/true, /*timeout_s=*/120,
                  listen, /*resolv_conf=*/"", /*reset=*/false,
                  /*adopt=*/false, /*host_netns=*/"");
}

int StopNetForLab(const Globals& g) {
  if (g.remote.empty() && !Client(g).Exists() && !NetHasTraces(g)) {
    if (g.Json()) {
      std::cout << "{\"net\":\"" << g.net << "\",\"stopped\":false}"
                << std::endl;
    } else {
      std::cout << "net " << g.net << " is not running: nothing to destroy"
                << std::endl;
    }
    return 0;
  }
  return NetStop(g);
}

void AddNetCommands(CLI::App* app, Context& ctx) {
  Globals& g = ctx.g;
  // net
  auto* net = app->add_subcommand("net", "Start, stop, list and show nets");
  net->require_subcommand(1);
  static std::string bulk_dir =
      EnvOr("CLOONIX_BULK_DIR", "/var/lib/cloonix/bulk");
  static std::string log_level = "info";
  static bool may_exist = false;
  static int timeout_s = 120;
  auto* start = net->add_subcommand(
      "start",
      "Start the net's daemons (orchestrator, doorway, lan_switch, "
      "cnt_runner, vm_runner, a2b)");
  start->add_option("--bulk-dir", bulk_dir,
                    "Image tarballs dir ($CLOONIX_BULK_DIR)");
  start->add_option("--log-level", log_level, "Daemons' log level")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  start->add_flag("--may-exist", may_exist, "Succeed if the net already runs");
  start->add_option("--timeout", timeout_s,
                    "Seconds to wait for the net to be ready");
  static std::string resolv_conf;
  start->add_option("--resolv-conf", resolv_conf,
                    "resolv.conf whose nameservers the nats' DNS relay "
                    "(172.17.0.3) uses (default: the host's)");
  static bool reset = false;
  start->add_flag("--reset", reset,
                  "If state.json was lost and guests run that the state left "
                  "does not hold, delete them (without it the start refuses "
                  "and changes nothing)");
  static bool adopt = false;
  start
      ->add_flag("--adopt", adopt,
                 "If state.json was lost and containers run that the state "
                 "left does not hold, take them into the net with their "
                 "eths and cables (VMs cannot be adopted yet)")
      ->excludes(start->get_option("--reset"));
  static std::string listen;
  start->add_option("--listen", listen,
                    "Also serve on TCP HOST:PORT (port 0 picks one), mutual "
                    "TLS only; export client credentials with net creds");
  static std::string host_netns;
  start->add_option(
      "--host-netns", host_netns,
      "A named netns (ip netns add) that stands for this net's host on the "
      "network: the --listen address, the nat and the c2c UDP sockets are "
      "there (two nets on one machine standing for two hosts)");
  start->callback([&] {
    ctx.action = [&] {
      return NetStart(g, bulk_dir, log_level, may_exist, timeout_s, listen,
                      resolv_conf, reset, adopt, host_netns);
    };
  });
  static std::string creds_out;
  auto* creds = net->add_subcommand(
      "creds",
      "Export the CA and a client certificate for remote use "
      "(cloonix --remote ADDR --creds DIR ...)");
  creds->add_option("dir", creds_out, "Output directory")->required();
  creds->callback([&] { ctx.action = [&] { return NetCreds(g, creds_out); }; });
  net->add_subcommand(
         "stop",
         "Delete every item, stop the daemons, remove the netns (Cloonix: kil)")
      ->callback([&] { ctx.action = [&] { return NetStop(g); }; });
  net->add_subcommand("list", "List the nets running under the work root")
      ->callback([&] { ctx.action = [&] { return NetList(g); }; });
  net->add_subcommand("show", "Show the net and the state of its daemons")
      ->callback([&] { ctx.action = [&] { return NetShow(g); }; });
}

}  // namespace cloonix::cli
