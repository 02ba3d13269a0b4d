// Thin gRPC layer of cloonix-cnt-runner (cloonix.cntrunner.v1.CntRunner) and
// the container life cycle: image resolution (containerd, else a tarball in
// the bulk dir), netns and veths, container and task, rollback on failure.
// containerd is the source of truth: containers carry labels (cloonix.net,
// cloonix.eths), so a restarted cnt_runner lists what exists.
#ifndef CLOONIX_SERVICES_CNT_RUNNER_CNT_RUNNER_SERVICE_H_
#define CLOONIX_SERVICES_CNT_RUNNER_CNT_RUNNER_SERVICE_H_

#include <set>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "cloonix/cntrunner/v1/cnt_runner.grpc.pb.h"
#include "common/name_locks.h"
#include "services/cnt_runner/containerd_client.h"
#include "services/cnt_runner/containerd_daemon.h"

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

class CntRunnerService final
    : public cloonix::cntrunner::v1::CntRunner::Service {
 public:
  CntRunnerService(CntRunnerConfig config, ContainerdDaemon* daemon,
                   ContainerdClient* client, absl::Notification* shutdown)
      : config_(std::move(config)),
        daemon_(daemon),
        client_(client),
        shutdown_(shutdown) {}

  grpc::Status CreateContainer(grpc::ServerContext*,
                               const cntrunner::v1::CreateContainerRequest* req,
                               cntrunner::v1::Container* resp) override;
  grpc::Status DeleteContainer(
      grpc::ServerContext*, const cntrunner::v1::DeleteContainerRequest* req,
      cntrunner::v1::DeleteContainerResponse*) override;
  grpc::Status ListContainers(
      grpc::ServerContext*, const cntrunner::v1::ListContainersRequest*,
      cntrunner::v1::ListContainersResponse* resp) override;
  grpc::Status ImportImage(grpc::ServerContext*,
                           const cntrunner::v1::ImportImageRequest* req,
                           cntrunner::v1::ImportImageResponse* resp) override;
  grpc::Status Teardown(grpc::ServerContext*,
                        const cntrunner::v1::TeardownRequest*,
                        cntrunner::v1::TeardownResponse*) override;

  // The core, without gRPC types in the signatures but the proto messages.
  absl::StatusOr<cntrunner::v1::Container> Create(
      const cntrunner::v1::CreateContainerRequest& req);
  absl::Status Delete(const std::string& name);
  absl::StatusOr<std::vector<cntrunner::v1::Container>> List();
  // Deletes the container netns of the net that no container owns (left by
  // a create that a kill -9 cut short). Run at start-up.
  absl::Status RemoveOrphanNetns();

 private:
  absl::StatusOr<ImageInfo> ResolveImage(const std::string& image);
  absl::Status PlumbEths(const std::string& cnt_netns,
                         const cntrunner::v1::CreateContainerRequest& req);

  CntRunnerConfig config_;
  ContainerdDaemon* daemon_;
  ContainerdClient* client_;
  absl::Notification* shutdown_;
  // Readers: creates, deletes, lists. Writer: what looks at every netns of
  // the net at once (RemoveOrphanNetns, Teardown).
  absl::Mutex mu_;
  absl::Mutex image_mu_;  // image imports and unpacks (taken before mu_)
  // A create or delete holds its container's name: those of different
  // names run in parallel (each under mu_'s reader lock).
  NameLocks names_;
};

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_CNT_RUNNER_CNT_RUNNER_SERVICE_H_
