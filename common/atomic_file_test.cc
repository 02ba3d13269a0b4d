#include "common/atomic_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "gtest/gtest.h"

namespace cloonix {
namespace {

std::string TmpDir() {
  const char* t = std::getenv("TEST_TMPDIR");
  return t ? t : "/tmp";
}

TEST(AtomicFileTest, WriteThenReadWithMode) {
  std::string path = TmpDir() + "/state.json";
  ASSERT_TRUE(WriteFileAtomic(path, "one").ok());
  ASSERT_TRUE(WriteFileAtomic(path, "two").ok());
  auto content = ReadFile(path);
  ASSERT_TRUE(content.ok());
  EXPECT_EQ(*content, "two");
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_NE(access((path + ".tmp").c_str(), F_OK), 0);
}

TEST(AtomicFileTest, MissingFileIsNotFound) {
  EXPECT_EQ(ReadFile(TmpDir() + "/absent").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(AtomicFileTest, UnwritableDirFailsAndLeavesNothing) {
  absl::Status s = WriteFileAtomic("/nonexistent-dir/x", "y");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace cloonix
