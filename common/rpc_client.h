// Client side helpers: channels to the daemons' unix sockets, health checks.
#ifndef CLOONIX_COMMON_RPC_CLIENT_H_
#define CLOONIX_COMMON_RPC_CLIENT_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"

namespace cloonix {

std::shared_ptr<grpc::Channel> UnixChannel(const std::string& socket_path);

// grpc.health.v1 Check of the whole server. UNAVAILABLE if it does not answer
// SERVING within `timeout`.
absl::Status CheckHealth(const std::shared_ptr<grpc::Channel>& channel,
                         absl::Duration timeout);

// Polls CheckHealth until it succeeds or `timeout` passes.
absl::Status WaitHealthy(const std::string& socket_path,
                         absl::Duration timeout);

// A client context with a deadline.
std::unique_ptr<grpc::ClientContext> ContextWithDeadline(
    absl::Duration timeout);

}  // namespace cloonix

#endif  // CLOONIX_COMMON_RPC_CLIENT_H_
