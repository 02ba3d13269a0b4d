// The core of cloonix-cnt-runner: the container life cycle (image
// resolution: the runtime's images, else a tarball in the bulk dir; netns and
// veths; container and task; rollback on failure), written against
// ContainerRuntime (containerd) and HostLinks (netns, veths) so that it can be
// unit-tested with fakes (cnt_runner_test.cc). containerd is the source of
// truth: containers carry labels (cloonix.net, cloonix.eths), so a restarted
// cnt_runner lists what exists. Its gRPC faces: cnt_runner_service.h
// (cloonix.cntrunner.v1.CntRunner) and cnt_guest_service.h (cloonix.v1.Guest).
#ifndef CLOONIX_SERVICES_CNT_RUNNER_CNT_RUNNER_H_
#define CLOONIX_SERVICES_CNT_RUNNER_CNT_RUNNER_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "cloonix/cntrunner/v1/cnt_runner.pb.h"
#include "common/host_links.h"
#include "common/name_locks.h"
#include "services/cnt_runner/container_runtime.h"

namespace cloonix {

struct CntRunnerConfig {
  std::string net;
  std::string work_dir;  // logs in <work_dir>/cnt
  std::string bulk_dir;  // image tarballs <bulk_dir>/<image>.tar
  // The OCI linux.seccomp object of every container (seccomp.h); empty: none.
  std::string seccomp_json;
  // The host's /proc/sys entries (HostProcSysEntries), read once.
  std::vector<std::string> proc_sys_entries;
};

class CntRunner {
 public:
  CntRunner(CntRunnerConfig config, ContainerRuntime* runtime, HostLinks* links)
      : config_(std::move(config)), runtime_(runtime), links_(links) {}

  absl::StatusOr<cntrunner::v1::Container> Create(
      const cntrunner::v1::CreateContainerRequest& req);
  absl::Status Delete(const std::string& name);
  // The net's containers (the caller holds no lock).
  absl::StatusOr<std::vector<cntrunner::v1::Container>> ListLocked() {
    absl::ReaderMutexLock l(&mu_);
    return List();
  }
  // Deletes the container netns of the net that no container owns (left by
  // a create that a kill -9 cut short). Run at start-up.
  absl::Status RemoveOrphanNetns();
  // Imports an OCI tarball (absolute path); returns the image name.
  absl::StatusOr<std::string> ImportImage(const std::string& path);
  // Deletes every container and container netns of the net, then runs
  // `stop_runtime` (stops containerd), removes cgroups and logs.
  absl::Status Teardown(const std::function<absl::Status()>& stop_runtime);

 private:
  absl::StatusOr<std::vector<cntrunner::v1::Container>> List()
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  absl::StatusOr<ImageInfo> ResolveImage(const std::string& image);
  // A rootfs directory or .zip (rootfs_image.h) as an image, imported once
  // per content. Holds image_mu_ (as ResolveImage's callers do).
  absl::StatusOr<ImageInfo> ImportRootfs(const std::string& path);
  absl::Status PlumbEths(const std::string& cnt_netns,
                         const cntrunner::v1::CreateContainerRequest& req);

  CntRunnerConfig config_;
  ContainerRuntime* runtime_;
  HostLinks* links_;
  // Readers: creates, deletes, lists. Writer: what looks at every netns of
  // the net at once (RemoveOrphanNetns, Teardown).
  absl::Mutex mu_;
  absl::Mutex image_mu_;  // image imports and unpacks (taken before mu_)
  // A create or delete holds its container's name: those of different
  // names run in parallel (each under mu_'s reader lock).
  NameLocks names_;
};

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_CNT_RUNNER_CNT_RUNNER_H_
