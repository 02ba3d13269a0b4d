#include "services/nat/slirp_stack.h"

#include <arpa/inet.h>

#include <vector>

#include "gtest/gtest.h"

namespace cloonix {
namespace {

const uint8_t kMac[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};

// A DHCP client frame from kMac (see DhcpClientFrame).
std::vector<uint8_t> DhcpFrame(uint8_t type, const std::string& want_ip,
                               const std::string& mac = "02:11:22:33:44:55") {
  auto f = DhcpClientFrame(mac, type, want_ip, 0x1234);
  EXPECT_TRUE(f.ok()) << f.status();
  return f.ok() ? *f : std::vector<uint8_t>();
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

TEST(SlirpStackTest, RestoredLeasesAreKeptFromNewGuests) {
  std::vector<std::vector<uint8_t>> sent;
  auto stack = SlirpStack::Create(
      "nat1", [&](const uint8_t* p, size_t n) { sent.emplace_back(p, p + n); },
      nullptr);
  ASSERT_TRUE(stack.ok());
  int changes = 0;
  (*stack)->SetLeaseListener([&] { ++changes; });
  // What a restarted nat replays from its lease file.
  ASSERT_TRUE((*stack)->RestoreLease("02:11:22:33:44:55", "172.17.0.10").ok());
  ASSERT_TRUE((*stack)->RestoreLease("02:aa:bb:cc:dd:ee", "172.17.0.12").ok());
  EXPECT_TRUE(sent.empty()) << "restoring sent frames to the lan";
  EXPECT_EQ((*stack)->Leases().size(), 2u);
  EXPECT_EQ(changes, 2);
  // A new guest gets neither restored address.
  auto discover = DhcpFrame(1, "", "02:00:00:00:00:77");
  (*stack)->Input(discover.data(), discover.size());
  ASSERT_FALSE(sent.empty());
  EXPECT_EQ(Yiaddr(sent.back()), "172.17.0.11");
  // The old guest renewing keeps its address.
  auto renew = DhcpFrame(3, "172.17.0.10");
  (*stack)->Input(renew.data(), renew.size());
  EXPECT_EQ(Yiaddr(sent.back()), "172.17.0.10");
  // Another MAC cannot take a restored address.
  EXPECT_EQ((*stack)->RestoreLease("02:00:00:00:00:99", "172.17.0.12").code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*stack)->RestoreLease("02:00:00:00:00:99", "172.17.0.200").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*stack)->RestoreLease("nope", "172.17.0.13").code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SlirpStackTest, UnicastForOtherHostsIsIgnored) {
  std::vector<std::vector<uint8_t>> sent;
  auto stack = SlirpStack::Create(
      "nat1", [&](const uint8_t* p, size_t n) { sent.emplace_back(p, p + n); },
      nullptr);
  ASSERT_TRUE(stack.ok());
  // A DHCP discover re-addressed to another host's MAC (a flooded frame).
  auto f = DhcpFrame(1, "");
  const uint8_t other[6] = {0x02, 0x99, 0x99, 0x99, 0x99, 0x99};
  std::copy(other, other + 6, f.begin());
  (*stack)->Input(f.data(), f.size());
  EXPECT_TRUE(sent.empty());
  EXPECT_EQ((*stack)->foreign_frames(), 1u);
  EXPECT_EQ((*stack)->rx_frames(), 0u);
  // To the gateway's MAC (52:55 + 172.17.0.2): taken.
  const uint8_t gw[6] = {0x52, 0x55, 172, 17, 0, 2};
  std::copy(gw, gw + 6, f.begin());
  (*stack)->Input(f.data(), f.size());
  EXPECT_EQ((*stack)->rx_frames(), 1u);
  EXPECT_FALSE(sent.empty());
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
