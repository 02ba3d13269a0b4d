#include "cli/output.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cloonix::cli {
namespace {

using ::testing::HasSubstr;
namespace v1 = cloonix::v1;

TEST(OutputTest, ParseVmount) {
  auto m = ParseVmount("/srv/share:/mnt/share");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->host_path(), "/srv/share");
  EXPECT_EQ(m->guest_path(), "/mnt/share");
  EXPECT_FALSE(m->readonly());
  EXPECT_TRUE(ParseVmount("/a:/b:ro")->readonly());
  EXPECT_FALSE(ParseVmount("/a:/b:rw")->readonly());
  for (const char* bad : {"/a", "/a:", ":/b", "/a:/b:x", "/a:/b:ro:ro", ""}) {
    EXPECT_EQ(ParseVmount(bad).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST(OutputTest, ParseEthAcceptsBothSpellings) {
  EXPECT_EQ(*ParseEth("eth3"), 3u);
  EXPECT_EQ(*ParseEth("0"), 0u);
  for (const char* bad : {"", "eth", "ethx", "-1", "e0", "eth-1"}) {
    EXPECT_EQ(ParseEth(bad).status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST(OutputTest, TableAndJson) {
  v1::Item lan;
  lan.set_name("lan1");
  lan.set_kind(v1::ITEM_KIND_LAN);
  lan.set_state(v1::ITEM_STATE_RUNNING);
  auto* ep = lan.mutable_lan()->add_endpoints();
  ep->set_item("cnt1");
  ep->set_eth(0);
  v1::Item cnt;
  cnt.set_name("cnt1");
  cnt.set_kind(v1::ITEM_KIND_CNT);
  cnt.set_state(v1::ITEM_STATE_FAILED);
  cnt.set_state_message("boom");
  cnt.mutable_cnt()->set_image("busybox");
  cnt.add_eths()->set_lan("lan1");
  std::string t = ItemsTable({lan, cnt});
  EXPECT_THAT(t, HasSubstr("NAME  KIND  STATE"));
  EXPECT_THAT(t, HasSubstr("lan1  lan   running"));
  EXPECT_THAT(t, HasSubstr("cnt1:eth0"));
  EXPECT_THAT(t, HasSubstr("failed: boom"));
  EXPECT_THAT(t, HasSubstr("image=busybox eth0->lan1"));
  std::string j = ToJsonLine(cnt);
  EXPECT_THAT(j, HasSubstr("\"kind\":\"ITEM_KIND_CNT\""));
  EXPECT_EQ(j.find('\n'), std::string::npos);
}

}  // namespace
}  // namespace cloonix::cli
