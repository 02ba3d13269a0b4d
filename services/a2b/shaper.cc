#include "services/a2b/shaper.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace cloonix {

namespace {
constexpr uint32_t kDefaultQueuePackets = 1000;
constexpr uint64_t kDefaultQueueBytes = 1500000;
}  // namespace

absl::StatusOr<ShaperSettings> CompileA2bSettings(
    const cloonix::v1::A2bSettings& s) {
  if (auto st = ValidateA2bSettings(s); !st.ok()) return st;
  ShaperSettings c;
  c.delay_ns = static_cast<uint64_t>(std::llround(s.delay_ms() * 1e6));
  c.jitter_ns = static_cast<uint64_t>(std::llround(s.jitter_ms() * 1e6));
  c.allow_reorder = s.allow_reorder();
  if (s.loss_percent() >= 100) {
    c.loss_all = true;
  } else {
    c.loss_threshold =
        static_cast<uint64_t>(std::ldexp(s.loss_percent() / 100.0, 64));
  }
  c.rate_bytes_per_s = s.rate_kbps() * 1000 / 8;
  double two_ms = c.rate_bytes_per_s * 0.002;
  c.burst_bytes =
      s.burst_bytes() > 0 ? s.burst_bytes() : std::max(3000.0, two_ms);
  c.queue_packets =
      s.queue_packets() > 0 ? s.queue_packets() : kDefaultQueuePackets;
  c.queue_bytes = s.queue_bytes() > 0 ? s.queue_bytes() : kDefaultQueueBytes;
  return c;
}

void ShaperCounters::ToProto(cloonix::v1::A2bCounters* c) const {
  auto r = std::memory_order_relaxed;
  c->set_rx_packets(rx_packets.load(r));
  c->set_rx_bytes(rx_bytes.load(r));
  c->set_tx_packets(tx_packets.load(r));
  c->set_tx_bytes(tx_bytes.load(r));
  c->set_drop_loss(drop_loss.load(r));
  c->set_drop_queue(drop_queue.load(r));
  c->set_drop_tx(drop_tx.load(r));
  c->set_queued_packets(queued_packets.load(r));
}

Shaper::Shaper(uint64_t seed) {
  // splitmix64 to seed xorshift128+.
  auto mix = [&seed]() {
    uint64_t z = (seed += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  };
  rng_[0] = mix();
  rng_[1] = mix();
}

uint64_t Shaper::Random() {
  uint64_t s1 = rng_[0];
  const uint64_t s0 = rng_[1];
  rng_[0] = s0;
  s1 ^= s1 << 23;
  rng_[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
  return rng_[1] + s0;
}

bool Shaper::ToDelayLine(Packet p, uint64_t now, const ShaperSettings& s) {
  if (delay_line_.size() >= kMaxDelayLine ||
      delay_bytes_ + p.len > kMaxDelayBytes) {
    Add(counters.drop_queue, 1);
    return false;
  }
  uint64_t depart = now + s.delay_ns;
  if (s.jitter_ns > 0) {
    uint64_t span = 2 * s.jitter_ns + 1;
    int64_t offset = static_cast<int64_t>(Random() % span) -
                     static_cast<int64_t>(s.jitter_ns);
    depart = offset < 0 && static_cast<uint64_t>(-offset) > depart - now
                 ? now
                 : depart + offset;
  }
  if (!s.allow_reorder && depart < last_depart_) depart = last_depart_;
  last_depart_ = std::max(last_depart_, depart);
  delay_line_.push({depart, seq_++, p});
  delay_bytes_ += p.len;
  return true;
}

bool Shaper::Offer(Packet p, uint64_t now, const ShaperSettings& s) {
  Add(counters.rx_packets, 1);
  Add(counters.rx_bytes, p.len);
  if (s.loss_all || (s.loss_threshold > 0 && Random() < s.loss_threshold)) {
    Add(counters.drop_loss, 1);
    return false;
  }
  bool held;
  if (s.rate_bytes_per_s == 0 && rate_queue_.empty()) {
    held = ToDelayLine(p, now, s);
  } else if (rate_queue_.size() >= s.queue_packets ||
             rate_queued_bytes_ + p.len > s.queue_bytes) {
    Add(counters.drop_queue, 1);
    held = false;
  } else {
    rate_queue_.push_back(p);
    rate_queued_bytes_ += p.len;
    held = true;
  }
  UpdateQueued();
  return held;
}

void Shaper::Refill(uint64_t now, const ShaperSettings& s) {
  if (!refilled_once_) {
    tokens_ = s.burst_bytes;
    refilled_once_ = true;
  } else if (now > last_refill_) {
    tokens_ +=
        static_cast<double>(now - last_refill_) * 1e-9 * s.rate_bytes_per_s;
  }
  tokens_ = std::min(tokens_, s.burst_bytes);
  last_refill_ = now;
}

size_t Shaper::Due(uint64_t now, const ShaperSettings& s, Packet* out,
                   size_t max) {
  if (!rate_queue_.empty()) {
    if (s.rate_bytes_per_s == 0) {
      // The limit was lifted: release the queue at once, in order.
      while (!rate_queue_.empty()) {
        Packet p = rate_queue_.front();
        rate_queue_.pop_front();
        rate_queued_bytes_ -= p.len;
        if (!ToDelayLine(p, now, s)) dropped_.push_back(p);
      }
    } else {
      Refill(now, s);
      while (!rate_queue_.empty()) {
        Packet p = rate_queue_.front();
        double need = RateBytes(p.len);
        if (tokens_ < need && tokens_ < s.burst_bytes) break;
        tokens_ -= need;
        rate_queue_.pop_front();
        rate_queued_bytes_ -= p.len;
        if (!ToDelayLine(p, now, s)) dropped_.push_back(p);
      }
    }
  } else if (s.rate_bytes_per_s > 0) {
    Refill(now, s);
  }
  size_t n = 0;
  while (n < max && !delay_line_.empty() && delay_line_.top().depart <= now) {
    out[n++] = delay_line_.top().pkt;
    delay_bytes_ -= delay_line_.top().pkt.len;
    delay_line_.pop();
  }
  UpdateQueued();
  return n;
}

uint64_t Shaper::NextEvent(uint64_t now, const ShaperSettings& s) const {
  uint64_t next = kNever;
  if (!delay_line_.empty()) next = delay_line_.top().depart;
  if (!rate_queue_.empty()) {
    if (s.rate_bytes_per_s == 0) return now;
    double need =
        std::min<double>(RateBytes(rate_queue_.front().len), s.burst_bytes);
    double missing = need - tokens_;
    uint64_t wait =
        missing <= 0
            ? 0
            : static_cast<uint64_t>(missing * 1e9 / s.rate_bytes_per_s) + 1;
    next = std::min(next, now + wait);
  }
  return next;
}

}  // namespace cloonix
