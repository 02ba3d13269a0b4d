#include "services/nat/big_segments.h"

#include <algorithm>
#include <cstring>

#include "services/nat/inet_checksum.h"

namespace cloonix {

namespace {

constexpr size_t kEth = 14;
constexpr uint8_t kTcp = 6;
constexpr uint8_t kSyn = 0x02, kFin = 0x01, kRst = 0x04;
constexpr uint8_t kGsoTcpV4 = 1;  // VIRTIO_NET_HDR_GSO_TCPV4

uint16_t Get16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}
uint32_t Get32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | p[1] << 16 | p[2] << 8 | p[3];
}
void Put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

// Where an IPv4 packet's parts are; false if `f` is not one (or is cut).
struct Ipv4 {
  size_t ihl = 0, total = 0;
  uint8_t proto = 0;
  bool fragment = false;
};
bool ParseIpv4(const uint8_t* f, size_t len, Ipv4* ip) {
  if (len < kEth + 20 || Get16(f + 12) != 0x0800) return false;
  const uint8_t* h = f + kEth;
  if ((h[0] >> 4) != 4) return false;
  ip->ihl = (h[0] & 0x0f) * 4u;
  ip->total = Get16(h + 2);
  if (ip->ihl < 20 || ip->total < ip->ihl || kEth + ip->total > len)
    return false;
  ip->proto = h[9];
  ip->fragment = (Get16(h + 6) & 0x3fff) != 0;
  return true;
}

}  // namespace

void BigSegments::FromGuest(uint8_t* f, size_t len) {
  Ipv4 ip;
  if (!ParseIpv4(f, len, &ip) || ip.proto != kTcp || ip.fragment) return;
  uint8_t* h = f + kEth;
  uint8_t* t = h + ip.ihl;
  if (ip.total < ip.ihl + 20) return;
  size_t doff = (t[12] >> 4) * 4u;
  if (doff < 20 || ip.ihl + doff > ip.total) return;
  Key key{Get32(h + 12), Get16(t), Get32(h + 16), Get16(t + 2)};
  uint8_t flags = t[13];
  if (flags & (kFin | kRst)) {
    mss_.erase(key);
    return;
  }
  if (!(flags & kSyn)) return;
  for (size_t o = 20; o < doff;) {
    uint8_t kind = t[o];
    if (kind == 0) break;
    if (kind == 1) {
      ++o;
      continue;
    }
    if (o + 1 >= doff || t[o + 1] < 2 || o + t[o + 1] > doff) break;
    if (kind == 2 && t[o + 1] == 4) {
      uint16_t old = Get16(t + o + 2);
      if (old >= kSlirpMss) return;
      if (mss_.size() >= kMaxFlows) {
        auto it = mss_.begin();
        std::advance(it, mss_.size() / 2);
        mss_.erase(mss_.begin(), it);
      }
      mss_[key] = old;
      Put16(t + o + 2, kSlirpMss);
      // Recomputed whole (a SYN is small): the option may sit at an odd
      // offset, where a 16-bit incremental update would not line up.
      size_t tcp_len = ip.total - ip.ihl;
      t[16] = t[17] = 0;
      Put16(t + 16,
            InetChecksum(t, tcp_len, PseudoHeaderSum(h, kTcp, tcp_len)));
      return;
    }
    o += t[o + 1];
  }
}

void BigSegments::ToGuest(const uint8_t* f, size_t len,
                          std::vector<VnetFrame*>* out) {
  if (len == 0) return;
  Ipv4 ip;
  bool ipv4 = ParseIpv4(f, len, &ip);
  const uint8_t* h = f + kEth;
  // A TCP segment longer than the guest's MSS (slirp sends up to 64 KB, or
  // more than a guest with a small MTU takes): one super-frame at that MSS.
  if (ipv4 && ip.proto == kTcp && !ip.fragment && ip.total >= ip.ihl + 20) {
    const uint8_t* t = h + ip.ihl;
    size_t doff = (t[12] >> 4) * 4u;
    size_t payload =
        doff >= 20 && ip.ihl + doff <= ip.total ? ip.total - ip.ihl - doff : 0;
    // Under 64 bytes nothing is cut: no flow lookup (pure ACKs, mostly).
    if (payload > 64) {
      Key key{Get32(h + 16), Get16(t + 2), Get32(h + 12), Get16(t)};
      auto it = mss_.find(key);
      size_t mss = it != mss_.end() ? it->second : kGuestMtu - 40;
      // The MSS counts no option bytes; each segment repeats the headers.
      size_t extra = (ip.ihl - 20) + (doff - 20);
      size_t cap = std::min<size_t>(mss, kGuestMtu - 40);
      size_t seg = cap > extra ? cap - extra : 0;
      if (seg >= 64 && payload > seg) {
        size_t n = kEth + ip.total;
        VnetFrame* c = VnetFrame::Alloc(static_cast<uint32_t>(n));
        if (c == nullptr) return;
        std::memcpy(c->data(), f, n);
        uint8_t* ct = c->data() + kEth + ip.ihl;
        // The checksum field holds the pseudo-header sum; the kernel
        // finishes it per segment.
        Put16(ct + 16, Fold(PseudoHeaderSum(h, kTcp, ip.total - ip.ihl)));
        c->hdr.flags = VnetHdr::kNeedsCsum;
        c->hdr.gso_type = kGsoTcpV4;
        c->hdr.hdr_len = static_cast<uint16_t>(kEth + ip.ihl + doff);
        c->hdr.gso_size = static_cast<uint16_t>(seg);
        c->hdr.csum_start = static_cast<uint16_t>(kEth + ip.ihl);
        c->hdr.csum_offset = 16;
        out->push_back(c);
        return;
      }
    }
  }
  if (!ipv4 || ip.total <= kGuestMtu) {
    if (VnetFrame* c = VnetFrame::Alloc(static_cast<uint32_t>(len))) {
      std::memcpy(c->data(), f, len);
      out->push_back(c);
    }
    return;
  }
  // IPv4 fragments of at most kGuestMtu (offsets in 8-byte units).
  size_t data = ip.total - ip.ihl;
  size_t chunk = ((kGuestMtu - ip.ihl) / 8) * 8;
  uint16_t frag = Get16(h + 6);
  size_t base = (frag & 0x1fff) * 8u;
  bool more_after = frag & 0x2000;
  for (size_t off = 0; off < data; off += chunk) {
    size_t part = std::min(chunk, data - off);
    size_t n = kEth + ip.ihl + part;
    VnetFrame* c = VnetFrame::Alloc(static_cast<uint32_t>(n));
    if (c == nullptr) return;
    std::memcpy(c->data(), f, kEth + ip.ihl);
    std::memcpy(c->data() + kEth + ip.ihl, h + ip.ihl + off, part);
    uint8_t* ch = c->data() + kEth;
    Put16(ch + 2, static_cast<uint16_t>(ip.ihl + part));
    bool mf = off + part < data || more_after;
    Put16(ch + 6,
          static_cast<uint16_t>((mf ? 0x2000 : 0) | ((base + off) / 8)));
    ch[10] = ch[11] = 0;
    Put16(ch + 10, InetChecksum(ch, ip.ihl));
    out->push_back(c);
  }
}

}  // namespace cloonix
