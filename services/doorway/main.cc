// cloonix-doorway: the net's only listener. Serves cloonix.v1.Topology,
// cloonix.v1.Net (forwarded to the orchestrator) and cloonix.v1.Guest
// (routed to vm_runner or cnt_runner) on <work_dir>/doorway.sock (0600)
// and, with --listen, on TCP with mutual TLS only: the net's CA (generated
// on first start in <work_dir>/pki) must have signed the client's
// certificate. There is no plaintext TCP mode.
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/atomic_file.h"
#include "common/daemon_setup.h"
#include "common/logging.h"
#include "common/pki.h"
#include "common/rpc_client.h"
#include "common/server.h"
#include "services/doorway/doorway_service.h"
#include "services/doorway/proxy.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(std::string, net, "nemo", "Name of the net.");
ABSL_FLAG(std::string, work_dir, "",
          "The net's work dir (default /var/lib/cloonix/<net>).");
ABSL_FLAG(std::string, socket, "",
          "Unix socket to serve (default <work_dir>/doorway.sock).");
ABSL_FLAG(std::string, orchestrator_socket, "",
          "Default <work_dir>/orchestrator.sock.");
ABSL_FLAG(std::string, vm_runner_socket, "",
          "Default <work_dir>/vm_runner.sock.");
ABSL_FLAG(std::string, cnt_runner_socket, "",
          "Default <work_dir>/cnt_runner.sock.");
ABSL_FLAG(std::string, listen, "",
          "Also listen on TCP host:port (port 0 picks one), mutual TLS only. "
          "The address is written to <work_dir>/doorway.addr.");
ABSL_FLAG(std::string, pki_dir, "",
          "CA and certificates (default <work_dir>/pki; created if missing).");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn or error.");

namespace {

// `listen` with port 0 becomes HOST:<the port kept in port_file> when that
// port can be bound now; otherwise `listen` as given.
std::string ReuseLastPort(const std::string& listen,
                          const std::string& port_file) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos || listen.substr(colon + 1) != "0")
    return listen;
  auto kept = cloonix::ReadFile(port_file);
  int port = 0;
  if (!kept.ok() ||
      !absl::SimpleAtoi(absl::StripAsciiWhitespace(*kept), &port) ||
      port <= 0 || port > 65535)
    return listen;
  std::string host = listen.substr(0, colon);
  std::string bare = host;
  if (bare.size() > 2 && bare.front() == '[')
    bare = bare.substr(1, bare.size() - 2);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
  addrinfo* res = nullptr;
  if (getaddrinfo(bare.empty() ? nullptr : bare.c_str(),
                  std::to_string(port).c_str(), &hints, &res) != 0 ||
      res == nullptr)
    return listen;
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  bool free =
      fd >= 0 &&
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
      bind(fd, res->ai_addr, res->ai_addrlen) == 0;
  if (fd >= 0) close(fd);
  freeaddrinfo(res);
  return free ? absl::StrCat(host, ":", port) : listen;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "cloonix-doorway --net=<net> [--work_dir=DIR] [--listen=HOST:PORT]\n"
      "The net's front door: control API and guest access, unix socket and "
      "mutual-TLS TCP.");
  absl::ParseCommandLine(argc, argv);
  cloonix::BlockShutdownSignals();
  cloonix::InitLogging("doorway", absl::GetFlag(FLAGS_log_level));
  auto setup = cloonix::SetUpDaemon(absl::GetFlag(FLAGS_net),
                                    absl::GetFlag(FLAGS_work_dir),
                                    absl::GetFlag(FLAGS_socket), "doorway");
  if (!setup.ok()) {
    spdlog::error("{}", setup.status().ToString());
    return 2;
  }
  const std::string wd = setup->work_dir;
  auto or_default = [&](const std::string& v, const std::string& name) {
    return v.empty() ? wd + "/" + name : v;
  };
  cloonix::Upstreams up{
      cloonix::UnixChannel(or_default(absl::GetFlag(FLAGS_orchestrator_socket),
                                      "orchestrator.sock")),
      cloonix::UnixChannel(
          or_default(absl::GetFlag(FLAGS_vm_runner_socket), "vm_runner.sock")),
      cloonix::UnixChannel(or_default(absl::GetFlag(FLAGS_cnt_runner_socket),
                                      "cnt_runner.sock")),
  };
  cloonix::ProxyService topology(
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
          "cloonix.v1.Topology"),
      up.orchestrator, "orchestrator");
  cloonix::ProxyService net(
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
          "cloonix.v1.Net"),
      up.orchestrator, "orchestrator");
  cloonix::GuestRouter guest(up);

  std::unique_ptr<cloonix::TcpListen> tcp;
  int bound_port = 0;
  const std::string listen = absl::GetFlag(FLAGS_listen);
  const std::string addr_file = wd + "/doorway.addr";
  // The port a `--listen HOST:0` got, kept across restarts and net stops so
  // that exported credentials' address stays right.
  const std::string port_file = wd + "/doorway.port";
  unlink(addr_file.c_str());
  if (!listen.empty()) {
    auto pki = cloonix::EnsurePki(
        or_default(absl::GetFlag(FLAGS_pki_dir), "pki"), setup->net);
    if (!pki.ok()) {
      spdlog::error("refusing to open TCP without TLS credentials: {}",
                    pki.status().ToString());
      return 1;
    }
    auto ca = cloonix::ReadFile(pki->ca_cert);
    auto cert = cloonix::ReadFile(pki->server_cert);
    auto key = cloonix::ReadFile(pki->server_key);
    if (!ca.ok() || !cert.ok() || !key.ok()) {
      spdlog::error("refusing to open TCP: cannot read the net's PKI");
      return 1;
    }
    grpc::SslServerCredentialsOptions opts(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    opts.pem_root_certs = *ca;
    opts.pem_key_cert_pairs.push_back({*key, *cert});
    tcp = std::make_unique<cloonix::TcpListen>();
    tcp->address = ReuseLastPort(listen, port_file);
    tcp->credentials = grpc::SslServerCredentials(opts);
    tcp->bound_port = &bound_port;
  }
  auto server = cloonix::StartUnixServer(setup->socket,
                                         {&topology, &net, &guest}, tcp.get());
  if (!server.ok()) {
    spdlog::error("{}", server.status().ToString());
    return 1;
  }
  if (tcp != nullptr) {
    if (bound_port == 0) {
      spdlog::error("cannot listen on {}", listen);
      return 1;
    }
    std::string host = listen.substr(0, listen.rfind(':'));
    std::string addr = absl::StrCat(host, ":", bound_port);
    cloonix::WriteFileAtomic(addr_file, addr + "\n").IgnoreError();
    cloonix::WriteFileAtomic(port_file, absl::StrCat(bound_port, "\n"))
        .IgnoreError();
    spdlog::info("listening on {} (TCP, mutual TLS)", addr);
  }
  spdlog::info("serving on {}", setup->socket);
  absl::Notification shutdown;
  cloonix::ServeUntilShutdown(server->get(), setup->socket, &shutdown);
  unlink(addr_file.c_str());
  spdlog::info("stopped");
  return 0;
}
