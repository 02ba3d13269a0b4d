// What cnt_runner needs from a container runtime, behind an interface:
// ContainerdClient (containerd's gRPC API) in production, a fake in
// cnt_runner_test.cc.
#ifndef CLOONIX_SERVICES_CNT_RUNNER_CONTAINER_RUNTIME_H_
#define CLOONIX_SERVICES_CNT_RUNNER_CONTAINER_RUNTIME_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cloonix {

struct ImageLayer {
  std::string digest, media_type;
  int64_t size = 0;
};

struct ImageInfo {
  std::string name;
  std::vector<ImageLayer> layers;      // from the manifest, bottom first
  std::vector<std::string> chain_ids;  // snapshot name of each layer
  std::string chain_id;                // top snapshot name
  std::vector<std::string> args;       // Entrypoint + Cmd
  std::vector<std::string> env;
  std::string cwd;
};

struct ContainerParams {
  std::string id;
  std::string image;      // image name (already unpacked)
  std::string chain_id;   // parent snapshot
  std::string spec_json;  // OCI runtime spec
  std::map<std::string, std::string> labels;
  std::string log_path;  // stdout+stderr of the container's process
  // Called once the task exists (its root mounted, /proc/<pid>/root) and
  // before it starts; an error removes the container.
  std::function<absl::Status(uint32_t pid)> before_start;
};

struct ContainerInfo {
  std::string id;
  std::string image;
  std::map<std::string, std::string> labels;
  uint32_t pid = 0;
  bool running = false;
};

class ContainerRuntime {
 public:
  virtual ~ContainerRuntime() = default;
  // Imports an OCI layout tarball or directory; returns its image name.
  // INVALID_ARGUMENT (not an OCI layout, too large, not a file or dir),
  // NOT_FOUND.
  virtual absl::StatusOr<std::string> ImportOciTarball(
      const std::string& path) = 0;
  // Pulls a registry image (LooksLikeImageRef); returns its image name.
  // NOT_FOUND, UNAVAILABLE, PERMISSION_DENIED, DATA_LOSS, INVALID_ARGUMENT.
  virtual absl::StatusOr<std::string> PullImage(const std::string& ref) = 0;
  // NOT_FOUND if the runtime has no image of that name.
  virtual absl::StatusOr<ImageInfo> GetImage(const std::string& name) = 0;
  // Unpacks the image's layers into snapshots, skipping those present.
  virtual absl::Status Unpack(const ImageInfo& image) = 0;
  // Creates the container, its snapshot and task, starts it; returns the
  // pid. On failure removes what it created.
  virtual absl::StatusOr<uint32_t> CreateAndStart(const ContainerParams& p) = 0;
  // Stops (SIGTERM, SIGKILL after `grace`) and removes task, container and
  // snapshot; each step tolerates a missing object.
  virtual absl::Status Delete(const std::string& id,
                              absl::Duration grace = absl::Seconds(2)) = 0;
  virtual absl::StatusOr<std::vector<ContainerInfo>> List() = 0;
  virtual absl::StatusOr<bool> Exists(const std::string& id) = 0;
};

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_CNT_RUNNER_CONTAINER_RUNTIME_H_
