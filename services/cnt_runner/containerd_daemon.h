// The net's private containerd: config, root and state under
// <work_dir>/containerd, gRPC on <work_dir>/containerd/run/containerd.sock.
// The CRI plugin and unused snapshotters are disabled. Found again through
// its pid file, so a restarted cnt_runner adopts it (containers keep running:
// their shims are separate processes).
#ifndef CLOONIX_SERVICES_CNT_RUNNER_CONTAINERD_DAEMON_H_
#define CLOONIX_SERVICES_CNT_RUNNER_CONTAINERD_DAEMON_H_

#include <string>

#include "absl/status/status.h"

namespace cloonix {

class ContainerdDaemon {
 public:
  explicit ContainerdDaemon(std::string dir, std::string binary = "containerd")
      : dir_(std::move(dir)), binary_(std::move(binary)) {}

  // Writes the config and starts containerd unless it runs; waits until its
  // socket answers. UNAVAILABLE, with the log path, on failure.
  absl::Status Start();
  void Stop();
  // Stop, unmount what is left under the root, remove the dir.
  absl::Status Teardown();

  std::string Socket() const { return dir_ + "/run/containerd.sock"; }
  // The config file's text (public for tests).
  std::string ConfigToml() const;

 private:
  std::string PidFile() const { return dir_ + "/containerd.pid"; }
  std::string dir_;
  std::string binary_;
};

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_CNT_RUNNER_CONTAINERD_DAEMON_H_
