// The impairment of one a2b direction, independent of DPDK: loss, then a
// token-bucket rate queue with packet and byte limits, then a time-ordered
// delay line (delay + uniform jitter, no reordering unless allowed).
// Packets are opaque handles with a length; time is nanoseconds of a
// monotonic clock passed in by the caller. Single-threaded (the worker);
// counters are atomics so that other threads can read them.
#ifndef CLOONIX_SERVICES_A2B_SHAPER_H_
#define CLOONIX_SERVICES_A2B_SHAPER_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <queue>
#include <vector>

#include "absl/status/statusor.h"
#include "cloonix/v1/topology.pb.h"
#include "common/a2b_settings.h"

namespace cloonix {

// A2bSettings compiled for the packet path.
struct ShaperSettings {
  uint64_t delay_ns = 0;
  uint64_t jitter_ns = 0;
  bool allow_reorder = false;
  // Drop when a uniform 64-bit random number is below this; drop all when
  // loss_all.
  uint64_t loss_threshold = 0;
  bool loss_all = false;
  uint64_t rate_bytes_per_s = 0;  // 0: no rate limit
  double burst_bytes = 0;
  uint32_t queue_packets = 0;
  uint64_t queue_bytes = 0;
};

// Whether `s` must see each frame on its own: loss, jitter and rate act per
// packet, so a TSO/GSO super-frame (up to 64 KB, ~45 frames) would be lost,
// delayed or rated as one. A clean or delay-only direction does not.
inline bool ActsOnFrames(const ShaperSettings& s) {
  return s.loss_all || s.loss_threshold > 0 || s.jitter_ns > 0 ||
         s.rate_bytes_per_s > 0;
}

// Validates (common/a2b_settings.h), fills defaults, converts units.
absl::StatusOr<ShaperSettings> CompileA2bSettings(
    const cloonix::v1::A2bSettings& s);

// Bytes counted by the rate limit: the frame after its Ethernet header.
inline uint32_t RateBytes(uint32_t frame_len) {
  return frame_len > 14 ? frame_len - 14 : frame_len;
}

struct ShaperCounters {
  std::atomic<uint64_t> rx_packets{0}, rx_bytes{0}, tx_packets{0}, tx_bytes{0};
  std::atomic<uint64_t> drop_loss{0}, drop_queue{0}, drop_tx{0};
  std::atomic<uint64_t> queued_packets{0};
  void ToProto(cloonix::v1::A2bCounters* c) const;
};

class Shaper {
 public:
  struct Packet {
    void* handle;
    uint32_t len;  // frame length, bytes
  };
  static constexpr size_t kMaxDelayLine = 1 << 20;
  // Bytes the delay line holds at most (packets are up to 64 KB TSO
  // super-frames on a clean or delay-only direction): past it, drop_queue.
  static constexpr uint64_t kMaxDelayBytes = 256ull << 20;
  static constexpr uint64_t kNever = UINT64_MAX;

  explicit Shaper(uint64_t seed = 0x9e3779b97f4a7c15ull);

  // A packet arrived at `now`. Returns false if it is dropped (the caller
  // frees it); true if the shaper holds it.
  bool Offer(Packet p, uint64_t now, const ShaperSettings& s);
  // Moves the packets due at `now` into `out` (at most `max`), oldest first.
  size_t Due(uint64_t now, const ShaperSettings& s, Packet* out, size_t max);
  // When the next packet may become due; kNever if none is held.
  uint64_t NextEvent(uint64_t now, const ShaperSettings& s) const;
  // Hands every held packet to `release` (deletion of the a2b).
  template <typename F>
  void DrainAll(F release) {
    for (auto& p : rate_queue_) release(p);
    rate_queue_.clear();
    while (!delay_line_.empty()) {
      release(delay_line_.top().pkt);
      delay_line_.pop();
    }
    delay_bytes_ = 0;
    rate_queued_bytes_ = 0;
    counters.queued_packets.store(0, std::memory_order_relaxed);
  }
  // Hands packets dropped inside Due (delay line full) to `release`.
  template <typename F>
  void ReleaseDropped(F release) {
    for (auto& p : dropped_) release(p);
    dropped_.clear();
  }
  size_t held() const { return rate_queue_.size() + delay_line_.size(); }

  ShaperCounters counters;

 private:
  struct Delayed {
    uint64_t depart;
    uint64_t seq;
    Packet pkt;
    bool operator>(const Delayed& o) const {
      return depart != o.depart ? depart > o.depart : seq > o.seq;
    }
  };
  uint64_t Random();
  bool ToDelayLine(Packet p, uint64_t now, const ShaperSettings& s);
  void Refill(uint64_t now, const ShaperSettings& s);
  static void Add(std::atomic<uint64_t>& c, uint64_t v) {
    c.store(c.load(std::memory_order_relaxed) + v, std::memory_order_relaxed);
  }
  void UpdateQueued() {
    counters.queued_packets.store(held(), std::memory_order_relaxed);
  }

  uint64_t rng_[2];
  std::deque<Packet> rate_queue_;
  uint64_t rate_queued_bytes_ = 0;
  double tokens_ = 0;
  uint64_t last_refill_ = 0;
  bool refilled_once_ = false;
  std::priority_queue<Delayed, std::vector<Delayed>, std::greater<Delayed>>
      delay_line_;
  uint64_t delay_bytes_ = 0;
  uint64_t last_depart_ = 0;
  uint64_t seq_ = 0;
  std::vector<Packet> dropped_;
};

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_A2B_SHAPER_H_
