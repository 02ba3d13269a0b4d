#include "services/nat/slirp_stack.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <slirp/libslirp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "services/nat/inet_checksum.h"
#include "spdlog/spdlog.h"

namespace cloonix {
namespace {

int64_t NowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

int64_t ClockCb(void*) { return NowNs(); }

void GuestErrorCb(const char* msg, void* opaque) {
  spdlog::warn("nat {}: guest error: {}",
               static_cast<SlirpStack*>(opaque)->name(), msg);
}

void NoFd(int, void*) {}

struct in_addr Addr(const char* s) {
  struct in_addr a;
  inet_pton(AF_INET, s, &a);
  return a;
}

bool ParseMac(const std::string& s, uint8_t out[6]) {
  unsigned v[6];
  char extra;
  if (s.size() != 17 ||
      std::sscanf(s.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2],
                  &v[3], &v[4], &v[5], &extra) != 6) {
    return false;
  }
  for (int i = 0; i < 6; ++i) out[i] = static_cast<uint8_t>(v[i]);
  return true;
}

}  // namespace

absl::StatusOr<std::vector<uint8_t>> DhcpClientFrame(const std::string& mac,
                                                     uint8_t type,
                                                     const std::string& want_ip,
                                                     uint32_t xid) {
  uint8_t m[6];
  if (!ParseMac(mac, m)) {
    return absl::InvalidArgumentError(absl::StrCat("bad MAC \"", mac, "\""));
  }
  uint8_t want[4];
  if (!want_ip.empty() && inet_pton(AF_INET, want_ip.c_str(), want) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad address \"", want_ip, "\""));
  }
  // BOOTP: fixed part, magic cookie, options; padded to the 548 bytes of a
  // full BOOTP message (slirp reads the whole options area).
  std::vector<uint8_t> bootp(240, 0);
  bootp[0] = 1;  // BOOTREQUEST
  bootp[1] = 1;  // Ethernet
  bootp[2] = 6;
  for (int i = 0; i < 4; ++i)
    bootp[4 + i] = static_cast<uint8_t>(xid >> (24 - 8 * i));
  bootp[10] = 0x80;  // broadcast flag
  std::copy(m, m + 6, bootp.begin() + 28);
  bootp[236] = 99;
  bootp[237] = 130;
  bootp[238] = 83;
  bootp[239] = 99;
  bootp.insert(bootp.end(), {53, 1, type});
  if (!want_ip.empty()) {
    bootp.insert(bootp.end(), {50, 4, want[0], want[1], want[2], want[3]});
    bootp.insert(bootp.end(), {54, 4, 172, 17, 0, 2});
  }
  bootp.push_back(255);
  bootp.resize(548, 0);
  std::vector<uint8_t> f = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, m[0],
                            m[1], m[2], m[3], m[4], m[5], 0x08, 0x00};
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
  uint16_t c = InetChecksum(ip.data(), ip.size());
  ip[10] = static_cast<uint8_t>(c >> 8);
  ip[11] = static_cast<uint8_t>(c);
  f.insert(f.end(), ip.begin(), ip.end());
  f.insert(f.end(), {0, 68, 0, 67, static_cast<uint8_t>(udp_len >> 8),
                     static_cast<uint8_t>(udp_len), 0, 0});
  f.insert(f.end(), bootp.begin(), bootp.end());
  return f;
}

absl::StatusOr<std::unique_ptr<SlirpStack>> SlirpStack::Create(
    std::string name, SendFn send, std::function<void()> notify, uint32_t mtu) {
  std::unique_ptr<SlirpStack> s(new SlirpStack(std::move(name)));
  s->send_ = std::move(send);
  s->notify_ = std::move(notify);
  SlirpConfig cfg = {};
  cfg.version = 4;
  cfg.restricted = 0;
  cfg.in_enabled = true;
  cfg.vnetwork = Addr(kNatNetwork);
  cfg.vnetmask = Addr("255.255.255.0");
  cfg.vhost = Addr(kNatGateway);
  cfg.in6_enabled = false;
  cfg.vhostname = "cloonix";
  cfg.vdhcp_start = Addr(kNatDhcpStart);
  cfg.vnameserver = Addr(kNatDns);
  cfg.if_mtu = mtu;
  cfg.if_mru = mtu;
  cfg.disable_host_loopback = false;  // the gateway reaches 127.0.0.1
  cfg.enable_emu = false;
  static const SlirpCb cbs = [] {
    SlirpCb c = {};
    c.send_packet = &SlirpStack::SendCb;
    c.guest_error = &GuestErrorCb;
    c.clock_get_ns = &ClockCb;
    c.timer_free = &SlirpStack::TimerFreeCb;
    c.timer_mod = &SlirpStack::TimerModCb;
    c.register_poll_fd = &NoFd;
    c.unregister_poll_fd = &NoFd;
    c.notify = &SlirpStack::NotifyCb;
    c.timer_new_opaque = [](SlirpTimerId id, void* cb_opaque, void* opaque) {
      return SlirpStack::TimerNewCb(static_cast<int>(id), cb_opaque, opaque);
    };
    return c;
  }();
  s->slirp_ = slirp_new(&cfg, &cbs, s.get());
  if (s->slirp_ == nullptr) {
    return absl::InternalError("libslirp refused the configuration");
  }
  return s;
}

SlirpStack::~SlirpStack() {
  if (slirp_ != nullptr) slirp_cleanup(slirp_);
}

ssize_t SlirpStack::SendCb(const void* buf, size_t len, void* opaque) {
  auto* self = static_cast<SlirpStack*>(opaque);
  self->SniffDhcp(static_cast<const uint8_t*>(buf), len);
  if (self->muted_) return static_cast<ssize_t>(len);
  ++self->tx_;
  self->send_(static_cast<const uint8_t*>(buf), len);
  return static_cast<ssize_t>(len);
}

void* SlirpStack::TimerNewCb(int id, void* cb_opaque, void* opaque) {
  auto* self = static_cast<SlirpStack*>(opaque);
  self->timers_.push_back(std::make_unique<Timer>(Timer{id, cb_opaque}));
  return self->timers_.back().get();
}

void SlirpStack::TimerFreeCb(void* timer, void* opaque) {
  auto* self = static_cast<SlirpStack*>(opaque);
  self->timers_.erase(
      std::remove_if(self->timers_.begin(), self->timers_.end(),
                     [timer](const auto& t) { return t.get() == timer; }),
      self->timers_.end());
}

void SlirpStack::TimerModCb(void* timer, int64_t expire_ms, void*) {
  static_cast<Timer*>(timer)->expire_ms = expire_ms;
}

void SlirpStack::NotifyCb(void* opaque) {
  auto* self = static_cast<SlirpStack*>(opaque);
  if (self->notify_) self->notify_();
}

int SlirpStack::AddPollCb(int fd, int events, void* opaque) {
  auto* fds = static_cast<SlirpStack*>(opaque)->poll_fds_;
  short ev = 0;
  if (events & SLIRP_POLL_IN) ev |= POLLIN;
  if (events & SLIRP_POLL_OUT) ev |= POLLOUT;
  if (events & SLIRP_POLL_PRI) ev |= POLLPRI;
  fds->push_back({fd, ev, 0});
  return static_cast<int>(fds->size() - 1);
}

int SlirpStack::GetREventsCb(int idx, void* opaque) {
  auto* fds = static_cast<SlirpStack*>(opaque)->poll_fds_;
  if (idx < 0 || static_cast<size_t>(idx) >= fds->size()) return 0;
  short r = (*fds)[static_cast<size_t>(idx)].revents;
  int out = 0;
  if (r & POLLIN) out |= SLIRP_POLL_IN;
  if (r & POLLOUT) out |= SLIRP_POLL_OUT;
  if (r & POLLPRI) out |= SLIRP_POLL_PRI;
  if (r & POLLERR) out |= SLIRP_POLL_ERR;
  if (r & POLLHUP) out |= SLIRP_POLL_HUP;
  return out;
}

void SlirpStack::Input(const uint8_t* frame, size_t len) {
  if (len < 14) return;
  // Broadcast and multicast pass; unicast only to 52:55:ac:11:00:xx, the
  // MACs slirp gives the addresses it owns in 172.17.0.0/24.
  static const uint8_t kOwn[5] = {0x52, 0x55, 172, 17, 0};
  if ((frame[0] & 1) == 0 && std::memcmp(frame, kOwn, sizeof(kOwn)) != 0) {
    ++foreign_;
    return;
  }
  ++rx_;
  slirp_input(slirp_, frame, static_cast<int>(len));
}

absl::Status SlirpStack::RestoreLease(const std::string& mac,
                                      const std::string& ip) {
  struct in_addr a, start;
  if (inet_pton(AF_INET, ip.c_str(), &a) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("bad lease address ", ip));
  }
  inet_pton(AF_INET, kNatDhcpStart, &start);
  uint32_t off = ntohl(a.s_addr) - ntohl(start.s_addr);
  if (ntohl(a.s_addr) < ntohl(start.s_addr) || off >= 16) {
    return absl::InvalidArgumentError(
        absl::StrCat(ip, " is outside the lease range (", kNatDhcpStart,
                     " and the 15 after it)"));
  }
  ASSIGN_OR_RETURN(auto frame, DhcpClientFrame(mac, 3, ip, 0xc10017));
  muted_ = true;
  slirp_input(slirp_, frame.data(), static_cast<int>(frame.size()));
  muted_ = false;
  auto it = leases_.find(mac);
  if (it == leases_.end() || it->second.ip != ip) {
    return absl::FailedPreconditionError(absl::StrCat(
        "nat ", name_, ": lease ", ip, " for ", mac, " was refused"));
  }
  return absl::OkStatus();
}

void SlirpStack::FillPoll(std::vector<pollfd>* fds, uint32_t* timeout_ms) {
  poll_fds_ = fds;
  slirp_pollfds_fill(slirp_, timeout_ms, &SlirpStack::AddPollCb, this);
}

void SlirpStack::Poll(std::vector<pollfd>* fds, bool poll_failed) {
  poll_fds_ = fds;
  slirp_pollfds_poll(slirp_, poll_failed ? 1 : 0, &SlirpStack::GetREventsCb,
                     this);
}

uint32_t SlirpStack::RunTimers() {
  int64_t now_ms = NowNs() / 1000000;
  uint32_t next = UINT32_MAX;
  // Copy: a handler may add or free timers.
  std::vector<Timer*> due;
  for (auto& t : timers_) {
    if (t->expire_ms < 0) continue;
    if (t->expire_ms <= now_ms) {
      due.push_back(t.get());
    } else {
      next = std::min<uint32_t>(next,
                                static_cast<uint32_t>(t->expire_ms - now_ms));
    }
  }
  for (Timer* t : due) {
    t->expire_ms = -1;
    slirp_handle_timer(slirp_, static_cast<SlirpTimerId>(t->id), t->cb_opaque);
  }
  return next;
}

void SlirpStack::SniffDhcp(const uint8_t* f, size_t len) {
  // Ethernet + IPv4 + UDP from port 67 + BOOTREPLY with option 53 = ACK.
  if (len < 14 + 20 + 8 + 240) return;
  if (f[12] != 0x08 || f[13] != 0x00) return;
  const uint8_t* ip = f + 14;
  size_t ihl = (ip[0] & 0x0f) * 4u;
  if ((ip[0] >> 4) != 4 || ip[9] != 17 || len < 14 + ihl + 8 + 240) return;
  const uint8_t* udp = ip + ihl;
  if (udp[0] != 0 || udp[1] != 67) return;
  const uint8_t* bootp = udp + 8;
  size_t blen = len - (14 + ihl + 8);
  if (bootp[0] != 2) return;
  if (!(bootp[236] == 99 && bootp[237] == 130 && bootp[238] == 83 &&
        bootp[239] == 99))
    return;
  bool ack = false;
  for (size_t i = 240; i < blen;) {
    uint8_t opt = bootp[i];
    if (opt == 255) break;
    if (opt == 0) {
      ++i;
      continue;
    }
    if (i + 1 >= blen) break;
    uint8_t olen = bootp[i + 1];
    if (opt == 53 && olen >= 1 && i + 2 < blen) ack = bootp[i + 2] == 5;
    i += 2u + olen;
  }
  if (!ack) return;
  NatLease l;
  const uint8_t* m = bootp + 28;
  l.mac = absl::StrFormat("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2],
                          m[3], m[4], m[5]);
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, bootp + 16, buf, sizeof(buf));
  l.ip = buf;
  l.acked_ns = NowNs();
  auto it = leases_.find(l.mac);
  bool changed = it == leases_.end() || it->second.ip != l.ip;
  if (changed) spdlog::info("nat {}: lease {} -> {}", name_, l.mac, l.ip);
  leases_[l.mac] = l;
  if (changed && on_lease_) on_lease_();
}

std::vector<NatLease> SlirpStack::Leases() const {
  std::vector<NatLease> out;
  for (const auto& [mac, l] : leases_) out.push_back(l);
  return out;
}

absl::StatusOr<int> SlirpStack::AddHostForward(const std::string& guest_ip,
                                               int guest_port) {
  struct in_addr guest;
  if (inet_pton(AF_INET, guest_ip.c_str(), &guest) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", guest_ip, "\" is not an IPv4 address"));
  }
  for (auto& [hp, f] : forwards_) {
    if (f.guest_ip == guest_ip && f.guest_port == guest_port) {
      ++f.holders;
      return hp;
    }
  }
  // A free loopback port, then slirp binds it (loopback only: nothing is
  // exposed beyond this host).
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof(a);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &alen) != 0) {
    if (fd >= 0) close(fd);
    return absl::UnavailableError("no free loopback port");
  }
  int port = ntohs(a.sin_port);
  close(fd);
  struct in_addr lo;
  lo.s_addr = htonl(INADDR_LOOPBACK);
  if (slirp_add_hostfwd(slirp_, 0, lo, port, guest, guest_port) != 0) {
    return absl::UnavailableError(
        absl::StrCat("libslirp cannot forward 127.0.0.1:", port, " to ",
                     guest_ip, ":", guest_port));
  }
  forwards_[port] = {guest_ip, guest_port, 1};
  spdlog::info("nat {}: 127.0.0.1:{} -> {}:{}", name_, port, guest_ip,
               guest_port);
  return port;
}

absl::Status SlirpStack::RemoveHostForward(int host_port) {
  auto it = forwards_.find(host_port);
  if (it == forwards_.end()) {
    return absl::NotFoundError(
        absl::StrCat("no forward from port ", host_port));
  }
  if (--it->second.holders > 0) return absl::OkStatus();
  forwards_.erase(it);
  struct in_addr lo;
  lo.s_addr = htonl(INADDR_LOOPBACK);
  slirp_remove_hostfwd(slirp_, 0, lo, host_port);
  spdlog::info("nat {}: 127.0.0.1:{} closed", name_, host_port);
  return absl::OkStatus();
}

}  // namespace cloonix
