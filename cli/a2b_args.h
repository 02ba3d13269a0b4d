// Parsing of a2b settings on the command line:
//   key=value tokens: dir=0|1 delay=<ms> jitter=<ms> loss=<percent>
//   rate=<kbit/s> burst=<bytes> qsize=<packets> bsize=<bytes> reorder=0|1
// and Cloonix's form "dir=0 cmd=<key> val=<value>", where cmd=loss takes
// Cloonix's unit (0..10000 = 0..100%).
#ifndef CLOONIX_CLI_A2B_ARGS_H_
#define CLOONIX_CLI_A2B_ARGS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cloonix/v1/topology.pb.h"

namespace cloonix::cli {

struct A2bArgs {
  std::optional<uint32_t> dir;  // unset: both directions
  cloonix::v1::A2bSettingsPatch patch;
};

// INVALID_ARGUMENT naming the token for unknown keys or values that are not
// numbers. Ranges are checked by the net.
absl::StatusOr<A2bArgs> ParseA2bArgs(const std::vector<std::string>& tokens);

}  // namespace cloonix::cli

#endif  // CLOONIX_CLI_A2B_ARGS_H_
