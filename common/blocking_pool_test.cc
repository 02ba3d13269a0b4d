#include "common/blocking_pool.h"

#include <atomic>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace cloonix {
namespace {

TEST(BlockingPoolTest, RunsEveryTaskEvenWhileOthersBlock) {
  std::atomic<int> ran{0};
  absl::Notification release;
  {
    BlockingPool pool(3);
    // Two tasks block; the others still run on the third thread.
    for (int i = 0; i < 2; ++i) {
      pool.Run([&] {
        release.WaitForNotification();
        ran++;
      });
    }
    absl::Notification last;
    for (int i = 0; i < 100; ++i) pool.Run([&] { ran++; });
    pool.Run([&] { last.Notify(); });
    last.WaitForNotification();
    EXPECT_EQ(ran.load(), 100);
    release.Notify();
  }  // the destructor runs what is queued and joins
  EXPECT_EQ(ran.load(), 102);
}

TEST(BlockingPoolTest, DefaultIsOnePool) {
  EXPECT_EQ(BlockingPool::Default(), BlockingPool::Default());
  absl::Notification done;
  BlockingPool::Default()->Run([&] { done.Notify(); });
  EXPECT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
}

}  // namespace
}  // namespace cloonix
