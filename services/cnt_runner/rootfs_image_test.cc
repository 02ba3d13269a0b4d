#include "services/cnt_runner/rootfs_image.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "common/atomic_file.h"
#include "common/exec.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace cloonix {
namespace {

namespace fs = std::filesystem;

class RootfsImageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(std::getenv("TEST_TMPDIR")) /
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    root_ = (dir_ / "Deb.Root").string();
    fs::create_directories(root_ + "/bin");
    fs::create_directories(root_ + "/etc");
    ASSERT_TRUE(
        WriteFileAtomic(root_ + "/bin/hello", "#!/bin/sh\necho hi\n", 0755)
            .ok());
    ASSERT_TRUE(WriteFileAtomic(root_ + "/etc/motd", "welcome\n", 0644).ok());
    ASSERT_EQ(symlink("hello", (root_ + "/bin/hi").c_str()), 0);
  }
  // tar -tvf of the layout's one layer.
  std::string LayerListing(const std::string& layout) {
    auto index = nlohmann::json::parse(*ReadFile(layout + "/index.json"));
    std::string mdig = index["manifests"][0]["digest"];
    auto manifest = nlohmann::json::parse(
        *ReadFile(layout + "/blobs/sha256/" + mdig.substr(7)));
    std::string ldig = manifest["layers"][0]["digest"];
    auto out =
        ExecOk({"tar", "-tvf", layout + "/blobs/sha256/" + ldig.substr(7)});
    return out.ok() ? *out : out.status().ToString();
  }
  fs::path dir_;
  std::string root_;
};

TEST_F(RootfsImageTest, WhatIsARootfs) {
  EXPECT_TRUE(IsRootfsPath(root_));
  fs::create_directories(dir_ / "layout");
  ASSERT_TRUE(
      WriteFileAtomic((dir_ / "layout/index.json").string(), "{}").ok());
  EXPECT_FALSE(IsRootfsPath((dir_ / "layout").string()));  // an OCI layout
  EXPECT_FALSE(IsRootfsPath((dir_ / "missing").string()));
  EXPECT_FALSE(IsRootfsPath(root_ + "/etc/motd"));  // a file, not a .zip
  EXPECT_FALSE(IsRootfsPath(root_ + "/etc"));       // no bin, sbin or usr
  fs::create_directories(dir_ / "usronly/etc");
  EXPECT_FALSE(IsRootfsPath((dir_ / "usronly").string()));  // etc alone
  ASSERT_EQ(symlink("/nowhere", (dir_ / "usronly/usr").c_str()), 0);
  EXPECT_TRUE(IsRootfsPath((dir_ / "usronly").string()));
  fs::create_directories(dir_ / "work/bin");  // a bin/ without etc/
  EXPECT_FALSE(IsRootfsPath((dir_ / "work").string()));
  ASSERT_TRUE(WriteFileAtomic((dir_ / "A.ZIP").string(), "x").ok());
  EXPECT_TRUE(IsRootfsPath((dir_ / "A.ZIP").string()));
}

TEST_F(RootfsImageTest, NameFollowsTheContent) {
  auto a = RootfsImageName(root_);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->rfind("cloonix-rootfs/deb.root:", 0), 0u) << *a;
  EXPECT_EQ(a->size(), std::string("cloonix-rootfs/deb.root:").size() + 12);
  EXPECT_EQ(*RootfsImageName(root_), *a);  // stable
  ASSERT_TRUE(WriteFileAtomic(root_ + "/etc/motd", "changed, longer\n").ok());
  EXPECT_NE(*RootfsImageName(root_), *a);
  EXPECT_EQ(RootfsImageName((dir_ / "missing").string()).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(RootfsImageName(root_ + "/etc/motd").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(RootfsImageTest, DirectoryBecomesAOneLayerLayout) {
  const std::string layout = (dir_ / "out").string();
  ASSERT_TRUE(
      MakeRootfsLayout(root_, "cloonix-rootfs/x:1", layout, 1 << 20).ok());
  auto index = nlohmann::json::parse(*ReadFile(layout + "/index.json"));
  EXPECT_EQ(index["manifests"][0]["annotations"]["io.containerd.image.name"],
            "cloonix-rootfs/x:1");
  EXPECT_TRUE(fs::exists(layout + "/oci-layout"));
  std::string listing = LayerListing(layout);
  EXPECT_NE(listing.find("./bin/hello"), std::string::npos) << listing;
  EXPECT_NE(listing.find("-rwxr-xr-x"), std::string::npos) << listing;
  EXPECT_NE(listing.find("./bin/hi -> hello"), std::string::npos) << listing;
  EXPECT_FALSE(fs::exists(layout + "/layer.tar"));
  // The layout must not exist yet; too small a limit is refused.
  EXPECT_FALSE(MakeRootfsLayout(root_, "n:1", layout, 1 << 20).ok());
  EXPECT_EQ(
      MakeRootfsLayout(root_, "n:1", (dir_ / "small").string(), 100).code(),
      absl::StatusCode::kInvalidArgument);
}

TEST_F(RootfsImageTest, ZipOfTheTreeOrOfItsDirectory) {
  // zip -y keeps symlinks; once of the content, once of the directory.
  const std::string inner = (dir_ / "inner.zip").string();
  const std::string outer = (dir_ / "outer.zip").string();
  ASSERT_TRUE(ExecOk({"sh", "-c",
                      "cd '" + root_ + "' && zip -qry '" + inner +
                          "' . && cd .. && zip -qry '" + outer + "' Deb.Root"})
                  .ok());
  for (const auto& zip : {inner, outer}) {
    const std::string layout = zip + ".layout";
    auto s = MakeRootfsLayout(zip, "z:1", layout, 1 << 20);
    ASSERT_TRUE(s.ok()) << zip << ": " << s;
    std::string listing = LayerListing(layout);
    EXPECT_NE(listing.find("./bin/hello"), std::string::npos) << listing;
    EXPECT_NE(listing.find("./bin/hi -> hello"), std::string::npos) << listing;
    EXPECT_FALSE(fs::exists(layout + "/unzip"));
  }
  // A zip announcing more than the limit is refused before unpacking.
  EXPECT_EQ(MakeRootfsLayout(inner, "z:1", (dir_ / "l3").string(), 10).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists(dir_ / "l3" / "unzip"));
  // A zip of something else than a root filesystem.
  const std::string etc = (dir_ / "etc.zip").string();
  ASSERT_TRUE(
      ExecOk({"sh", "-c", "cd '" + root_ + "/etc' && zip -qry '" + etc + "' ."})
          .ok());
  EXPECT_EQ(
      MakeRootfsLayout(etc, "z:1", (dir_ / "l5").string(), 1 << 20).code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists(dir_ / "l5" / "unzip"));
  // Not a zip at all.
  ASSERT_TRUE(WriteFileAtomic((dir_ / "bad.zip").string(), "not a zip").ok());
  EXPECT_EQ(MakeRootfsLayout((dir_ / "bad.zip").string(), "z:1",
                             (dir_ / "l4").string(), 1 << 20)
                .code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cloonix
