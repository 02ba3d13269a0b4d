#include "common/supervisor.h"

#include <signal.h>

#include <atomic>
#include <cstdlib>

#include "common/process.h"
#include "gtest/gtest.h"

namespace cloonix {
namespace {

// Unix socket paths are limited to 107 bytes: Bazel's TEST_TMPDIR is too
// deep, so use a short private dir under /tmp, removed at exit.
// A plain buffer: the exit handler must not read a function-local static
// std::string, which is destroyed before it runs.
char g_tmp_dir[32] = "/tmp/cxsup.XXXXXX";

std::string TmpDir() {
  static const bool made = [] {
    if (mkdtemp(g_tmp_dir) == nullptr) std::abort();
    std::atexit([] { RemoveTree(g_tmp_dir).IgnoreError(); });
    return true;
  }();
  (void)made;
  return g_tmp_dir;
}

ServiceSpec Spec(const std::string& dir) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  std::string bin = std::string(srcdir != nullptr ? srcdir : ".") +
                    "/cloonix/common/health_server_for_test";
  return {"fake",
          {bin, "--socket=" + dir + "/fake.sock"},
          dir + "/fake.sock",
          dir + "/fake.pid",
          dir + "/fake.log"};
}

TEST(SupervisorTest, StartsRestartsAfterKillAndStops) {
  std::string dir = TmpDir() + "/sup1";
  ASSERT_TRUE(MakeDirs(dir).ok());
  std::atomic<int> restarts{0};
  Supervisor sup({Spec(dir)}, [&](const std::string& name) {
    EXPECT_EQ(name, "fake");
    ++restarts;
  });
  ASSERT_TRUE(sup.StartAll(absl::Seconds(10)).ok());
  auto st = sup.Status();
  ASSERT_EQ(st.size(), 1u);
  EXPECT_TRUE(st[0].healthy);
  pid_t first = st[0].pid;
  EXPECT_EQ(ReadPidFile(dir + "/fake.pid"), first);
  sup.Watch();
  kill(first, SIGKILL);
  absl::Time deadline = absl::Now() + absl::Seconds(15);
  while (restarts == 0 && absl::Now() < deadline)
    absl::SleepFor(absl::Milliseconds(50));
  ASSERT_EQ(restarts, 1);
  st = sup.Status();
  EXPECT_NE(st[0].pid, first);
  EXPECT_TRUE(st[0].healthy);
  EXPECT_EQ(st[0].restarts, 1);
  pid_t second = st[0].pid;
  sup.StopAll();
  EXPECT_FALSE(ProcessAlive(second));
  EXPECT_EQ(ReadPidFile(dir + "/fake.pid"), 0);  // removed by StopAll
}

TEST(SupervisorTest, AdoptsARunningHealthyService) {
  std::string dir = TmpDir() + "/sup2";
  ASSERT_TRUE(MakeDirs(dir).ok());
  pid_t pid;
  {
    Supervisor first({Spec(dir)}, [](const std::string&) {});
    auto st = first.StartAll(absl::Seconds(10));
    ASSERT_TRUE(st.ok()) << st;
    pid = first.Status()[0].pid;
    // Destroyed without StopAll: the service keeps running, like after a
    // crash of the orchestrator.
  }
  Supervisor second({Spec(dir)}, [](const std::string&) {});
  ASSERT_TRUE(second.StartAll(absl::Seconds(10)).ok());
  EXPECT_EQ(second.Status()[0].pid, pid);
  second.StopAll();
  EXPECT_FALSE(ProcessAlive(pid));
}

TEST(SupervisorTest, ExternalServiceIsWatchedNeverSpawned) {
  std::string dir = TmpDir() + "/sup4";
  ASSERT_TRUE(MakeDirs(dir).ok());
  ServiceSpec s = Spec(dir);
  s.external = true;
  std::atomic<int> back{0};
  Supervisor sup({s}, [&](const std::string&) { ++back; });
  // Nothing listens yet: StartAll waits, then fails, and spawns nothing.
  EXPECT_EQ(sup.StartAll(absl::Milliseconds(300)).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(ReadPidFile(dir + "/fake.pid"), 0);
  auto pid = SpawnDaemon(s.argv, dir + "/ext.log");
  ASSERT_TRUE(pid.ok());
  ASSERT_TRUE(sup.StartAll(absl::Seconds(10)).ok());
  EXPECT_TRUE(sup.Status()[0].healthy);
  EXPECT_EQ(sup.Status()[0].pid, 0);
  sup.Watch();
  kill(*pid, SIGKILL);
  ReapIfExited(*pid);
  absl::SleepFor(absl::Seconds(1));
  EXPECT_FALSE(sup.Status()[0].healthy);
  EXPECT_EQ(sup.Status()[0].restarts, 0);
  auto again = SpawnDaemon(s.argv, dir + "/ext.log");
  ASSERT_TRUE(again.ok());
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (back == 0 && absl::Now() < deadline)
    absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(back, 1);
  sup.StopAll();
  EXPECT_TRUE(ProcessAlive(*again));  // not ours to stop
  TerminateProcess(*again);
}

TEST(SupervisorTest, MissingBinaryFailsWithLogPath) {
  std::string dir = TmpDir() + "/sup3";
  ASSERT_TRUE(MakeDirs(dir).ok());
  ServiceSpec s = Spec(dir);
  s.argv[0] = "/nonexistent/cloonix-nothing";
  Supervisor sup({s}, [](const std::string&) {});
  absl::Status st = sup.StartAll(absl::Seconds(3));
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(std::string(st.message()).find("fake.log"), std::string::npos);
}

}  // namespace
}  // namespace cloonix
