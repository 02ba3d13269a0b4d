#include "common/process.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/atomic_file.h"

namespace cloonix {

absl::StatusOr<pid_t> SpawnDaemon(const std::vector<std::string>& argv,
                                  const std::string& log_path, int netns_fd) {
  if (argv.empty())
    return absl::InvalidArgumentError("SpawnDaemon: empty argv");
  int log_fd =
      open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0)
    return absl::ErrnoToStatus(errno, absl::StrCat("open ", log_path));
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    close(log_fd);
    return absl::ErrnoToStatus(e, "fork");
  }
  if (pid == 0) {
    setsid();
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    dup2(log_fd, 1);
    dup2(log_fd, 2);
    if (netns_fd >= 0 && setns(netns_fd, CLONE_NEWNET) != 0) {
      dprintf(2, "cannot enter the network namespace: %s\n", strerror(errno));
      _exit(126);
    }
    syscall(SYS_close_range, 3, ~0U, 0);
    execvp(cargv[0], cargv.data());
    dprintf(2, "cannot run %s: %s\n", cargv[0], strerror(errno));
    _exit(127);
  }
  close(log_fd);
  return pid;
}

bool ProcessAlive(pid_t pid, absl::string_view comm_substr) {
  if (pid <= 0) return false;
  auto stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  if (!stat.ok()) return false;
  // Field 3, after the ")" closing the command name, is the state.
  size_t close_paren = stat->rfind(')');
  if (close_paren == std::string::npos || close_paren + 2 >= stat->size())
    return false;
  char state = (*stat)[close_paren + 2];
  if (state == 'Z' || state == 'X') return false;
  if (comm_substr.empty()) return true;
  auto cmdline = ReadFile(absl::StrCat("/proc/", pid, "/cmdline"));
  return cmdline.ok() &&
         absl::string_view(*cmdline).find(comm_substr) != std::string::npos;
}

bool ReapIfExited(pid_t pid) {
  int st;
  pid_t r = waitpid(pid, &st, WNOHANG);
  if (r == pid) return true;
  if (r < 0 && errno == ECHILD) return !ProcessAlive(pid);
  return false;
}

std::optional<int> ReapExitCode(pid_t pid) {
  int st;
  pid_t r = waitpid(pid, &st, WNOHANG);
  if (r == pid) {
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return 1;
  }
  if (r < 0 && errno == ECHILD && !ProcessAlive(pid)) return 1;
  return std::nullopt;
}

void TerminateProcess(pid_t pid, absl::Duration grace) {
  if (pid <= 0 || !ProcessAlive(pid)) {
    ReapIfExited(pid);
    return;
  }
  kill(pid, SIGTERM);
  absl::Time deadline = absl::Now() + grace;
  while (absl::Now() < deadline) {
    if (ReapIfExited(pid) || !ProcessAlive(pid)) return;
    absl::SleepFor(absl::Milliseconds(20));
  }
  kill(pid, SIGKILL);
  for (int i = 0; i < 250; ++i) {
    if (ReapIfExited(pid) || !ProcessAlive(pid)) return;
    absl::SleepFor(absl::Milliseconds(20));
  }
}

pid_t ReadPidFile(const std::string& path) {
  auto c = ReadFile(path);
  if (!c.ok()) return 0;
  int pid = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(*c), &pid) || pid <= 0)
    return 0;
  return pid;
}

absl::Status WritePidFile(const std::string& path, pid_t pid) {
  return WriteFileAtomic(path, absl::StrCat(pid, "\n"), 0644);
}

absl::Status MakeDirs(const std::string& path, int mode) {
  std::error_code ec;
  std::filesystem::path p(path);
  std::filesystem::path cur;
  for (const auto& part : p) {
    cur /= part;
    if (std::filesystem::exists(cur, ec)) continue;
    if (mkdir(cur.c_str(), mode) != 0 && errno != EEXIST) {
      return absl::ErrnoToStatus(errno, absl::StrCat("mkdir ", cur.string()));
    }
  }
  return absl::OkStatus();
}

absl::Status RemoveTree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("remove ", path, ": ", ec.message()));
  }
  return absl::OkStatus();
}

}  // namespace cloonix
