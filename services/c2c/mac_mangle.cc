#include "services/c2c/mac_mangle.h"

#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/names.h"

namespace cloonix {

namespace {

constexpr uint32_t kEth = 14;
constexpr uint32_t kArpLen = 28;  // Ethernet/IPv4 ARP body
constexpr uint32_t kIpv4Min = 20;

uint16_t Be16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}
uint32_t Be32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | p[1] << 16 | p[2] << 8 | p[3];
}
bool Unicast(const uint8_t* mac) { return (mac[0] & 1) == 0; }

// The frame's EtherType when it is Ethernet/IPv4 ARP or a whole IPv4 header;
// 0 otherwise.
uint16_t Kind(const uint8_t* f, uint32_t len) {
  if (len < kEth) return 0;
  const uint16_t type = Be16(f + 12);
  if (type == 0x0806 && len >= kEth + kArpLen && Be16(f + 14) == 1 &&
      Be16(f + 16) == 0x0800 && f[18] == 6 && f[19] == 4) {
    return type;
  }
  if (type == 0x0800 && len >= kEth + kIpv4Min && (f[14] >> 4) == 4 &&
      (f[14] & 0x0f) >= 5) {
    return type;
  }
  return 0;
}

}  // namespace

absl::StatusOr<Mac> ParseUnicastMac(const std::string& s) {
  if (auto st = ValidateMac(s); !st.ok()) return st;
  Mac mac{};
  for (size_t i = 0; i < 6; ++i) {
    int v = 0;
    absl::SimpleHexAtoi(s.substr(3 * i, 2), &v);
    mac[i] = static_cast<uint8_t>(v);
  }
  return mac;
}

void MacMangler::Learn(uint32_t ip, const uint8_t* mac) {
  if (ip == 0) return;
  auto it = real_.find(ip);
  if (it == real_.end() && real_.size() >= kMaxEntries) real_.clear();
  std::memcpy(real_[ip].data(), mac, 6);
}

const Mac* MacMangler::Find(uint32_t ip) const {
  auto it = real_.find(ip);
  return it == real_.end() ? nullptr : &it->second;
}

bool MacMangler::ToLan(uint8_t* f, uint32_t len) {
  switch (Kind(f, len)) {
    case 0x0806: {  // sender: remembered, then shown as the mangle MAC
      uint8_t* sha = f + kEth + 8;
      Learn(Be32(f + kEth + 14), sha);
      if (Unicast(f + 6)) std::memcpy(f + 6, mac_.data(), 6);
      std::memcpy(sha, mac_.data(), 6);
      return true;
    }
    case 0x0800:
      if (!Unicast(f + 6)) return false;
      Learn(Be32(f + kEth + 12), f + 6);
      std::memcpy(f + 6, mac_.data(), 6);
      return true;
    default:
      return false;
  }
}

bool MacMangler::ToPeer(uint8_t* f, uint32_t len) {
  switch (Kind(f, len)) {
    case 0x0806: {  // to a remembered target: its real MAC
      const Mac* real = Find(Be32(f + kEth + 24));
      if (real == nullptr) return false;
      if (Unicast(f)) std::memcpy(f, real->data(), 6);
      std::memcpy(f + kEth + 18, real->data(), 6);
      return true;
    }
    case 0x0800: {
      if (std::memcmp(f, mac_.data(), 6) != 0) return false;
      const Mac* real = Find(Be32(f + kEth + 16));
      if (real == nullptr) return false;
      std::memcpy(f, real->data(), 6);
      return true;
    }
    default:
      return false;
  }
}

}  // namespace cloonix
