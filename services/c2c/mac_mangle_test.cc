#include "services/c2c/mac_mangle.h"

#include <vector>

#include "gtest/gtest.h"

namespace cloonix {
namespace {

const Mac kMangle = {0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee};
const Mac kRemote = {0x02, 0x11, 0x11, 0x11, 0x11, 0x11};  // behind the c2c
const Mac kLocal = {0x02, 0x22, 0x22, 0x22, 0x22, 0x22};   // on the lan
const Mac kBroadcast = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
constexpr uint32_t kRemoteIp = 0x0a000002;  // 10.0.0.2
constexpr uint32_t kLocalIp = 0x0a000001;

void Put32(std::vector<uint8_t>& f, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    f[at + i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}
void PutMac(std::vector<uint8_t>& f, size_t at, const Mac& m) {
  std::copy(m.begin(), m.end(), f.begin() + at);
}
Mac MacAt(const std::vector<uint8_t>& f, size_t at) {
  Mac m;
  std::copy(f.begin() + at, f.begin() + at + 6, m.begin());
  return m;
}

// An ARP frame (op 1 request, 2 reply).
std::vector<uint8_t> Arp(uint16_t op, const Mac& dst, const Mac& src,
                         uint32_t spa, const Mac& tha, uint32_t tpa) {
  std::vector<uint8_t> f(60, 0);
  PutMac(f, 0, dst);
  PutMac(f, 6, src);
  f[12] = 0x08, f[13] = 0x06;
  f[15] = 1, f[16] = 0x08, f[18] = 6, f[19] = 4, f[21] = op;
  PutMac(f, 22, src);
  Put32(f, 28, spa);
  PutMac(f, 32, tha);
  Put32(f, 38, tpa);
  return f;
}

std::vector<uint8_t> Ipv4(const Mac& dst, const Mac& src, uint32_t sip,
                          uint32_t dip) {
  std::vector<uint8_t> f(98, 0);
  PutMac(f, 0, dst);
  PutMac(f, 6, src);
  f[12] = 0x08, f[13] = 0x00, f[14] = 0x45;
  Put32(f, 26, sip);
  Put32(f, 30, dip);
  return f;
}

TEST(MacMangleTest, ArpBothWays) {
  MacMangler m(kMangle);
  // The remote guest asks who has the local address: seen as the mangle MAC.
  auto req = Arp(1, kBroadcast, kRemote, kRemoteIp, Mac{}, kLocalIp);
  EXPECT_TRUE(m.ToLan(req.data(), req.size()));
  EXPECT_EQ(MacAt(req, 6), kMangle);
  EXPECT_EQ(MacAt(req, 22), kMangle);
  EXPECT_EQ(MacAt(req, 0), kBroadcast);
  EXPECT_EQ(m.entries(), 1u);
  // The local answer to the mangle MAC goes back to the real one.
  auto rep = Arp(2, kMangle, kLocal, kLocalIp, kMangle, kRemoteIp);
  EXPECT_TRUE(m.ToPeer(rep.data(), rep.size()));
  EXPECT_EQ(MacAt(rep, 0), kRemote);
  EXPECT_EQ(MacAt(rep, 32), kRemote);
  EXPECT_EQ(MacAt(rep, 6), kLocal);
}

TEST(MacMangleTest, Ipv4BothWays) {
  MacMangler m(kMangle);
  auto in = Ipv4(kLocal, kRemote, kRemoteIp, kLocalIp);
  EXPECT_TRUE(m.ToLan(in.data(), in.size()));
  EXPECT_EQ(MacAt(in, 6), kMangle);
  EXPECT_EQ(MacAt(in, 0), kLocal);
  auto out = Ipv4(kMangle, kLocal, kLocalIp, kRemoteIp);
  EXPECT_TRUE(m.ToPeer(out.data(), out.size()));
  EXPECT_EQ(MacAt(out, 0), kRemote);
  // To an address never seen, or not to the mangle MAC: unchanged.
  auto unknown = Ipv4(kMangle, kLocal, kLocalIp, 0x0a000099);
  EXPECT_FALSE(m.ToPeer(unknown.data(), unknown.size()));
  EXPECT_EQ(MacAt(unknown, 0), kMangle);
  auto other = Ipv4(kLocal, kLocal, kLocalIp, kRemoteIp);
  EXPECT_FALSE(m.ToPeer(other.data(), other.size()));
}

TEST(MacMangleTest, OtherFramesPass) {
  MacMangler m(kMangle);
  std::vector<uint8_t> v6(80, 0);
  PutMac(v6, 6, kRemote);
  v6[12] = 0x86, v6[13] = 0xdd;
  auto before = v6;
  EXPECT_FALSE(m.ToLan(v6.data(), v6.size()));
  EXPECT_EQ(v6, before);
  auto shortf = Ipv4(kLocal, kRemote, kRemoteIp, kLocalIp);
  EXPECT_FALSE(m.ToLan(shortf.data(), 20));  // cut inside the IPv4 header
  auto mcast = Ipv4(kLocal, kBroadcast, kRemoteIp, kLocalIp);
  EXPECT_FALSE(m.ToLan(mcast.data(), mcast.size()));
  EXPECT_EQ(m.entries(), 0u);
}

TEST(MacMangleTest, TableIsBounded) {
  MacMangler m(kMangle);
  for (uint32_t i = 1; i <= MacMangler::kMaxEntries + 10; ++i) {
    auto f = Ipv4(kLocal, kRemote, 0x0b000000 + i, kLocalIp);
    m.ToLan(f.data(), f.size());
  }
  EXPECT_LE(m.entries(), MacMangler::kMaxEntries);
  EXPECT_GT(m.entries(), 0u);
}

TEST(MacMangleTest, ParsesOnlyUnicastMacs) {
  auto ok = ParseUnicastMac("02:AA:bb:cc:dd:0e");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ((*ok)[1], 0xaa);
  EXPECT_EQ((*ok)[5], 0x0e);
  for (const char* bad :
       {"", "02:aa:bb:cc:dd", "02:aa:bb:cc:dd:ee:ff", "0x:aa:bb:cc:dd:ee",
        "2:aa:bb:cc:dd:ee", "01:00:5e:00:00:01", "00:00:00:00:00:00"}) {
    EXPECT_FALSE(ParseUnicastMac(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace cloonix
