// VnetPort on real veths, in a network namespace of its own (the test
// unshares one: nothing it makes is seen outside, and all of it goes when
// the process exits). Needs root. Stands in for OVS with plain AF_PACKET
// sockets on the port ends.
#include "common/vnet_port.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "common/exec.h"
#include "gtest/gtest.h"

namespace cloonix {
namespace {

constexpr uint8_t kGsoTcpV4 = 1;  // VIRTIO_NET_HDR_GSO_TCPV4

// A fresh netns without IPv6, so that no router solicitation or MLD report
// of a link coming up lands among the test's packets.
bool InOwnNetns() {
  static const bool ok = [] {
    if (getuid() != 0 || unshare(CLONE_NEWNET) != 0) return false;
    for (const char* k : {"all", "default"}) {
      Exec({"sh", "-c",
            std::string("echo 1 > /proc/sys/net/ipv6/conf/") + k +
                "/disable_ipv6"})
          .IgnoreError();
    }
    return true;
  }();
  return ok;
}

// An AF_PACKET socket on `ifname` (the side OVS would hold), optionally
// with virtio-net headers.
int PortSocket(const std::string& ifname, bool vnet) {
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
  if (fd < 0) return -1;
  int one = 1;
  if (vnet) setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one));
  setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
  struct sockaddr_ll sll = {};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = static_cast<int>(if_nametoindex(ifname.c_str()));
  if (bind(fd, reinterpret_cast<struct sockaddr*>(&sll), sizeof(sll)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Ethernet + IPv4 + TCP (ACK) with `payload` bytes of 0x5a.
std::vector<uint8_t> TcpPacket(size_t payload) {
  std::vector<uint8_t> p(14 + 20 + 20 + payload, 0x5a);
  const uint8_t macs[12] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1};
  std::memcpy(p.data(), macs, 12);
  p[12] = 0x08;
  p[13] = 0x00;
  uint8_t* ip = p.data() + 14;
  std::memset(ip, 0, 40);
  ip[0] = 0x45;
  uint16_t tot = htons(static_cast<uint16_t>(40 + payload));
  std::memcpy(ip + 2, &tot, 2);
  ip[8] = 64;
  ip[9] = 6;
  const uint8_t addrs[8] = {10, 9, 0, 1, 10, 9, 0, 2};
  std::memcpy(ip + 12, addrs, 8);
  uint32_t sum = 0;
  for (int i = 0; i < 20; i += 2) sum += (ip[i] << 8) | ip[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  uint16_t csum = htons(static_cast<uint16_t>(~sum));
  std::memcpy(ip + 10, &csum, 2);
  uint8_t* tcp = ip + 20;
  tcp[0] = 0x30;  // ports 12345 -> 80
  tcp[1] = 0x39;
  tcp[3] = 80;
  tcp[12] = 5 << 4;
  tcp[13] = 0x10;  // ACK
  tcp[14] = 0xff;  // window
  return p;
}

// Waits up to 3 s for `want` packets on `port`.
std::vector<VnetFrame*> ReceiveN(VnetPort& port, size_t want) {
  std::vector<VnetFrame*> got;
  for (int i = 0; i < 300 && got.size() < want; ++i) {
    struct pollfd pfd = {port.poll_fd(), POLLIN, 0};
    poll(&pfd, 1, 10);
    VnetFrame* burst[VnetPort::kMaxBurst];
    size_t n = port.Receive(burst, VnetPort::kMaxBurst);
    got.insert(got.end(), burst, burst + n);
  }
  return got;
}

void FreeAll(std::vector<VnetFrame*>& v) {
  for (VnetFrame* f : v) VnetFrame::Free(f);
  v.clear();
}

bool LinkExists(const std::string& name) {
  return if_nametoindex(name.c_str()) != 0;
}

class VnetPortTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!InOwnNetns()) GTEST_SKIP() << "needs root (unshare of a netns)";
    auto a = VnetPort::Open("tva0", "tvb0");
    ASSERT_TRUE(a.ok()) << a.status();
    auto b = VnetPort::Open("tva1", "tvb1");
    ASSERT_TRUE(b.ok()) << b.status();
    p0_ = std::move(*a);
    p1_ = std::move(*b);
  }
  void TearDown() override {
    p0_.Close();
    p1_.Close();
  }
  VnetPort p0_, p1_;
};

// The ones-complement sum the plain way (big-endian 16-bit words), plus
// `extra` (the pseudo-header seed the sender left in the checksum field).
uint32_t SlowSum(const uint8_t* d, size_t n, uint32_t extra) {
  uint32_t sum = extra;
  for (size_t i = 0; i + 1 < n; i += 2) sum += (d[i] << 8) | d[i + 1];
  if (n % 2) sum += d[n - 1] << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return sum;
}

TEST(CompleteChecksumTest, MatchesThePlainSumForAnyLengthAndOffset) {
  uint32_t seed = 12345;
  for (uint32_t len : {60u, 61u, 1514u, 1515u, 9001u, 65536u}) {
    for (uint16_t start : {34, 35, 54}) {
      if (start + 18u > len) continue;
      VnetFrame* f = VnetFrame::Alloc(len);
      ASSERT_NE(f, nullptr);
      for (uint32_t i = 0; i < len; ++i) {
        seed = seed * 1103515245 + 12345;
        f->data()[i] = static_cast<uint8_t>(seed >> 16);
      }
      f->hdr.flags = VnetHdr::kNeedsCsum;
      f->hdr.csum_start = start;
      f->hdr.csum_offset = 16;
      std::vector<uint8_t> expect(f->data(), f->data() + len);
      uint32_t pseudo = (expect[start + 16] << 8) | expect[start + 17];
      ASSERT_TRUE(CompleteChecksum(f));
      // The range with its checksum, plus the pseudo-header the seed stood
      // for, sums to 0xffff: what the receiver checks.
      EXPECT_EQ(SlowSum(f->data() + start, len - start, pseudo), 0xffffu)
          << "len " << len << " start " << start;
      EXPECT_EQ(f->hdr.flags & VnetHdr::kNeedsCsum, 0);
      // Nothing else changed.
      for (uint32_t i = 0; i < len; ++i) {
        if (i == start + 16u || i == start + 17u) continue;
        ASSERT_EQ(f->data()[i], expect[i]) << i;
      }
      VnetFrame::Free(f);
    }
  }
  VnetFrame* f = VnetFrame::Alloc(40);
  f->hdr.flags = VnetHdr::kNeedsCsum;
  f->hdr.csum_start = 30;
  f->hdr.csum_offset = 16;  // past the end
  EXPECT_FALSE(CompleteChecksum(f));
  VnetFrame::Free(f);
}

TEST_F(VnetPortTest, FrameCrossesFromLanToLan) {
  int in = PortSocket("tva0", false), out = PortSocket("tva1", false);
  ASSERT_GE(in, 0);
  ASSERT_GE(out, 0);
  std::vector<uint8_t> pkt = TcpPacket(100);
  ASSERT_EQ(send(in, pkt.data(), pkt.size(), 0),
            static_cast<ssize_t>(pkt.size()));
  std::vector<VnetFrame*> got = ReceiveN(p0_, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0]->len, pkt.size());
  EXPECT_EQ(got[0]->hdr.gso_type, 0);
  EXPECT_EQ(std::memcmp(got[0]->data(), pkt.data(), pkt.size()), 0);
  uint64_t bytes = 0;
  EXPECT_EQ(p1_.Send(got.data(), 1, &bytes), 1u);  // frees it
  EXPECT_EQ(bytes, pkt.size());
  std::vector<uint8_t> buf(2048);
  struct pollfd pfd = {out, POLLIN, 0};
  ASSERT_EQ(poll(&pfd, 1, 3000), 1);
  ssize_t n = recv(out, buf.data(), buf.size(), 0);
  ASSERT_EQ(n, static_cast<ssize_t>(pkt.size()));
  EXPECT_EQ(std::memcmp(buf.data(), pkt.data(), pkt.size()), 0);
  // Nothing more: the port does not see its own transmission.
  VnetFrame* burst[4];
  EXPECT_EQ(p1_.Receive(burst, 4), 0u);
  close(in);
  close(out);
}

TEST_F(VnetPortTest, SendTakesMoreThanOneBurst) {
  int out = PortSocket("tva1", false);
  ASSERT_GE(out, 0);
  constexpr size_t kCount = 3 * VnetPort::kMaxBurst + 5;
  std::vector<uint8_t> pkt = TcpPacket(60);
  std::vector<VnetFrame*> frames;
  for (size_t i = 0; i < kCount; ++i) {
    VnetFrame* f = VnetFrame::Alloc(static_cast<uint32_t>(pkt.size()));
    std::memcpy(f->data(), pkt.data(), pkt.size());
    frames.push_back(f);
  }
  uint64_t bytes = 0;
  EXPECT_EQ(p1_.Send(frames.data(), frames.size(), &bytes), kCount);
  EXPECT_EQ(bytes, kCount * pkt.size());
  size_t got = 0;
  std::vector<uint8_t> buf(2048);
  struct pollfd pfd = {out, POLLIN, 0};
  while (got < kCount && poll(&pfd, 1, 2000) == 1) {
    if (recv(out, buf.data(), buf.size(), 0) ==
        static_cast<ssize_t>(pkt.size()))
      ++got;
  }
  EXPECT_EQ(got, kCount);
  close(out);
}

TEST_F(VnetPortTest, SuperFrameStaysWholeUntilSegmentationIsOff) {
  int in = PortSocket("tva0", true), out = PortSocket("tva1", true);
  ASSERT_GE(in, 0);
  ASSERT_GE(out, 0);
  constexpr size_t kPayload = 10000, kMss = 1000;
  std::vector<uint8_t> pkt = TcpPacket(kPayload);
  VnetHdr h = {};
  h.flags = VnetHdr::kNeedsCsum;
  h.gso_type = kGsoTcpV4;
  h.hdr_len = 54;
  h.gso_size = kMss;
  h.csum_start = 34;
  h.csum_offset = 16;
  auto send_gso = [&] {
    struct iovec iov[2] = {{&h, sizeof(h)}, {pkt.data(), pkt.size()}};
    struct msghdr m = {};
    m.msg_iov = iov;
    m.msg_iovlen = 2;
    return sendmsg(in, &m, 0);
  };
  ASSERT_EQ(send_gso(), static_cast<ssize_t>(sizeof(h) + pkt.size()))
      << strerror(errno);
  std::vector<VnetFrame*> got = ReceiveN(p0_, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0]->len, pkt.size());
  EXPECT_EQ(got[0]->hdr.gso_type, kGsoTcpV4);
  EXPECT_EQ(got[0]->hdr.gso_size, kMss);
  // Forwarded, it reaches the other lan whole, with its header.
  EXPECT_EQ(p1_.Send(got.data(), 1), 1u);
  got.clear();
  std::vector<uint8_t> buf(sizeof(VnetHdr) + 70000);
  struct pollfd pfd = {out, POLLIN, 0};
  ASSERT_EQ(poll(&pfd, 1, 3000), 1);
  ssize_t n = recv(out, buf.data(), buf.size(), 0);
  ASSERT_EQ(n, static_cast<ssize_t>(sizeof(VnetHdr) + pkt.size()));
  VnetHdr rh;
  std::memcpy(&rh, buf.data(), sizeof(rh));
  EXPECT_EQ(rh.gso_type, kGsoTcpV4);
  EXPECT_EQ(rh.gso_size, kMss);

  // Segmentation off at the port end: the kernel cuts it into MTU frames.
  ASSERT_TRUE(p0_.SetSuperFrames(false).ok());
  ASSERT_EQ(send_gso(), static_cast<ssize_t>(sizeof(h) + pkt.size()));
  got = ReceiveN(p0_, kPayload / kMss);
  ASSERT_EQ(got.size(), kPayload / kMss);
  for (VnetFrame* f : got) {
    EXPECT_EQ(f->hdr.gso_type, 0);
    EXPECT_EQ(f->len, 54 + kMss);
  }
  FreeAll(got);
  // And back on: whole again.
  ASSERT_TRUE(p0_.SetSuperFrames(true).ok());
  ASSERT_EQ(send_gso(), static_cast<ssize_t>(sizeof(h) + pkt.size()));
  got = ReceiveN(p0_, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0]->len, pkt.size());
  FreeAll(got);
  close(in);
  close(out);
}

TEST_F(VnetPortTest, CloseDeletesThePairAndOpenReplacesAStaleOne) {
  EXPECT_TRUE(LinkExists("tva0"));
  EXPECT_TRUE(LinkExists("tvb0"));
  p0_.Close();
  EXPECT_FALSE(LinkExists("tva0"));
  EXPECT_FALSE(LinkExists("tvb0"));
  p0_.Close();  // idempotent
  // A pair left by a crash (not owned by anyone) is replaced.
  ASSERT_TRUE(ExecOk({"ip", "link", "add", "tva2", "type", "veth", "peer",
                      "name", "tvb2"})
                  .ok());
  auto p = VnetPort::Open("tva2", "tvb2");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_GE(p->poll_fd(), 0);
  p->Close();
  EXPECT_FALSE(LinkExists("tvb2"));
}

TEST_F(VnetPortTest, BadNameFailsAndLeavesNothing) {
  auto p = VnetPort::Open("tva3", "a-name-much-too-long-for-linux");
  EXPECT_FALSE(p.ok());
  EXPECT_FALSE(LinkExists("tva3"));
  // The ports still work after a failed open.
  EXPECT_TRUE(LinkExists("tvb0"));
}

}  // namespace
}  // namespace cloonix
