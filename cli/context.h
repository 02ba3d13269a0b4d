// What every command of the CLI shares: the global options, the exit codes,
// the connection to the net (its doorway, or a remote one over mutual TLS),
// error reporting that maps a gRPC status to an exit code, and Call, the one
// helper that calls an RPC and prints its answer (human or JSON).
#ifndef CLOONIX_CLI_CONTEXT_H_
#define CLOONIX_CLI_CONTEXT_H_

#include <unistd.h>

#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cli/output.h"
#include "cloonix/v1/guest.grpc.pb.h"
#include "cloonix/v1/topology.grpc.pb.h"
#include "common/rpc_client.h"
#include "grpcpp/grpcpp.h"

namespace cloonix::cli {

namespace v1 = cloonix::v1;

// Exit codes: 0 success; 1 the net refused or failed the request (the line
// on stderr names the gRPC code); 2 usage error; 3 the net is not running or
// does not answer.
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitNotRunning = 3;
// apply --wait: an item was not ready before --timeout.
constexpr int kExitNotReady = 4;

struct Globals {
  std::string net;
  std::string work_root;
  std::string format = "human";
  std::string remote;      // host:port of a doorway's TCP listener
  std::string creds;       // dir of ca.pem, client.pem, client.key
  bool net_given = false;  // --net on the command line (wins over a file's)
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

// The parsed command line, shared by the command modules (commands/*.cc):
// each registers its subcommands, whose callback sets `action`; main runs it.
struct Context {
  Globals g;
  std::function<int()> action;
  std::string self;                  // argv[0], for commands that re-run it
  std::vector<std::string> ssh_cmd;  // what follows `ssh|osh <name>`
};

// Prints "cloonix: <msg>" on stderr; returns `code`.
int Fail(const std::string& msg, int code = kExitFailed);
// A failed RPC: the message and the exit code its status maps to (reasons
// UPSTREAM_UNAVAILABLE, or gRPC's own UNAVAILABLE: 3; others: 1).
int FailRpc(const Globals& g, const grpc::Status& s);
std::shared_ptr<grpc::Channel> Channel(const Globals& g);
int NotRunning(const Globals& g);
std::string EnvOr(const char* name, const std::string& def);

class Client {
 public:
  explicit Client(const Globals& g)
      : g_(g),
        channel_(Channel(g)),
        topo_(v1::Topology::NewStub(channel_)),
        net_(v1::Net::NewStub(channel_)),
        guest_(v1::Guest::NewStub(channel_)) {}
  // A remote net, or a local one whose doorway socket exists. For a local
  // net, waits up to 5 s for the socket to accept a connection: a doorway
  // the orchestrator is restarting (about 1 s) answers the call instead of
  // the call failing with "does not answer". A healthy net connects at once.
  bool Exists() const {
    if (!g_.remote.empty()) return true;
    if (access(g_.Socket().c_str(), F_OK) != 0) return false;
    channel_->WaitForConnected(
        absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    return true;
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

// Calls one unary RPC of the net (exit 3 if it does not run) and prints the
// answer: one JSON line with --format json, else what `human` prints.
// Returns the exit code.
template <typename Resp>
int Call(const Globals& g, absl::Duration timeout,
         const std::function<grpc::Status(Client&, grpc::ClientContext*,
                                          Resp*)>& rpc,
         const std::function<void(const Resp&)>& human) {
  Client c(g);
  if (!c.Exists()) return NotRunning(g);
  Resp resp;
  auto ctx = c.Ctx(timeout);
  grpc::Status s = rpc(c, ctx.get(), &resp);
  if (!s.ok()) return FailRpc(g, s);
  if (g.Json()) {
    std::cout << ToJsonLine(resp) << std::endl;
  } else {
    human(resp);
  }
  return 0;
}

// Prints `<verb> <kind> <name>` (JSON: the item).
int PrintItem(const Globals& g, const v1::Item& item, const std::string& verb);
// Topology.CreateItem, printed.
int CreateItem(const Globals& g, const v1::Item& item);

}  // namespace cloonix::cli

#endif  // CLOONIX_CLI_CONTEXT_H_
