#include "common/fd_watcher.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <atomic>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace cloonix {
namespace {

TEST(FdWatcherTest, CallsBackOncePerArm) {
  FdWatcher w;
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  std::atomic<int> calls{0};
  absl::Notification first;
  ASSERT_TRUE(w.Add(p[0], [&](uint32_t ev) {
                 EXPECT_TRUE(ev & EPOLLIN);
                 if (++calls == 1) first.Notify();
               }).ok());
  ASSERT_EQ(write(p[1], "x", 1), 1);
  usleep(50 * 1000);
  EXPECT_EQ(calls, 0) << "not armed yet";
  w.Arm(p[0], EPOLLIN);
  ASSERT_TRUE(first.WaitForNotificationWithTimeout(absl::Seconds(5)));
  usleep(50 * 1000);
  EXPECT_EQ(calls, 1) << "one-shot: readable still, but not re-armed";
  w.Remove(p[0]);
  close(p[0]);
  close(p[1]);
}

TEST(FdWatcherTest, HangupWakesAndRemoveWaitsForTheCallback) {
  FdWatcher w;
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  absl::Notification in_cb, release;
  std::atomic<bool> finished{false};
  ASSERT_TRUE(w.Add(p[0], [&](uint32_t ev) {
                 EXPECT_TRUE(ev & EPOLLHUP);
                 in_cb.Notify();
                 release.WaitForNotification();
                 finished = true;
               }).ok());
  w.Arm(p[0], EPOLLIN);
  close(p[1]);
  ASSERT_TRUE(in_cb.WaitForNotificationWithTimeout(absl::Seconds(5)));
  std::thread t([&] {
    usleep(100 * 1000);
    release.Notify();
  });
  w.Remove(p[0]);
  EXPECT_TRUE(finished) << "Remove returned while the callback ran";
  t.join();
  close(p[0]);
}

TEST(FdWatcherTest, RefusesWhatEpollCannotWatchAndDoubles) {
  FdWatcher w;
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  ASSERT_TRUE(w.Add(p[0], [](uint32_t) {}).ok());
  EXPECT_TRUE(absl::IsAlreadyExists(w.Add(p[0], [](uint32_t) {})));
  EXPECT_FALSE(w.Add(-1, [](uint32_t) {}).ok());
  w.Remove(p[0]);
  w.Remove(p[0]);  // idempotent
  close(p[0]);
  close(p[1]);
}

}  // namespace
}  // namespace cloonix
