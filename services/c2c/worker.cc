#include "services/c2c/worker.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_tcp.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/dpdk_eal.h"
#include "common/names.h"
#include "common/status_macros.h"
#include "spdlog/spdlog.h"

namespace cloonix {

namespace c2cv1 = cloonix::c2c::v1;

namespace {

constexpr uint16_t kBurst = 32;
constexpr int kSpinsBeforeSleep = 200;
// Every fd is pollable (PMD sockets, UDP sockets, the eventfd): long naps.
constexpr uint64_t kMaxSleepNs = 1000ull * 1000 * 1000;
constexpr uint64_t kUnpollableSleepNs = 50ull * 1000;
constexpr uint32_t kVxlanPort = 4789;
constexpr size_t kVxlanHeader = 8;
constexpr size_t kEthHeader = 14;
constexpr uint32_t kMaxInnerMtu = 1500;

inline void Bump(std::atomic<uint64_t>& c, uint64_t v) {
  c.store(c.load(std::memory_order_relaxed) + v, std::memory_order_relaxed);
}

std::string Errno(const char* what) {
  return absl::StrCat(what, ": ", strerror(errno));
}

// An IPv4 address as the dual-stack socket sees it (::ffff:a.b.c.d).
bool ParsePeer(const std::string& ip, uint32_t port, sockaddr_in6* out) {
  std::memset(out, 0, sizeof(*out));
  out->sin6_family = AF_INET6;
  out->sin6_port = htons(static_cast<uint16_t>(port));
  in_addr v4;
  if (inet_pton(AF_INET, ip.c_str(), &v4) == 1) {
    out->sin6_addr.s6_addr[10] = 0xff;
    out->sin6_addr.s6_addr[11] = 0xff;
    std::memcpy(&out->sin6_addr.s6_addr[12], &v4, 4);
    return true;
  }
  return inet_pton(AF_INET6, ip.c_str(), &out->sin6_addr) == 1;
}

bool IsV4Mapped(const in6_addr& a) { return IN6_IS_ADDR_V4MAPPED(&a); }

// The path MTU towards `peer` (a connected probe socket), 0 if unknown.
uint32_t PathMtu(const sockaddr_in6& peer) {
  const bool v4 = IsV4Mapped(peer.sin6_addr);
  int fd;
  int mtu = 0;
  socklen_t len = sizeof(mtu);
  if (v4) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = peer.sin6_port;
    std::memcpy(&a.sin_addr, &peer.sin6_addr.s6_addr[12], 4);
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
        getsockopt(fd, IPPROTO_IP, IP_MTU, &mtu, &len) != 0)
      mtu = 0;
  } else {
    fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    if (connect(fd, reinterpret_cast<const sockaddr*>(&peer), sizeof(peer)) !=
            0 ||
        getsockopt(fd, IPPROTO_IPV6, IPV6_MTU, &mtu, &len) != 0)
      mtu = 0;
  }
  close(fd);
  return mtu > 0 ? static_cast<uint32_t>(mtu) : 0;
}

}  // namespace

absl::StatusOr<std::unique_ptr<C2cWorker>> C2cWorker::Create(
    const C2cWorkerOptions& opts) {
  std::unique_ptr<C2cWorker> w(new C2cWorker());
  w->net_ = opts.net;
  w->file_prefix_ = opts.file_prefix;
  RETURN_IF_ERROR(InitEal("cloonix-c2c", opts.file_prefix));
  w->pool_ = rte_pktmbuf_pool_create("c2c_pool", opts.mbufs, 256, 0,
                                     RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  if (w->pool_ == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("mbuf pool: ", rte_strerror(rte_errno)));
  }
  size_t sz = rte_rcu_qsbr_get_memsize(1);
  w->rcu_ = static_cast<rte_rcu_qsbr*>(
      rte_zmalloc("c2c_rcu", sz, RTE_CACHE_LINE_SIZE));
  if (w->rcu_ == nullptr || rte_rcu_qsbr_init(w->rcu_, 1) != 0)
    return absl::UnavailableError("RCU init failed");
  w->wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (w->wake_fd_ < 0) return absl::ErrnoToStatus(errno, "eventfd");
  w->table_.store(new Table());
  return w;
}

C2cWorker::~C2cWorker() {
  delete table_.load();
  if (wake_fd_ >= 0) close(wake_fd_);
}

void C2cWorker::Wake() {
  uint64_t one = 1;
  if (write(wake_fd_, &one, sizeof(one)) < 0) {
    // EAGAIN: already pending.
  }
}

void C2cWorker::Synchronize() {
  rte_rcu_qsbr_synchronize(rcu_, RTE_QSBR_THRID_INVALID);
}

void C2cWorker::Publish() {
  auto* t = new Table();
  for (auto& [name, e] : ends_) {
    t->ends.push_back(e.get());
    t->fds.push_back(e->udp_fd);
    if (e->port.poll_fd() >= 0) {
      t->fds.push_back(e->port.poll_fd());
    } else {
      t->all_pollable = false;
    }
  }
  const Table* old = table_.exchange(t, std::memory_order_acq_rel);
  Wake();
  Synchronize();
  delete old;
}

c2cv1::C2c C2cWorker::Describe(const End& e) const {
  c2cv1::C2c c;
  c.set_name(e.name);
  c.set_port(e.port.port_if());
  c.set_vni(e.vni);
  c.set_udp_port(e.udp_port);
  c.set_peer_ip(e.peer_ip);
  c.set_peer_udp_port(e.peer_port);
  c.set_inner_mtu(e.inner_mtu);
  auto* k = c.mutable_counters();
  const Counters& n = e.counters;
  k->set_tx_frames(n.tx_frames.load());
  k->set_tx_bytes(n.tx_bytes.load());
  k->set_rx_frames(n.rx_frames.load());
  k->set_rx_bytes(n.rx_bytes.load());
  k->set_drop_foreign(n.drop_foreign.load());
  k->set_drop_bad_vni(n.drop_bad_vni.load());
  k->set_drop_too_big(n.drop_too_big.load());
  k->set_drop_other(n.drop_other.load());
  k->set_tcp_split(n.tcp_split.load());
  k->set_mangled(n.mangled.load());
  c.set_mac_mangle(e.mangle_mac);
  return c;
}

absl::StatusOr<std::unique_ptr<C2cWorker::Peer>> C2cWorker::MakePeer(
    const std::string& ip, uint32_t port, uint32_t* inner_mtu) {
  auto p = std::make_unique<Peer>();
  sockaddr_in6 a;
  if (port == 0 || port > 65535 || !ParsePeer(ip, port, &a)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "peer \"", ip, "\" port ", port, " is not an IP address and port"));
  }
  std::memcpy(&p->addr, &a, sizeof(a));
  p->len = sizeof(a);
  uint32_t pmtu = PathMtu(a);
  if (pmtu == 0) pmtu = 1500;
  const uint32_t outer = (IsV4Mapped(a.sin6_addr) ? 20 : 40) + 8 + 8;
  *inner_mtu = pmtu > outer + kEthHeader ? pmtu - outer - kEthHeader : 0;
  // The af_packet port carries standard frames at most.
  *inner_mtu = std::min<uint32_t>(*inner_mtu, kMaxInnerMtu);
  p->max_frame = *inner_mtu + kEthHeader;
  return p;
}

absl::StatusOr<c2cv1::C2c> C2cWorker::Add(const c2cv1::CreateC2cRequest& req) {
  RETURN_IF_ERROR(ValidateName(req.name(), "c2c name"));
  RETURN_IF_ERROR(ValidateIfname(req.port()));
  if (req.vni() == 0 || req.vni() > 0xffffff)
    return absl::InvalidArgumentError(
        absl::StrCat("vni ", req.vni(), " is not 1..16777215"));
  if (req.udp_port() > 65535)
    return absl::InvalidArgumentError("udp_port is 0..65535");
  const uint32_t id = ItemIdOfPort(req.port());
  if (id == 0)
    return absl::InvalidArgumentError(
        absl::StrCat("port ", req.port(), " is not cx<id>e<eth>"));
  std::unique_ptr<MacMangler> mangle;
  if (!req.mac_mangle().empty()) {
    ASSIGN_OR_RETURN(Mac mac, ParseUnicastMac(req.mac_mangle()));
    mangle = std::make_unique<MacMangler>(mac);
  }
  std::unique_ptr<Peer> peer;
  uint32_t inner_mtu = 0;
  if (!req.peer_ip().empty()) {
    ASSIGN_OR_RETURN(peer,
                     MakePeer(req.peer_ip(), req.peer_udp_port(), &inner_mtu));
  }
  absl::MutexLock l(&mu_);
  if (ends_.count(req.name()))
    return absl::AlreadyExistsError(
        absl::StrCat("c2c ", req.name(), " already exists"));
  auto e = std::make_unique<End>();
  e->name = req.name();
  e->vni = req.vni();
  int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::UnavailableError(Errno("UDP socket"));
  int zero = 0, pmtud = IP_PMTUDISC_DO, pmtud6 = IPV6_PMTUDISC_DO,
      buf = 4 << 20;
  setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
  setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtud, sizeof(pmtud));
  setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &pmtud6, sizeof(pmtud6));
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
  sockaddr_in6 any{};
  any.sin6_family = AF_INET6;
  any.sin6_addr = in6addr_any;
  any.sin6_port = htons(req.udp_port() ? req.udp_port() : kVxlanPort);
  if (bind(fd, reinterpret_cast<sockaddr*>(&any), sizeof(any)) != 0) {
    if (errno == EADDRINUSE && req.udp_port() == 0) {
      any.sin6_port = 0;  // 4789 is taken: any free port
      if (bind(fd, reinterpret_cast<sockaddr*>(&any), sizeof(any)) != 0) {
        close(fd);
        return absl::UnavailableError(Errno("bind UDP"));
      }
    } else {
      std::string why = Errno("bind");
      close(fd);
      return absl::UnavailableError(absl::StrCat(
          "UDP port ", req.udp_port() ? req.udp_port() : kVxlanPort, ": ",
          why));
    }
  }
  socklen_t alen = sizeof(any);
  getsockname(fd, reinterpret_cast<sockaddr*>(&any), &alen);
  e->udp_fd = fd;
  e->udp_port = ntohs(any.sin6_port);
  const std::string worker_if = absl::StrCat("cc", NetTag(net_), id);
  auto port = AfPacketPort::Open(req.port(), worker_if, pool_, NetNetns(net_));
  if (!port.ok()) {
    close(fd);
    return port.status();
  }
  e->port = std::move(*port);
  e->worker_if = worker_if;
  if (peer) {
    e->peer_ip = req.peer_ip();
    e->peer_port = req.peer_udp_port();
    e->inner_mtu = inner_mtu;
    e->peer.store(peer.release());
  }
  if (mangle) {
    e->mangle_mac = absl::AsciiStrToLower(req.mac_mangle());
    e->mangle.store(mangle.release());
  }
  End* raw = e.get();
  ends_[req.name()] = std::move(e);
  Publish();
  spdlog::info("c2c {} up: port {}, UDP {}, vni {}{}", raw->name, req.port(),
               raw->udp_port, raw->vni,
               raw->peer_ip.empty() ? ""
                                    : absl::StrCat(", peer ", raw->peer_ip, ":",
                                                   raw->peer_port));
  return Describe(*raw);
}

absl::StatusOr<c2cv1::C2c> C2cWorker::SetPeer(const std::string& name,
                                              const std::string& ip,
                                              uint32_t port) {
  uint32_t inner_mtu = 0;
  ASSIGN_OR_RETURN(std::unique_ptr<Peer> peer, MakePeer(ip, port, &inner_mtu));
  absl::MutexLock l(&mu_);
  auto it = ends_.find(name);
  if (it == ends_.end())
    return absl::NotFoundError(absl::StrCat("c2c ", name, " not found"));
  End* e = it->second.get();
  const Peer* old = e->peer.exchange(peer.release(), std::memory_order_acq_rel);
  e->peer_ip = ip;
  e->peer_port = port;
  e->inner_mtu = inner_mtu;
  Wake();
  Synchronize();
  delete old;
  spdlog::info("c2c {}: peer {}:{}, inner MTU {}", name, ip, port, inner_mtu);
  return Describe(*e);
}

absl::StatusOr<c2cv1::C2c> C2cWorker::SetMacMangle(const std::string& name,
                                                   const std::string& mac) {
  std::unique_ptr<MacMangler> mangle;
  if (!mac.empty()) {
    ASSIGN_OR_RETURN(Mac m, ParseUnicastMac(mac));
    mangle = std::make_unique<MacMangler>(m);
  }
  absl::MutexLock l(&mu_);
  auto it = ends_.find(name);
  if (it == ends_.end())
    return absl::NotFoundError(absl::StrCat("c2c ", name, " not found"));
  End* e = it->second.get();
  MacMangler* old =
      e->mangle.exchange(mangle.release(), std::memory_order_acq_rel);
  e->mangle_mac = absl::AsciiStrToLower(mac);
  Synchronize();
  delete old;
  spdlog::info("c2c {}: mac_mangle {}", name, mac.empty() ? "off" : mac);
  return Describe(*e);
}

absl::Status C2cWorker::Remove(const std::string& name) {
  absl::MutexLock l(&mu_);
  auto it = ends_.find(name);
  if (it == ends_.end())
    return absl::NotFoundError(absl::StrCat("c2c ", name, " not found"));
  std::unique_ptr<End> e = std::move(it->second);
  ends_.erase(it);
  Publish();
  close(e->udp_fd);
  e->port.Close();
  delete e->peer.load();
  delete e->mangle.load();
  spdlog::info("c2c {} removed", name);
  return absl::OkStatus();
}

std::vector<c2cv1::C2c> C2cWorker::List() {
  absl::MutexLock l(&mu_);
  std::vector<c2cv1::C2c> out;
  for (const auto& [n, e] : ends_) out.push_back(Describe(*e));
  return out;
}

void C2cWorker::RemoveAll() {
  std::vector<std::string> names;
  {
    absl::MutexLock l(&mu_);
    for (const auto& [n, e] : ends_) names.push_back(n);
  }
  for (const auto& n : names) Remove(n).IgnoreError();
}

void C2cWorker::Stop() {
  stop_.store(true);
  Wake();
}

bool C2cWorker::SplitTcp(End* e, const Peer& peer, const uint8_t* hdr,
                         const uint8_t* frame, uint32_t len, uint64_t* sent) {
  constexpr uint32_t kEth = kEthHeader;
  if (len < kEth + 40 || frame[12] != 0x08 || frame[13] != 0x00) return false;
  const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(frame + kEth);
  const uint32_t ihl = (ip->version_ihl & 0x0f) * 4;
  if ((ip->version_ihl >> 4) != 4 || ip->next_proto_id != IPPROTO_TCP ||
      ihl < 20 || (ntohs(ip->fragment_offset) & 0x3fff) != 0)
    return false;  // not TCP/IPv4, or a fragment
  const uint32_t ip_len = ntohs(ip->total_length);
  if (ip_len + kEth > len || ip_len < ihl + 20) return false;
  const auto* tcp = reinterpret_cast<const rte_tcp_hdr*>(frame + kEth + ihl);
  const uint32_t thl = (tcp->data_off >> 4) * 4;
  const uint32_t headers = kEth + ihl + thl;
  if (thl < 20 || headers > ip_len + kEth || headers >= peer.max_frame)
    return false;
  const uint32_t payload = ip_len + kEth - headers;
  const uint32_t mss = peer.max_frame - headers;
  uint8_t seg[2048];
  const uint32_t seq0 = ntohl(tcp->sent_seq);
  uint16_t id = ntohs(ip->packet_id);
  for (uint32_t off = 0; off < payload; off += mss) {
    const uint32_t n = std::min(mss, payload - off);
    const bool last = off + n >= payload;
    std::memcpy(seg, frame, headers);
    std::memcpy(seg + headers, frame + headers + off, n);
    auto* sip = reinterpret_cast<rte_ipv4_hdr*>(seg + kEth);
    auto* stcp = reinterpret_cast<rte_tcp_hdr*>(seg + kEth + ihl);
    sip->total_length = htons(static_cast<uint16_t>(ihl + thl + n));
    sip->packet_id = htons(id++);
    sip->hdr_checksum = 0;
    sip->hdr_checksum = rte_ipv4_cksum(sip);
    stcp->sent_seq = htonl(seq0 + off);
    if (!last) stcp->tcp_flags &= ~(RTE_TCP_FIN_FLAG | RTE_TCP_PSH_FLAG);
    if (off > 0) stcp->tcp_flags &= ~RTE_TCP_CWR_FLAG;
    stcp->cksum = 0;
    stcp->cksum = rte_ipv4_udptcp_cksum(sip, stcp);
    iovec iov[2] = {{const_cast<uint8_t*>(hdr), kVxlanHeader},
                    {seg, headers + n}};
    msghdr m{};
    m.msg_name = const_cast<sockaddr_storage*>(&peer.addr);
    m.msg_namelen = peer.len;
    m.msg_iov = iov;
    m.msg_iovlen = 2;
    if (sendmsg(e->udp_fd, &m, MSG_DONTWAIT) < 0) {
      Bump(
          errno == EMSGSIZE ? e->counters.drop_too_big : e->counters.drop_other,
          1);
      continue;
    }
    ++*sent;
    Bump(e->counters.tx_bytes, headers + n);
  }
  return true;
}

void C2cWorker::FromLan(End* e) {
  rte_mbuf* burst[kBurst];
  uint16_t n = rte_eth_rx_burst(e->port.port_id(), 0, burst, kBurst);
  if (n == 0) return;
  const Peer* peer = e->peer.load(std::memory_order_acquire);
  if (peer == nullptr) {
    for (uint16_t i = 0; i < n; ++i) rte_pktmbuf_free(burst[i]);
    Bump(e->counters.drop_other, n);
    return;
  }
  uint8_t hdr[kVxlanHeader] = {0x08, 0, 0, 0, 0, 0, 0, 0};
  hdr[4] = (e->vni >> 16) & 0xff;
  hdr[5] = (e->vni >> 8) & 0xff;
  hdr[6] = e->vni & 0xff;
  mmsghdr msgs[kBurst];
  iovec iov[kBurst][2];
  unsigned k = 0;
  uint64_t bytes = 0, mangled = 0;
  MacMangler* mangle = e->mangle.load(std::memory_order_acquire);
  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = burst[i];
    if (m->nb_segs > 1 && rte_pktmbuf_linearize(m) != 0) {
      Bump(e->counters.drop_other, 1);
      continue;
    }
    if (mangle != nullptr &&
        mangle->ToPeer(rte_pktmbuf_mtod(m, uint8_t*), m->pkt_len)) {
      ++mangled;
    }
    if (m->pkt_len > peer->max_frame) {
      uint64_t split = 0;
      if (m->pkt_len <= 2048 &&
          SplitTcp(e, *peer, hdr, rte_pktmbuf_mtod(m, const uint8_t*),
                   m->pkt_len, &split)) {
        Bump(e->counters.tx_frames, split);
        Bump(e->counters.tcp_split, 1);
      } else {
        Bump(e->counters.drop_too_big, 1);  // not TCP: too big for the path
      }
      continue;
    }
    iov[k][0] = {hdr, kVxlanHeader};
    iov[k][1] = {rte_pktmbuf_mtod(m, void*), m->data_len};
    std::memset(&msgs[k], 0, sizeof(msgs[k]));
    msgs[k].msg_hdr.msg_name = const_cast<sockaddr_storage*>(&peer->addr);
    msgs[k].msg_hdr.msg_namelen = peer->len;
    msgs[k].msg_hdr.msg_iov = iov[k];
    msgs[k].msg_hdr.msg_iovlen = 2;
    bytes += m->pkt_len;
    ++k;
  }
  unsigned sent = 0;
  uint64_t frames = 0;
  while (sent < k) {
    int r = sendmmsg(e->udp_fd, msgs + sent, k - sent, MSG_DONTWAIT);
    if (r > 0) {
      sent += r;
      frames += r;
      continue;
    }
    // The one at `sent` failed: too big for the path, or no buffer.
    Bump(errno == EMSGSIZE ? e->counters.drop_too_big : e->counters.drop_other,
         1);
    bytes -= msgs[sent].msg_hdr.msg_iov[1].iov_len;
    ++sent;
  }
  Bump(e->counters.tx_frames, frames);
  Bump(e->counters.tx_bytes, bytes);
  if (mangled) Bump(e->counters.mangled, mangled);
  for (uint16_t i = 0; i < n; ++i) rte_pktmbuf_free(burst[i]);
}

void C2cWorker::FromPeer(End* e) {
  rte_mbuf* bufs[kBurst];
  if (rte_pktmbuf_alloc_bulk(pool_, bufs, kBurst) != 0) return;
  uint8_t hdrs[kBurst][kVxlanHeader];
  sockaddr_in6 src[kBurst];
  mmsghdr msgs[kBurst];
  iovec iov[kBurst][2];
  for (unsigned i = 0; i < kBurst; ++i) {
    iov[i][0] = {hdrs[i], kVxlanHeader};
    iov[i][1] = {rte_pktmbuf_mtod(bufs[i], void*),
                 rte_pktmbuf_tailroom(bufs[i])};
    std::memset(&msgs[i], 0, sizeof(msgs[i]));
    msgs[i].msg_hdr.msg_name = &src[i];
    msgs[i].msg_hdr.msg_namelen = sizeof(src[i]);
    msgs[i].msg_hdr.msg_iov = iov[i];
    msgs[i].msg_hdr.msg_iovlen = 2;
  }
  int r = recvmmsg(e->udp_fd, msgs, kBurst, MSG_DONTWAIT, nullptr);
  const unsigned got = r > 0 ? static_cast<unsigned>(r) : 0;
  const Peer* peer = e->peer.load(std::memory_order_acquire);
  const auto* want =
      peer ? reinterpret_cast<const sockaddr_in6*>(&peer->addr) : nullptr;
  rte_mbuf* out[kBurst];
  uint16_t k = 0;
  uint64_t bytes = 0, mangled = 0;
  MacMangler* mangle = e->mangle.load(std::memory_order_acquire);
  for (unsigned i = 0; i < kBurst; ++i) {
    if (i >= got) {
      rte_pktmbuf_free(bufs[i]);
      continue;
    }
    const unsigned len = msgs[i].msg_len;
    const sockaddr_in6& s = src[i];
    if (want == nullptr || s.sin6_port != want->sin6_port ||
        std::memcmp(&s.sin6_addr, &want->sin6_addr, sizeof(in6_addr)) != 0) {
      Bump(e->counters.drop_foreign, 1);
      rte_pktmbuf_free(bufs[i]);
      continue;
    }
    const uint8_t* h = hdrs[i];
    const uint32_t vni = (h[4] << 16) | (h[5] << 8) | h[6];
    if (len < kVxlanHeader + kEthHeader ||
        (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) || !(h[0] & 0x08) ||
        vni != e->vni) {
      Bump(e->counters.drop_bad_vni, 1);
      rte_pktmbuf_free(bufs[i]);
      continue;
    }
    rte_mbuf* m = bufs[i];
    m->data_len = len - kVxlanHeader;
    m->pkt_len = len - kVxlanHeader;
    if (mangle != nullptr &&
        mangle->ToLan(rte_pktmbuf_mtod(m, uint8_t*), m->pkt_len)) {
      ++mangled;
    }
    bytes += m->pkt_len;
    out[k++] = m;
  }
  if (mangled) Bump(e->counters.mangled, mangled);
  if (k == 0) return;
  uint16_t sent = rte_eth_tx_burst(e->port.port_id(), 0, out, k);
  for (uint16_t i = sent; i < k; ++i) {
    bytes -= out[i]->pkt_len;
    rte_pktmbuf_free(out[i]);
  }
  if (sent < k) Bump(e->counters.drop_other, k - sent);
  Bump(e->counters.rx_frames, sent);
  Bump(e->counters.rx_bytes, bytes);
}

void C2cWorker::Run() {
  rte_rcu_qsbr_thread_register(rcu_, 0);
  rte_rcu_qsbr_thread_online(rcu_, 0);
  std::vector<pollfd> pfds;
  int idle = 0;
  while (!stop_.load(std::memory_order_relaxed)) {
    const Table* t = table_.load(std::memory_order_acquire);
    uint64_t before = 0, after = 0;
    for (End* e : t->ends) {
      before += e->counters.tx_frames.load(std::memory_order_relaxed) +
                e->counters.rx_frames.load(std::memory_order_relaxed);
      FromLan(e);
      FromPeer(e);
      after += e->counters.tx_frames.load(std::memory_order_relaxed) +
               e->counters.rx_frames.load(std::memory_order_relaxed);
    }
    uint64_t wait = 0;
    if (after != before) {
      idle = 0;
    } else if (++idle >= kSpinsBeforeSleep) {
      wait = t->all_pollable ? kMaxSleepNs : kUnpollableSleepNs;
      pfds.clear();
      for (int fd : t->fds) pfds.push_back({fd, POLLIN, 0});
      pfds.push_back({wake_fd_, POLLIN, 0});
    }
    rte_rcu_qsbr_quiescent(rcu_, 0);
    if (wait == 0) continue;
    timespec ts = {static_cast<time_t>(wait / 1000000000ull),
                   static_cast<long>(wait % 1000000000ull)};
    rte_rcu_qsbr_thread_offline(rcu_, 0);
    ppoll(pfds.data(), pfds.size(), &ts, nullptr);
    rte_rcu_qsbr_thread_online(rcu_, 0);
    if (pfds.back().revents & POLLIN) {
      uint64_t v;
      if (read(wake_fd_, &v, sizeof(v)) < 0) {
        // Already drained.
      }
    }
  }
  rte_rcu_qsbr_thread_offline(rcu_, 0);
  rte_rcu_qsbr_thread_unregister(rcu_, 0);
}

void C2cWorker::Cleanup() {
  RemoveAll();
  if (pool_ != nullptr) rte_mempool_free(pool_);
  pool_ = nullptr;
  if (rcu_ != nullptr) rte_free(rcu_);
  rcu_ = nullptr;
  CleanupEal(file_prefix_);
}

}  // namespace cloonix
