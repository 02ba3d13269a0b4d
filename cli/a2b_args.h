// Parsing of a2b settings on the command line:
//   key=value tokens: dir=0|1 delay=<ms> jitter=<ms> loss=<percent>
//   rate=<kbit/s> burst=<bytes> qsize=<packets> bsize=<bytes> reorder=0|1
// and Cloonix's form "dir=0 cmd=<key> val=<value>" in Cloonix's units (its
// a2b's sched.c): loss 0..10000 = 0..100 %; delay ms; rate kilobytes/s (a
// rate of N shapes to 8N kbit/s, and sets the queue and burst as Cloonix
// does: queue N*1000/4 bytes over 1000, N*1000/2 over 100, else N*1000;
// burst N*125 + 2000 bytes); qsize and bsize kilobytes (queue and burst);
// silentms: ms of silence between bursts (Cloonix's help; its own a2b
// ignores it): the burst becomes rate x silentms, applied by the caller
// against the a2b's current rate.
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
  std::optional<uint32_t> silent_ms;  // Cloonix's cmd=silentms
};

// The burst (bytes) that `silent_ms` of silence at `rate_kbps` gathers.
uint64_t SilentBurstBytes(uint64_t rate_kbps, uint32_t silent_ms);

// INVALID_ARGUMENT naming the token for unknown keys or values that are not
// numbers. Ranges are checked by the net.
absl::StatusOr<A2bArgs> ParseA2bArgs(const std::vector<std::string>& tokens);

}  // namespace cloonix::cli

#endif  // CLOONIX_CLI_A2B_ARGS_H_
