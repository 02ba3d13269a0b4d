// A few threads for blocking work (synchronous RPCs, process waits) that
// gRPC callback reactors hand off: a reaction must never block, or the
// threads that complete the calls it waits for starve (seen in cnt_runner:
// two Exec starts at once, each in a synchronous containerd call from
// OnReadDone, hung until their 30 s deadline on 2 cores).
#ifndef CLOONIX_COMMON_BLOCKING_POOL_H_
#define CLOONIX_COMMON_BLOCKING_POOL_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace cloonix {

class BlockingPool {
 public:
  // `threads` run the tasks in arrival order.
  explicit BlockingPool(int threads);
  // Runs the tasks already queued, then joins the threads.
  ~BlockingPool();
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  // The process's pool (16 threads), never destroyed.
  static BlockingPool* Default();

  void Run(std::function<void()> task);

 private:
  void Loop();

  absl::Mutex mu_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace cloonix

#endif  // CLOONIX_COMMON_BLOCKING_POOL_H_
