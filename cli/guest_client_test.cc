#include "cli/guest_client.h"

#include "gtest/gtest.h"

namespace cloonix::cli {
namespace {

TEST(GuestClientTest, GuestPathsLikeScp) {
  auto p = ParseGuestPath("vm1:/tmp/x");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->item, "vm1");
  EXPECT_EQ(p->path, "/tmp/x");
  EXPECT_EQ(ParseGuestPath("vm1:")->path, "");
  EXPECT_FALSE(ParseGuestPath("/tmp/a:b").has_value());
  EXPECT_FALSE(ParseGuestPath("./a:b").has_value());
  EXPECT_FALSE(ParseGuestPath("file").has_value());
  EXPECT_FALSE(ParseGuestPath(":x").has_value());
}

TEST(GuestClientTest, AddKvmCloonixSyntax) {
  auto it = ParseAddKvm("vm1", {"ram=256", "cpu=2", "eth=sss", "tiny"}, false,
                        {"eth1:02:00:00:00:00:07"});
  ASSERT_TRUE(it.ok()) << it.status();
  EXPECT_EQ(it->kvm().ram_mb(), 256u);
  EXPECT_EQ(it->kvm().cpu(), 2u);
  EXPECT_EQ(it->kvm().eth_count(), 3u);
  EXPECT_EQ(it->kvm().image(), "tiny");
  EXPECT_EQ(it->kvm().macs().at(1), "02:00:00:00:00:07");
  EXPECT_EQ(ParseAddKvm("vm1", {"ram=256", "eth=2", "d.qcow2"}, true, {})
                ->kvm()
                .eth_count(),
            2u);
}

TEST(GuestClientTest, AddKvmErrorsSayWhatToWrite) {
  EXPECT_NE(ParseAddKvm("vm1", {"cpu=1", "tiny"}, false, {})
                .status()
                .message()
                .find("ram="),
            std::string::npos);
  EXPECT_FALSE(ParseAddKvm("vm1", {"ram=x", "tiny"}, false, {}).ok());
  EXPECT_FALSE(ParseAddKvm("vm1", {"ram=256"}, false, {}).ok());
  EXPECT_FALSE(ParseAddKvm("vm1", {"ram=256", "a", "b"}, false, {}).ok());
  EXPECT_FALSE(ParseAddKvm("vm1", {"ram=256", "disk=3", "a"}, false, {}).ok());
  EXPECT_FALSE(
      ParseAddKvm("vm1", {"ram=256", "tiny"}, false, {"eth0:zz"}).ok());
}

}  // namespace
}  // namespace cloonix::cli
