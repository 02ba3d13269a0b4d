#include "common/names.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cloonix {
namespace {

using ::testing::HasSubstr;

TEST(NamesTest, AcceptsCloonixNames) {
  for (const char* n :
       {"nemo", "cnt1", "lan_a", "vm-2", "a", "Cloon1", "lan1.0.1", "VM.2"}) {
    EXPECT_TRUE(ValidateName(n, "item name").ok()) << n;
  }
  EXPECT_TRUE(ValidateNetName("Nemo_2", "net name").ok());
  EXPECT_FALSE(ValidateNetName("nemo.2", "net name").ok());
  EXPECT_TRUE(ValidateName(std::string(31, 'a'), "x").ok());
}

TEST(NamesTest, RejectsWithActionableMessage) {
  for (const char* n : {"", "1cnt", ".cnt", "cnt 1", "cnt/1", "cnt:1", "é"}) {
    absl::Status s = ValidateName(n, "item name");
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << n;
    EXPECT_THAT(std::string(s.message()), HasSubstr("item name")) << n;
    EXPECT_THAT(std::string(s.message()), HasSubstr("use a letter"));
  }
  EXPECT_FALSE(ValidateName(std::string(32, 'a'), "x").ok());
  // A huge name is quoted cut, not whole.
  absl::Status huge = ValidateName(std::string(3 << 20, 'a'), "item name");
  EXPECT_LT(huge.message().size(), 300u);
}

TEST(NamesTest, DerivedInterfaceNamesFitLinux) {
  EXPECT_TRUE(ValidateIfname(EthPortName(4294967295u, 31)).ok());
  EXPECT_TRUE(ValidateIfname(LanBridgeName(4294967295u)).ok());
  EXPECT_FALSE(ValidateIfname("sixteen_chars_xx").ok());
  EXPECT_FALSE(ValidateIfname("a/b").ok());
  EXPECT_EQ(EthPortName(3, 1), "cx3e1");
  EXPECT_EQ(ItemIdOfPort(EthPortName(4294967295u, 31)), 4294967295u);
  EXPECT_EQ(LanIdOfBridge(LanBridgeName(12)), 12u);
  EXPECT_EQ(ItemIdOfPort("cxl3"), 0u);
  EXPECT_EQ(ItemIdOfPort("eth0"), 0u);
  EXPECT_EQ(LanIdOfBridge("cxl3x"), 0u);
  std::string mac = DerivedMac("nemo", 258, 1);
  EXPECT_EQ(mac.substr(0, 3), "02:");
  EXPECT_EQ(mac.substr(5), ":00:01:02:01");
  EXPECT_NE(DerivedMac("nemo", 258, 1), DerivedMac("other", 258, 1));
  EXPECT_EQ(DerivedMac("nemo", 258, 1), DerivedMac("nemo", 258, 1));
  EXPECT_EQ(NetNetns("nemo"), "cloonix_nemo");
  EXPECT_EQ(ContainerNetns("nemo", "cnt1"), "cloonix_nemo.cnt1");
  // Net "a_x" and container "x" of net "a" must not share a netns.
  EXPECT_NE(NetNetns("a_x"), ContainerNetns("a", "x"));
  EXPECT_NE(ContainerNetns("a_x", "y"), ContainerNetns("a", "x_y"));
  EXPECT_TRUE(
      absl::StartsWith(ContainerNetns("a", "x"), ContainerNetnsPrefix("a")));
  EXPECT_FALSE(
      absl::StartsWith(ContainerNetns("a_x", "y"), ContainerNetnsPrefix("a")));
  EXPECT_FALSE(ValidateNetName("a.b", "net name").ok());
}

}  // namespace
}  // namespace cloonix

namespace cloonix {
namespace {

TEST(NamesTest, NetTagAndMacs) {
  EXPECT_EQ(NetTag("nemo").size(), 5u);
  // e2e/lib.sh computes the same tag to scope its leak check to its net.
  EXPECT_EQ(NetTag("nemo"), "6c084");
  EXPECT_EQ(NetTag("nemo"), NetTag("nemo"));
  EXPECT_NE(NetTag("nemo"), NetTag("nemo2"));
  // The longest host-side names fit Linux's 15 characters.
  EXPECT_LE(("ct" + NetTag("x") + "99999e31").size(), 15u);
  EXPECT_TRUE(ValidateMac("02:aa:bb:cc:dd:ee").ok());
  EXPECT_FALSE(ValidateMac("01:aa:bb:cc:dd:ee").ok());  // multicast
  EXPECT_FALSE(ValidateMac("02:aa:bb:cc:dd").ok());
  EXPECT_FALSE(ValidateMac("02-aa-bb-cc-dd-ee").ok());
  EXPECT_FALSE(ValidateMac("02:aa:bb:cc:dd:eg").ok());
  EXPECT_FALSE(ValidateMac("00:00:00:00:00:00").ok());
}

TEST(NamesTest, BindMountPaths) {
  EXPECT_TRUE(ValidateBindMountPaths("/srv/share", "/mnt/share").ok());
  EXPECT_TRUE(ValidateBindMountPaths("/etc/hosts.lab", "/etc/hosts").ok());
  EXPECT_TRUE(ValidateBindMountPaths("/a..b", "/device").ok());
  for (auto [h, g] : std::vector<std::pair<std::string, std::string>>{
           {"srv", "/mnt"},          // relative host
           {"/srv", "mnt"},          // relative guest
           {"", "/mnt"},             // empty
           {"/srv/../etc", "/mnt"},  // escapes
           {"/srv", "/mnt/./x"},     // "." component
           {"/srv", "/"},            // the root
           {"/srv", "//"},           // the root again
           {"/srv", "/proc"},        // reserved
           {"/srv", "/sys/fs"},      // under a reserved one
           {"/srv", "/dev/"},        // reserved, trailing slash
           {"/srv", "//proc"},       // reserved, doubled slash
           {"/srv\nx", "/mnt"},      // control character
           {"/" + std::string(1100, 'a'), "/mnt"}}) {
    absl::Status s = ValidateBindMountPaths(h, g);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << h << " " << g;
  }
}

}  // namespace
}  // namespace cloonix
