// containerd 1.6 driven through its gRPC API (namespace "cloonix"): OCI
// tarball import (Content + Images), unpacking layers into overlayfs
// snapshots (Snapshots + Diff), containers and their tasks (runc v2 shim).
// Every call carries the containerd-namespace header. Content and unpacked
// snapshots are labelled containerd.io/gc.root so the GC keeps them.
#ifndef CLOONIX_SERVICES_CNT_RUNNER_CONTAINERD_CLIENT_H_
#define CLOONIX_SERVICES_CNT_RUNNER_CONTAINERD_CLIENT_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"

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
};

struct ContainerInfo {
  std::string id;
  std::string image;
  std::map<std::string, std::string> labels;
  uint32_t pid = 0;
  bool running = false;
};

class ContainerdClient {
 public:
  ContainerdClient(std::shared_ptr<grpc::Channel> channel,
                   std::string ns = "cloonix");

  // Imports an OCI layout tarball; returns its image name (annotation
  // io.containerd.image.name, else org.opencontainers.image.ref.name).
  // INVALID_ARGUMENT if it is not an OCI layout, NOT_FOUND if missing.
  absl::StatusOr<std::string> ImportOciTarball(const std::string& path);
  // NOT_FOUND if containerd has no image of that name.
  absl::StatusOr<ImageInfo> GetImage(const std::string& name);
  // Unpacks the image's layers (from GetImage) into snapshots, skipping
  // those present.
  absl::Status Unpack(const ImageInfo& image);
  // Creates the container, its snapshot and task, starts it; returns the pid.
  // On failure removes what it created.
  absl::StatusOr<uint32_t> CreateAndStart(const ContainerParams& p);
  // Stops (SIGTERM, SIGKILL after `grace`) and removes task, container and
  // snapshot; each step tolerates a missing object.
  absl::Status Delete(const std::string& id,
                      absl::Duration grace = absl::Seconds(2));
  absl::StatusOr<std::vector<ContainerInfo>> List();
  // One Containers.Get: whether a container of that id exists.
  absl::StatusOr<bool> Exists(const std::string& id);

 private:
  std::unique_ptr<grpc::ClientContext> Ctx(
      absl::Duration timeout = absl::Seconds(30));
  // The parsing steps; nlohmann::json exceptions become INVALID_ARGUMENT in
  // the public wrappers.
  absl::StatusOr<std::string> ImportOciTarballUnchecked(
      const std::string& path);
  absl::StatusOr<ImageInfo> GetImageUnchecked(const std::string& name);
  absl::StatusOr<std::string> ReadBlob(const std::string& digest);
  absl::Status WriteBlob(const std::string& digest, const std::string& data);
  absl::StatusOr<bool> TaskStopped(const std::string& id);

  std::shared_ptr<grpc::Channel> channel_;
  std::string ns_;
};

// sha256 of `data` as "sha256:<hex>".
std::string Sha256Digest(const std::string& data);
// OCI chain ids from diff ids: chain[0] = diff[0],
// chain[i] = sha256(chain[i-1] + " " + diff[i]).
std::vector<std::string> ChainIds(const std::vector<std::string>& diff_ids);

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_CNT_RUNNER_CONTAINERD_CLIENT_H_
