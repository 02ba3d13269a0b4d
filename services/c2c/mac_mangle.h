// Cloonix's c2c mac_mangle (`cnf c2c <name> mac_mangle=XX:XX:XX:XX:XX:XX`):
// the guests behind a c2c show on this side's lan with one MAC, as behind a
// link that lets a single MAC through (a Wi-Fi NIC, a cloud port with
// anti-spoofing). Frames from the peer to the lan get the mangle MAC as their
// Ethernet source (and as the ARP sender's hardware address), and the IPv4
// address they come from is remembered with their real MAC; frames from the
// lan to the peer addressed to the mangle MAC (and ARP replies or requests
// for a remembered IPv4 address) get the real MAC back. IPv4 and ARP only,
// as in Cloonix (its packet_arp_mangle.c); other frames pass unchanged.
//
// One instance per c2c end, used by the worker's packet thread only (not
// thread-safe). At most kMaxEntries addresses are remembered; past that,
// the table starts over (guests re-announce themselves by ARP).
#ifndef CLOONIX_SERVICES_C2C_MAC_MANGLE_H_
#define CLOONIX_SERVICES_C2C_MAC_MANGLE_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"

namespace cloonix {

using Mac = std::array<uint8_t, 6>;

// "02:aa:bb:cc:dd:ee" (any case) -> bytes; INVALID_ARGUMENT (common
// ValidateMac's message) otherwise, and for a multicast or all-zero MAC (it
// must be a unicast source).
absl::StatusOr<Mac> ParseUnicastMac(const std::string& s);

class MacMangler {
 public:
  static constexpr size_t kMaxEntries = 4096;

  explicit MacMangler(const Mac& mac) : mac_(mac) {}

  // A frame from the peer, before it goes on the lan. True if changed.
  bool ToLan(uint8_t* frame, uint32_t len);
  // A frame from the lan, before it goes to the peer. True if changed.
  bool ToPeer(uint8_t* frame, uint32_t len);

  const Mac& mac() const { return mac_; }
  size_t entries() const { return real_.size(); }

 private:
  void Learn(uint32_t ip, const uint8_t* mac);
  const Mac* Find(uint32_t ip) const;

  const Mac mac_;
  absl::flat_hash_map<uint32_t, Mac> real_;  // IPv4 (host order) -> MAC
};

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_C2C_MAC_MANGLE_H_
