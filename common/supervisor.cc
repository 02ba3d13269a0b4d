#include "common/supervisor.h"

#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/notify_once.h"
#include "common/process.h"
#include "common/rpc_client.h"
#include "common/status_macros.h"
#include "spdlog/spdlog.h"

namespace cloonix {

namespace {
std::string BaseName(const std::string& p) {
  size_t s = p.find_last_of('/');
  return s == std::string::npos ? p : p.substr(s + 1);
}
}  // namespace

Supervisor::Supervisor(std::vector<ServiceSpec> specs,
                       std::function<void(const std::string&)> on_restart)
    : on_restart_(std::move(on_restart)) {
  for (auto& s : specs) {
    Entry e;
    e.spec = std::move(s);
    entries_.push_back(std::move(e));
  }
}

Supervisor::~Supervisor() {
  NotifyOnce(&stop_);
  if (thread_.joinable()) thread_.join();
}

bool Supervisor::Alive(const Entry& e) {
  if (e.spec.external) {
    return CheckHealth(UnixChannel(e.spec.socket), absl::Milliseconds(500))
        .ok();
  }
  if (e.pid <= 0) return false;
  // Our child: waitpid knows (its cmdline may not be exec'ed yet). Adopted:
  // check the pid still runs our binary (guards against pid reuse).
  if (!e.adopted) return !ReapIfExited(e.pid);
  return ProcessAlive(e.pid, BaseName(e.spec.argv[0]));
}

absl::Status Supervisor::StartOne(Entry* e, absl::Duration timeout) {
  if (e->spec.external) {
    RETURN_IF_ERROR(WaitHealthy(e->spec.socket, timeout));
    spdlog::info("using external {} on {}", e->spec.name, e->spec.socket);
    e->healthy_since = absl::Now();
    return absl::OkStatus();
  }
  pid_t old = ReadPidFile(e->spec.pid_file);
  if (ProcessAlive(old, BaseName(e->spec.argv[0]))) {
    if (CheckHealth(UnixChannel(e->spec.socket), absl::Seconds(2)).ok()) {
      spdlog::info("adopting running {} (pid {})", e->spec.name, old);
      e->pid = old;
      e->adopted = true;
      e->healthy_since = absl::Now();
      return absl::OkStatus();
    }
    spdlog::warn("{} (pid {}) does not answer; restarting it", e->spec.name,
                 old);
    TerminateProcess(old, absl::Seconds(3));
  }
  ASSIGN_OR_RETURN(
      pid_t pid, SpawnDaemon(e->spec.argv, e->spec.log_file, e->spec.netns_fd));
  e->pid = pid;
  e->adopted = false;
  RETURN_IF_ERROR(WritePidFile(e->spec.pid_file, pid));
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (stop_.HasBeenNotified()) {
      TerminateProcess(pid, absl::Seconds(2));
      e->pid = 0;
      return absl::CancelledError(
          absl::StrCat(e->spec.name, ": start abandoned, stopping"));
    }
    if (!Alive(*e)) {
      return absl::UnavailableError(absl::StrCat(
          e->spec.name, " exited at start; see ", e->spec.log_file));
    }
    if (CheckHealth(UnixChannel(e->spec.socket), absl::Milliseconds(500))
            .ok()) {
      spdlog::info("{} started (pid {})", e->spec.name, pid);
      e->healthy_since = absl::Now();
      return absl::OkStatus();
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  TerminateProcess(pid, absl::Seconds(2));
  return absl::UnavailableError(
      absl::StrCat(e->spec.name, " did not become healthy within ",
                   absl::FormatDuration(timeout), "; see ", e->spec.log_file));
}

absl::Status Supervisor::StartAll(absl::Duration timeout) {
  absl::MutexLock l(&mu_);
  for (auto& e : entries_) RETURN_IF_ERROR(StartOne(&e, timeout));
  return absl::OkStatus();
}

void Supervisor::Watch() {
  thread_ = std::thread([this] { Loop(); });
}

void Supervisor::Loop() {
  // The lock is held only to read and write entries: health checks, back-off
  // waits and restarts run without it, so Status() never waits on them.
  while (!stop_.WaitForNotificationWithTimeout(absl::Milliseconds(200))) {
    std::vector<Entry> snapshot;
    {
      absl::MutexLock l(&mu_);
      snapshot = entries_;
    }
    for (size_t i = 0; i < snapshot.size(); ++i) {
      Entry e = snapshot[i];
      if (e.spec.external) {
        bool healthy = Alive(e);
        bool back = false;
        {
          absl::MutexLock l(&mu_);
          Entry& cur = entries_[i];
          if (healthy != cur.was_healthy) {
            spdlog::warn("external {} on {} is {}", e.spec.name, e.spec.socket,
                         healthy ? "back" : "not answering");
            back = healthy;
            cur.was_healthy = healthy;
          }
        }
        if (back && !stop_.HasBeenNotified()) on_restart_(e.spec.name);
        continue;
      }
      if (Alive(e)) {
        if (e.backoff_step > 0 &&
            absl::Now() - e.healthy_since > absl::Seconds(60)) {
          absl::MutexLock l(&mu_);
          entries_[i].backoff_step = 0;
        }
        continue;
      }
      absl::Duration wait =
          std::min(absl::Milliseconds(500) * (1 << std::min(e.backoff_step, 5)),
                   absl::Seconds(10));
      spdlog::warn("{} (pid {}) died; restarting in {}", e.spec.name, e.pid,
                   absl::FormatDuration(wait));
      {
        absl::MutexLock l(&mu_);
        entries_[i].pid = 0;
      }
      if (stop_.WaitForNotificationWithTimeout(wait)) return;
      ++e.backoff_step;
      ++e.restarts;
      e.pid = 0;
      absl::Status st = StartOne(&e, absl::Seconds(30));
      {
        absl::MutexLock l(&mu_);
        entries_[i] = e;
      }
      if (stop_.HasBeenNotified()) return;  // no reconcile during a stop
      if (!st.ok()) {
        spdlog::error("restart of {} failed: {}", e.spec.name, st.ToString());
        continue;
      }
      on_restart_(e.spec.name);
    }
  }
}

void Supervisor::StopWatch() {
  NotifyOnce(&stop_);
  if (thread_.joinable()) thread_.join();
}

void Supervisor::StopAll(const std::string& except) {
  StopWatch();
  absl::MutexLock l(&mu_);
  for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
    if (it->spec.name == except) continue;
    if (!it->spec.external && it->pid > 0) {
      TerminateProcess(it->pid, absl::Seconds(5));
      it->pid = 0;
      unlink(it->spec.pid_file.c_str());
    }
  }
}

std::vector<ServiceStatus> Supervisor::Status() {
  std::vector<Entry> snapshot;
  {
    absl::MutexLock l(&mu_);
    snapshot = entries_;
  }
  std::vector<ServiceStatus> out;
  for (auto& e : snapshot) {
    out.push_back({e.spec.name, e.pid, Alive(e), e.restarts, e.spec.socket});
  }
  return out;
}

}  // namespace cloonix
