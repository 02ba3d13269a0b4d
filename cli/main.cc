// cloonix: the command line of a cloonix net. Every call of the API as a
// subcommand; human output by default, --format json for scripts.
//
// Exit codes: 0 success; 1 the net refused or failed the request (the line
// on stderr names the gRPC code); 2 usage error; 3 the net is not running or
// does not answer.
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
#include "cli/guest_client.h"
#include "cli/output.h"
#include "cloonix/v1/guest.grpc.pb.h"
#include "cloonix/v1/topology.grpc.pb.h"
#include "common/a2b_settings.h"
#include "common/atomic_file.h"
#include "common/daemon_setup.h"
#include "common/item_kind.h"
#include "common/names.h"
#include "common/netns.h"
#include "common/pki.h"
#include "common/process.h"
#include "common/rpc_client.h"

namespace {

namespace v1 = cloonix::v1;
using cloonix::cli::ToJsonLine;

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitNotRunning = 3;

struct Globals {
  std::string net;
  std::string work_root;
  std::string format = "human";
  std::string remote;  // host:port of a doorway's TCP listener
  std::string creds;   // dir of ca.pem, client.pem, client.key
  bool Json() const { return format == "json"; }
  std::string WorkDir() const { return work_root + "/" + net; }
  // The net's front door (the doorway).
  std::string Socket() const { return WorkDir() + "/doorway.sock"; }
  std::string Where() const { return remote.empty() ? Socket() : remote; }
  // How messages name the net: with --remote the local --net means nothing.
  std::string NetLabel() const {
    return remote.empty() ? "net " + net : "the net at " + remote;
  }
};

const char* CodeName(grpc::StatusCode c) {
  switch (c) {
    case grpc::OK:
      return "OK";
    case grpc::CANCELLED:
      return "CANCELLED";
    case grpc::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::ABORTED:
      return "ABORTED";
    case grpc::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::INTERNAL:
      return "INTERNAL";
    case grpc::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "UNKNOWN";
  }
}

int Fail(const std::string& msg, int code = kExitFailed) {
  std::cerr << "cloonix: " << msg << std::endl;
  return code;
}

int FailRpc(const Globals& g, const grpc::Status& s) {
  if (s.error_code() == grpc::UNAVAILABLE &&
      absl::StartsWith(s.error_message(), "the net's ")) {
    // The doorway answers, one of the net's daemons does not (restarting?).
    return Fail(absl::StrCat("UNAVAILABLE: ", s.error_message()),
                kExitNotRunning);
  }
  if (s.error_code() == grpc::UNAVAILABLE &&
      absl::StrContains(s.error_message(), "connect")) {
    return Fail(
        absl::StrCat(g.remote.empty()
                         ? g.NetLabel() + " does not answer on " + g.Where()
                         : g.NetLabel() + " does not answer",
                     g.remote.empty() ? " (start it with: cloonix net start)"
                                      : absl::StrCat(": ", s.error_message())),
        kExitNotRunning);
  }
  return Fail(absl::StrCat(CodeName(s.error_code()), ": ", s.error_message()));
}

std::shared_ptr<grpc::Channel> Channel(const Globals& g) {
  if (g.remote.empty()) return cloonix::UnixChannel(g.Socket());
  auto creds = cloonix::LoadClientCreds(g.creds);
  grpc::SslCredentialsOptions o;
  if (creds.ok()) {
    o.pem_root_certs = creds->ca_pem;
    o.pem_private_key = creds->key_pem;
    o.pem_cert_chain = creds->cert_pem;
  } else {
    std::cerr << "cloonix: " << creds.status().message() << std::endl;
  }
  grpc::ChannelArguments args;
  // The doorway's certificate names it, whatever address is dialed.
  args.SetSslTargetNameOverride(cloonix::kDoorwayTlsName);
  return grpc::CreateCustomChannel(g.remote, grpc::SslCredentials(o), args);
}

class Client {
 public:
  explicit Client(const Globals& g)
      : g_(g),
        channel_(Channel(g)),
        topo_(v1::Topology::NewStub(channel_)),
        net_(v1::Net::NewStub(channel_)),
        guest_(v1::Guest::NewStub(channel_)) {}
  bool Exists() const {
    return !g_.remote.empty() || access(g_.Socket().c_str(), F_OK) == 0;
  }
  v1::Guest::Stub* guest() { return guest_.get(); }
  std::unique_ptr<grpc::ClientContext> Ctx(
      absl::Duration t = absl::Minutes(3)) {
    return cloonix::ContextWithDeadline(t);
  }
  v1::Topology::Stub* topo() { return topo_.get(); }
  v1::Net::Stub* net() { return net_.get(); }

 private:
  const Globals& g_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Topology::Stub> topo_;
  std::unique_ptr<v1::Net::Stub> net_;
  std::unique_ptr<v1::Guest::Stub> guest_;
};

int NotRunning(const Globals& g) {
  return Fail(absl::StrCat("net ", g.net, " is not running (no ", g.Socket(),
                           "); start it with: cloonix net start"),
              kExitNotRunning);
}

// ---- net ----

int NetStart(const Globals& g, const std::string& bulk_dir,
             const std::string& log_level, bool may_exist, int timeout_s,
             const std::string& listen, const std::string& resolv_conf,
             bool reset, bool adopt) {
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
       "--nat_resolv_conf=" + resolv_conf,
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

// ---- items ----

int PrintItem(const Globals& g, const v1::Item& item, const std::string& verb) {
  if (g.Json()) {
    std::cout << ToJsonLine(item) << std::endl;
  } else {
    std::cout << verb << " " << cloonix::KindName(item.kind()) << " "
              << item.name() << std::endl;
  }
  return 0;
}

int CreateItem(const Globals& g, const v1::Item& item) {
  Client c(g);
  if (!c.Exists()) return NotRunning(g);
  v1::CreateItemRequest req;
  *req.mutable_item() = item;
  v1::Item resp;
  auto ctx = c.Ctx();
  grpc::Status s = c.topo()->CreateItem(ctx.get(), req, &resp);
  if (!s.ok()) return FailRpc(g, s);
  return PrintItem(g, resp, "created");
}

int Connect(const Globals& g, const std::vector<std::string>& a,
            bool create_lan) {
  auto eth = cloonix::cli::ParseEth(a[1]);
  if (!eth.ok()) return Fail(std::string(eth.status().message()), kExitUsage);
  Client c(g);
  if (!c.Exists()) return NotRunning(g);
  v1::ConnectEthRequest req;
  req.set_item(a[0]);
  req.set_eth(*eth);
  req.set_lan(a[2]);
  req.set_create_lan(create_lan);
  v1::Item resp;
  auto ctx = c.Ctx();
  grpc::Status s = c.topo()->ConnectEth(ctx.get(), req, &resp);
  if (!s.ok()) return FailRpc(g, s);
  if (g.Json()) {
    std::cout << ToJsonLine(resp) << std::endl;
  } else {
    std::cout << "cabled " << a[0] << " eth" << *eth << " to lan " << a[2]
              << std::endl;
  }
  return 0;
}

int Disconnect(const Globals& g, const std::vector<std::string>& a) {
  auto eth = cloonix::cli::ParseEth(a[1]);
  if (!eth.ok()) return Fail(std::string(eth.status().message()), kExitUsage);
  Client c(g);
  if (!c.Exists()) return NotRunning(g);
  v1::DisconnectEthRequest req;
  req.set_item(a[0]);
  req.set_eth(*eth);
  req.set_lan(a[2]);
  v1::Item resp;
  auto ctx = c.Ctx();
  grpc::Status s = c.topo()->DisconnectEth(ctx.get(), req, &resp);
  if (!s.ok()) return FailRpc(g, s);
  if (g.Json()) {
    std::cout << ToJsonLine(resp) << std::endl;
  } else {
    std::cout << "uncabled " << a[0] << " eth" << *eth << " from lan " << a[2]
              << std::endl;
  }
  return 0;
}

int Delete(const Globals& g, const std::string& name, bool if_exists) {
  Client c(g);
  if (!c.Exists()) return NotRunning(g);
  v1::DeleteItemRequest req;
  req.set_name(name);
  req.set_allow_missing(if_exists);
  v1::DeleteItemResponse resp;
  auto ctx = c.Ctx();
  grpc::Status s = c.topo()->DeleteItem(ctx.get(), req, &resp);
  if (!s.ok()) return FailRpc(g, s);
  if (g.Json()) {
    std::cout << (resp.deleted()
                      ? absl::StrCat("{\"deleted\":\"", name, "\"}")
                      : absl::StrCat("{\"deleted\":null,\"missing\":\"", name,
                                     "\"}"))
              << std::endl;
  } else if (resp.deleted()) {
    std::cout << "deleted " << name << std::endl;
  } else {
    std::cout << "no item " << name << " (nothing deleted)" << std::endl;
  }
  return 0;
}

int List(const Globals& g) {
  Client c(g);
  if (!c.Exists()) return NotRunning(g);
  v1::ListItemsRequest req;
  v1::ListItemsResponse resp;
  auto ctx = c.Ctx(absl::Seconds(30));
  grpc::Status s = c.topo()->ListItems(ctx.get(), req, &resp);
  if (!s.ok()) return FailRpc(g, s);
  if (g.Json()) {
    std::cout << ToJsonLine(resp) << std::endl;
  } else if (resp.items().empty()) {
    std::cout << g.NetLabel() << " has no item" << std::endl;
  } else {
    std::cout << cloonix::cli::ItemsTable(
        {resp.items().begin(), resp.items().end()});
  }
  return 0;
}

int ConfigureA2b(const Globals& g, const std::string& name,
                 const std::vector<std::string>& tokens) {
  auto args = cloonix::cli::ParseA2bArgs(tokens);
  if (!args.ok()) return Fail(std::string(args.status().message()), kExitUsage);
  if (!args->dir.has_value()) {
    return Fail("cnf a2b needs dir=0 (end 0 to end 1) or dir=1", kExitUsage);
  }
  Client c(g);
  if (!c.Exists()) return NotRunning(g);
  v1::ConfigureA2bRequest req;
  req.set_name(name);
  req.set_dir(*args->dir);
  *req.mutable_patch() = args->patch;
  v1::Item resp;
  auto ctx = c.Ctx();
  grpc::Status s = c.topo()->ConfigureA2b(ctx.get(), req, &resp);
  if (!s.ok()) return FailRpc(g, s);
  if (g.Json()) {
    std::cout << ToJsonLine(resp) << std::endl;
  } else {
    std::cout << "a2b " << name << " dir" << *args->dir << ": "
              << cloonix::A2bSettingsText(*args->dir == 0 ? resp.a2b().dir0()
                                                          : resp.a2b().dir1())
              << std::endl;
  }
  return 0;
}

int Show(const Globals& g, const std::string& name) {
  Client c(g);
  if (!c.Exists()) return NotRunning(g);
  v1::GetItemRequest req;
  req.set_name(name);
  v1::Item resp;
  auto ctx = c.Ctx(absl::Seconds(30));
  grpc::Status s = c.topo()->GetItem(ctx.get(), req, &resp);
  if (!s.ok()) return FailRpc(g, s);
  if (g.Json()) {
    std::cout << ToJsonLine(resp) << std::endl;
  } else {
    std::cout << cloonix::cli::ItemDetails(resp);
  }
  return 0;
}

int Events(const Globals& g, int count) {
  Client c(g);
  if (!c.Exists()) return NotRunning(g);
  grpc::ClientContext ctx;
  v1::WatchEventsRequest req;
  auto reader = c.topo()->WatchEvents(&ctx, req);
  v1::Event e;
  int n = 0;
  while (reader->Read(&e)) {
    if (g.Json()) {
      std::cout << ToJsonLine(e) << std::endl;
    } else {
      std::cout << cloonix::cli::EventLine(e) << std::endl;
    }
    if (e.type() != v1::EVENT_TYPE_EXISTING &&
        e.type() != v1::EVENT_TYPE_SYNCED && count > 0 && ++n >= count) {
      ctx.TryCancel();
      break;
    }
  }
  grpc::Status s = reader->Finish();
  if (!s.ok() && s.error_code() != grpc::CANCELLED) return FailRpc(g, s);
  return 0;
}

// ---- guest access ----

int Ssh(const Globals& g, const std::string& name,
        const std::vector<std::string>& cmd, bool force_tty, bool no_tty) {
  Client c(g);
  if (!c.Exists()) return NotRunning(g);
  // Like ssh: a shell gets a pty when stdin is a terminal; a command does
  // not unless -t. A command is run by the guest's /bin/sh -c.
  bool tty = force_tty || (cmd.empty() && isatty(STDIN_FILENO) && !no_tty);
  std::vector<std::string> argv;
  if (!cmd.empty()) {
    std::string line;
    for (const auto& a : cmd)
      absl::StrAppend(&line, line.empty() ? "" : " ", a);
    argv = {"/bin/sh", "-c", line};
  }
  grpc::Status err;
  int code = cloonix::cli::RunSsh(c.guest(), name, argv, tty, &err);
  if (code < 0) return FailRpc(g, err);
  return code;
}

int Scp(const Globals& g, const std::string& src, const std::string& dst,
        bool recursive, bool quiet) {
  auto from = cloonix::cli::ParseGuestPath(src);
  auto to = cloonix::cli::ParseGuestPath(dst);
  if (from.has_value() == to.has_value()) {
    return Fail(
        "scp copies between this host and one guest: write the guest side "
        "name:path (e.g. cloonix scp file vm1:/tmp/)",
        kExitUsage);
  }
  Client c(g);
  if (!c.Exists()) return NotRunning(g);
  bool progress = !quiet && !g.Json() && isatty(STDERR_FILENO);
  grpc::Status rpc;
  auto r = to.has_value()
               ? cloonix::cli::CopyToGuest(c.guest(), src, *to, recursive,
                                           progress, &rpc)
               : cloonix::cli::CopyFromGuest(c.guest(), *from, dst, recursive,
                                             progress, &rpc);
  if (!rpc.ok()) return FailRpc(g, rpc);
  if (!r.ok()) return Fail(std::string(r.status().message()));
  if (g.Json()) {
    std::cout << absl::StrCat("{\"files\":", r->files, ",\"bytes\":", r->bytes,
                              ",\"seconds\":", r->seconds, "}")
              << std::endl;
  } else if (!quiet) {
    std::cerr << "copied " << r->files << " file" << (r->files == 1 ? "" : "s")
              << ", " << r->bytes << " bytes in "
              << absl::StrFormat("%.2f", r->seconds) << " s" << std::endl;
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

// ---- nat ----

int WhatIp(const Globals& g, const std::string& nat, const std::string& arg) {
  if (!absl::StartsWith(arg, "whatip=") || arg.size() == 7) {
    return Fail("usage: cloonix cnf nat <nat> whatip=<item>", kExitUsage);
  }
  Client c(g);
  if (!c.Exists()) return NotRunning(g);
  v1::WhatIpRequest req;
  req.set_nat(nat);
  req.set_item(arg.substr(7));
  v1::WhatIpResponse resp;
  auto ctx = c.Ctx(absl::Seconds(30));
  grpc::Status s = c.topo()->WhatIp(ctx.get(), req, &resp);
  if (!s.ok()) return FailRpc(g, s);
  if (g.Json()) {
    std::cout << ToJsonLine(resp) << std::endl;
  } else {
    std::cout << resp.ip() << std::endl;
  }
  return 0;
}

int Tunnel(const Globals& g, const std::string& name, uint32_t port) {
  Client c(g);
  if (!c.Exists()) return NotRunning(g);
  grpc::Status err;
  if (cloonix::cli::RunTunnel(c.guest(), name, port, &err) != 0)
    return FailRpc(g, err);
  return 0;
}

// The global options that select this net, for a nested cloonix command.
std::string SelfOptions(const Globals& g) {
  std::string o = absl::StrCat(" --net ", g.net, " --work-root ", g.work_root);
  if (!g.remote.empty())
    absl::StrAppend(&o, " --remote ", g.remote, " --creds ", g.creds);
  return o;
}

std::vector<std::string> SshOptions(const Globals& g, const std::string& self,
                                    const std::string& key) {
  std::string me = self;
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n > 0) me.assign(buf, static_cast<size_t>(n));
  std::vector<std::string> o = {
      "-o", absl::StrCat("ProxyCommand=", me, SelfOptions(g), " tunnel %h 22"),
      "-o", "StrictHostKeyChecking=no",
      "-o", "UserKnownHostsFile=/dev/null",
      "-o", "LogLevel=ERROR"};
  if (!key.empty()) o.insert(o.end(), {"-i", key});
  return o;
}

int ExecTool(std::vector<std::string> argv) {
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  execvp(cargv[0], cargv.data());
  return Fail(absl::StrCat("cannot run ", argv[0], ": ", std::strerror(errno),
                           " (apt-get install openssh-client)"));
}

int Osh(const Globals& g, const std::string& self, const std::string& name,
        const std::string& key, const std::vector<std::string>& cmd) {
  std::vector<std::string> argv = {"ssh"};
  auto o = SshOptions(g, self, key);
  argv.insert(argv.end(), o.begin(), o.end());
  argv.push_back("root@" + name);
  argv.insert(argv.end(), cmd.begin(), cmd.end());
  return ExecTool(argv);
}

int Ocp(const Globals& g, const std::string& self, const std::string& src,
        const std::string& dst, bool recursive, const std::string& key) {
  auto from = cloonix::cli::ParseGuestPath(src);
  auto to = cloonix::cli::ParseGuestPath(dst);
  if (from.has_value() == to.has_value()) {
    return Fail("ocp copies between this host and one guest (name:path)",
                kExitUsage);
  }
  std::vector<std::string> argv = {"scp", "-q"};
  if (recursive) argv.push_back("-r");
  auto o = SshOptions(g, self, key);
  argv.insert(argv.end(), o.begin(), o.end());
  argv.push_back(from ? absl::StrCat("root@", from->item, ":", from->path)
                      : src);
  argv.push_back(to ? absl::StrCat("root@", to->item, ":", to->path) : dst);
  return ExecTool(argv);
}

// Removes and returns the remote command of `cloonix [global options] ssh
// [-t|-T] <name> <command...>` (or osh [-i key]); other command lines are left
// as they are.
std::vector<std::string> SplitSshCommand(std::vector<std::string>* args) {
  static const std::set<std::string> kWithValue = {
      "-n", "--net", "--work-root", "-f", "--format", "--remote", "--creds"};
  size_t i = 0;
  while (i < args->size() && (*args)[i].rfind("-", 0) == 0) {
    bool has_eq = (*args)[i].find('=') != std::string::npos;
    i += (!has_eq && kWithValue.count((*args)[i])) ? 2 : 1;
  }
  if (i >= args->size() || ((*args)[i] != "ssh" && (*args)[i] != "osh"))
    return {};
  ++i;
  while (i < args->size() &&
         ((*args)[i] == "-t" || (*args)[i] == "-T" || (*args)[i] == "-i")) {
    i += (*args)[i] == "-i" ? 2 : 1;
  }
  if (i >= args->size() || (*args)[i].rfind("-", 0) == 0) return {};
  std::vector<std::string> cmd(args->begin() + i + 1, args->end());
  args->resize(i + 1);
  return cmd;
}

std::string EnvOr(const char* name, const std::string& def) {
  const char* v = std::getenv(name);
  return v && *v ? v : def;
}

}  // namespace

int main(int argc, char** argv) {
  Globals g;
  g.net = EnvOr("CLOONIX_NET", "nemo");
  g.work_root = EnvOr("CLOONIX_WORK_ROOT", "/var/lib/cloonix");
  CLI::App app{
      "cloonix: virtual networks of VMs (kvm) and containers (cnt) wired by "
      "lans, with\nper-direction impairment between lans (a2b), a way out to "
      "the host (nat), shells,\nconsoles and file copies into guests (ssh, "
      "console, scp; osh/ocp without agent)\nand remote control over mutual "
      "TLS. Links between hosts (c2c) come later.\n"
      "The net is chosen by --net or $CLOONIX_NET (default nemo)."};
  app.set_help_all_flag("--help-all", "Help for every subcommand");
  app.require_subcommand(1);
  app.fallthrough();
  app.add_option("-n,--net", g.net, "Net name ($CLOONIX_NET, default nemo)");
  app.add_option("--work-root", g.work_root,
                 "Root of the nets' work dirs ($CLOONIX_WORK_ROOT, default "
                 "/var/lib/cloonix)");
  app.add_option("-f,--format", g.format, "Output: human or json")
      ->check(CLI::IsMember({"human", "json"}));
  g.remote = EnvOr("CLOONIX_REMOTE", "");
  g.creds = EnvOr("CLOONIX_CREDS", "");
  app.add_option("--remote", g.remote,
                 "Drive a net on another host: its doorway's HOST:PORT "
                 "($CLOONIX_REMOTE; mutual TLS)");
  app.add_option("--creds", g.creds,
                 "Dir of the net's exported credentials, from `cloonix net "
                 "creds` ($CLOONIX_CREDS)");
  std::function<int()> action;

  // net
  auto* net = app.add_subcommand("net", "Start, stop, list and show nets");
  net->require_subcommand(1);
  std::string bulk_dir = EnvOr("CLOONIX_BULK_DIR", "/var/lib/cloonix/bulk");
  std::string log_level = "info";
  bool may_exist = false;
  int timeout_s = 120;
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
  std::string resolv_conf;
  start->add_option("--resolv-conf", resolv_conf,
                    "resolv.conf whose nameservers the nats' DNS relay "
                    "(172.17.0.3) uses (default: the host's)");
  bool reset = false;
  start->add_flag("--reset", reset,
                  "If state.json was lost and guests run that the state left "
                  "does not hold, delete them (without it the start refuses "
                  "and changes nothing)");
  bool adopt = false;
  start
      ->add_flag("--adopt", adopt,
                 "If state.json was lost and containers run that the state "
                 "left does not hold, take them into the net with their "
                 "eths and cables (VMs cannot be adopted yet)")
      ->excludes(start->get_option("--reset"));
  std::string listen;
  start->add_option("--listen", listen,
                    "Also serve on TCP HOST:PORT (port 0 picks one), mutual "
                    "TLS only; export client credentials with net creds");
  start->callback([&] {
    action = [&] {
      return NetStart(g, bulk_dir, log_level, may_exist, timeout_s, listen,
                      resolv_conf, reset, adopt);
    };
  });
  std::string creds_out;
  auto* creds = net->add_subcommand(
      "creds",
      "Export the CA and a client certificate for remote use "
      "(cloonix --remote ADDR --creds DIR ...)");
  creds->add_option("dir", creds_out, "Output directory")->required();
  creds->callback([&] { action = [&] { return NetCreds(g, creds_out); }; });
  net->add_subcommand(
         "stop",
         "Delete every item, stop the daemons, remove the netns (Cloonix: kil)")
      ->callback([&] { action = [&] { return NetStop(g); }; });
  net->add_subcommand("list", "List the nets running under the work root")
      ->callback([&] { action = [&] { return NetList(g); }; });
  net->add_subcommand("show", "Show the net and the state of its daemons")
      ->callback([&] { action = [&] { return NetShow(g); }; });

  // add
  auto* add = app.add_subcommand("add", "Create items and cables");
  add->require_subcommand(1);
  std::vector<std::string> lan_args;
  auto* add_lan =
      add->add_subcommand("lan",
                          "add lan <name>: create a lan;\nadd lan <item> <eth> "
                          "<lan>: cable an eth to a lan, "
                          "creating the lan if needed");
  add_lan->add_option("args", lan_args, "<name> | <item> <eth> <lan>")
      ->required();
  bool no_create = false;
  add_lan->add_flag("--no-create", no_create,
                    "Fail with NOT_FOUND if the lan does not exist");
  add_lan->callback([&] {
    action = [&]() -> int {
      if (lan_args.size() == 1) {
        v1::Item it;
        it.set_name(lan_args[0]);
        it.mutable_lan();
        return CreateItem(g, it);
      }
      if (lan_args.size() == 3) return Connect(g, lan_args, !no_create);
      return Fail(
          "usage: cloonix add lan <name> | cloonix add lan <item> <eth> <lan>",
          kExitUsage);
    };
  });
  std::vector<std::string> cnt_args;
  std::string image;
  uint32_t eth_count = 1;
  std::vector<std::string> env;
  std::string cmd;
  auto* add_cnt = add->add_subcommand(
      "cnt", "add cnt <name> [image] [eth=N]: create a container");
  add_cnt->add_option("args", cnt_args, "<name> [image] [eth=N]")->required();
  add_cnt->add_option("--image", image,
                      "Image name or OCI tarball path (default busybox)");
  add_cnt->add_option("--eth", eth_count, "Number of eths (1..32, default 1)");
  add_cnt->add_option("--env", env,
                      "KEY=value for the container's process (repeatable)");
  std::string cnt_natplug;
  add_cnt->add_option("--natplug", cnt_natplug,
                      "Create nat-<name> and lan-<name> cabled to this eth "
                      "(Cloonix's --natplug)");
  add_cnt->add_option("--cmd", cmd,
                      "Command run by /bin/sh -c instead of the image's");
  add_cnt->callback([&] {
    action = [&]() -> int {
      v1::Item it;
      it.set_name(cnt_args[0]);
      auto* c = it.mutable_cnt();
      c->set_image(image.empty() ? "busybox" : image);
      c->set_eth_count(eth_count);
      for (size_t i = 1; i < cnt_args.size(); ++i) {
        const std::string& a = cnt_args[i];
        if (absl::StartsWith(a, "eth=")) {
          uint32_t n;
          if (!absl::SimpleAtoi(a.substr(4), &n)) {
            return Fail("eth=N needs a number", kExitUsage);
          }
          c->set_eth_count(n);
        } else if (i == 1) {
          c->set_image(a);
        } else {
          return Fail("unexpected argument \"" + a + "\"", kExitUsage);
        }
      }
      for (const auto& e : env) c->add_env(e);
      if (!cnt_natplug.empty()) {
        auto eth = cloonix::cli::ParseEth(cnt_natplug);
        if (!eth.ok())
          return Fail(std::string(eth.status().message()), kExitUsage);
        c->set_natplug(*eth);
      }
      if (!cmd.empty()) {
        c->add_command("/bin/sh");
        c->add_command("-c");
        c->add_command(cmd);
      }
      return CreateItem(g, it);
    };
  });
  // Kinds the net will answer UNIMPLEMENTED for, until their service exists.
  std::string other_name;
  std::string kvm_name;
  std::vector<std::string> kvm_args;
  bool persistent = false;
  std::vector<std::string> mac_addrs;
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
  std::string kvm_natplug;
  add_kvm->add_option("--natplug", kvm_natplug,
                      "ethN or N: create nat-<name> and lan-<name> cabled to "
                      "that eth (for guests without agent: cloonix osh/ocp)");
  add_kvm->callback([&] {
    action = [&]() -> int {
      auto it =
          cloonix::cli::ParseAddKvm(kvm_name, kvm_args, persistent, mac_addrs);
      if (!it.ok()) return Fail(std::string(it.status().message()), kExitUsage);
      if (!kvm_natplug.empty()) {
        auto eth = cloonix::cli::ParseEth(kvm_natplug);
        if (!eth.ok())
          return Fail(std::string(eth.status().message()), kExitUsage);
        it->mutable_kvm()->set_natplug(*eth);
      }
      return CreateItem(g, *it);
    };
  });
  std::string nat_name;
  auto* add_nat = add->add_subcommand(
      "nat",
      "add nat <name>: the way out for a lan (cable its eth0): DHCP from "
      "172.17.0.10, gateway 172.17.0.2 = the host's loopback, DNS 172.17.0.3");
  add_nat->add_option("name", nat_name, "nat name")->required();
  add_nat->callback([&] {
    action = [&]() -> int {
      v1::Item it;
      it.set_name(nat_name);
      it.mutable_nat();
      return CreateItem(g, it);
    };
  });
  for (const char* kind : {"tap", "phy", "c2c"}) {
    auto* sc = add->add_subcommand(
        kind, std::string("add ") + kind + " <name> (not built yet)");
    sc->add_option("name", other_name, "Item name")->required();
    std::string k = kind;
    sc->callback([&, k] {
      action = [&, k]() -> int {
        v1::Item it;
        it.set_name(other_name);
        if (k == "tap") it.mutable_tap();
        if (k == "phy") it.mutable_phy();
        if (k == "c2c") it.mutable_c2c();
        return CreateItem(g, it);
      };
    });
  }

  std::string a2b_name;
  std::vector<std::string> a2b_tokens;
  auto* add_a2b = add->add_subcommand(
      "a2b",
      "add a2b <name> [dir=0|1] [delay=MS] [jitter=MS] [loss=PCT] [rate=KBPS] "
      "[burst=B] [qsize=N] [bsize=B]: create an a2b (eth0 = end 0, eth1 = end "
      "1); settings apply to both directions unless dir is given");
  add_a2b->add_option("name", a2b_name, "a2b name")->required();
  add_a2b->add_option("settings", a2b_tokens, "key=value settings");
  add_a2b->callback([&] {
    action = [&]() -> int {
      auto args = cloonix::cli::ParseA2bArgs(a2b_tokens);
      if (!args.ok())
        return Fail(std::string(args.status().message()), kExitUsage);
      v1::Item it;
      it.set_name(a2b_name);
      auto* a = it.mutable_a2b();
      if (!args->dir.has_value() || *args->dir == 0) {
        cloonix::ApplyA2bPatch(args->patch, a->mutable_dir0());
      }
      if (!args->dir.has_value() || *args->dir == 1) {
        cloonix::ApplyA2bPatch(args->patch, a->mutable_dir1());
      }
      return CreateItem(g, it);
    };
  });

  // cnf
  auto* cnf = app.add_subcommand("cnf", "Change the settings of an item, live");
  cnf->require_subcommand(1);
  std::string cnf_name;
  std::vector<std::string> cnf_tokens;
  auto* cnf_a2b = cnf->add_subcommand(
      "a2b",
      "cnf a2b <name> dir=0|1 [delay=MS] [jitter=MS] [loss=PCT] [rate=KBPS] "
      "[burst=B] [qsize=N] [bsize=B] [reorder=0|1]\n"
      "Cloonix form: cnf a2b <name> \"dir=0 cmd=loss val=N\" (loss in 1/100 "
      "%)");
  cnf_a2b->add_option("name", cnf_name, "a2b name")->required();
  cnf_a2b->add_option("settings", cnf_tokens, "key=value settings")->required();
  cnf_a2b->callback(
      [&] { action = [&] { return ConfigureA2b(g, cnf_name, cnf_tokens); }; });

  std::string cnf_kvm_name, cnf_kvm_action;
  auto* cnf_kvm = cnf->add_subcommand(
      "kvm",
      "cnf kvm <name> reboot|stop|start: hard reset; stop QEMU keeping the "
      "overlay and cables; start it again");
  cnf_kvm->add_option("name", cnf_kvm_name, "kvm name")->required();
  cnf_kvm->add_option("action", cnf_kvm_action, "reboot, stop or start")
      ->required()
      ->check(CLI::IsMember({"reboot", "stop", "start"}));
  cnf_kvm->callback([&] {
    action = [&] { return ControlKvm(g, cnf_kvm_name, cnf_kvm_action); };
  });
  std::string cnf_nat_name, cnf_nat_arg;
  auto* cnf_nat = cnf->add_subcommand(
      "nat", "cnf nat <nat> whatip=<item>: the DHCP lease <item> got");
  cnf_nat->add_option("nat", cnf_nat_name, "nat name")->required();
  cnf_nat->add_option("query", cnf_nat_arg, "whatip=<item>")->required();
  cnf_nat->callback(
      [&] { action = [&] { return WhatIp(g, cnf_nat_name, cnf_nat_arg); }; });

  // del
  std::vector<std::string> del_args;
  bool if_exists = false;
  auto* del =
      app.add_subcommand("del",
                         "del <name> | del sat <name>: delete an item;\n"
                         "del lan <item> <eth> <lan>: uncable an eth; del lan "
                         "<name>: delete a lan");
  del->add_option("args", del_args, "see above")->required();
  del->add_flag("--if-exists", if_exists, "Succeed if the item does not exist");
  del->callback([&] {
    action = [&]() -> int {
      if (del_args.size() == 1) return Delete(g, del_args[0], if_exists);
      if (del_args.size() == 2 &&
          (del_args[0] == "sat" || del_args[0] == "lan")) {
        return Delete(g, del_args[1], if_exists);
      }
      if (del_args.size() == 4 && del_args[0] == "lan") {
        return Disconnect(g, {del_args[1], del_args[2], del_args[3]});
      }
      return Fail("usage: cloonix del <name> | del lan <item> <eth> <lan>",
                  kExitUsage);
    };
  });

  // ssh / scp
  std::string ssh_name;
  std::vector<std::string> ssh_cmd;
  bool force_tty = false, no_tty = false;
  auto* ssh = app.add_subcommand(
      "ssh",
      "ssh <name> [command...]: a root shell or a command in a kvm or cnt, "
      "through its agent (works with the guest's network down); exits with "
      "the command's code");
  ssh->add_flag("-t", force_tty, "Allocate a pty even for a command");
  ssh->add_flag("-T", no_tty, "Never allocate a pty");
  ssh->add_option("name", ssh_name, "kvm or cnt name")->required();
  ssh->footer(
      "Everything after the name is the command (options included); it runs "
      "under /bin/sh -c.");
  ssh->callback([&] {
    action = [&] { return Ssh(g, ssh_name, ssh_cmd, force_tty, no_tty); };
  });
  std::string scp_src, scp_dst;
  bool scp_r = false, scp_q = false;
  auto* scp = app.add_subcommand(
      "scp",
      "scp [-r] <src> <dst>: copy files between this host and a guest; the "
      "guest side is name:path (relative paths are under /root)");
  scp->add_flag("-r", scp_r, "Copy directories recursively");
  scp->add_flag("-q", scp_q, "No progress and no summary");
  scp->add_option("src", scp_src, "Source")->required();
  scp->add_option("dst", scp_dst, "Destination")->required();
  scp->callback(
      [&] { action = [&] { return Scp(g, scp_src, scp_dst, scp_r, scp_q); }; });

  // osh / ocp / tunnel: guests without agent, through their nat.
  std::string osh_name, osh_key;
  auto* osh = app.add_subcommand(
      "osh",
      "osh <name> [command...]: ssh to the guest's own ssh server (as root) "
      "through its nat, for guests without agent (Cloonix's cloonix_osh); "
      "runs the system's ssh");
  osh->add_option("-i", osh_key, "Identity file for ssh");
  osh->add_option("name", osh_name, "kvm or cnt name")->required();
  osh->footer("Everything after the name is the remote command.");
  osh->callback([&] {
    action = [&] { return Osh(g, argv[0], osh_name, osh_key, ssh_cmd); };
  });
  std::string ocp_src, ocp_dst, ocp_key;
  bool ocp_r = false;
  auto* ocp = app.add_subcommand(
      "ocp",
      "ocp [-r] <src> <dst>: scp with the guest's own ssh server through its "
      "nat (name:path on the guest side), for guests without agent");
  ocp->add_flag("-r", ocp_r, "Recursive");
  ocp->add_option("-i", ocp_key, "Identity file for scp");
  ocp->add_option("src", ocp_src, "Source")->required();
  ocp->add_option("dst", ocp_dst, "Destination")->required();
  ocp->callback([&] {
    action = [&] { return Ocp(g, argv[0], ocp_src, ocp_dst, ocp_r, ocp_key); };
  });
  std::string con_name;
  int con_for = 0;
  auto* con = app.add_subcommand(
      "console",
      "console <name> [--for S]: attach to a kvm's serial console (Cloonix's "
      "cloonix_shk); Ctrl-] detaches");
  con->add_option("name", con_name, "kvm name")->required();
  con->add_option("--for", con_for,
                  "Detach after S seconds (print what the console shows; for "
                  "scripts)");
  con->callback([&] {
    action = [&]() -> int {
      Client c(g);
      if (!c.Exists()) return NotRunning(g);
      grpc::Status err;
      if (cloonix::cli::RunConsole(c.guest(), con_name, con_for, &err) != 0)
        return FailRpc(g, err);
      return 0;
    };
  });
  std::string tun_name;
  uint32_t tun_port = 22;
  auto* tun = app.add_subcommand(
      "tunnel",
      "tunnel <name> <port>: stdin/stdout to a TCP port of a guest through "
      "its nat (an ssh ProxyCommand)");
  tun->add_option("name", tun_name, "kvm or cnt name")->required();
  tun->add_option("port", tun_port, "guest TCP port")->required();
  tun->callback(
      [&] { action = [&] { return Tunnel(g, tun_name, tun_port); }; });

  app.add_subcommand("ls", "List the items of the net")->callback([&] {
    action = [&] { return List(g); };
  });
  std::string show_name;
  auto* show = app.add_subcommand("show", "Show one item");
  show->add_option("name", show_name, "Item name")->required();
  show->callback([&] { action = [&] { return Show(g, show_name); }; });
  int count = 0;
  auto* events = app.add_subcommand("events",
                                    "Stream the net's events: current items, "
                                    "then every change (NDJSON with -f json)");
  events->add_option("--count", count,
                     "Exit after this many changes (0: never)");
  events->callback([&] { action = [&] { return Events(g, count); }; });

  // `ssh <name> cmd -x ...`: the command is taken out before CLI11 sees it.
  std::vector<std::string> args(argv + 1, argv + argc);
  ssh_cmd = SplitSshCommand(&args);
  std::reverse(args.begin(), args.end());
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : kExitUsage;
  }
  if (auto s = cloonix::ValidateName(g.net, "net name"); !s.ok()) {
    return Fail(std::string(s.message()), kExitUsage);
  }
  return action ? action() : kExitUsage;
}
