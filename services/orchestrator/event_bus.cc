#include "services/orchestrator/event_bus.h"

#include "google/protobuf/util/time_util.h"

namespace cloonix {

namespace {
constexpr size_t kMaxQueue = 10000;
}

bool EventBus::Subscription::Next(cloonix::v1::Event* event,
                                  absl::Duration timeout) {
  absl::MutexLock l(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !queue_.empty() || overflowed_;
  };
  if (!mu_.AwaitWithTimeout(absl::Condition(&ready), timeout)) return false;
  if (overflowed_) return false;
  *event = std::move(queue_.front());
  queue_.pop_front();
  return true;
}

bool EventBus::Subscription::TryNext(cloonix::v1::Event* event) {
  absl::MutexLock l(&mu_);
  if (queue_.empty() || overflowed_) return false;
  *event = std::move(queue_.front());
  queue_.pop_front();
  return true;
}

bool EventBus::Subscription::overflowed() const {
  absl::MutexLock l(&mu_);
  return overflowed_;
}

std::shared_ptr<EventBus::Subscription> EventBus::Subscribe(
    std::function<void()> notify) {
  auto sub = std::make_shared<Subscription>();
  sub->notify_ = std::move(notify);
  absl::MutexLock l(&mu_);
  subs_.insert(sub);
  return sub;
}

void EventBus::Unsubscribe(const std::shared_ptr<Subscription>& sub) {
  absl::MutexLock l(&mu_);
  subs_.erase(sub);
}

void EventBus::Publish(cloonix::v1::EventType type,
                       const cloonix::v1::Item& item) {
  absl::MutexLock l(&mu_);
  cloonix::v1::Event e;
  e.set_type(type);
  *e.mutable_item() = item;
  e.set_seq(++seq_);
  *e.mutable_time() = google::protobuf::util::TimeUtil::GetCurrentTime();
  for (const auto& s : subs_) {
    {
      absl::MutexLock sl(&s->mu_);
      if (s->overflowed_) continue;
      if (s->queue_.size() >= kMaxQueue) {
        s->overflowed_ = true;
        s->queue_.clear();
      } else {
        s->queue_.push_back(e);
      }
    }
    if (s->notify_) s->notify_();
  }
}

uint64_t EventBus::seq() const {
  absl::MutexLock l(&mu_);
  return seq_;
}

}  // namespace cloonix
