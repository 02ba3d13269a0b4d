// absl::Notification::Notify aborts (in non-NDEBUG builds) when called twice;
// shutdown can be requested by a signal and by an RPC at the same time.
#ifndef CLOONIX_COMMON_NOTIFY_ONCE_H_
#define CLOONIX_COMMON_NOTIFY_ONCE_H_

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"

namespace cloonix {

// Notifies `n` unless it already was; safe from any number of threads.
inline void NotifyOnce(absl::Notification* n) {
  static absl::Mutex mu(absl::kConstInit);
  absl::MutexLock l(&mu);
  if (!n->HasBeenNotified()) n->Notify();
}

}  // namespace cloonix

#endif  // CLOONIX_COMMON_NOTIFY_ONCE_H_
