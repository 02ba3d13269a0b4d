#include "services/a2b/shaper.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cloonix {
namespace {

using ::testing::HasSubstr;
namespace v1 = cloonix::v1;

constexpr uint64_t kMs = 1000000;

ShaperSettings Compile(const v1::A2bSettings& s) {
  auto c = CompileA2bSettings(s);
  EXPECT_TRUE(c.ok()) << c.status();
  return *c;
}

Shaper::Packet Pkt(uintptr_t id, uint32_t len = 1514) {
  return {reinterpret_cast<void*>(id), len};
}

uintptr_t Id(const Shaper::Packet& p) {
  return reinterpret_cast<uintptr_t>(p.handle);
}

TEST(ShaperSettingsTest, RejectsBadValuesWithTheFieldName) {
  v1::A2bSettings s;
  s.set_delay_ms(-1);
  EXPECT_THAT(std::string(ValidateA2bSettings(s).message()),
              HasSubstr("delay_ms"));
  s.set_delay_ms(0);
  s.set_loss_percent(100.5);
  EXPECT_THAT(std::string(ValidateA2bSettings(s).message()),
              HasSubstr("loss_percent"));
  s.set_loss_percent(NAN);
  EXPECT_EQ(ValidateA2bSettings(s).code(), absl::StatusCode::kInvalidArgument);
  s.set_loss_percent(0);
  s.set_jitter_ms(1e9);
  EXPECT_THAT(std::string(ValidateA2bSettings(s).message()),
              HasSubstr("jitter_ms"));
  s.set_jitter_ms(0.5);
  EXPECT_TRUE(ValidateA2bSettings(s).ok());
}

TEST(ShaperSettingsTest, DefaultsAndPatch) {
  v1::A2bSettings s;
  s.set_rate_kbps(100000);  // 12.5 MB/s: 2 ms = 25000 bytes
  ShaperSettings c = Compile(s);
  EXPECT_EQ(c.rate_bytes_per_s, 12500000u);
  EXPECT_DOUBLE_EQ(c.burst_bytes, 25000);
  EXPECT_EQ(c.queue_packets, 1000u);
  v1::A2bSettingsPatch p;
  p.set_delay_ms(20.25);
  ApplyA2bPatch(p, &s);
  EXPECT_EQ(s.rate_kbps(), 100000u);  // untouched
  EXPECT_EQ(Compile(s).delay_ns, 20250000u);
}

TEST(ShaperSettingsTest, OnlyLossJitterAndRateActOnFrames) {
  EXPECT_FALSE(ActsOnFrames(Compile(v1::A2bSettings())));
  v1::A2bSettings s;
  s.set_delay_ms(50);
  EXPECT_FALSE(ActsOnFrames(Compile(s)));  // delay-only keeps super-frames
  v1::A2bSettings loss;
  loss.set_loss_percent(0.1);
  EXPECT_TRUE(ActsOnFrames(Compile(loss)));
  v1::A2bSettings all;
  all.set_loss_percent(100);
  EXPECT_TRUE(ActsOnFrames(Compile(all)));
  v1::A2bSettings jitter;
  jitter.set_delay_ms(10);
  jitter.set_jitter_ms(1);
  EXPECT_TRUE(ActsOnFrames(Compile(jitter)));
  v1::A2bSettings rate;
  rate.set_rate_kbps(1000);
  EXPECT_TRUE(ActsOnFrames(Compile(rate)));
}

TEST(ShaperTest, DelayLineHoldsAtMostItsByteCap) {
  Shaper sh;
  v1::A2bSettings set;
  set.set_delay_ms(1000);
  ShaperSettings s = Compile(set);
  const uint32_t kSuper = 65536;  // a TSO super-frame
  size_t fit = Shaper::kMaxDelayBytes / kSuper;
  for (uintptr_t i = 1; i <= fit; ++i)
    ASSERT_TRUE(sh.Offer(Pkt(i, kSuper), 0, s));
  EXPECT_FALSE(sh.Offer(Pkt(fit + 1, kSuper), 0, s));
  EXPECT_EQ(sh.counters.drop_queue.load(), 1u);
  // Once they leave, there is room again.
  std::vector<Shaper::Packet> out(fit);
  size_t n = 0;
  while (n < fit) {
    size_t k = sh.Due(2000000000ull, s, out.data() + n, fit - n);
    ASSERT_GT(k, 0u);
    n += k;
  }
  EXPECT_TRUE(sh.Offer(Pkt(fit + 2, kSuper), 0, s));
}

TEST(ShaperTest, CleanLinkPassesAtOnceInOrder) {
  Shaper sh;
  ShaperSettings s = Compile(v1::A2bSettings());
  for (uintptr_t i = 1; i <= 5; ++i) ASSERT_TRUE(sh.Offer(Pkt(i), 100, s));
  Shaper::Packet out[8];
  ASSERT_EQ(sh.Due(100, s, out, 8), 5u);
  for (uintptr_t i = 0; i < 5; ++i) EXPECT_EQ(Id(out[i]), i + 1);
  EXPECT_EQ(sh.NextEvent(100, s), Shaper::kNever);
  EXPECT_EQ(sh.counters.rx_packets.load(), 5u);
}

TEST(ShaperTest, DelayHoldsUntilDue) {
  Shaper sh;
  v1::A2bSettings set;
  set.set_delay_ms(20);
  ShaperSettings s = Compile(set);
  ASSERT_TRUE(sh.Offer(Pkt(1), 1000, s));
  Shaper::Packet out[4];
  EXPECT_EQ(sh.Due(1000 + 20 * kMs - 1, s, out, 4), 0u);
  EXPECT_EQ(sh.NextEvent(1000, s), 1000 + 20 * kMs);
  EXPECT_EQ(sh.Due(1000 + 20 * kMs, s, out, 4), 1u);
}

TEST(ShaperTest, JitterIsUniformWithinBoundsAndDoesNotReorder) {
  Shaper sh(42);
  v1::A2bSettings set;
  set.set_delay_ms(10);
  set.set_jitter_ms(5);
  ShaperSettings s = Compile(set);
  const int n = 20000;
  for (int i = 0; i < n; ++i)
    ASSERT_TRUE(sh.Offer(Pkt(i + 1, 100), i * 1000, s));
  std::vector<uintptr_t> order;
  Shaper::Packet out[64];
  for (uint64_t t = 0; t < 100 * kMs; t += 10000) {
    size_t k = sh.Due(t, s, out, 64);
    for (size_t j = 0; j < k; ++j) order.push_back(Id(out[j]));
  }
  ASSERT_EQ(order.size(), static_cast<size_t>(n));
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
}

TEST(ShaperTest, JitterWithReorderSpreadsDelays) {
  Shaper sh(7);
  v1::A2bSettings set;
  set.set_delay_ms(10);
  set.set_jitter_ms(5);
  set.set_allow_reorder(true);
  ShaperSettings s = Compile(set);
  const int n = 20000;
  // All offered at t=0: each departs at its own delay.
  for (int i = 0; i < n; ++i) ASSERT_TRUE(sh.Offer(Pkt(i + 1, 100), 0, s));
  Shaper::Packet out[64];
  double sum = 0;
  uint64_t lo = UINT64_MAX, hi = 0;
  int got = 0;
  for (uint64_t t = 0; t <= 16 * kMs; t += 100000) {
    size_t k = sh.Due(t, s, out, 64);
    while (k > 0) {
      got += k;
      sum += t * k;
      lo = std::min(lo, t);
      hi = std::max(hi, t);
      k = sh.Due(t, s, out, 64);
    }
  }
  ASSERT_EQ(got, n);
  EXPECT_NEAR(sum / n / kMs, 10.0, 0.2);
  EXPECT_LE(hi, 15 * kMs);
  EXPECT_GE(lo, 5 * kMs - 100000);
}

TEST(ShaperTest, LossRateIsCloseToTheSetting) {
  Shaper sh(1);
  v1::A2bSettings set;
  set.set_loss_percent(10);
  ShaperSettings s = Compile(set);
  const int n = 100000;
  int kept = 0;
  Shaper::Packet out[1];
  for (int i = 0; i < n; ++i) {
    if (sh.Offer(Pkt(i + 1), i, s)) {
      ++kept;
      sh.Due(i, s, out, 1);
    }
  }
  EXPECT_NEAR(1.0 - static_cast<double>(kept) / n, 0.10, 0.005);
  EXPECT_EQ(sh.counters.drop_loss.load(), static_cast<uint64_t>(n - kept));
  set.set_loss_percent(100);
  EXPECT_FALSE(sh.Offer(Pkt(1), 0, Compile(set)));
}

TEST(ShaperTest, RateLimitsThroughput) {
  Shaper sh;
  v1::A2bSettings set;
  set.set_rate_kbps(10000);  // 1.25 MB/s
  set.set_queue_packets(100000);
  set.set_queue_bytes(1000000000);
  ShaperSettings s = Compile(set);
  // Offer 2 s worth at 10x the rate, 1514-byte frames.
  uint64_t sent_bytes = 0;
  Shaper::Packet out[64];
  const uint64_t end = 2000 * kMs;
  uintptr_t id = 1;
  for (uint64_t t = 0; t < end; t += 100000) {  // every 100 us
    for (int k = 0; k < 10; ++k) sh.Offer(Pkt(id++), t, s);
    size_t n = sh.Due(t, s, out, 64);
    while (n > 0) {
      for (size_t j = 0; j < n; ++j) sent_bytes += RateBytes(out[j].len);
      n = sh.Due(t, s, out, 64);
    }
  }
  double rate = sent_bytes * 8.0 / 2.0 / 1000.0;  // kbit/s
  EXPECT_NEAR(rate, 10000, 10000 * 0.02);
}

TEST(ShaperTest, QueueLimitDropsAndCounts) {
  Shaper sh;
  v1::A2bSettings set;
  set.set_rate_kbps(8);  // 1000 B/s: nothing leaves during the test
  set.set_queue_packets(3);
  set.set_burst_bytes(1);
  ShaperSettings s = Compile(set);
  int held = 0;
  for (int i = 0; i < 10; ++i) held += sh.Offer(Pkt(i + 1), 0, s);
  // The first leaves at once (full bucket), then 3 wait in the queue.
  Shaper::Packet out[4];
  EXPECT_LE(sh.Due(0, s, out, 4), 1u);
  EXPECT_EQ(held, 3);
  EXPECT_EQ(sh.counters.drop_queue.load(), 7u);
  std::vector<uintptr_t> freed;
  sh.DrainAll([&](Shaper::Packet p) { freed.push_back(Id(p)); });
  EXPECT_EQ(sh.held(), 0u);
}

TEST(ShaperTest, LiftingTheRateReleasesTheQueueInOrder) {
  Shaper sh;
  v1::A2bSettings set;
  set.set_rate_kbps(8);
  set.set_burst_bytes(1);
  ShaperSettings slow = Compile(set);
  for (uintptr_t i = 1; i <= 5; ++i) ASSERT_TRUE(sh.Offer(Pkt(i), 0, slow));
  Shaper::Packet out[8];
  size_t first = sh.Due(0, slow, out, 8);
  ShaperSettings clean = Compile(v1::A2bSettings());
  size_t rest = sh.Due(1, clean, out + first, 8 - first);
  ASSERT_EQ(first + rest, 5u);
  for (uintptr_t i = 0; i < 5; ++i) EXPECT_EQ(Id(out[i]), i + 1);
}

}  // namespace
}  // namespace cloonix
