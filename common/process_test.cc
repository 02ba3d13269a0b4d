#include "common/process.h"

#include <cstdlib>

#include "common/atomic_file.h"
#include "gtest/gtest.h"

namespace cloonix {
namespace {

std::string TmpDir() {
  const char* t = std::getenv("TEST_TMPDIR");
  return t ? t : "/tmp";
}

TEST(ProcessTest, SpawnLogsAndTerminates) {
  std::string log = TmpDir() + "/d.log";
  auto pid = SpawnDaemon({"sh", "-c", "echo started; exec sleep 30"}, log);
  ASSERT_TRUE(pid.ok()) << pid.status();
  EXPECT_TRUE(ProcessAlive(*pid));
  absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (absl::Now() < deadline && ReadFile(log).value_or("").empty()) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(ReadFile(log).value_or(""), "started\n");
  absl::SleepFor(absl::Milliseconds(100));  // let sh exec sleep
  EXPECT_TRUE(ProcessAlive(*pid, "sleep"));
  EXPECT_FALSE(ProcessAlive(*pid, "not-this-binary"));
  TerminateProcess(*pid, absl::Seconds(2));
  EXPECT_FALSE(ProcessAlive(*pid));
}

TEST(ProcessTest, PidFileRoundTrip) {
  std::string f = TmpDir() + "/x.pid";
  EXPECT_EQ(ReadPidFile(f), 0);
  ASSERT_TRUE(WritePidFile(f, 1234).ok());
  EXPECT_EQ(ReadPidFile(f), 1234);
  ASSERT_TRUE(WriteFileAtomic(f, "garbage").ok());
  EXPECT_EQ(ReadPidFile(f), 0);
}

TEST(ProcessTest, MakeDirsAndRemoveTree) {
  std::string d = TmpDir() + "/a/b/c";
  ASSERT_TRUE(MakeDirs(d).ok());
  ASSERT_TRUE(WriteFileAtomic(d + "/f", "x").ok());
  ASSERT_TRUE(RemoveTree(TmpDir() + "/a").ok());
  EXPECT_FALSE(ReadFile(d + "/f").ok());
  EXPECT_TRUE(RemoveTree(TmpDir() + "/a").ok());
}

}  // namespace
}  // namespace cloonix
