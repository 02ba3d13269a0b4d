// Readiness callbacks for file descriptors, for gRPC callback reactors that
// relay a pipe, FIFO or socket (cnt_runner's Exec, the doorway's Tunnel):
// one epoll thread per process calls back when a watched fd is readable or
// writable; nothing polls on a timer and no thread waits per stream.
//
// Watches are one-shot: after a callback the fd is disarmed until Arm() asks
// again, so a callback never races the next one for the same fd.
#ifndef CLOONIX_COMMON_FD_WATCHER_H_
#define CLOONIX_COMMON_FD_WATCHER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <thread>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace cloonix {

class FdWatcher {
 public:
  // `events`: what happened (EPOLLIN, EPOLLOUT, EPOLLHUP, EPOLLERR bits).
  using Callback = std::function<void(uint32_t events)>;

  // The process's watcher, started on first use, never destroyed.
  static FdWatcher* Default();

  FdWatcher();
  ~FdWatcher();
  FdWatcher(const FdWatcher&) = delete;
  FdWatcher& operator=(const FdWatcher&) = delete;

  // Starts watching `fd` (not armed yet). INTERNAL if epoll refuses it
  // (e.g. a regular file), ALREADY_EXISTS if it is watched.
  absl::Status Add(int fd, Callback cb);
  // Calls back once when `fd` has any of `events` (EPOLLIN / EPOLLOUT;
  // hang-up and errors always wake). No-op for an fd not watched.
  void Arm(int fd, uint32_t events);
  // Stops watching. On return no callback for `fd` runs or will run, unless
  // Remove is called from that callback itself. Close the fd after this.
  void Remove(int fd);

 private:
  struct Watch {
    Callback cb;
  };
  void Loop();

  int epfd_ = -1;
  int wake_fd_ = -1;  // eventfd: ends the loop
  absl::Mutex mu_;
  std::map<int, std::shared_ptr<Watch>> watches_ ABSL_GUARDED_BY(mu_);
  int running_ ABSL_GUARDED_BY(mu_) = -1;  // fd whose callback runs now
  std::thread::id loop_id_;
  std::thread thread_;
};

}  // namespace cloonix

#endif  // CLOONIX_COMMON_FD_WATCHER_H_
