#include "services/vm_runner/agent_link.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace cloonix {

bool AgentSession::Pop(wire::Frame* f, absl::Duration timeout) {
  absl::MutexLock l(&mu_);
  auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return !q_.empty(); };
  if (!mu_.AwaitWithTimeout(absl::Condition(&ready), timeout)) return false;
  *f = std::move(q_.front());
  q_.pop_front();
  bytes_ -= f->payload.size();
  return true;
}

void AgentSession::Push(wire::Frame f) {
  {
    absl::MutexLock l(&mu_);
    bytes_ += f.payload.size();
    q_.push_back(std::move(f));
  }
  Notify();
}

void AgentSession::SetListener(std::function<void()> fn) {
  absl::MutexLock l(&listener_mu_);
  listener_ = std::move(fn);
  auto idle = [this]() ABSL_SHARED_LOCKS_REQUIRED(listener_mu_) {
    return calling_ == 0;
  };
  listener_mu_.Await(absl::Condition(&idle));
}

void AgentSession::Notify() {
  std::function<void()> fn;
  {
    absl::MutexLock l(&listener_mu_);
    if (!listener_) return;
    fn = listener_;
    ++calling_;
  }
  // Called with no lock held: the listener takes its consumer's locks, which
  // may be held while setting the listener.
  fn();
  absl::MutexLock l(&listener_mu_);
  --calling_;
}

bool AgentSession::PushWait(wire::Frame* f, absl::Duration timeout) {
  auto room = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return closed_ || bytes_ < kHighWater;
  };
  {
    absl::MutexLock l(&mu_);
    if (!mu_.AwaitWithTimeout(absl::Condition(&room), timeout)) return false;
    if (closed_) return true;  // nobody reads it any more
    bytes_ += f->payload.size();
    q_.push_back(std::move(*f));
  }
  Notify();
  return true;
}

void AgentSession::Close() {
  absl::MutexLock l(&mu_);
  closed_ = true;
}

size_t AgentSession::queued() {
  absl::MutexLock l(&mu_);
  return q_.size();
}

AgentLink::AgentLink(std::string name, std::string socket_path)
    : name_(std::move(name)), path_(std::move(socket_path)) {
  thread_ = std::thread([this] { Loop(); });
}

void AgentLink::Stop() {
  if (stop_.exchange(true)) return;
  // The loop thread sees EOF, fails the open sessions and exits.
  absl::MutexLock l(&write_mu_);
  if (fd_ >= 0) shutdown(fd_, SHUT_RDWR);
}

AgentLink::~AgentLink() {
  stop_ = true;
  thread_.join();
  absl::MutexLock l(&write_mu_);
  if (fd_ >= 0) close(fd_);
}

bool AgentLink::Up() {
  absl::MutexLock l(&mu_);
  return absl::Now() - last_seen_ < absl::Seconds(3);
}

std::string AgentLink::Hostname() {
  absl::MutexLock l(&mu_);
  return hostname_;
}

std::shared_ptr<AgentSession> AgentLink::Open() {
  absl::MutexLock l(&mu_);
  auto s = std::make_shared<AgentSession>(next_session_++);
  sessions_[s->id()] = s;
  return s;
}

void AgentLink::Close(const std::shared_ptr<AgentSession>& s, bool kill) {
  s->Close();
  if (kill) Send(s->id(), wire::Type::kKill, "").IgnoreError();
  absl::MutexLock l(&mu_);
  sessions_.erase(s->id());
}

absl::Status AgentLink::Send(uint32_t session, wire::Type type,
                             const std::string& payload) {
  std::string buf;
  wire::AppendFrame({type, session, payload}, &buf);
  absl::MutexLock l(&write_mu_);
  if (fd_ < 0) {
    return absl::UnavailableError(
        absl::StrCat("the agent channel of ", name_, " is not connected"));
  }
  size_t off = 0;
  while (off < buf.size()) {
    ssize_t n = send(fd_, buf.data() + off, buf.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      struct pollfd p = {fd_, POLLOUT, 0};
      if (poll(&p, 1, 10000) <= 0) {
        // A frame cut in the middle would desynchronize the stream: reset
        // the connection (the loop reconnects, sessions fail).
        if (off > 0) shutdown(fd_, SHUT_RDWR);
        return absl::UnavailableError(
            absl::StrCat("the agent of ", name_, " stopped reading"));
      }
      continue;
    }
    if (n <= 0) {
      if (off > 0) shutdown(fd_, SHUT_RDWR);
      return absl::UnavailableError(absl::StrCat(
          "the agent channel of ", name_, " broke: ", std::strerror(errno)));
    }
    off += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

void AgentLink::Drop(const std::string& why) {
  {
    absl::MutexLock l(&write_mu_);
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  std::map<uint32_t, std::shared_ptr<AgentSession>> failed;
  {
    absl::MutexLock l(&mu_);
    last_seen_ = absl::InfinitePast();
    failed.swap(sessions_);
  }
  // Outside mu_: a session's listener may end its stream.
  for (auto& [id, s] : failed) s->Push({wire::Type::kError, id, why});
}

void AgentLink::Loop() {
  std::vector<char> buf(256 * 1024);
  bool logged_down = false;
  while (!stop_) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      close(fd);
      if (!logged_down) {
        spdlog::debug("agent channel {}: {} not ready: {}", name_, path_,
                      std::strerror(errno));
        logged_down = true;
      }
      usleep(300 * 1000);
      continue;
    }
    logged_down = false;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    {
      absl::MutexLock l(&write_mu_);
      fd_ = fd;
    }
    spdlog::debug("agent channel {}: connected", name_);
    wire::FrameParser parser;
    bool hello_seen = false;
    std::string why = "the agent channel closed";
    while (!stop_) {
      struct pollfd p = {fd, POLLIN, 0};
      int r = poll(&p, 1, 300);
      if (r == 0) continue;
      if (r < 0 && errno == EINTR) continue;
      ssize_t n = read(fd, buf.data(), buf.size());
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (n <= 0) break;
      parser.Feed(buf.data(), static_cast<size_t>(n));
      std::vector<wire::Frame> frames;
      wire::Frame f;
      std::string err;
      while (parser.Next(&f, &err)) frames.push_back(std::move(f));
      bool restarted = false;
      for (auto& fr : frames) {
        std::shared_ptr<AgentSession> s;
        {
          absl::MutexLock l(&mu_);
          last_seen_ = absl::Now();  // a whole frame, not just bytes
          if (fr.session == 0) {
            if (fr.type != wire::Type::kHello) continue;
            if (hello_seen) {
              // A new agent on the same connection (guest reboot, agent
              // restart): the old sessions are gone; reset the stream.
              restarted = true;
              break;
            }
            hello_seen = true;
            wire::WireReader rd(fr.payload);
            rd.U32();
            std::string host = rd.Str();
            if (rd.ok()) hostname_ = host;
            spdlog::info("agent of {} is up (guest {})", name_, hostname_);
            continue;
          }
          auto it = sessions_.find(fr.session);
          if (it == sessions_.end()) continue;
          s = it->second;
        }
        // Back-pressure: wait for a slow consumer without looking dead.
        while (!s->PushWait(&fr, absl::Milliseconds(500)) && !stop_) {
          absl::MutexLock l(&mu_);
          last_seen_ = absl::Now();
        }
      }
      if (restarted) {
        why = "the guest's agent restarted";
        spdlog::info("agent of {} restarted: reconnecting", name_);
        break;
      }
      if (!err.empty()) {
        why = "agent protocol error: " + err;
        spdlog::warn("agent channel {}: {}", name_, why);
        break;
      }
    }
    Drop(absl::StrCat(why, " (", name_, ")"));
    usleep(300 * 1000);
  }
}

}  // namespace cloonix
