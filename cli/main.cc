// cloonix: the command line of a cloonix net. Every call of the API as a
// subcommand; human output by default, --format json for scripts.
//
// Exit codes: 0 success; 1 the net refused or failed the request (the line
// on stderr names the gRPC code); 2 usage error; 3 the net is not running or
// does not answer.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cli/a2b_args.h"
#include "cli/output.h"
#include "cloonix/v1/topology.grpc.pb.h"
#include "common/a2b_settings.h"
#include "common/atomic_file.h"
#include "common/daemon_setup.h"
#include "common/item_kind.h"
#include "common/names.h"
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
  bool Json() const { return format == "json"; }
  std::string WorkDir() const { return work_root + "/" + net; }
  std::string Socket() const { return WorkDir() + "/orchestrator.sock"; }
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
      absl::StrContains(s.error_message(), "connect")) {
    return Fail(absl::StrCat("net ", g.net, " does not answer on ", g.Socket(),
                             " (start it with: cloonix net start)"),
                kExitNotRunning);
  }
  return Fail(absl::StrCat(CodeName(s.error_code()), ": ", s.error_message()));
}

class Client {
 public:
  explicit Client(const Globals& g)
      : g_(g),
        channel_(cloonix::UnixChannel(g.Socket())),
        topo_(v1::Topology::NewStub(channel_)),
        net_(v1::Net::NewStub(channel_)) {}
  bool Exists() const { return access(g_.Socket().c_str(), F_OK) == 0; }
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
};

int NotRunning(const Globals& g) {
  return Fail(absl::StrCat("net ", g.net, " is not running (no ", g.Socket(),
                           "); start it with: cloonix net start"),
              kExitNotRunning);
}

// ---- net ----

int NetStart(const Globals& g, const std::string& bulk_dir,
             const std::string& log_level, bool may_exist, int timeout_s) {
  if (cloonix::CheckHealth(cloonix::UnixChannel(g.Socket()), absl::Seconds(1))
          .ok()) {
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
       "--log_level=" + log_level},
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
    if (cloonix::CheckHealth(cloonix::UnixChannel(g.Socket()),
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

int NetStop(const Globals& g) {
  Client c(g);
  if (!c.Exists()) return NotRunning(g);
  v1::GetNetRequest greq;
  v1::NetInfo info;
  auto gctx = c.Ctx(absl::Seconds(10));
  grpc::Status s = c.net()->GetNet(gctx.get(), greq, &info);
  if (!s.ok()) return FailRpc(g, s);
  if (!g.Json()) {
    std::cerr << "stopping net " << g.net << " (" << info.item_count()
              << " items) ..." << std::flush;
  }
  v1::StopNetRequest req;
  v1::StopNetResponse resp;
  auto ctx = c.Ctx(absl::Minutes(5));
  s = c.net()->StopNet(ctx.get(), req, &resp);
  if (!g.Json()) std::cerr << std::endl;
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (
      cloonix::ProcessAlive(info.orchestrator_pid(), "cloonix-orchestrator") &&
      absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  if (!cloonix::ProcessAlive(info.orchestrator_pid(), "cloonix-orchestrator")) {
    // Sockets and pid files a killed daemon could not remove.
    for (const char* f :
         {"/lan_switch.pid", "/cnt_runner.pid", "/a2b.pid", "/a2b.sock",
          "/lan_switch.sock", "/cnt_runner.sock", "/orchestrator.sock"}) {
      unlink((g.WorkDir() + f).c_str());
    }
  }
  if (!s.ok()) return FailRpc(g, s);
  if (g.Json()) {
    std::cout << "{\"net\":\"" << g.net << "\",\"stopped\":true}" << std::endl;
  } else {
    std::cout << "net " << g.net << " stopped" << std::endl;
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
            << "\norchestrator pid: " << info.orchestrator_pid() << "\n";
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
    std::string sock = d.path().string() + "/orchestrator.sock";
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
    std::cout << "{\"deleted\":\"" << name << "\"}" << std::endl;
  } else {
    std::cout << "deleted " << name << std::endl;
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
    std::cout << "net " << g.net << " has no item" << std::endl;
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
      "cloonix: virtual networks of containers wired by lans, with "
      "per-direction\nimpairment between lans (a2b); VMs, NAT and links "
      "between hosts come later.\n"
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
      "Start the net's daemons (orchestrator, lan_switch, cnt_runner)");
  start->add_option("--bulk-dir", bulk_dir,
                    "Image tarballs dir ($CLOONIX_BULK_DIR)");
  start->add_option("--log-level", log_level, "Daemons' log level")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  start->add_flag("--may-exist", may_exist, "Succeed if the net already runs");
  start->add_option("--timeout", timeout_s,
                    "Seconds to wait for the net to be ready");
  start->callback([&] {
    action = [&] {
      return NetStart(g, bulk_dir, log_level, may_exist, timeout_s);
    };
  });
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
  for (const char* kind : {"kvm", "nat", "tap", "phy", "c2c"}) {
    auto* sc = add->add_subcommand(
        kind, std::string("add ") + kind + " <name> (not built yet)");
    sc->add_option("name", other_name, "Item name")->required();
    std::string k = kind;
    sc->callback([&, k] {
      action = [&, k]() -> int {
        v1::Item it;
        it.set_name(other_name);
        if (k == "kvm") it.mutable_kvm();
        if (k == "nat") it.mutable_nat();
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

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : kExitUsage;
  }
  if (auto s = cloonix::ValidateName(g.net, "net name"); !s.ok()) {
    return Fail(std::string(s.message()), kExitUsage);
  }
  return action ? action() : kExitUsage;
}
