// Cloonix's commands, with their argument order and output convention, on
// this project's CLI: `cloonix` is a multi-call binary and, called as
// cloonix_net, cloonix_cli, cloonix_ssh, cloonix_scp, cloonix_osh,
// cloonix_ocp, cloonix_shk, cloonix_shc, cloonix_wsk or cloonix_gui (the
// links tools/install.sh makes), translates the command line and runs
// itself as `cloonix --net <net> ...`. docs/CLOONIX.md has the table.
//
// cloonix_cli prints as Cloonix's does: "OK <text>" and exit 0 on success;
// "KO <reason>" and exit 255 (Cloonix's exit(-1)) when the net refuses or
// the command is wrong; exit 1 when the net does not run (Cloonix's
// TIMEOUT). dmp, lst, pid and evt print their data as they are.
#ifndef CLOONIX_CLI_CLOONIX_COMPAT_H_
#define CLOONIX_CLI_CLOONIX_COMPAT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace cloonix::cli {

// The `cloonix` arguments for `cloonix_cli <net> <args>`'s <args> (the
// verbs after the net), or INVALID_ARGUMENT naming what Cloonix has that
// this net does not (and why). Pure, for tests.
absl::StatusOr<std::vector<std::string>> TranslateCliVerb(
    const std::vector<std::string>& args);

// True when `tool` (argv[0]'s base name) is one of Cloonix's commands.
bool IsCloonixTool(const std::string& tool);

// Runs Cloonix's command `tool` with `args` (argv[1..]); the exit code.
int RunCloonixTool(const std::string& tool,
                   const std::vector<std::string>& args);

}  // namespace cloonix::cli

#endif  // CLOONIX_CLI_CLOONIX_COMPAT_H_
