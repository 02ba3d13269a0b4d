#include "common/server.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "common/notify_once.h"
#include "common/rpc_client.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "spdlog/spdlog.h"

namespace cloonix {

void BlockShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

absl::StatusOr<std::unique_ptr<grpc::Server>> StartUnixServer(
    const std::string& socket_path, const std::vector<grpc::Service*>& services,
    const TcpListen* tcp) {
  if (socket_path.size() > 107) {
    return absl::InvalidArgumentError(
        absl::StrCat("socket path ", socket_path,
                     " is longer than 107 bytes (unix socket limit); "
                     "use a shorter work dir"));
  }
  if (access(socket_path.c_str(), F_OK) == 0) {
    if (CheckHealth(UnixChannel(socket_path), absl::Milliseconds(300)).ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "a server already answers on ", socket_path, "; stop it first"));
    }
    unlink(socket_path.c_str());
  }
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + socket_path,
                           grpc::InsecureServerCredentials());
  if (tcp != nullptr) {
    builder.AddListeningPort(tcp->address, tcp->credentials, tcp->bound_port);
  }
  for (auto* s : services) builder.RegisterService(s);
  // Keep sockets private from the first moment: umask while binding.
  mode_t old = umask(0177);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  umask(old);
  if (!server) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on unix:", socket_path,
        tcp ? absl::StrCat(" and ", tcp->address) : std::string()));
  }
  chmod(socket_path.c_str(), 0600);
  return server;
}

void ServeUntilShutdown(grpc::Server* server, const std::string& socket_path,
                        absl::Notification* requested,
                        const std::function<void()>& before_shutdown) {
  std::thread sig([requested] {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    // Wake up regularly to notice an RPC-requested shutdown.
    struct timespec ts = {0, 200 * 1000 * 1000};
    while (!requested->HasBeenNotified()) {
      int s = sigtimedwait(&set, nullptr, &ts);
      if (s == SIGTERM || s == SIGINT) {
        spdlog::info("signal {} received, shutting down", s);
        NotifyOnce(requested);
      }
    }
  });
  requested->WaitForNotification();
  sig.join();
  if (before_shutdown) before_shutdown();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server->Wait();
  unlink(socket_path.c_str());
}

}  // namespace cloonix
