#include "common/exec.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cloonix {
namespace {

using ::testing::HasSubstr;

TEST(ExecTest, CapturesOutputAndExitCode) {
  auto r = Exec({"sh", "-c", "echo out; echo err >&2; exit 3"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->out, "out\n");
  EXPECT_EQ(r->err, "err\n");
}

TEST(ExecTest, ExecOkReportsCommandAndStderr) {
  auto r = ExecOk({"sh", "-c", "echo boom >&2; exit 1"},
                  absl::StatusCode::kNotFound);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("boom"));
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("exit 1"));
}

TEST(ExecTest, MissingBinaryExits127) {
  auto r = Exec({"/nonexistent/cloonix-binary"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 127);
}

TEST(ExecTest, TimeoutKillsChild) {
  auto r = Exec({"sleep", "10"}, absl::Milliseconds(100));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
}

}  // namespace
}  // namespace cloonix
