// Fan-out of topology events to WatchEvents streams. Each subscription has
// its own bounded queue; a subscriber that falls 10000 events behind is
// closed (its stream ends with RESOURCE_EXHAUSTED) rather than slowing the
// net down.
#ifndef CLOONIX_SERVICES_ORCHESTRATOR_EVENT_BUS_H_
#define CLOONIX_SERVICES_ORCHESTRATOR_EVENT_BUS_H_

#include <deque>
#include <functional>
#include <memory>
#include <set>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cloonix/v1/topology.pb.h"

namespace cloonix {

class EventBus {
 public:
  class Subscription {
   public:
    // Waits up to `timeout` for the next event. Returns false on timeout or
    // when closed (then overflowed() tells why).
    bool Next(cloonix::v1::Event* event, absl::Duration timeout);
    // Non-blocking Next.
    bool TryNext(cloonix::v1::Event* event);
    bool overflowed() const;

   private:
    friend class EventBus;
    // Called (with the bus locked, so never after Unsubscribe returns) when
    // an event is queued or the subscription overflows.
    std::function<void()> notify_;
    mutable absl::Mutex mu_;
    std::deque<cloonix::v1::Event> queue_ ABSL_GUARDED_BY(mu_);
    bool overflowed_ ABSL_GUARDED_BY(mu_) = false;
  };

  // `notify`, if set, is called after each queued event; it must not call
  // back into the bus.
  std::shared_ptr<Subscription> Subscribe(
      std::function<void()> notify = nullptr);
  void Unsubscribe(const std::shared_ptr<Subscription>& sub);
  // Stamps seq and time, then queues the event for every subscriber.
  void Publish(cloonix::v1::EventType type, const cloonix::v1::Item& item);
  uint64_t seq() const;

 private:
  mutable absl::Mutex mu_;
  std::set<std::shared_ptr<Subscription>> subs_ ABSL_GUARDED_BY(mu_);
  uint64_t seq_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_ORCHESTRATOR_EVENT_BUS_H_
