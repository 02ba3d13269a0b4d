#include "services/nat/slirp_stack.h"

#include <arpa/inet.h>

#include <vector>

#include "gtest/gtest.h"

namespace cloonix {
namespace {

const uint8_t kMac[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};

uint16_t IpChecksum(const uint8_t* p, size_t n) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < n; i += 2) sum += (p[i] << 8) | p[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

// A DHCP client frame (broadcast) of message type `type` (1 discover, 3
// request), optionally requesting `want_ip`.
std::vector<uint8_t> DhcpFrame(uint8_t type, const std::string& want_ip) {
  std::vector<uint8_t> bootp(240, 0);
  bootp[0] = 1;  // BOOTREQUEST
  bootp[1] = 1;
  bootp[2] = 6;
  bootp[4] = 0x12;  // xid
  bootp[5] = 0x34;
  bootp[10] = 0x80;  // broadcast flag
  std::copy(kMac, kMac + 6, bootp.begin() + 28);
  bootp[236] = 99;
  bootp[237] = 130;
  bootp[238] = 83;
  bootp[239] = 99;
  bootp.insert(bootp.end(), {53, 1, type});
  if (!want_ip.empty()) {
    uint8_t a[4];
    inet_pton(AF_INET, want_ip.c_str(), a);
    bootp.insert(bootp.end(), {50, 4, a[0], a[1], a[2], a[3]});
    bootp.insert(bootp.end(), {54, 4, 172, 17, 0, 2});
  }
  bootp.push_back(255);
  while (bootp.size() < 300) bootp.push_back(0);
  std::vector<uint8_t> f(14, 0xff);
  std::copy(kMac, kMac + 6, f.begin() + 6);
  f[12] = 0x08;
  f[13] = 0x00;
  size_t udp_len = 8 + bootp.size();
  size_t ip_len = 20 + udp_len;
  std::vector<uint8_t> ip = {0x45,
                             0,
                             static_cast<uint8_t>(ip_len >> 8),
                             static_cast<uint8_t>(ip_len),
                             0,
                             1,
                             0,
                             0,
                             64,
                             17,
                             0,
                             0,
                             0,
                             0,
                             0,
                             0,
                             255,
                             255,
                             255,
                             255};
  uint16_t c = IpChecksum(ip.data(), ip.size());
  ip[10] = static_cast<uint8_t>(c >> 8);
  ip[11] = static_cast<uint8_t>(c);
  f.insert(f.end(), ip.begin(), ip.end());
  f.insert(f.end(), {0, 68, 0, 67, static_cast<uint8_t>(udp_len >> 8),
                     static_cast<uint8_t>(udp_len), 0, 0});
  f.insert(f.end(), bootp.begin(), bootp.end());
  return f;
}

// yiaddr of a BOOTREPLY frame, "" if not one.
std::string Yiaddr(const std::vector<uint8_t>& f) {
  if (f.size() < 14 + 20 + 8 + 240 || f[12] != 8 || f[13] != 0) return "";
  const uint8_t* bootp = f.data() + 14 + (f[14] & 0x0f) * 4 + 8;
  if (bootp[0] != 2) return "";
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, bootp + 16, buf, sizeof(buf));
  return buf;
}

TEST(SlirpStackTest, DhcpGivesCloonixAddressesAndTheLeaseIsLearnt) {
  std::vector<std::vector<uint8_t>> sent;
  auto stack = SlirpStack::Create(
      "nat1", [&](const uint8_t* p, size_t n) { sent.emplace_back(p, p + n); },
      nullptr);
  ASSERT_TRUE(stack.ok()) << stack.status();
  auto discover = DhcpFrame(1, "");
  (*stack)->Input(discover.data(), discover.size());
  ASSERT_FALSE(sent.empty()) << "no DHCP offer";
  std::string offered = Yiaddr(sent.back());
  EXPECT_EQ(offered, "172.17.0.10");
  EXPECT_TRUE((*stack)->Leases().empty());  // an offer is not a lease
  auto request = DhcpFrame(3, offered);
  (*stack)->Input(request.data(), request.size());
  auto leases = (*stack)->Leases();
  ASSERT_EQ(leases.size(), 1u);
  EXPECT_EQ(leases[0].mac, "02:11:22:33:44:55");
  EXPECT_EQ(leases[0].ip, "172.17.0.10");
  EXPECT_GE((*stack)->rx_frames(), 2u);
}

TEST(SlirpStackTest, HostForwardsAreLoopbackPortsAndValidated) {
  auto stack = SlirpStack::Create(
      "nat1", [](const uint8_t*, size_t) {}, nullptr);
  ASSERT_TRUE(stack.ok());
  EXPECT_EQ((*stack)->AddHostForward("nope", 22).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto port = (*stack)->AddHostForward("172.17.0.10", 22);
  ASSERT_TRUE(port.ok()) << port.status();
  EXPECT_GT(*port, 0);
  EXPECT_EQ(*(*stack)->AddHostForward("172.17.0.10", 22), *port);  // reused
  EXPECT_TRUE((*stack)->RemoveHostForward(*port).ok());  // one holder left
  EXPECT_TRUE((*stack)->RemoveHostForward(*port).ok());  // closed
  EXPECT_FALSE((*stack)->RemoveHostForward(*port).ok());
}

TEST(SlirpStackTest, SniffIgnoresGarbage) {
  auto stack = SlirpStack::Create(
      "nat1", [](const uint8_t*, size_t) {}, nullptr);
  ASSERT_TRUE(stack.ok());
  std::vector<uint8_t> junk(400, 0xab);
  (*stack)->SniffDhcp(junk.data(), junk.size());
  (*stack)->SniffDhcp(junk.data(), 10);
  EXPECT_TRUE((*stack)->Leases().empty());
}

}  // namespace
}  // namespace cloonix
