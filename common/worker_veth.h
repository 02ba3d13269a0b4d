// The veth pair that joins a data-plane worker (a2b, c2c, nat) to a lan: the
// "port" end is cabled to the lan's OVS bridge, the "worker" end is read and
// written by the worker's packet socket. Shared by AfPacketPort (DPDK's
// net_af_packet) and VnetPort (AF_PACKET with virtio-net headers).
#ifndef CLOONIX_COMMON_WORKER_VETH_H_
#define CLOONIX_COMMON_WORKER_VETH_H_

#include <string>

#include "absl/status/status.h"

namespace cloonix {

// Creates `port_if` <-> `worker_if` (deleting stale links of those names,
// from a crash), moves `port_if` into `port_netns` unless it is empty, and
// brings both up. With `frames_only`, TX checksum, TSO, GSO and GRO are
// turned off on both ends, so that every packet crossing the pair is a
// checksummed frame of at most the MTU; otherwise the kernel's defaults
// stay (super-frames of up to 64 KB with partial checksums). On error
// nothing is left. UNAVAILABLE with ip's or ethtool's message.
absl::Status CreateWorkerVeth(const std::string& port_if,
                              const std::string& worker_if,
                              const std::string& port_netns, bool frames_only);

// Deletes the pair (deleting one end deletes both, wherever the peer is).
void DeleteWorkerVeth(const std::string& worker_if);

// TX checksum, TSO and GSO of `ifname` in this process's netns, on or off
// (SIOCETHTOOL). Off makes the kernel cut a TSO/GSO super-frame into MTU
// frames with full checksums before `ifname` transmits it. UNAVAILABLE with
// the ioctl's errno.
absl::Status SetSegmentationOffloads(const std::string& ifname, bool on);

}  // namespace cloonix

#endif  // CLOONIX_COMMON_WORKER_VETH_H_
