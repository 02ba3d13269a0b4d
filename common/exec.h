// Runs external commands (ip, ovs-vsctl, tar, ...) without a shell.
#ifndef CLOONIX_COMMON_EXEC_H_
#define CLOONIX_COMMON_EXEC_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cloonix {

struct ExecResult {
  int exit_code = -1;  // -1 when killed by a signal or the timeout
  std::string out;
  std::string err;
};

// Runs argv[0] (searched in PATH) with argv, waits for it, captures stdout and
// stderr. Errors: INTERNAL if it cannot be started, DEADLINE_EXCEEDED after
// `timeout` (the child is killed). A non-zero exit is not an error here.
absl::StatusOr<ExecResult> Exec(const std::vector<std::string>& argv,
                                absl::Duration timeout = absl::Seconds(60));

// Like Exec, but a non-zero exit is an error (code `on_failure`) whose message
// holds the command and its stderr. Returns stdout.
absl::StatusOr<std::string> ExecOk(
    const std::vector<std::string>& argv,
    absl::StatusCode on_failure = absl::StatusCode::kInternal,
    absl::Duration timeout = absl::Seconds(60));

// Interface so that unit tests can fake command execution.
class CommandRunner {
 public:
  virtual ~CommandRunner() = default;
  virtual absl::StatusOr<ExecResult> Run(
      const std::vector<std::string>& argv) = 0;
};

class RealCommandRunner : public CommandRunner {
 public:
  absl::StatusOr<ExecResult> Run(
      const std::vector<std::string>& argv) override {
    return Exec(argv);
  }
};

}  // namespace cloonix

#endif  // CLOONIX_COMMON_EXEC_H_
