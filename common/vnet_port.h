// A data-plane worker's port on a lan that keeps the kernel's TSO/GSO
// super-frames whole: a veth pair (common/worker_veth.h) whose worker end
// is read and written by an AF_PACKET socket with PACKET_VNET_HDR, so each
// packet carries its virtio-net header (GSO type and segment size, partial
// checksum offsets) from one lan to the other. A 64 KB TCP burst crosses
// the worker as one packet instead of ~45 frames; OVS's userspace datapath
// (userspace TSO on) reads and writes it whole on both bridges.
//
// Where an impairment must act on frames (loss, jitter, rate), the port
// turns segmentation off on its port end (SetSuperFrames(false)): the
// kernel then cuts OVS's super-frames into MTU frames before they reach the
// worker, as Linux does for a NIC without TSO.
//
// DPDK's net_af_packet PMD cannot do this: it has no virtio-net header
// support, so offloads had to be off and OVS read every 1500-byte frame
// from its socket (docs/BENCHMARKS.md, "a2b throughput").
#ifndef CLOONIX_COMMON_VNET_PORT_H_
#define CLOONIX_COMMON_VNET_PORT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace cloonix {

// struct virtio_net_hdr of <linux/virtio_net.h> (that header does not
// compile as C++: a member is named "class"). Little-endian on this host.
struct VnetHdr {
  static constexpr uint8_t kNeedsCsum = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
  uint8_t flags;
  uint8_t gso_type;  // VIRTIO_NET_HDR_GSO_*: 0 none, 1 TCPv4, 4 TCPv6, ...
  uint16_t hdr_len;
  uint16_t gso_size;  // bytes of payload per segment
  uint16_t csum_start;
  uint16_t csum_offset;
};
static_assert(sizeof(VnetHdr) == 10, "virtio_net_hdr is 10 bytes");

// One packet with its virtio-net header, in one malloc'd block sized to the
// packet. Owned by whoever holds the pointer; freed with Free().
struct VnetFrame {
  VnetHdr hdr;
  uint32_t len;  // bytes of the Ethernet frame (or super-frame), hdr excluded
  uint8_t* data() { return reinterpret_cast<uint8_t*>(this + 1); }
  const uint8_t* data() const {
    return reinterpret_cast<const uint8_t*>(this + 1);
  }
  // A frame of `len` bytes, header zeroed (no offload): nullptr if out of
  // memory.
  static VnetFrame* Alloc(uint32_t len);
  static void Free(VnetFrame* f);
};

// Fills in the checksum a packet with VnetHdr::kNeedsCsum still lacks (the
// sender left a pseudo-header seed at csum_start + csum_offset and the
// Internet checksum of [csum_start, len) to be done), and clears the flag.
// For a consumer that reads the packet's bytes as they are (libslirp checks
// TCP and UDP checksums). Returns false (packet unchanged) if the offsets
// are outside the packet.
bool CompleteChecksum(VnetFrame* f);

class VnetPort {
 public:
  // Largest packet received: a 64 KB GSO packet plus its Ethernet header.
  // A longer one is dropped and counted in truncated().
  static constexpr uint32_t kMaxPacket = 65536 + 512;
  static constexpr size_t kMaxBurst = 64;

  VnetPort() = default;
  VnetPort(VnetPort&& o) noexcept;
  VnetPort& operator=(VnetPort&& o) noexcept;
  VnetPort(const VnetPort&) = delete;
  VnetPort& operator=(const VnetPort&) = delete;
  ~VnetPort();

  // Creates `port_if` <-> `worker_if` with the kernel's offloads on,
  // `port_if` in `port_netns` (empty: this process's netns; `worker_if`
  // always stays here), opens the socket on `worker_if` (promiscuous,
  // non-blocking, own transmissions ignored, 8 MB buffers). UNAVAILABLE on
  // a veth or socket failure; nothing is left.
  static absl::StatusOr<VnetPort> Open(const std::string& port_if,
                                       const std::string& worker_if,
                                       const std::string& port_netns = "");
  // Closes the socket and deletes the veth pair. Idempotent.
  void Close();

  // Up to min(max, kMaxBurst) packets waiting on the socket, without
  // blocking. The caller owns the frames it gets.
  size_t Receive(VnetFrame** out, size_t max);
  // Sends frames[0..n) (one sendmmsg per kMaxBurst) and frees them all;
  // returns how many the kernel took (the rest were dropped: socket buffer
  // full or refused) and adds their lengths to *bytes if given.
  size_t Send(VnetFrame* const* frames, size_t n, uint64_t* bytes = nullptr);
  // Super-frames on (the default) or off, by the port end's segmentation
  // offloads (see above). The port end must be in this process's netns (as
  // the a2b's are): FAILED_PRECONDITION otherwise.
  absl::Status SetSuperFrames(bool on);

  // The socket: POLLIN when a packet waits.
  int poll_fd() const { return fd_; }
  const std::string& port_if() const { return port_if_; }
  // Packets dropped on receive for being longer than kMaxPacket.
  uint64_t truncated() const { return truncated_; }

 private:
  std::string port_if_, worker_if_, port_netns_;
  int fd_ = -1;
  uint64_t truncated_ = 0;
  // Receive buffers of kMaxPacket bytes, refilled as packets are handed out
  // (each handed-out one is first shrunk in place to its packet's size).
  std::vector<VnetFrame*> slots_;
};

}  // namespace cloonix

#endif  // CLOONIX_COMMON_VNET_PORT_H_
