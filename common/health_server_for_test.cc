// A daemon serving only gRPC health and reflection on --socket: stands in for
// a cloonix service in supervisor tests.
#include <cstring>
#include <string>

#include "absl/synchronization/notification.h"
#include "common/server.h"

int main(int argc, char** argv) {
  cloonix::BlockShutdownSignals();
  std::string socket;
  for (int i = 1; i < argc; ++i) {
    if (strncmp(argv[i], "--socket=", 9) == 0) socket = argv[i] + 9;
  }
  auto server = cloonix::StartUnixServer(socket, {});
  if (!server.ok()) return 1;
  absl::Notification never;
  cloonix::ServeUntilShutdown(server->get(), socket, &never);
  return 0;
}
