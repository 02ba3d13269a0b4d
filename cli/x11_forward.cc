#include "cli/x11_forward.h"

#include <netdb.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/atomic_file.h"
#include "common/exec.h"

namespace cloonix::cli {

namespace v1 = cloonix::v1;

namespace {

constexpr char kMitCookie[] = "MIT-MAGIC-COOKIE-1";

size_t Pad4(size_t n) { return (n + 3) & ~size_t{3}; }

int ConnectDisplay(const X11Display& d) {
  if (!d.unix_path.empty()) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    if (d.unix_path.size() >= sizeof(a.sun_path)) {
      close(fd);
      return -1;
    }
    std::memcpy(a.sun_path, d.unix_path.c_str(), d.unix_path.size() + 1);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
      close(fd);
      return -1;
    }
    return fd;
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(d.host.c_str(), std::to_string(d.port).c_str(), &hints,
                  &res) != 0) {
    return -1;
  }
  int fd = -1;
  for (addrinfo* p = res; p != nullptr && fd < 0; p = p->ai_next) {
    fd = socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC, p->ai_protocol);
    if (fd >= 0 && connect(fd, p->ai_addr, p->ai_addrlen) != 0) {
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(res);
  return fd;
}

}  // namespace

absl::StatusOr<X11Display> ParseDisplay(const std::string& display) {
  const size_t colon = display.rfind(':');
  auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        "DISPLAY=\"", display, "\" is not [host]:number[.screen]"));
  };
  if (colon == std::string::npos) return bad();
  std::string host = display.substr(0, colon);
  std::string num = display.substr(colon + 1);
  num = num.substr(0, num.find('.'));
  int n = 0;
  if (!absl::SimpleAtoi(num, &n) || n < 0 || n > 65535 - 6000) return bad();
  X11Display d;
  if (host.empty() || host == "unix") {
    d.unix_path = absl::StrCat("/tmp/.X11-unix/X", n);
  } else if (host[0] == '/') {
    d.unix_path = host;  // a socket path (XQuartz's launchd form)
  } else {
    d.host = host;
    d.port = 6000 + n;
  }
  return d;
}

X11Auth LocalAuth(const std::string& display) {
  auto r = Exec({"xauth", "list", display}, absl::Seconds(5));
  if (!r.ok() || r->exit_code != 0) return {};
  for (absl::string_view line : absl::StrSplit(r->out, '\n')) {
    std::vector<std::string> f =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (f.size() != 3 || f[1] != kMitCookie || f[2].size() % 2 != 0 ||
        f[2].empty()) {
      continue;
    }
    bool hex = true;
    for (char ch : f[2]) hex = hex && absl::ascii_isxdigit(ch);
    if (hex) return {f[1], absl::HexStringToBytes(f[2])};
  }
  return {};
}

X11Auth MakeFakeAuth() {
  std::string cookie(16, '\0');
  std::ifstream r("/dev/urandom", std::ios::binary);
  r.read(cookie.data(), static_cast<std::streamsize>(cookie.size()));
  return {kMitCookie, cookie};
}

SetupResult RewriteSetup(const std::string& in, const X11Auth& fake,
                         const X11Auth& real, std::string* out,
                         size_t* consumed) {
  if (in.size() < 12) return SetupResult::kNeedMore;
  const bool msb = in[0] == 'B';
  if (!msb && in[0] != 'l') return SetupResult::kBad;
  auto u16 = [&](size_t at) -> size_t {
    const auto b0 = static_cast<unsigned char>(in[at]);
    const auto b1 = static_cast<unsigned char>(in[at + 1]);
    return msb ? (b0 << 8 | b1) : (b1 << 8 | b0);
  };
  const size_t name_len = u16(6), data_len = u16(8);
  const size_t total = 12 + Pad4(name_len) + Pad4(data_len);
  if (in.size() < total) return SetupResult::kNeedMore;
  const std::string name = in.substr(12, name_len);
  const std::string data = in.substr(12 + Pad4(name_len), data_len);
  // Constant-time comparison of the cookie.
  bool same = name == fake.proto && data.size() == fake.cookie.size();
  unsigned char diff = 0;
  for (size_t i = 0; same && i < data.size(); ++i) {
    diff |= static_cast<unsigned char>(data[i] ^ fake.cookie[i]);
  }
  if (!same || diff != 0) return SetupResult::kBad;
  auto put16 = [&](std::string* s, size_t at, size_t v) {
    (*s)[at] = static_cast<char>(msb ? (v >> 8) & 0xff : v & 0xff);
    (*s)[at + 1] = static_cast<char>(msb ? v & 0xff : (v >> 8) & 0xff);
  };
  std::string o = in.substr(0, 12);
  put16(&o, 6, real.proto.size());
  put16(&o, 8, real.cookie.size());
  o += real.proto;
  o.append(Pad4(real.proto.size()) - real.proto.size(), '\0');
  o += real.cookie;
  o.append(Pad4(real.cookie.size()) - real.cookie.size(), '\0');
  *out = std::move(o);
  *consumed = total;
  return SetupResult::kOk;
}

X11Forwarder::X11Forwarder(X11Display display, X11Auth fake, X11Auth real,
                           std::function<bool(const v1::ExecRequest&)> send)
    : display_(std::move(display)),
      fake_(std::move(fake)),
      real_(std::move(real)),
      send_(std::move(send)) {}

X11Forwarder::~X11Forwarder() {
  for (auto& [chan, c] : channels_) {
    if (c->fd >= 0) shutdown(c->fd, SHUT_RDWR);
    if (c->reader.joinable()) c->reader.join();
    if (c->fd >= 0) close(c->fd);
  }
}

void X11Forwarder::SendClose(uint32_t channel) {
  v1::ExecRequest m;
  m.set_x11_close(channel);
  send_(m);
}

void X11Forwarder::Drop(uint32_t channel) {
  auto it = channels_.find(channel);
  if (it == channels_.end()) return;
  Channel* c = it->second.get();
  if (c->fd >= 0) shutdown(c->fd, SHUT_RDWR);
  if (c->reader.joinable()) c->reader.join();
  if (c->fd >= 0) close(c->fd);
  channels_.erase(it);
}

void X11Forwarder::Open(uint32_t channel) {
  Drop(channel);  // a reused id: the old one is over
  int fd = ConnectDisplay(display_);
  if (fd < 0) {
    if (!warned_) {
      std::cerr << "cloonix: X11 forwarding: cannot connect to the local "
                   "display ("
                << (display_.unix_path.empty()
                        ? absl::StrCat(display_.host, ":", display_.port)
                        : display_.unix_path)
                << "): " << std::strerror(errno) << std::endl;
      warned_ = true;
    }
    SendClose(channel);
    return;
  }
  auto c = std::make_unique<Channel>();
  c->fd = fd;
  c->reader = std::thread([this, fd, channel] {
    char buf[65536];
    for (;;) {
      ssize_t n = read(fd, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      v1::ExecRequest m;
      m.mutable_x11_data()->set_channel(channel);
      m.mutable_x11_data()->set_data(std::string(buf, static_cast<size_t>(n)));
      if (!send_(m)) return;
    }
    SendClose(channel);
  });
  channels_[channel] = std::move(c);
}

void X11Forwarder::Data(uint32_t channel, const std::string& data) {
  auto it = channels_.find(channel);
  if (it == channels_.end()) return;
  Channel* c = it->second.get();
  std::string bytes;
  if (!c->set_up) {
    c->pending += data;
    std::string setup;
    size_t used = 0;
    switch (RewriteSetup(c->pending, fake_, real_, &setup, &used)) {
      case SetupResult::kNeedMore:
        if (c->pending.size() > (1 << 16)) {
          SendClose(channel);
          Drop(channel);
        }
        return;
      case SetupResult::kBad:
        std::cerr << "cloonix: X11 forwarding: a guest connection presented "
                     "a wrong cookie; refused"
                  << std::endl;
        SendClose(channel);
        Drop(channel);
        return;
      case SetupResult::kOk:
        c->set_up = true;
        bytes = setup + c->pending.substr(used);
        c->pending.clear();
        break;
    }
  } else {
    bytes = data;
  }
  if (!WriteAll(c->fd, bytes)) {
    SendClose(channel);
    Drop(channel);
  }
}

void X11Forwarder::Close(uint32_t channel) { Drop(channel); }

}  // namespace cloonix::cli
