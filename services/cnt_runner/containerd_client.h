// containerd 1.6 driven through its gRPC API (namespace "cloonix"): OCI
// tarball import (Content + Images), unpacking layers into overlayfs
// snapshots (Snapshots + Diff), containers and their tasks (runc v2 shim).
// Every call carries the containerd-namespace header. Content and unpacked
// snapshots are labelled containerd.io/gc.root so the GC keeps them.
#ifndef CLOONIX_SERVICES_CNT_RUNNER_CONTAINERD_CLIENT_H_
#define CLOONIX_SERVICES_CNT_RUNNER_CONTAINERD_CLIENT_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "services/cnt_runner/container_runtime.h"
#include "services/cnt_runner/registry_client.h"

namespace cloonix {

class ContainerdClient : public ContainerRuntime {
 public:
  ContainerdClient(std::shared_ptr<grpc::Channel> channel,
                   std::string ns = "cloonix");

  // Largest image tarball imported (bytes).
  static constexpr uint64_t kMaxImageBytes = 16ULL << 30;

  // Imports an OCI layout tarball (a regular file, at most kMaxImageBytes,
  // unpacked by tar within 2 min + 1 s per 20 MB) or an OCI layout
  // directory; returns its image name (annotation io.containerd.image.name,
  // else org.opencontainers.image.ref.name). INVALID_ARGUMENT if it is not
  // an OCI layout, not a regular file or directory (a device, a FIFO), or
  // too large; NOT_FOUND if missing.
  absl::StatusOr<std::string> ImportOciTarball(
      const std::string& path) override;
  // Pulls `ref` (registry_client.h) into the content store and records the
  // image under `ref` as given; returns that name. The errors of PullImage.
  absl::StatusOr<std::string> PullImage(const std::string& ref) override;
  // NOT_FOUND if containerd has no image of that name.
  absl::StatusOr<ImageInfo> GetImage(const std::string& name) override;
  // Unpacks the image's layers (from GetImage) into snapshots, skipping
  // those present.
  absl::Status Unpack(const ImageInfo& image) override;
  // Creates the container, its snapshot and task, starts it; returns the pid.
  // On failure removes what it created.
  absl::StatusOr<uint32_t> CreateAndStart(const ContainerParams& p) override;
  // Stops (SIGTERM, SIGKILL after `grace`) and removes task, container and
  // snapshot; each step tolerates a missing object.
  absl::Status Delete(const std::string& id,
                      absl::Duration grace = absl::Seconds(2)) override;
  absl::StatusOr<std::vector<ContainerInfo>> List() override;
  // One Containers.Get: whether a container of that id exists.
  absl::StatusOr<bool> Exists(const std::string& id) override;

  // --- exec (guest access) ---
  // The container's OCI process (JSON) and its task's pid: the base of an
  // exec (same capabilities, user, rlimits). NOT_FOUND, FAILED_PRECONDITION
  // (no running task).
  absl::StatusOr<std::string> ProcessSpec(const std::string& id);
  absl::StatusOr<uint32_t> TaskPid(const std::string& id);
  // Adds and starts process `exec_id` in the container's task; its stdio are
  // the given FIFO paths (stderr "" with a terminal).
  absl::Status ExecStart(const std::string& id, const std::string& exec_id,
                         const std::string& process_json, bool terminal,
                         const std::string& stdin_path,
                         const std::string& stdout_path,
                         const std::string& stderr_path);
  // Calls `done` (from a gRPC thread) with the exit status once the process
  // exits, or with the error (CANCELLED after ctx->TryCancel()). `ctx` (from
  // NewContext) must outlive the call.
  void ExecWaitAsync(const std::string& id, const std::string& exec_id,
                     grpc::ClientContext* ctx,
                     std::function<void(absl::StatusOr<uint32_t>)> done);
  // A context carrying the containerd namespace.
  std::unique_ptr<grpc::ClientContext> NewContext(absl::Duration timeout) {
    return Ctx(timeout);
  }
  absl::Status ExecResize(const std::string& id, const std::string& exec_id,
                          uint32_t rows, uint32_t cols);
  absl::Status ExecCloseStdin(const std::string& id,
                              const std::string& exec_id);
  absl::Status ExecKill(const std::string& id, const std::string& exec_id);
  absl::Status ExecDelete(const std::string& id, const std::string& exec_id);

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
  // Images.Create, or Update when the name exists: `name` -> the manifest.
  absl::Status PutImage(const std::string& name, const std::string& media_type,
                        const std::string& digest, uint64_t size);
  absl::StatusOr<bool> TaskStopped(const std::string& id);

  std::shared_ptr<grpc::Channel> channel_;
  std::string ns_;
};

// OCI chain ids from diff ids: chain[0] = diff[0],
// chain[i] = sha256(chain[i-1] + " " + diff[i]).
std::vector<std::string> ChainIds(const std::vector<std::string>& diff_ids);

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_CNT_RUNNER_CONTAINERD_CLIENT_H_
