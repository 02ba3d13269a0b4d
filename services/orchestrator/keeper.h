// The orchestrator's keeper: a small process (`cloonix-orchestrator
// --keeper ...`) that restarts the net's orchestrator when it dies without
// a deliberate exit (kill -9, a crash), with back-off, so the control plane
// comes back by itself; the data plane is untouched (the new orchestrator
// adopts the running services, as after `net start`). The orchestrator in
// turn respawns a keeper that died. Files in the net's work dir:
//   keeper.pid             the keeper's pid
//   orchestrator.exit      written by the orchestrator when it exits on
//                          purpose (net stop, SIGTERM, a refused start): the
//                          keeper then exits instead of restarting it
//   orchestrator.restarts  how many times the keeper restarted it (decimal)
#ifndef CLOONIX_SERVICES_ORCHESTRATOR_KEEPER_H_
#define CLOONIX_SERVICES_ORCHESTRATOR_KEEPER_H_

#include <string>
#include <vector>

#include "absl/time/time.h"

namespace cloonix {

struct KeeperConfig {
  std::string work_dir;
  // The orchestrator's command line (without --keeper).
  std::vector<std::string> orchestrator_argv;
  std::string log_file;  // the orchestrator's log
  absl::Duration poll = absl::Milliseconds(100);
};

// Runs the keeper until the orchestrator exits on purpose, the work dir
// goes, or SIGTERM/SIGINT. Returns the process exit code.
int RunKeeper(const KeeperConfig& config);

// Called by the orchestrator: starts a keeper (argv) unless one runs, in
// network namespace `netns_fd` if given (the machine's, so that the
// orchestrators it restarts start from there too).
void EnsureKeeper(const std::string& work_dir,
                  const std::vector<std::string>& keeper_argv,
                  const std::string& log_file, int netns_fd = -1);

// Called by the orchestrator before a deliberate exit: records it (reason:
// "stopped", "sigterm", "refused") and, when `stop_keeper`, stops the keeper.
void MarkDeliberateExit(const std::string& work_dir, const std::string& reason,
                        bool stop_keeper);

// Clears the mark at start-up (this orchestrator runs now).
void ClearDeliberateExit(const std::string& work_dir);

// How many times the keeper restarted the orchestrator of this work dir.
int OrchestratorRestarts(const std::string& work_dir);

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_ORCHESTRATOR_KEEPER_H_
