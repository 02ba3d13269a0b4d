// Starting, finding and stopping daemon processes (no systemd here).
#ifndef CLOONIX_COMMON_PROCESS_H_
#define CLOONIX_COMMON_PROCESS_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace cloonix {

// Forks and execs argv in a new session (so it survives its parent), stdin
// from /dev/null, stdout and stderr appended to `log_path`. Returns the pid;
// the caller is its parent and should reap it (ReapIfExited). `netns_fd`
// (optional): the child enters that network namespace before exec.
absl::StatusOr<pid_t> SpawnDaemon(const std::vector<std::string>& argv,
                                  const std::string& log_path,
                                  int netns_fd = -1);

// True if `pid` runs (not a zombie) and, when `comm_substr` is not empty, its
// /proc/<pid>/cmdline contains it (guards against pid reuse).
bool ProcessAlive(pid_t pid, absl::string_view comm_substr = "");

// Reaps `pid` if it is our exited child; returns true if it has exited.
bool ReapIfExited(pid_t pid);

// Reaps `pid` (our child) if it has exited: its exit code, 128 + the signal
// that killed it, or nullopt while it runs.
std::optional<int> ReapExitCode(pid_t pid);

// SIGTERM, then SIGKILL after `grace`; waits until the process is gone.
void TerminateProcess(pid_t pid, absl::Duration grace = absl::Seconds(3));

// Pid files: decimal pid and a newline. ReadPidFile returns 0 if absent/bad.
pid_t ReadPidFile(const std::string& path);
absl::Status WritePidFile(const std::string& path, pid_t pid);

// mkdir -p with `mode` for the created dirs.
absl::Status MakeDirs(const std::string& path, int mode = 0700);

// rm -rf (no error if missing).
absl::Status RemoveTree(const std::string& path);

}  // namespace cloonix

#endif  // CLOONIX_COMMON_PROCESS_H_
