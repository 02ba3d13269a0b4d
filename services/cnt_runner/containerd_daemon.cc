#include "services/cnt_runner/containerd_daemon.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/atomic_file.h"
#include "common/exec.h"
#include "common/process.h"
#include "common/rpc_client.h"
#include "common/status_macros.h"
#include "github.com/containerd/containerd/api/services/version/v1/version.grpc.pb.h"
#include "spdlog/spdlog.h"

namespace cloonix {

std::string ContainerdDaemon::ConfigToml() const {
  return absl::StrReplaceAll(R"(version = 2
root = "$D/root"
state = "$D/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "$D/run/containerd.sock"

[ttrpc]
  address = "$D/run/containerd.sock.ttrpc"

[debug]
  address = "$D/run/debug.sock"

[plugins."io.containerd.internal.v1.opt"]
  path = "$D/opt"
)",
                             {{"$D", dir_}});
}

absl::Status ContainerdDaemon::Start() {
  pid_t pid = ReadPidFile(PidFile());
  if (ProcessAlive(pid, "containerd")) {
    spdlog::info("adopting running containerd (pid {})", pid);
    return absl::OkStatus();
  }
  for (const char* d : {"/run", "/root", "/state", "/opt", "/log"}) {
    RETURN_IF_ERROR(MakeDirs(dir_ + d));
  }
  std::string config = dir_ + "/config.toml";
  RETURN_IF_ERROR(WriteFileAtomic(config, ConfigToml(), 0600));
  std::string log = dir_ + "/log/containerd.log";
  ASSIGN_OR_RETURN(pid, SpawnDaemon({binary_, "--config", config}, log));
  RETURN_IF_ERROR(WritePidFile(PidFile(), pid));
  // containerd has no health service: wait for its socket to accept calls.
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (absl::Now() < deadline) {
    if (!ProcessAlive(pid)) {
      ReapIfExited(pid);
      return absl::UnavailableError(
          absl::StrCat("containerd exited at start; see ", log));
    }
    auto stub = containerd::services::version::v1::Version::NewStub(
        UnixChannel(Socket()));
    auto ctx = ContextWithDeadline(absl::Seconds(1));
    google::protobuf::Empty req;
    containerd::services::version::v1::VersionResponse resp;
    if (stub->Version(ctx.get(), req, &resp).ok()) {
      spdlog::info("containerd {} started (pid {}), socket {}", resp.version(),
                   pid, Socket());
      return absl::OkStatus();
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::UnavailableError(
      absl::StrCat("containerd did not answer; see ", log));
}

void ContainerdDaemon::Stop() {
  pid_t pid = ReadPidFile(PidFile());
  if (ProcessAlive(pid, "containerd")) {
    spdlog::info("stopping containerd (pid {})", pid);
    TerminateProcess(pid, absl::Seconds(5));
  }
}

absl::Status ContainerdDaemon::Teardown() {
  Stop();
  // Snapshot mounts left by a crash would make the removal fail.
  auto mounts = ReadFile("/proc/self/mounts");
  if (mounts.ok()) {
    for (absl::string_view line : absl::StrSplit(*mounts, '\n')) {
      std::vector<std::string> f = absl::StrSplit(line, ' ');
      if (f.size() > 1 && absl::StartsWith(f[1], dir_ + "/")) {
        Exec({"umount", "-l", f[1]}).IgnoreError();
      }
    }
  }
  return RemoveTree(dir_);
}

}  // namespace cloonix
