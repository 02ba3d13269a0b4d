// Validation of user-given names and the derived names of Linux objects.
#ifndef CLOONIX_COMMON_NAMES_H_
#define CLOONIX_COMMON_NAMES_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace cloonix {

// Item and lan names, as Cloonix takes them ("Cloon1", "lan1.0.1"): a
// letter then up to 30 of [A-Za-z0-9_.-]. Case matters ("Vm1" and "vm1" are
// two items). Linux objects get names derived from item ids, never these.
// INVALID_ARGUMENT naming `what` (e.g. "item name") otherwise.
absl::Status ValidateName(absl::string_view name, absl::string_view what);

// Net names: a letter then up to 30 of [A-Za-z0-9_-]; no '.', which
// separates the net from a container in netns names (cloonix_<net>.<item>).
absl::Status ValidateNetName(absl::string_view name, absl::string_view what);

// Linux interface names: 1..15 chars, no '/', ':' or whitespace.
absl::Status ValidateIfname(absl::string_view name);

// netns of a net: cloonix_<net>.
std::string NetNetns(absl::string_view net);
// netns of a container: cloonix_<net>.<item>. Net names never hold a '.', so
// the first '.' splits net and item: net "a_x" and container "x" of net "a"
// get different netns (cloonix_a_x vs cloonix_a.x), also once item names may
// hold dots.
std::string ContainerNetns(absl::string_view net, absl::string_view item);
// The prefix of every container netns of a net: "cloonix_<net>.".
std::string ContainerNetnsPrefix(absl::string_view net);
// Bridge of the lan with numeric id `id`: "cxl<id>".
std::string LanBridgeName(uint32_t id);
// Port (veth end in cloonix_<net>) of eth `eth` of item `id`: "cx<id>e<eth>".
std::string EthPortName(uint32_t id, uint32_t eth);
// The inverses: the item id of a port "cx<id>e<eth>", the lan id of a
// bridge "cxl<id>"; 0 for a name of another shape.
uint32_t ItemIdOfPort(absl::string_view port);
uint32_t LanIdOfBridge(absl::string_view bridge);
// Locally administered unicast MAC from the net name, item id and eth:
// 02:<hash of net>:<id, 3 bytes>:<eth>. Items of different nets (joined later
// by c2c) get different MACs.
std::string DerivedMac(absl::string_view net, uint32_t id, uint32_t eth);

// 5 hex digits derived from the net's name, for interface names that live in
// the host's netns (unique per net: "ct<tag><id>e<eth>" taps of VMs before
// they move, "cn<tag><id>" nat veth ends).
std::string NetTag(absl::string_view net);
// 32-bit FNV-1a of `s`: short stable tags in derived names.
uint32_t Fnv1a(absl::string_view s);

// OK for a unicast MAC written "xx:xx:xx:xx:xx:xx" (hex, any case), not
// all zeros.
absl::Status ValidateMac(absl::string_view mac);

// A bind mount's paths (Cloonix's --vmount=<host>:<guest>): both absolute,
// at most 1024 bytes, no "." or ".." component, no control character; the
// guest path not "/" and not under /proc, /sys or /dev (the container's own
// mounts). Whether the host path exists is the runner's check.
absl::Status ValidateBindMountPaths(absl::string_view host_path,
                                    absl::string_view guest_path);

}  // namespace cloonix

#endif  // CLOONIX_COMMON_NAMES_H_
