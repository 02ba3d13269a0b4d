#include "common/guest_files.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

namespace cloonix {
namespace {

namespace fs = std::filesystem;

std::string Read(const fs::path& p) {
  std::stringstream s;
  s << std::ifstream(p).rdbuf();
  return s.str();
}

class GuestFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(std::getenv("TEST_TMPDIR")) /
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    root_ = dir_ / "root";
    fs::create_directories(root_ / "etc");
    fs::create_directories(root_ / "old");
    std::ofstream(root_ / "etc/keep") << "kept";
    std::ofstream(root_ / "etc/gone") << "x";
    std::ofstream(root_ / "etc/over") << "image's";
  }
  fs::path dir_, root_;
};

TEST_F(GuestFilesTest, MergesInOrderKeepsModesAndLinksThenDeletes) {
  fs::path all = dir_ / "files_to_add_in_all_targets";
  fs::path one = dir_ / "files_to_add_in_vm1";
  fs::create_directories(all / "etc");
  fs::create_directories(all / "root/bin");
  fs::create_directories(one / "etc");
  std::ofstream(all / "etc/over") << "all";
  std::ofstream(all / "root/bin/start.sh") << "#!/bin/sh\necho up\n";
  chmod((all / "root/bin/start.sh").c_str(), 0750);
  std::ofstream(one / "etc/over") << "vm1";  // the later dir wins
  symlink("/root/bin/start.sh", (one / "etc/rc.local").c_str());
  ASSERT_TRUE(PlaceFiles(root_.string(), {all.string(), one.string()},
                         {"/etc/gone", "/old/", "/nothing/there"})
                  .ok());
  EXPECT_EQ(Read(root_ / "etc/over"), "vm1");
  EXPECT_EQ(Read(root_ / "etc/keep"), "kept");  // merged, not replaced
  EXPECT_EQ(Read(root_ / "root/bin/start.sh"), "#!/bin/sh\necho up\n");
  struct stat st;
  ASSERT_EQ(stat((root_ / "root/bin/start.sh").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  EXPECT_EQ(fs::read_symlink(root_ / "etc/rc.local"), "/root/bin/start.sh");
  EXPECT_FALSE(fs::exists(root_ / "etc/gone"));
  EXPECT_FALSE(fs::exists(root_ / "old"));
}

TEST_F(GuestFilesTest, TheGuestsSymlinksStayInsideItsRoot) {
  // The image has /etc2 -> /outside (absolute): written through, it must
  // land in <root>/outside, never in the host's /outside.
  fs::path out = dir_ / "outside";
  symlink(out.c_str(), (root_ / "etc2").c_str());
  fs::path src = dir_ / "src";
  fs::create_directories(src / "etc2");
  std::ofstream(src / "etc2/f") << "in";
  absl::Status s = PlaceFiles(root_.string(), {src.string()}, {});
  EXPECT_FALSE(fs::exists(out / "f"));
  if (s.ok()) {
    EXPECT_EQ(Read(root_ / dir_.relative_path() / "outside/f"), "in");
  }
}

TEST_F(GuestFilesTest, BadInput) {
  EXPECT_EQ(PlaceFiles(root_.string(), {"relative"}, {}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      PlaceFiles(root_.string(), {(dir_ / "missing").string()}, {}).code(),
      absl::StatusCode::kNotFound);
  std::ofstream(dir_ / "file") << "x";
  EXPECT_EQ(PlaceFiles(root_.string(), {(dir_ / "file").string()}, {}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PlaceFiles(root_.string(), {}, {"/etc/../x"}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PlaceFiles(root_.string(), {}, {"/"}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PlaceFiles(root_.string(), {}, {"etc/keep"}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(fs::exists(root_ / "etc/keep"));
}

}  // namespace
}  // namespace cloonix
