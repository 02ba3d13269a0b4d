// Lets libslirp exchange 64 KB TCP segments with the guests behind a nat,
// on IPv4, while every guest still sees its own MTU. libslirp runs with a
// 64 KB MTU; on the way in, the MSS option of each SYN a guest sends is
// raised to kSlirpMss (the guest's own MSS is kept per connection), so
// slirp sends the guest segments of up to 64 KB; on the way out, each such
// segment becomes a TSO super-frame (virtio-net header: GSO TCPv4 at the
// guest's MSS, partial checksum) that the kernel or OVS cuts into the
// guest's frames, and any other IPv4 packet over the guest MTU is cut into
// IP fragments (what slirp did itself with a 1500-byte MTU). Guest -> slirp
// super-frames need nothing: slirp takes them whole (nat_worker).
//
// Single-threaded (the nat loop). Frames are Ethernet (no VLAN tag).
#ifndef CLOONIX_SERVICES_NAT_BIG_SEGMENTS_H_
#define CLOONIX_SERVICES_NAT_BIG_SEGMENTS_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <tuple>
#include <vector>

#include "common/vnet_port.h"

namespace cloonix {

class BigSegments {
 public:
  // slirp's MTU and the MSS put into the guests' SYNs (IF_MTU_MAX of
  // libslirp, minus 40 bytes of IPv4 + TCP headers).
  static constexpr uint32_t kSlirpMtu = 65521;
  static constexpr uint16_t kSlirpMss = kSlirpMtu - 40;
  // The lans' MTU: frames to the guests are never longer (plus 14).
  static constexpr uint32_t kGuestMtu = 1500;
  // Connections remembered; past it the oldest half is forgotten (their
  // segments are then cut at the MSS of a 1500-byte MTU).
  static constexpr size_t kMaxFlows = 65536;

  // A frame from a guest, before slirp: a TCP SYN's MSS option is
  // remembered and raised (TCP checksum recomputed); a FIN or RST
  // forgets the connection. The frame's checksum must be complete.
  void FromGuest(uint8_t* frame, size_t len);

  // A frame from slirp for a guest: appended to `out` as one or more
  // frames (a TCP segment over the guest's MSS as one super-frame with its
  // virtio-net header, an IPv4 packet over kGuestMtu as fragments, anything
  // else as it is). nullptr entries are never appended; on allocation
  // failure the frame is dropped.
  void ToGuest(const uint8_t* frame, size_t len, std::vector<VnetFrame*>* out);

  size_t flows() const { return mss_.size(); }

 private:
  // guest address, guest port, remote address, remote port (network order).
  using Key = std::tuple<uint32_t, uint16_t, uint32_t, uint16_t>;
  std::map<Key, uint16_t> mss_;
};

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_NAT_BIG_SEGMENTS_H_
