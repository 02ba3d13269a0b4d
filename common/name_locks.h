// One lock per name (a container, a VM): operations on different names run
// in parallel, two on the same name one after the other.
//
//   NameLocks locks;
//   { NameLocks::Hold h = locks.Lock("vm1"); ... }  // released here
#ifndef CLOONIX_COMMON_NAME_LOCKS_H_
#define CLOONIX_COMMON_NAME_LOCKS_H_

#include <set>
#include <string>
#include <utility>

#include "absl/synchronization/mutex.h"

namespace cloonix {

class NameLocks {
 public:
  class Hold {
   public:
    Hold(NameLocks* locks, std::string name)
        : locks_(locks), name_(std::move(name)) {}
    Hold(Hold&& o) noexcept : locks_(o.locks_), name_(std::move(o.name_)) {
      o.locks_ = nullptr;
    }
    Hold(const Hold&) = delete;
    Hold& operator=(const Hold&) = delete;
    Hold& operator=(Hold&&) = delete;
    ~Hold() {
      if (locks_ != nullptr) locks_->Unlock(name_);
    }

   private:
    NameLocks* locks_;
    std::string name_;
  };

  // Waits until no one holds `name`, then holds it until the Hold goes.
  [[nodiscard]] Hold Lock(const std::string& name) {
    absl::MutexLock l(&mu_);
    auto free = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return held_.count(name) == 0;
    };
    mu_.Await(absl::Condition(&free));
    held_.insert(name);
    return Hold(this, name);
  }

 private:
  void Unlock(const std::string& name) {
    absl::MutexLock l(&mu_);
    held_.erase(name);
  }

  absl::Mutex mu_;
  std::set<std::string> held_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cloonix

#endif  // CLOONIX_COMMON_NAME_LOCKS_H_
