// Server bootstrap shared by every daemon: a gRPC server on a unix socket
// (mode 0600) with the health service and server reflection enabled, and a
// wait for SIGTERM/SIGINT or a shutdown requested by an RPC.
#ifndef CLOONIX_COMMON_SERVER_H_
#define CLOONIX_COMMON_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "grpcpp/grpcpp.h"

namespace cloonix {

// Blocks SIGTERM, SIGINT and SIGPIPE in the calling thread (call it first in
// main, before any thread starts, so that every thread inherits the mask).
void BlockShutdownSignals();

// Removes a stale socket file at `socket_path`, binds, chmods it 0600.
// FAILED_PRECONDITION if another live server already answers there.
// An extra TCP listener (the doorway's): `address` "host:port" (port 0
// picks one, written to *bound_port).
struct TcpListen {
  std::string address;
  std::shared_ptr<grpc::ServerCredentials> credentials;
  int* bound_port = nullptr;
};

absl::StatusOr<std::unique_ptr<grpc::Server>> StartUnixServer(
    const std::string& socket_path, const std::vector<grpc::Service*>& services,
    const TcpListen* tcp = nullptr);

// Waits until SIGTERM/SIGINT arrives or `requested` is notified, runs
// `before_shutdown` (e.g. to end open streams), then shuts the server down
// (in-flight calls get 2 s) and removes the socket file.
void ServeUntilShutdown(grpc::Server* server, const std::string& socket_path,
                        absl::Notification* requested,
                        const std::function<void()>& before_shutdown = nullptr);

}  // namespace cloonix

#endif  // CLOONIX_COMMON_SERVER_H_
