#include "common/rpc_client.h"

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "grpc_std/health.grpc.pb.h"

namespace cloonix {

std::shared_ptr<grpc::Channel> UnixChannel(const std::string& socket_path) {
  grpc::ChannelArguments args;
  // Reconnect fast after a daemon restart.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  return grpc::CreateCustomChannel("unix:" + socket_path,
                                   grpc::InsecureChannelCredentials(), args);
}

std::unique_ptr<grpc::ClientContext> ContextWithDeadline(
    absl::Duration timeout) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return ctx;
}

absl::Status CheckHealth(const std::shared_ptr<grpc::Channel>& channel,
                         absl::Duration timeout) {
  auto stub = grpc::health::v1::Health::NewStub(channel);
  auto ctx = ContextWithDeadline(timeout);
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  grpc::Status s = stub->Check(ctx.get(), req, &resp);
  if (!s.ok()) return absl::UnavailableError(s.error_message());
  if (resp.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
    return absl::UnavailableError("not serving");
  }
  return absl::OkStatus();
}

absl::Status WaitHealthy(const std::string& socket_path,
                         absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  auto channel = UnixChannel(socket_path);
  absl::Status last;
  while (absl::Now() < deadline) {
    last = CheckHealth(channel, absl::Milliseconds(500));
    if (last.ok()) return last;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::UnavailableError(
      absl::StrCat("no healthy server on ", socket_path, " after ",
                   absl::FormatDuration(timeout), ": ", last.message()));
}

}  // namespace cloonix
