#include "common/fd_watcher.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace cloonix {

FdWatcher* FdWatcher::Default() {
  static FdWatcher* w = new FdWatcher();
  return w;
}

FdWatcher::FdWatcher() {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  struct epoll_event ev = {};
  ev.events = EPOLLIN;
  ev.data.fd = wake_fd_;
  epoll_ctl(epfd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  thread_ = std::thread([this] { Loop(); });
  loop_id_ = thread_.get_id();
}

FdWatcher::~FdWatcher() {
  uint64_t one = 1;
  if (write(wake_fd_, &one, sizeof(one)) < 0) {
  }
  thread_.join();
  close(wake_fd_);
  close(epfd_);
}

absl::Status FdWatcher::Add(int fd, Callback cb) {
  absl::MutexLock l(&mu_);
  if (watches_.count(fd) != 0)
    return absl::AlreadyExistsError(absl::StrCat("fd ", fd, " is watched"));
  struct epoll_event ev = {};
  ev.events = EPOLLONESHOT;  // disarmed until Arm()
  ev.data.fd = fd;
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    return absl::InternalError(
        absl::StrCat("cannot watch fd ", fd, ": ", std::strerror(errno)));
  }
  watches_[fd] = std::make_shared<Watch>(Watch{std::move(cb)});
  return absl::OkStatus();
}

void FdWatcher::Arm(int fd, uint32_t events) {
  absl::MutexLock l(&mu_);
  if (watches_.count(fd) == 0) return;
  struct epoll_event ev = {};
  ev.events = events | EPOLLONESHOT;
  ev.data.fd = fd;
  epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev);
}

void FdWatcher::Remove(int fd) {
  absl::MutexLock l(&mu_);
  if (watches_.erase(fd) == 0) return;
  epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
  if (std::this_thread::get_id() == loop_id_) return;
  struct NotRunning {
    const FdWatcher* w;
    int fd;
    bool Check() const ABSL_NO_THREAD_SAFETY_ANALYSIS {
      return w->running_ != fd;
    }
  } cond{this, fd};
  mu_.Await(absl::Condition(&cond, &NotRunning::Check));
}

void FdWatcher::Loop() {
  struct epoll_event evs[64];
  for (;;) {
    int n = epoll_wait(epfd_, evs, 64, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    for (int i = 0; i < n; ++i) {
      int fd = evs[i].data.fd;
      if (fd == wake_fd_) return;
      std::shared_ptr<Watch> w;
      {
        absl::MutexLock l(&mu_);
        auto it = watches_.find(fd);
        if (it == watches_.end()) continue;  // removed meanwhile
        w = it->second;
        running_ = fd;
      }
      w->cb(evs[i].events);
      absl::MutexLock l(&mu_);
      running_ = -1;
    }
  }
}

}  // namespace cloonix
