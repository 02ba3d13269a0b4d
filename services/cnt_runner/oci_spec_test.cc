#include "services/cnt_runner/oci_spec.h"

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace cloonix {
namespace {

TEST(OciSpecTest, CarriesProcessNetnsAndCapabilities) {
  OciSpecParams p;
  p.hostname = "cnt1";
  p.args = {"/bin/sh", "-c", "sleep 1"};
  p.env = {"PATH=/bin", "A=b"};
  p.netns_path = "/run/netns/cloonix_t_cnt1";
  p.cgroups_path = "/cloonix/t/cnt1";
  auto j = nlohmann::json::parse(OciSpecJson(p));
  EXPECT_EQ(j["hostname"], "cnt1");
  EXPECT_EQ(j["process"]["args"][2], "sleep 1");
  EXPECT_EQ(j["process"]["env"][1], "A=b");
  EXPECT_EQ(j["root"]["path"], "rootfs");
  EXPECT_EQ(j["linux"]["cgroupsPath"], "/cloonix/t/cnt1");
  bool found_net = false;
  for (const auto& ns : j["linux"]["namespaces"]) {
    if (ns["type"] == "network") {
      found_net = true;
      EXPECT_EQ(ns["path"], "/run/netns/cloonix_t_cnt1");
    }
  }
  EXPECT_TRUE(found_net);
  auto caps = j["process"]["capabilities"]["effective"];
  EXPECT_NE(std::find(caps.begin(), caps.end(), "CAP_NET_ADMIN"), caps.end());
  EXPECT_NE(std::find(caps.begin(), caps.end(), "CAP_NET_RAW"), caps.end());
  EXPECT_EQ(std::find(caps.begin(), caps.end(), "CAP_SYS_ADMIN"), caps.end());
}

}  // namespace
}  // namespace cloonix
