#include "services/orchestrator/keeper.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/atomic_file.h"
#include "common/process.h"
#include "spdlog/spdlog.h"

namespace cloonix {
namespace {

std::string PathIn(const std::string& dir, const char* name) {
  return absl::StrCat(dir, "/", name);
}

bool Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

}  // namespace

int OrchestratorRestarts(const std::string& work_dir) {
  auto text = ReadFile(PathIn(work_dir, "orchestrator.restarts"));
  int n = 0;
  if (!text.ok() || !absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &n)) {
    return 0;
  }
  return n;
}

void ClearDeliberateExit(const std::string& work_dir) {
  unlink(PathIn(work_dir, "orchestrator.exit").c_str());
}

void MarkDeliberateExit(const std::string& work_dir, const std::string& reason,
                        bool stop_keeper) {
  WriteFileAtomic(PathIn(work_dir, "orchestrator.exit"), reason + "\n")
      .IgnoreError();
  if (!stop_keeper) return;
  const std::string pid_file = PathIn(work_dir, "keeper.pid");
  pid_t k = ReadPidFile(pid_file);
  if (k > 0 && k != getpid() && ProcessAlive(k, "--keeper")) {
    TerminateProcess(k, absl::Seconds(2));
  }
  unlink(pid_file.c_str());
}

void EnsureKeeper(const std::string& work_dir,
                  const std::vector<std::string>& keeper_argv,
                  const std::string& log_file, int netns_fd) {
  const std::string pid_file = PathIn(work_dir, "keeper.pid");
  pid_t k = ReadPidFile(pid_file);
  if (k > 0) {
    ReapIfExited(k);  // ours if we spawned it and it died
    if (ProcessAlive(k, "--keeper")) return;
  }
  auto pid = SpawnDaemon(keeper_argv, log_file, netns_fd);
  if (!pid.ok()) {
    spdlog::error("cannot start the keeper: {}", pid.status().ToString());
    return;
  }
  WritePidFile(pid_file, *pid).IgnoreError();
  spdlog::info("keeper started (pid {})", *pid);
}

int RunKeeper(const KeeperConfig& c) {
  const std::string pid_file = PathIn(c.work_dir, "keeper.pid");
  const std::string orch_pid_file = PathIn(c.work_dir, "orchestrator.pid");
  const std::string exit_file = PathIn(c.work_dir, "orchestrator.exit");
  WritePidFile(pid_file, getpid()).IgnoreError();
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  struct timespec zero = {0, 0};
  absl::Duration backoff = absl::Milliseconds(200);
  absl::Time healthy_since = absl::Now();
  pid_t child = 0;  // an orchestrator this keeper started
  spdlog::info("keeper of {} watching the orchestrator", c.work_dir);
  while (true) {
    if (sigtimedwait(&set, nullptr, &zero) > 0) {
      spdlog::info("keeper: signal, exiting");
      break;
    }
    if (!Exists(c.work_dir)) break;
    if (child > 0) ReapIfExited(child);
    pid_t orch = ReadPidFile(orch_pid_file);
    bool alive = orch > 0 && ProcessAlive(orch, "cloonix-orchestrator");
    if (alive) {
      if (absl::Now() - healthy_since > absl::Seconds(60)) {
        backoff = absl::Milliseconds(200);
      }
      absl::SleepFor(c.poll);
      continue;
    }
    if (Exists(exit_file)) {
      spdlog::info("keeper: the orchestrator exited on purpose; exiting");
      break;
    }
    // Dead without a word: kill -9 or a crash. Wait a moment (a stop in
    // progress writes its mark), then start it again with back-off.
    absl::SleepFor(c.poll);
    if (Exists(exit_file)) continue;
    orch = ReadPidFile(orch_pid_file);
    if (orch > 0 && ProcessAlive(orch, "cloonix-orchestrator")) continue;
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(10));
    if (Exists(exit_file)) continue;
    int n = OrchestratorRestarts(c.work_dir) + 1;
    WriteFileAtomic(PathIn(c.work_dir, "orchestrator.restarts"),
                    absl::StrCat(n, "\n"))
        .IgnoreError();
    spdlog::warn("keeper: the orchestrator (pid {}) is gone; restart #{}", orch,
                 n);
    auto pid = SpawnDaemon(c.orchestrator_argv, c.log_file);
    if (!pid.ok()) {
      spdlog::error("keeper: cannot restart the orchestrator: {}",
                    pid.status().ToString());
      continue;
    }
    child = *pid;
    healthy_since = absl::Now();
    // Until it writes its pid file (or dies trying).
    for (int i = 0; i < 100; ++i) {
      if (ReadPidFile(orch_pid_file) == child || ReapIfExited(child)) break;
      absl::SleepFor(absl::Milliseconds(50));
    }
  }
  if (ReadPidFile(pid_file) == getpid()) unlink(pid_file.c_str());
  return 0;
}

}  // namespace cloonix
