// A DPDK worker's port on a lan: a veth pair (the "port" end goes to an OVS
// bridge in the net's netns, the "worker" end is read by DPDK's
// net_af_packet PMD), with the offloads that af_packet cannot carry turned
// off (TSO/GSO/GRO would hand it 64 KB frames; partial checksums would leave
// unchecksummed). Also finds the PMD's AF_PACKET socket so the worker can
// sleep in ppoll() until a frame arrives instead of busy-polling.
#ifndef CLOONIX_COMMON_AF_PACKET_PORT_H_
#define CLOONIX_COMMON_AF_PACKET_PORT_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

struct rte_mempool;

namespace cloonix {

class AfPacketPort {
 public:
  // Creates the veth pair `port_if` <-> `worker_if` (deleting stale ones of
  // the same names), moves `port_if` into `port_netns` unless it is empty
  // (the worker end stays in the caller's netns), attaches the PMD to
  // `worker_if`, starts it.
  static absl::StatusOr<AfPacketPort> Open(const std::string& port_if,
                                           const std::string& worker_if,
                                           rte_mempool* pool,
                                           const std::string& port_netns = "");
  // Stops and detaches the PMD, deletes the veth pair. Idempotent.
  void Close();

  uint16_t port_id() const { return port_id_; }
  // The PMD's socket (pollable: POLLIN when a frame waits in its rx ring).
  int poll_fd() const { return poll_fd_; }
  const std::string& port_if() const { return port_if_; }

 private:
  std::string port_if_, worker_if_, vdev_, port_netns_;
  uint16_t port_id_ = 0;
  int poll_fd_ = -1;
  bool open_ = false;
};

}  // namespace cloonix

#endif  // CLOONIX_COMMON_AF_PACKET_PORT_H_
