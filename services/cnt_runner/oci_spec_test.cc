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

TEST(OciSpecTest, BindMountsAfterTheContainersOwn) {
  OciSpecParams p;
  p.args = {"/bin/sh"};
  p.seccomp_json = R"({"defaultAction":"SCMP_ACT_ERRNO"})";
  p.mounts = {{"/srv/a", "/mnt/a", false}, {"/srv/b", "/etc/b.conf", true}};
  auto j = nlohmann::json::parse(OciSpecJson(p));
  const auto& mounts = j["mounts"];
  ASSERT_GE(mounts.size(), 2u);
  const auto& a = mounts[mounts.size() - 2];
  const auto& b = mounts[mounts.size() - 1];
  EXPECT_EQ(a["source"], "/srv/a");
  EXPECT_EQ(a["destination"], "/mnt/a");
  EXPECT_EQ(a["type"], "bind");
  EXPECT_EQ(a["options"], nlohmann::json({"rbind", "rw"}));
  EXPECT_EQ(b["options"], nlohmann::json({"rbind", "ro"}));
  // The isolation stays as it is without --privileged.
  EXPECT_TRUE(j["linux"].contains("seccomp"));
  EXPECT_EQ(j["process"]["noNewPrivileges"], true);
  EXPECT_FALSE(j["linux"]["maskedPaths"].empty());
}

TEST(OciSpecTest, PrivilegedLiftsTheIsolation) {
  OciSpecParams p;
  p.args = {"/bin/sh"};
  p.seccomp_json = R"({"defaultAction":"SCMP_ACT_ERRNO"})";
  p.privileged = true;
  auto j = nlohmann::json::parse(OciSpecJson(p));
  auto caps = j["process"]["capabilities"]["bounding"];
  EXPECT_EQ(caps.size(), AllCapabilities().size());
  EXPECT_NE(std::find(caps.begin(), caps.end(), "CAP_SYS_ADMIN"), caps.end());
  EXPECT_FALSE(j["linux"].contains("seccomp"));
  EXPECT_EQ(j["process"]["noNewPrivileges"], false);
  EXPECT_TRUE(j["linux"]["maskedPaths"].empty());
  EXPECT_TRUE(j["linux"]["readonlyPaths"].empty());
  EXPECT_EQ(j["linux"]["resources"]["devices"][0]["allow"], true);
  bool dev = false, sys = false;
  for (const auto& m : j["mounts"]) {
    if (m["destination"] == "/dev") {
      dev = true;
      EXPECT_EQ(m["source"], "/dev");
      EXPECT_EQ(m["type"], "bind");
    }
    if (m["destination"] == "/sys") {
      sys = true;
      auto o = m["options"];
      EXPECT_EQ(std::find(o.begin(), o.end(), "ro"), o.end());
    }
  }
  EXPECT_TRUE(dev && sys);
  // Only what the runner holds.
  p.privileged_caps = CapabilitiesInMask(0b1000000000101);
  EXPECT_EQ(p.privileged_caps,
            std::vector<std::string>(
                {"CAP_CHOWN", "CAP_DAC_READ_SEARCH", "CAP_NET_ADMIN"}));
  j = nlohmann::json::parse(OciSpecJson(p));
  EXPECT_EQ(j["process"]["capabilities"]["effective"].size(), 3u);
  EXPECT_EQ(CapabilitiesInMask(~uint64_t{0}).size(), AllCapabilities().size());
  EXPECT_NE(OwnBoundingSet(), 0u);
}

}  // namespace
}  // namespace cloonix
