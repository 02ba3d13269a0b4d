#include "cli/guest_client.h"

#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "cli/x11_forward.h"
#include "common/atomic_file.h"
#include "common/error_reasons.h"
#include "common/file_tree.h"
#include "common/grpc_status.h"
#include "common/guest_convert.h"
#include "common/names.h"
#include "common/rpc_client.h"

namespace cloonix::cli {

namespace v1 = ::cloonix::v1;

std::optional<GuestPath> ParseGuestPath(const std::string& arg) {
  size_t colon = arg.find(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  if (arg.substr(0, colon).find('/') != std::string::npos) return std::nullopt;
  return GuestPath{arg.substr(0, colon), arg.substr(colon + 1)};
}

absl::StatusOr<v1::Item> ParseAddKvm(const std::string& name,
                                     const std::vector<std::string>& args,
                                     bool persistent,
                                     const std::vector<std::string>& macs) {
  v1::Item it;
  it.set_name(name);
  v1::KvmSpec* k = it.mutable_kvm();
  k->set_eth_count(1);
  k->set_cpu(1);
  k->set_persistent(persistent);
  bool have_ram = false;
  for (const auto& a : args) {
    size_t eq = a.find('=');
    std::string key = eq == std::string::npos ? "" : a.substr(0, eq);
    std::string val = eq == std::string::npos ? a : a.substr(eq + 1);
    uint32_t n = 0;
    if (key == "ram" || key == "cpu") {
      if (!absl::SimpleAtoi(val, &n)) {
        return absl::InvalidArgumentError(
            absl::StrCat(key, "=", val, ": a number is needed"));
      }
      if (key == "ram") {
        k->set_ram_mb(n);
        have_ram = true;
      } else {
        k->set_cpu(n);
      }
    } else if (key == "eth") {
      if (absl::SimpleAtoi(val, &n)) {
        k->set_eth_count(n);
      } else if (!val.empty() &&
                 val.find_first_not_of("sv") == std::string::npos) {
        k->set_eth_count(static_cast<uint32_t>(val.size()));  // Cloonix: sss
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("eth=", val,
                         ": give a count (eth=2) or Cloonix's letters "
                         "(eth=ss)"));
      }
    } else if (key.empty()) {
      if (!k->image().empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("two images given: ", k->image(), " and ", val));
      }
      k->set_image(val);
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown setting ", key, "= (ram=, cpu=, eth= or the image)"));
    }
  }
  if (!have_ram) {
    return absl::InvalidArgumentError("ram=<MiB> is required, e.g. ram=256");
  }
  if (k->image().empty()) {
    return absl::InvalidArgumentError(
        "the image is required: a .qcow2 of the bulk dir, or tiny");
  }
  for (const auto& m : macs) {
    // ethN:xx:xx:xx:xx:xx:xx
    size_t colon = m.find(':');
    uint32_t eth = 0;
    if (colon == std::string::npos || !absl::StartsWith(m, "eth") ||
        !absl::SimpleAtoi(m.substr(3, colon - 3), &eth)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--mac_addr=", m, ": write it ethN:xx:xx:xx:xx:xx:xx"));
    }
    std::string mac = m.substr(colon + 1);
    if (auto s = ValidateMac(mac); !s.ok()) return s;
    (*k->mutable_macs())[eth] = mac;
  }
  return it;
}

namespace {

std::atomic<bool> g_winch{false};

// What RunSsh/RunTunnel share with their detached stdin thread: once
// `closed` is set (under `mu`), the thread no longer touches the stream.
struct StdinShare {
  std::mutex mu;
  bool closed = false;
};
void OnWinch(int) { g_winch = true; }

v1::WindowSize TermSize() {
  v1::WindowSize w;
  struct winsize ws = {};
  if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) {
    w.set_rows(ws.ws_row);
    w.set_cols(ws.ws_col);
  }
  return w;
}

class Progress {
 public:
  Progress(bool on, uint64_t total) : on_(on), total_(total) {}
  void Add(uint64_t n) {
    bytes_ += n;
    absl::Time now = absl::Now();
    if (on_ && now - last_ > absl::Milliseconds(500)) {
      last_ = now;
      Print(false);
    }
  }
  void Done() {
    if (on_) Print(true);
  }
  double Seconds() const { return absl::ToDoubleSeconds(absl::Now() - start_); }

 private:
  void Print(bool final) {
    double s = Seconds();
    double mb = bytes_ / 1e6;
    std::string pct =
        total_ ? absl::StrFormat(" %3.0f%%", 100.0 * bytes_ / total_) : "";
    std::fprintf(stderr, "\r%s%.1f MB, %.1f MB/s%s", pct.c_str(), mb,
                 s > 0 ? mb / s : 0.0, final ? "\n" : "");
    std::fflush(stderr);
  }
  bool on_;
  uint64_t total_;
  uint64_t bytes_ = 0;
  absl::Time start_ = absl::Now();
  absl::Time last_ = absl::InfinitePast();
};

uint64_t TreeSize(const std::string& path) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(path, ec);
       !ec && it != std::filesystem::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->is_regular_file(ec)) total += it->file_size(ec);
  }
  return total;
}

}  // namespace

int RunSsh(v1::Guest::Stub* stub, const std::string& item,
           const std::vector<std::string>& argv, bool tty, grpc::Status* error,
           bool x11) {
  X11Display display;
  X11Auth fake, real;
  if (x11) {
    const char* d = std::getenv("DISPLAY");
    if (d == nullptr || *d == '\0') {
      *error = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            "ssh -X: DISPLAY is not set: there is no local X "
                            "display to forward the guest's windows to");
      return -1;
    }
    auto parsed = ParseDisplay(d);
    if (!parsed.ok()) {
      *error = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            std::string(parsed.status().message()));
      return -1;
    }
    display = *parsed;
    real = LocalAuth(d);
    fake = MakeFakeAuth();
  }
  grpc::ClientContext ctx;
  auto stream = stub->Exec(&ctx);
  v1::ExecRequest start;
  auto* st = start.mutable_start();
  st->set_item(item);
  for (const auto& a : argv) st->add_command(a);
  st->set_tty(tty);
  if (x11) {
    st->set_x11(true);
    st->set_x11_auth_proto(fake.proto);
    st->set_x11_auth_cookie(fake.cookie);
  }
  struct termios saved;
  bool raw = false;
  if (tty) {
    *st->mutable_size() = TermSize();
    const char* term = std::getenv("TERM");
    st->set_term(term ? term : "xterm");
    if (tcgetattr(STDIN_FILENO, &saved) == 0) {
      struct termios r = saved;
      cfmakeraw(&r);
      tcsetattr(STDIN_FILENO, TCSANOW, &r);
      raw = true;
    }
    signal(SIGWINCH, OnWinch);
  }
  // Shared with the stdin thread, which is detached (it may sit in read()
  // after the command ended): it must not outlive what it touches.
  auto shared = std::make_shared<StdinShare>();
  auto* raw_stream = stream.get();
  stream->Write(start);
  // stdin -> guest.
  std::thread([shared, raw_stream, tty] {
    auto& write_mu = shared->mu;
    auto& closed = shared->closed;
    auto* stream = raw_stream;
    char buf[32768];
    for (;;) {
      struct pollfd p = {STDIN_FILENO, POLLIN, 0};
      int r = poll(&p, 1, 200);
      if (g_winch.exchange(false)) {
        v1::ExecRequest rs;
        *rs.mutable_resize() = TermSize();
        std::lock_guard<std::mutex> l(write_mu);
        if (closed) return;
        stream->Write(rs);
      }
      if (r <= 0) continue;
      ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
      std::lock_guard<std::mutex> l(write_mu);
      if (closed) return;
      v1::ExecRequest m;
      if (n <= 0) {
        if (!tty) {
          m.set_stdin_eof(true);
          stream->Write(m);
        }
        return;
      }
      m.set_stdin(std::string(buf, static_cast<size_t>(n)));
      if (!stream->Write(m)) return;
    }
  }).detach();
  std::unique_ptr<X11Forwarder> forwarder;
  if (x11) {
    forwarder = std::make_unique<X11Forwarder>(
        display, fake, real, [shared, raw_stream](const v1::ExecRequest& m) {
          std::lock_guard<std::mutex> l(shared->mu);
          return !shared->closed && raw_stream->Write(m);
        });
  }
  int code = -1;
  std::string remote_error;
  v1::ExecResponse resp;
  while (stream->Read(&resp)) {
    if (resp.has_exit()) {
      code = resp.exit().code();
      remote_error = resp.exit().error();
      break;
    }
    if (!resp.stdout().empty()) WriteAll(STDOUT_FILENO, resp.stdout());
    if (!resp.stderr().empty()) WriteAll(STDERR_FILENO, resp.stderr());
    if (forwarder == nullptr) continue;
    switch (resp.msg_case()) {
      case v1::ExecResponse::kX11Open:
        forwarder->Open(resp.x11_open());
        break;
      case v1::ExecResponse::kX11Data:
        forwarder->Data(resp.x11_data().channel(), resp.x11_data().data());
        break;
      case v1::ExecResponse::kX11Close:
        forwarder->Close(resp.x11_close());
        break;
      default:
        break;
    }
  }
  {
    std::lock_guard<std::mutex> l(shared->mu);
    shared->closed = true;
    stream->WritesDone();
  }
  forwarder.reset();  // its threads write into the stream: before Finish
  *error = stream->Finish();
  if (raw) tcsetattr(STDIN_FILENO, TCSANOW, &saved);
  if (!error->ok()) return -1;
  if (!remote_error.empty()) {
    *error = cloonix::ToGrpcStatus(cloonix::WithReason(
        absl::UnavailableError(remote_error), cloonix::reason::kGuestError));
    return -1;
  }
  return code;
}

int RunTunnel(v1::Guest::Stub* stub, const std::string& item, uint32_t port,
              grpc::Status* error) {
  grpc::ClientContext ctx;
  auto stream = stub->Tunnel(&ctx);
  v1::TunnelRequest start;
  start.mutable_start()->set_item(item);
  start.mutable_start()->set_port(port);
  auto shared = std::make_shared<StdinShare>();
  auto* raw_stream = stream.get();
  stream->Write(start);
  std::thread([shared, raw_stream] {
    auto& write_mu = shared->mu;
    auto& closed = shared->closed;
    auto* stream = raw_stream;
    char buf[65536];
    for (;;) {
      ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
      std::lock_guard<std::mutex> l(write_mu);
      if (closed) return;
      if (n <= 0) {
        stream->WritesDone();
        closed = true;
        return;
      }
      v1::TunnelRequest m;
      m.set_data(std::string(buf, static_cast<size_t>(n)));
      if (!stream->Write(m)) return;
    }
  }).detach();
  v1::TunnelResponse resp;
  bool got = false;
  while (stream->Read(&resp)) {
    got = true;
    if (!WriteAll(STDOUT_FILENO, resp.data())) break;
  }
  {
    std::lock_guard<std::mutex> l(shared->mu);
    if (!shared->closed) stream->WritesDone();
    shared->closed = true;
  }
  *error = stream->Finish();
  // The relay cancels a side that never half-closes: fine once data flowed.
  if (!error->ok() && !(got && error->error_code() == grpc::CANCELLED))
    return -1;
  return 0;
}

int RunConsole(v1::Guest::Stub* stub, const std::string& item, int seconds,
               grpc::Status* error) {
  grpc::ClientContext ctx;
  if (seconds > 0) {
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(seconds));
  }
  auto stream = stub->Console(&ctx);
  v1::ConsoleRequest first;
  first.set_item(item);
  stream->Write(first);
  struct termios saved;
  bool raw = false;
  if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0) {
    struct termios r = saved;
    cfmakeraw(&r);
    tcsetattr(STDIN_FILENO, TCSANOW, &r);
    raw = true;
    std::fprintf(stderr, "connected to the console of %s (Ctrl-] detaches)\r\n",
                 item.c_str());
  }
  auto shared = std::make_shared<StdinShare>();
  auto* raw_stream = stream.get();
  auto* raw_ctx = &ctx;
  std::thread([shared, raw_stream, raw_ctx, raw] {
    char buf[4096];
    for (;;) {
      ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
      std::lock_guard<std::mutex> l(shared->mu);
      if (shared->closed) return;
      if (n <= 0) {
        raw_stream->WritesDone();
        return;
      }
      std::string data(buf, static_cast<size_t>(n));
      size_t detach = raw ? data.find('\x1d') : std::string::npos;
      if (detach != std::string::npos) {
        raw_ctx->TryCancel();
        return;
      }
      v1::ConsoleRequest m;
      m.set_data(data);
      if (!raw_stream->Write(m)) return;
    }
  }).detach();
  v1::ConsoleResponse resp;
  while (stream->Read(&resp)) WriteAll(STDOUT_FILENO, resp.data());
  {
    std::lock_guard<std::mutex> l(shared->mu);
    shared->closed = true;
  }
  *error = stream->Finish();
  if (raw) {
    tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    std::fprintf(stderr, "\ndetached\n");
  }
  // Detaching (Ctrl-]) and --for ending are the normal ways out.
  if (error->error_code() == grpc::CANCELLED ||
      error->error_code() == grpc::DEADLINE_EXCEEDED || error->ok())
    return 0;
  return -1;
}

absl::StatusOr<CopyReport> CopyToGuest(v1::Guest::Stub* stub,
                                       const std::string& src,
                                       const GuestPath& dst, bool recursive,
                                       bool progress, grpc::Status* rpc) {
  struct stat st;
  if (stat(src.c_str(), &st) != 0) {
    return absl::NotFoundError(
        absl::StrCat(src, ": no such file or directory"));
  }
  if (S_ISDIR(st.st_mode) && !recursive) {
    return absl::InvalidArgumentError(
        absl::StrCat(src, " is a directory (use -r)"));
  }
  uint64_t total = S_ISDIR(st.st_mode) ? TreeSize(src) : st.st_size;
  Progress prog(progress, total);
  grpc::ClientContext ctx;
  v1::CopyToResponse resp;
  auto w = stub->CopyTo(&ctx, &resp);
  v1::CopyToRequest m;
  m.mutable_start()->set_item(dst.item);
  m.mutable_start()->set_path(dst.path);
  bool ok = w->Write(m);
  std::string err;
  if (ok) {
    err = ReadTree(
        "", ".", src,
        [&](const TreeEntry& e) {
          v1::CopyToRequest r;
          *r.mutable_entry() = ToProto(e);
          return w->Write(r);
        },
        [&](const char* p, size_t n) {
          v1::CopyToRequest r;
          r.set_data(std::string(p, n));
          prog.Add(n);
          return w->Write(r);
        },
        256 * 1024);
  }
  w->WritesDone();
  *rpc = w->Finish();
  if (!rpc->ok()) return absl::UnknownError("rpc");
  if (!err.empty() && err != "cancelled") return absl::InternalError(err);
  prog.Done();
  return CopyReport{resp.files(), resp.bytes(), prog.Seconds()};
}

absl::StatusOr<CopyReport> CopyFromGuest(v1::Guest::Stub* stub,
                                         const GuestPath& src,
                                         const std::string& dst, bool recursive,
                                         bool progress, grpc::Status* rpc) {
  // No setuid/setgid/sticky bits from a guest onto this host.
  TreeWriter writer("", ".", 0777);
  std::string want_top = src.path;
  while (want_top.size() > 1 && want_top.back() == '/') want_top.pop_back();
  want_top = want_top.substr(want_top.find_last_of('/') + 1);
  if (std::string err = writer.Begin(dst); !err.empty())
    return absl::FailedPreconditionError(err);
  Progress prog(progress, 0);
  grpc::ClientContext ctx;
  v1::CopyFromRequest req;
  req.set_item(src.item);
  req.set_path(src.path);
  auto r = stub->CopyFrom(&ctx, req);
  v1::CopyFromResponse m;
  std::string err;
  bool first = true;
  while (err.empty() && r->Read(&m)) {
    if (m.has_entry()) {
      if (first && !want_top.empty() && want_top != "." &&
          m.entry().path() != want_top) {
        err = absl::StrCat("the guest sent ", m.entry().path(), " for ",
                           src.path, ": refused");
        break;
      }
      if (first && m.entry().type() == v1::FILE_TYPE_DIR && !recursive) {
        err = absl::StrCat(src.item, ":", src.path, " is a directory (use -r)");
        break;
      }
      first = false;
      err = writer.Entry(FromProto(m.entry()));
    } else {
      err = writer.Data(m.data().data(), m.data().size());
      prog.Add(m.data().size());
    }
  }
  if (!err.empty()) ctx.TryCancel();
  *rpc = r->Finish();
  if (!err.empty()) return absl::FailedPreconditionError(err);
  if (!rpc->ok()) return absl::UnknownError("rpc");
  if (std::string e = writer.End(); !e.empty()) return absl::DataLossError(e);
  prog.Done();
  return CopyReport{writer.files(), writer.bytes(), prog.Seconds()};
}

CapturedRun RunCaptured(cloonix::v1::Guest::Stub* stub, const std::string& item,
                        const std::string& script, absl::Duration timeout) {
  CapturedRun r;
  auto ctx = cloonix::ContextWithDeadline(timeout);
  auto stream = stub->Exec(ctx.get());
  cloonix::v1::ExecRequest req;
  auto* st = req.mutable_start();
  st->set_item(item);
  st->add_command("/bin/sh");
  st->add_command("-c");
  st->add_command(script);
  cloonix::v1::ExecRequest eof;
  eof.set_stdin_eof(true);
  if (stream->Write(req) && stream->Write(eof)) stream->WritesDone();
  cloonix::v1::ExecResponse m;
  while (stream->Read(&m)) {
    if (m.has_exit()) {
      r.code = m.exit().code();
      if (!m.exit().error().empty()) r.err += m.exit().error();
    } else if (!m.stdout().empty()) {
      r.out += m.stdout();
    } else {
      r.err += m.stderr();
    }
  }
  r.status = stream->Finish();
  if (!r.status.ok()) r.code = -1;
  return r;
}

}  // namespace cloonix::cli
