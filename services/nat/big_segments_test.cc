// BigSegments on hand-built frames: the SYN's MSS is raised and remembered
// with a checksum that still verifies, big segments to a guest become
// super-frames at that guest's MSS, big non-TCP packets become fragments
// that reassemble to the original, and the rest passes untouched.
#include "services/nat/big_segments.h"

#include <cstring>
#include <vector>

#include "gtest/gtest.h"

namespace cloonix {
namespace {

constexpr uint8_t kGuest[4] = {172, 17, 0, 10};
constexpr uint8_t kHost[4] = {172, 17, 0, 2};

uint32_t Sum(const uint8_t* d, size_t n, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += (d[i] << 8) | d[i + 1];
  if (n % 2) sum += d[n - 1] << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return sum;
}

// The TCP checksum of `f` verifies (pseudo-header included).
bool TcpChecksumOk(const std::vector<uint8_t>& f) {
  const uint8_t* ip = f.data() + 14;
  size_t ihl = (ip[0] & 15) * 4u, total = (ip[2] << 8) | ip[3];
  uint32_t pseudo = Sum(ip + 12, 8) + 6 + static_cast<uint32_t>(total - ihl);
  return Sum(ip + ihl, total - ihl, pseudo) == 0xffff;
}

void SetTcpChecksum(std::vector<uint8_t>& f) {
  uint8_t* ip = f.data() + 14;
  size_t ihl = (ip[0] & 15) * 4u, total = (ip[2] << 8) | ip[3];
  ip[ihl + 16] = ip[ihl + 17] = 0;
  uint32_t pseudo = Sum(ip + 12, 8) + 6 + static_cast<uint32_t>(total - ihl);
  uint16_t c = static_cast<uint16_t>(~Sum(ip + ihl, total - ihl, pseudo));
  ip[ihl + 16] = static_cast<uint8_t>(c >> 8);
  ip[ihl + 17] = static_cast<uint8_t>(c);
}

// Ethernet + IPv4 (src -> dst) + `proto` payload of `payload` bytes; for
// TCP a 20-byte header (+ `options`) with `flags`, ports 40000 -> 80.
std::vector<uint8_t> Packet(const uint8_t* src, const uint8_t* dst,
                            uint8_t proto, size_t payload, uint8_t flags = 0,
                            std::vector<uint8_t> options = {}) {
  size_t l4 = proto == 6 ? 20 + options.size() : 0;
  size_t total = 20 + l4 + payload;
  std::vector<uint8_t> f(14 + total, 0);
  f[12] = 0x08;
  uint8_t* ip = f.data() + 14;
  ip[0] = 0x45;
  ip[2] = static_cast<uint8_t>(total >> 8);
  ip[3] = static_cast<uint8_t>(total);
  ip[8] = 64;
  ip[9] = proto;
  std::memcpy(ip + 12, src, 4);
  std::memcpy(ip + 16, dst, 4);
  for (size_t i = 0; i < payload; ++i)
    ip[20 + l4 + i] = static_cast<uint8_t>(i * 7);
  if (proto == 6) {
    uint8_t* t = ip + 20;
    t[0] = 40000 >> 8;
    t[1] = 40000 & 0xff;
    t[3] = 80;
    t[12] = static_cast<uint8_t>((l4 / 4) << 4);
    t[13] = flags;
    if (!options.empty()) std::memcpy(t + 20, options.data(), options.size());
    SetTcpChecksum(f);
  }
  return f;
}

// The reply direction: host:80 -> guest:40000.
std::vector<uint8_t> Reply(size_t payload) {
  std::vector<uint8_t> f = Packet(kHost, kGuest, 6, payload, 0x10);
  uint8_t* t = f.data() + 34;
  std::swap(t[0], t[2]);
  std::swap(t[1], t[3]);
  SetTcpChecksum(f);
  return f;
}

std::vector<VnetFrame*> ToGuest(BigSegments& b, const std::vector<uint8_t>& f) {
  std::vector<VnetFrame*> out;
  b.ToGuest(f.data(), f.size(), &out);
  return out;
}

void FreeAll(std::vector<VnetFrame*>& v) {
  for (VnetFrame* f : v) VnetFrame::Free(f);
  v.clear();
}

TEST(BigSegmentsTest, SynMssIsRaisedAndItsChecksumStillVerifies) {
  BigSegments b;
  // MSS 1360 (a guest with MTU 1400), then NOP NOP and window scale.
  std::vector<uint8_t> syn = Packet(kGuest, kHost, 6, 0, 0x02,
                                    {2, 4, 0x05, 0x50, 1, 1, 3, 3, 7, 0, 0, 0});
  b.FromGuest(syn.data(), syn.size());
  const uint8_t* opt = syn.data() + 34 + 20;
  EXPECT_EQ((opt[2] << 8) | opt[3], BigSegments::kSlirpMss);
  EXPECT_EQ(opt[6], 3);  // the other options are untouched
  EXPECT_TRUE(TcpChecksumOk(syn));
  EXPECT_EQ(b.flows(), 1u);

  // slirp's 30000-byte answer becomes one super-frame at 1360 bytes.
  std::vector<uint8_t> big = Reply(30000);
  std::vector<VnetFrame*> out = ToGuest(b, big);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0]->len, big.size());
  EXPECT_EQ(out[0]->hdr.gso_type, 1);
  EXPECT_EQ(out[0]->hdr.gso_size, 1360);
  EXPECT_EQ(out[0]->hdr.flags, VnetHdr::kNeedsCsum);
  EXPECT_EQ(out[0]->hdr.csum_start, 34);
  EXPECT_EQ(out[0]->hdr.csum_offset, 16);
  EXPECT_EQ(out[0]->hdr.hdr_len, 54);
  // Completing the partial checksum gives what slirp had computed.
  ASSERT_TRUE(CompleteChecksum(out[0]));
  EXPECT_EQ(std::memcmp(out[0]->data(), big.data(), big.size()), 0);
  FreeAll(out);

  // A FIN forgets the connection: back to a 1500-byte MTU's MSS.
  std::vector<uint8_t> fin = Packet(kGuest, kHost, 6, 0, 0x11);
  b.FromGuest(fin.data(), fin.size());
  EXPECT_EQ(b.flows(), 0u);
  out = ToGuest(b, big);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0]->hdr.gso_size, 1460);
  FreeAll(out);
}

TEST(BigSegmentsTest, MssAtAnOddOffsetStillGetsAGoodChecksum) {
  BigSegments b;
  // NOP, then MSS 1460 at offset 21, then NOP NOP NOP (header of 28).
  std::vector<uint8_t> syn =
      Packet(kGuest, kHost, 6, 0, 0x02, {1, 2, 4, 0x05, 0xb4, 1, 1, 1});
  b.FromGuest(syn.data(), syn.size());
  const uint8_t* opt = syn.data() + 34 + 20;
  EXPECT_EQ((opt[3] << 8) | opt[4], BigSegments::kSlirpMss);
  EXPECT_TRUE(TcpChecksumOk(syn));
}

TEST(BigSegmentsTest, SegmentOverASmallGuestMssIsCutEvenUnder1500Bytes) {
  BigSegments b;
  std::vector<uint8_t> syn =
      Packet(kGuest, kHost, 6, 0, 0x02, {2, 4, 0x04, 0x00});  // MSS 1024
  b.FromGuest(syn.data(), syn.size());
  std::vector<uint8_t> seg = Reply(1400);  // 1454 bytes: under 1500
  std::vector<VnetFrame*> out = ToGuest(b, seg);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0]->hdr.gso_type, 1);
  EXPECT_EQ(out[0]->hdr.gso_size, 1024);
  FreeAll(out);
}

TEST(BigSegmentsTest, ALongBurstIsNeverCutShort) {
  // 3 fragmented 60 KB datagrams: more frames than one sendmmsg burst.
  BigSegments b;
  std::vector<VnetFrame*> out;
  std::vector<uint8_t> udp = Packet(kHost, kGuest, 17, 60000);
  for (int i = 0; i < 3; ++i) b.ToGuest(udp.data(), udp.size(), &out);
  EXPECT_EQ(out.size(), 3u * 41);  // 60008 bytes in 1480-byte pieces
  FreeAll(out);
}

TEST(BigSegmentsTest, SmallFramesAndNonSynPassUntouched) {
  BigSegments b;
  std::vector<uint8_t> ack = Packet(kGuest, kHost, 6, 100, 0x10);
  std::vector<uint8_t> copy = ack;
  b.FromGuest(ack.data(), ack.size());
  EXPECT_EQ(ack, copy);
  EXPECT_EQ(b.flows(), 0u);
  std::vector<uint8_t> arp(42, 0xab);
  arp[12] = 0x08;
  arp[13] = 0x06;
  for (const auto& f : {Reply(1460), arp}) {
    std::vector<VnetFrame*> out = ToGuest(b, f);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0]->hdr.gso_type, 0);
    EXPECT_EQ(out[0]->hdr.flags, 0);
    ASSERT_EQ(out[0]->len, f.size());
    EXPECT_EQ(std::memcmp(out[0]->data(), f.data(), f.size()), 0);
    FreeAll(out);
  }
  // A SYN whose MSS is already as big is left alone.
  std::vector<uint8_t> syn =
      Packet(kGuest, kHost, 6, 0, 0x02, {2, 4, 0xff, 0xff});
  copy = syn;
  b.FromGuest(syn.data(), syn.size());
  EXPECT_EQ(syn, copy);
}

TEST(BigSegmentsTest, BigUdpBecomesFragmentsThatReassemble) {
  BigSegments b;
  std::vector<uint8_t> udp = Packet(kHost, kGuest, 17, 4000);
  std::vector<VnetFrame*> out = ToGuest(b, udp);
  ASSERT_EQ(out.size(), 3u);  // 4000 bytes in 1480-byte pieces
  std::vector<uint8_t> joined;
  for (size_t i = 0; i < out.size(); ++i) {
    const uint8_t* ip = out[i]->data() + 14;
    size_t total = (ip[2] << 8) | ip[3];
    EXPECT_LE(total, BigSegments::kGuestMtu);
    EXPECT_EQ(out[i]->len, 14 + total);
    EXPECT_EQ(Sum(ip, 20), 0xffffu) << "IP header checksum of fragment " << i;
    uint16_t frag = static_cast<uint16_t>((ip[6] << 8) | ip[7]);
    EXPECT_EQ((frag & 0x1fff) * 8u, joined.size());
    EXPECT_EQ((frag & 0x2000) != 0, i + 1 < out.size());
    joined.insert(joined.end(), ip + 20, ip + total);
  }
  EXPECT_EQ(joined, std::vector<uint8_t>(udp.begin() + 34, udp.end()));
  FreeAll(out);
}

TEST(BigSegmentsTest, TruncatedOrOddFramesDoNotCrash) {
  BigSegments b;
  std::vector<uint8_t> syn = Packet(kGuest, kHost, 6, 0, 0x02, {2, 4, 5, 0});
  for (size_t n = 0; n < syn.size(); ++n) {
    std::vector<uint8_t> cut(syn.begin(), syn.begin() + n);
    b.FromGuest(cut.data(), cut.size());
    std::vector<VnetFrame*> out = ToGuest(b, cut);
    FreeAll(out);
  }
  // An option length of 0 or running past the header stops the parse.
  std::vector<uint8_t> bad = Packet(kGuest, kHost, 6, 0, 0x02, {5, 0, 2, 4});
  std::vector<uint8_t> copy = bad;
  b.FromGuest(bad.data(), bad.size());
  EXPECT_EQ(bad, copy);
}

}  // namespace
}  // namespace cloonix
