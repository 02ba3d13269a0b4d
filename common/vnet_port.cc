#include "common/vnet_port.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/worker_veth.h"

namespace cloonix {

namespace {

constexpr int kSocketBuffer = 8 << 20;

absl::Status SockOpt(int fd, int level, int name, int value, const char* what) {
  if (setsockopt(fd, level, name, &value, sizeof(value)) != 0) {
    return absl::UnavailableError(
        absl::StrCat("setsockopt ", what, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace

VnetFrame* VnetFrame::Alloc(uint32_t len) {
  auto* f = static_cast<VnetFrame*>(std::malloc(sizeof(VnetFrame) + len));
  if (f == nullptr) return nullptr;
  std::memset(&f->hdr, 0, sizeof(f->hdr));
  f->len = len;
  return f;
}

void VnetFrame::Free(VnetFrame* f) { std::free(f); }

VnetPort::VnetPort(VnetPort&& o) noexcept { *this = std::move(o); }

VnetPort& VnetPort::operator=(VnetPort&& o) noexcept {
  if (this != &o) {
    Close();
    port_if_ = std::move(o.port_if_);
    port_netns_ = std::move(o.port_netns_);
    worker_if_ = std::exchange(o.worker_if_, "");
    fd_ = std::exchange(o.fd_, -1);
    truncated_ = o.truncated_;
    slots_ = std::move(o.slots_);
    o.slots_.clear();
  }
  return *this;
}

VnetPort::~VnetPort() { Close(); }

absl::StatusOr<VnetPort> VnetPort::Open(const std::string& port_if,
                                        const std::string& worker_if,
                                        const std::string& port_netns) {
  if (auto s = CreateWorkerVeth(port_if, worker_if, port_netns,
                                /*frames_only=*/false);
      !s.ok()) {
    return s;
  }
  VnetPort p;
  p.port_if_ = port_if;
  p.worker_if_ = worker_if;
  p.port_netns_ = port_netns;
  auto fail = [&p](const absl::Status& s) -> absl::StatusOr<VnetPort> {
    p.Close();
    return s;
  };
  p.fd_ = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
                 htons(ETH_P_ALL));
  if (p.fd_ < 0) {
    return fail(absl::UnavailableError(
        absl::StrCat("AF_PACKET socket: ", std::strerror(errno))));
  }
  int ifindex = static_cast<int>(if_nametoindex(worker_if.c_str()));
  if (ifindex == 0) {
    return fail(absl::UnavailableError(
        absl::StrCat(worker_if, ": ", std::strerror(errno))));
  }
  absl::Status s =
      SockOpt(p.fd_, SOL_PACKET, PACKET_VNET_HDR, 1, "PACKET_VNET_HDR");
  if (s.ok())
    s = SockOpt(p.fd_, SOL_PACKET, PACKET_QDISC_BYPASS, 1,
                "PACKET_QDISC_BYPASS");
  if (s.ok())
    s = SockOpt(p.fd_, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1,
                "PACKET_IGNORE_OUTGOING");
  if (s.ok())
    s = SockOpt(p.fd_, SOL_SOCKET, SO_RCVBUFFORCE, kSocketBuffer,
                "SO_RCVBUFFORCE");
  if (s.ok())
    s = SockOpt(p.fd_, SOL_SOCKET, SO_SNDBUFFORCE, kSocketBuffer,
                "SO_SNDBUFFORCE");
  if (!s.ok()) return fail(s);
  struct sockaddr_ll sll = {};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = ifindex;
  if (bind(p.fd_, reinterpret_cast<struct sockaddr*>(&sll), sizeof(sll)) != 0) {
    return fail(absl::UnavailableError(
        absl::StrCat("bind to ", worker_if, ": ", std::strerror(errno))));
  }
  struct packet_mreq mr = {};
  mr.mr_ifindex = ifindex;
  mr.mr_type = PACKET_MR_PROMISC;
  if (setsockopt(p.fd_, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) !=
      0) {
    return fail(absl::UnavailableError(
        absl::StrCat("promiscuous ", worker_if, ": ", std::strerror(errno))));
  }
  return p;
}

void VnetPort::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  for (VnetFrame* f : slots_) VnetFrame::Free(f);
  slots_.clear();
  DeleteWorkerVeth(worker_if_);
  worker_if_.clear();
}

size_t VnetPort::Receive(VnetFrame** out, size_t max) {
  if (fd_ < 0) return 0;
  if (max > kMaxBurst) max = kMaxBurst;
  if (slots_.size() < max) slots_.resize(max, nullptr);
  struct mmsghdr msgs[kMaxBurst];
  struct iovec iov[kMaxBurst][2];
  size_t want = 0;
  for (; want < max; ++want) {
    VnetFrame*& slot = slots_[want];
    if (slot == nullptr) {
      slot =
          static_cast<VnetFrame*>(std::malloc(sizeof(VnetFrame) + kMaxPacket));
      if (slot == nullptr) break;
    }
    iov[want][0] = {&slot->hdr, sizeof(slot->hdr)};
    iov[want][1] = {slot->data(), kMaxPacket};
    std::memset(&msgs[want], 0, sizeof(msgs[want]));
    msgs[want].msg_hdr.msg_iov = iov[want];
    msgs[want].msg_hdr.msg_iovlen = 2;
  }
  if (want == 0) return 0;
  int n =
      recvmmsg(fd_, msgs, static_cast<unsigned>(want), MSG_DONTWAIT, nullptr);
  if (n <= 0) return 0;
  size_t got = 0;
  for (int i = 0; i < n; ++i) {
    if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
      ++truncated_;
      continue;
    }
    if (msgs[i].msg_len < sizeof(VnetHdr) + ETH_HLEN) continue;
    uint32_t len = msgs[i].msg_len - sizeof(VnetHdr);
    // Shrinking realloc keeps the block in place (no copy).
    auto* f = static_cast<VnetFrame*>(
        std::realloc(slots_[i], sizeof(VnetFrame) + len));
    if (f == nullptr) continue;  // the slot is still valid: reused
    f->len = len;
    slots_[i] = nullptr;
    out[got++] = f;
  }
  return got;
}

size_t VnetPort::Send(VnetFrame* const* frames, size_t n, uint64_t* bytes) {
  size_t sent = 0;
  for (size_t base = 0; base < n; base += kMaxBurst) {
    size_t m = std::min(kMaxBurst, n - base);
    VnetFrame* const* batch = frames + base;
    struct mmsghdr msgs[kMaxBurst];
    struct iovec iov[kMaxBurst][2];
    for (size_t i = 0; i < m; ++i) {
      VnetFrame* f = batch[i];
      // Only NEEDS_CSUM means something on transmit.
      f->hdr.flags &= VnetHdr::kNeedsCsum;
      iov[i][0] = {&f->hdr, sizeof(f->hdr)};
      iov[i][1] = {f->data(), f->len};
      std::memset(&msgs[i], 0, sizeof(msgs[i]));
      msgs[i].msg_hdr.msg_iov = iov[i];
      msgs[i].msg_hdr.msg_iovlen = 2;
    }
    size_t at = 0;
    while (fd_ >= 0 && at < m) {
      int r =
          sendmmsg(fd_, msgs + at, static_cast<unsigned>(m - at), MSG_DONTWAIT);
      if (r > 0) {
        for (int i = 0; i < r; ++i) {
          if (bytes != nullptr) *bytes += batch[at + i]->len;
        }
        sent += static_cast<size_t>(r);
        at += static_cast<size_t>(r);
        continue;
      }
      if (r < 0 && (errno == EAGAIN || errno == ENOBUFS)) break;
      ++at;  // this one was refused (e.g. malformed header): drop, go on
    }
  }
  for (size_t i = 0; i < n; ++i) VnetFrame::Free(frames[i]);
  return sent;
}

absl::Status VnetPort::SetSuperFrames(bool on) {
  if (!port_netns_.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("port ", port_if_, " is in netns ", port_netns_,
                     ": its offloads are set from that netns"));
  }
  return SetSegmentationOffloads(port_if_, on);
}

bool CompleteChecksum(VnetFrame* f) {
  if (!(f->hdr.flags & VnetHdr::kNeedsCsum)) return true;
  size_t start = f->hdr.csum_start, at = start + f->hdr.csum_offset;
  if (start >= f->len || at + 2 > f->len) return false;
  // RFC 1071: the sum of native-order words, stored back in native order,
  // is the checksum in network order; 32-bit chunks fold the same way.
  const uint8_t* d = f->data() + start;
  size_t n = f->len - start;
  uint64_t sum = 0;
  for (; n >= 8; d += 8, n -= 8) {
    uint64_t w;
    std::memcpy(&w, d, 8);
    sum += (w & 0xffffffffu) + (w >> 32);
  }
  for (; n >= 2; d += 2, n -= 2) {
    uint16_t w;
    std::memcpy(&w, d, 2);
    sum += w;
  }
  if (n == 1) {
    uint16_t w = 0;
    std::memcpy(&w, d, 1);
    sum += w;
  }
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  uint16_t c = static_cast<uint16_t>(~sum);
  if (c == 0) c = 0xffff;  // 0 means "no checksum" to UDP; same value to TCP
  std::memcpy(f->data() + at, &c, 2);
  f->hdr.flags &= static_cast<uint8_t>(~VnetHdr::kNeedsCsum);
  return true;
}

}  // namespace cloonix
