#include "cli/cloonix_compat.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cloonix::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<std::string> T(std::vector<std::string> a) {
  auto t = TranslateCliVerb(a);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *t : std::vector<std::string>{};
}

std::string Err(std::vector<std::string> a) {
  auto t = TranslateCliVerb(a);
  EXPECT_FALSE(t.ok());
  return std::string(t.status().message());
}

TEST(CloonixCompatTest, Verbs) {
  EXPECT_THAT(T({"add", "kvm", "vm1", "ram=256", "cpu=1", "eth=ss", "tiny",
                 "--no_qemu_ga", "--persistent"}),
              ElementsAre("add", "kvm", "vm1", "ram=256", "cpu=1", "eth=ss",
                          "tiny", "--persistent"));
  EXPECT_THAT(
      T({"add", "cvm", "Cnt1", "eth=sss", "busybox", "--startup_env=A=1 B=2"}),
      ElementsAre("add", "cnt", "Cnt1", "busybox", "eth=3", "--env", "A=1",
                  "--env", "B=2"));
  EXPECT_THAT(T({"add", "phy", "eth9", "macvlan"}),
              ElementsAre("add", "phy", "eth9", "--mode", "macvlan"));
  EXPECT_THAT(T({"add", "lan", "vm1", "0", "lan1.0.1"}),
              ElementsAre("add", "lan", "vm1", "0", "lan1.0.1"));
  EXPECT_THAT(T({"cnf", "kvm", "reboot", "vm1"}),
              ElementsAre("cnf", "kvm", "reboot", "vm1"));
  EXPECT_THAT(T({"snf", "vm1", "0", "1"}),
              ElementsAre("snf", "vm1", "0", "on"));
  EXPECT_THAT(T({"evt"}), ElementsAre("events"));
  EXPECT_THAT(T({"rma"}), ElementsAre("rma"));
  EXPECT_THAT(T({"del", "sat", "vm1"}), ElementsAre("del", "sat", "vm1"));
}

TEST(CloonixCompatTest, WhatIsNotHereIsNamed) {
  EXPECT_THAT(
      Err({"add", "kvm", "v", "ram=1", "cpu=1", "eth=s", "x", "--vwifi=2"}),
      HasSubstr("--vwifi: not supported"));
  EXPECT_THAT(T({"add", "kvm", "v", "ram=1", "cpu=1", "eth=s", "x.qcow2",
                 "--install_cdrom=/x.iso", "--balloon"}),
              ElementsAre("add", "kvm", "v", "ram=1", "cpu=1", "eth=s",
                          "x.qcow2", "--install_cdrom=/x.iso", "--balloon"));
  EXPECT_THAT(T({"add", "zip", "c", "eth=s", "x.zip", "--privileged",
                 "--vmount=/srv:/mnt"}),
              ElementsAre("add", "cnt", "c", "x.zip", "eth=1", "--privileged",
                          "--vmount=/srv:/mnt"));
  EXPECT_THAT(Err({"add", "zip", "c", "eth=s", "x.zip", "--persistent"}),
              HasSubstr("--persistent: not supported"));
  EXPECT_THAT(Err({"add", "cvm", "c", "eth=sd", "img"}),
              HasSubstr("one letter per eth, s or v"));
  EXPECT_THAT(Err({"cnf", "lan", "lan1", "rstp"}), HasSubstr("rstp"));
  EXPECT_THAT(Err({"sys"}), HasSubstr("not supported"));
  EXPECT_THAT(Err({"frob"}), HasSubstr("unknown verb"));
  EXPECT_THAT(Err({"snf", "vm1", "0", "2"}), HasSubstr("<0|1>"));
}

TEST(CloonixCompatTest, Tools) {
  EXPECT_TRUE(IsCloonixTool("cloonix_cli"));
  EXPECT_TRUE(IsCloonixTool("cloonix_wsk"));
  EXPECT_FALSE(IsCloonixTool("cloonix"));
  EXPECT_FALSE(IsCloonixTool("cloonix_foo"));
}

}  // namespace
}  // namespace cloonix::cli
