#include "cli/a2b_args.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cloonix::cli {
namespace {

using ::testing::HasSubstr;

TEST(A2bArgsTest, KeyValueTokens) {
  auto a = ParseA2bArgs(
      {"dir=1", "delay=20.5", "loss=10", "rate=10000", "qsize=50"});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(*a->dir, 1u);
  EXPECT_DOUBLE_EQ(a->patch.delay_ms(), 20.5);
  EXPECT_DOUBLE_EQ(a->patch.loss_percent(), 10);
  EXPECT_EQ(a->patch.rate_kbps(), 10000u);
  EXPECT_EQ(a->patch.queue_packets(), 50u);
  EXPECT_FALSE(a->patch.has_jitter_ms());
}

TEST(A2bArgsTest, ValuesPast32BitsAreRefusedNotWrapped) {
  for (const char* t :
       {"qsize=4294967296", "burst=4294967297", "bsize=99999999999"}) {
    auto a = ParseA2bArgs({t});
    EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument) << t;
    EXPECT_THAT(std::string(a.status().message()), HasSubstr("too large"));
  }
  auto ok = ParseA2bArgs({"qsize=4294967295"});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->patch.queue_packets(), 4294967295u);
  auto rate = ParseA2bArgs({"rate=10000000000"});  // 10 Tbit/s: 64-bit field
  ASSERT_TRUE(rate.ok());
  EXPECT_EQ(rate->patch.rate_kbps(), 10000000000u);
}

TEST(A2bArgsTest, CloonixFormUsesItsLossUnit) {
  auto a = ParseA2bArgs({"dir=0 cmd=loss val=1000"});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(*a->dir, 0u);
  EXPECT_DOUBLE_EQ(a->patch.loss_percent(), 10);
  a = ParseA2bArgs({"dir=0", "cmd=delay", "val=30"});
  ASSERT_TRUE(a.ok());
  EXPECT_DOUBLE_EQ(a->patch.delay_ms(), 30);
}

TEST(A2bArgsTest, CloonixRateIsKilobytesPerSecond) {
  // Cloonix's a2b (sched.c) shapes rate=N to N*1000 bytes/s: 8N kbit/s,
  // with its queue and burst.
  auto a = ParseA2bArgs({"dir=1 cmd=rate val=1250"});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->patch.rate_kbps(), 10000u);
  EXPECT_EQ(a->patch.queue_bytes(), 1250u * 1000 / 4);
  EXPECT_EQ(a->patch.burst_bytes(), 1250u * 125 + 2000);
  a = ParseA2bArgs({"dir=0 cmd=rate val=50"});
  EXPECT_EQ(a->patch.queue_bytes(), 50000u);
  a = ParseA2bArgs({"dir=0 cmd=qsize val=64"});
  EXPECT_EQ(a->patch.queue_bytes(), 64000u);
  a = ParseA2bArgs({"dir=0 cmd=bsize val=3"});
  EXPECT_EQ(a->patch.burst_bytes(), 3000u);
  // The native form keeps kbit/s.
  a = ParseA2bArgs({"dir=0", "rate=1250"});
  EXPECT_EQ(a->patch.rate_kbps(), 1250u);
  // silentms: left to the caller, which knows the rate.
  a = ParseA2bArgs({"dir=0 cmd=silentms val=200"});
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a->silent_ms, 200u);
  EXPECT_FALSE(a->patch.has_burst_bytes());
  EXPECT_EQ(SilentBurstBytes(8000, 200), 200000u);  // 1 MB/s for 0.2 s
  EXPECT_FALSE(ParseA2bArgs({"dir=0 cmd=rate val=-3"}).ok());
}

TEST(A2bArgsTest, BothDirectionsWhenDirIsAbsent) {
  auto a = ParseA2bArgs({"delay=5"});
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->dir.has_value());
}

TEST(A2bArgsTest, Errors) {
  EXPECT_THAT(std::string(ParseA2bArgs({"dir=2"}).status().message()),
              HasSubstr("dir"));
  EXPECT_THAT(std::string(ParseA2bArgs({"speed=3"}).status().message()),
              HasSubstr("unknown a2b setting"));
  EXPECT_THAT(std::string(ParseA2bArgs({"delay=abc"}).status().message()),
              HasSubstr("milliseconds"));
  EXPECT_FALSE(ParseA2bArgs({"delay"}).ok());
  EXPECT_FALSE(ParseA2bArgs({"cmd=loss"}).ok());
  // Negative values parse; the net refuses them with INVALID_ARGUMENT.
  EXPECT_TRUE(ParseA2bArgs({"delay=-1"}).ok());
}

}  // namespace
}  // namespace cloonix::cli
