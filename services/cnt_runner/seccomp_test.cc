#include "services/cnt_runner/seccomp.h"

#include <set>
#include <string>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "services/cnt_runner/oci_spec.h"
#include "third_party/seccomp/default_profile.h"

namespace cloonix {
namespace {

using nlohmann::json;

// The actions the filter gives each syscall name (a name can have several
// rules, with argument conditions).
std::set<std::string> Actions(const json& filter, const std::string& name) {
  std::set<std::string> out;
  for (const auto& r : filter["syscalls"]) {
    for (const auto& n : r["names"]) {
      if (n == name) out.insert(r["action"].get<std::string>());
    }
  }
  return out;
}

SeccompTarget Amd64(std::vector<std::string> caps) {
  return {"amd64", std::move(caps), "6.1.0-18-amd64"};
}

TEST(SeccompTest, DefaultProfileDeniesByDefaultAndAllowsNetworking) {
  auto out = OciSeccompFromProfile(DefaultSeccompProfileJson(),
                                   Amd64(ContainerCapabilities()));
  ASSERT_TRUE(out.ok()) << out.status();
  json f = json::parse(*out);
  EXPECT_EQ(f["defaultAction"], "SCMP_ACT_ERRNO");  // EPERM
  EXPECT_EQ(f["architectures"][0], "SCMP_ARCH_X86_64");
  // What a lab container does: sockets (ping, netlink for ip), files, exec.
  for (const char* s : {"socket", "sendto", "recvmsg", "setsockopt", "openat",
                        "execve", "clone", "ioctl", "bind"}) {
    EXPECT_EQ(Actions(f, s), std::set<std::string>{"SCMP_ACT_ALLOW"}) << s;
  }
}

TEST(SeccompTest, DefaultProfileRefusesWhatNeedsCapsTheContainerLacks) {
  auto out = OciSeccompFromProfile(DefaultSeccompProfileJson(),
                                   Amd64(ContainerCapabilities()));
  ASSERT_TRUE(out.ok()) << out.status();
  json f = json::parse(*out);
  // Rules under CAP_SYS_ADMIN, CAP_SYS_MODULE, CAP_SYS_TIME, CAP_SYS_BOOT:
  // the container has none, so the default (EPERM) applies.
  for (const char* s : {"mount", "umount2", "setns", "unshare", "init_module",
                        "finit_module", "kexec_load", "settimeofday", "bpf",
                        "reboot", "swapon", "clone3", "open_by_handle_at"}) {
    auto a = Actions(f, s);
    EXPECT_EQ(a.count("SCMP_ACT_ALLOW"), 0u) << s;
  }
  // clone: allowed only without namespace flags (a masked argument rule).
  bool masked_clone = false;
  for (const auto& r : f["syscalls"]) {
    if (r["names"][0] == "clone" && r.contains("args")) {
      masked_clone = r["args"][0]["op"] == "SCMP_CMP_MASKED_EQ";
    }
  }
  EXPECT_TRUE(masked_clone);
  // chroot: the container holds CAP_SYS_CHROOT, so the allow rule applies;
  // ptrace: allowed from kernel 4.8 on (this target: 6.1).
  EXPECT_EQ(Actions(f, "chroot"), std::set<std::string>{"SCMP_ACT_ALLOW"});
  EXPECT_EQ(Actions(f, "ptrace"), std::set<std::string>{"SCMP_ACT_ALLOW"});
}

TEST(SeccompTest, CapabilityRulesFollowTheGivenCaps) {
  auto caps = ContainerCapabilities();
  caps.push_back("CAP_SYS_ADMIN");
  auto out = OciSeccompFromProfile(DefaultSeccompProfileJson(), Amd64(caps));
  ASSERT_TRUE(out.ok()) << out.status();
  json f = json::parse(*out);
  EXPECT_EQ(Actions(f, "mount"), std::set<std::string>{"SCMP_ACT_ALLOW"});
}

TEST(SeccompTest, ArchAndKernelRules) {
  const char* profile = R"({
    "defaultAction": "SCMP_ACT_ERRNO",
    "archMap": [{"architecture": "SCMP_ARCH_X86_64",
                 "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
                {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": []}],
    "syscalls": [
      {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
      {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW",
       "includes": {"arches": ["amd64"]}},
      {"names": ["only_arm"], "action": "SCMP_ACT_ALLOW",
       "includes": {"arches": ["arm64"]}},
      {"names": ["not_amd64"], "action": "SCMP_ACT_ALLOW",
       "excludes": {"arches": ["amd64"]}},
      {"names": ["new_call"], "action": "SCMP_ACT_ALLOW",
       "includes": {"minKernel": "6.2"}},
      {"names": ["old_call"], "action": "SCMP_ACT_ALLOW",
       "includes": {"minKernel": "5.10"}},
      {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
       "args": [{"index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]}
    ]})";
  auto out = OciSeccompFromProfile(profile, Amd64({}));
  ASSERT_TRUE(out.ok()) << out.status();
  json f = json::parse(*out);
  EXPECT_EQ(f["architectures"],
            json({"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}));
  EXPECT_FALSE(Actions(f, "read").empty());
  EXPECT_FALSE(Actions(f, "arch_prctl").empty());
  EXPECT_TRUE(Actions(f, "only_arm").empty());
  EXPECT_TRUE(Actions(f, "not_amd64").empty());
  EXPECT_TRUE(Actions(f, "new_call").empty());  // kernel 6.1 < 6.2
  EXPECT_FALSE(Actions(f, "old_call").empty());
  bool found = false;
  for (const auto& r : f["syscalls"]) {
    if (r["names"][0] == "personality") {
      found = true;
      EXPECT_EQ(r["args"][0]["value"], 8);
      EXPECT_EQ(r["args"][0]["op"], "SCMP_CMP_EQ");
    }
  }
  EXPECT_TRUE(found);
  auto arm = OciSeccompFromProfile(profile, {"arm64", {}, "6.1"});
  ASSERT_TRUE(arm.ok());
  EXPECT_EQ(json::parse(*arm)["architectures"], json({"SCMP_ARCH_AARCH64"}));
}

TEST(SeccompTest, RefusesWhatIsNotAProfile) {
  for (
      const char* bad :
      {"", "[]", "not json", R"({"syscalls": []})",
       R"({"defaultAction": "SCMP_ACT_ERRNO"})",
       R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"action": "SCMP_ACT_ALLOW"}]})",
       R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [],
            "archMap": [{"architecture": "SCMP_ARCH_S390X"}]})"}) {
    auto out = OciSeccompFromProfile(bad, Amd64({}));
    EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(OciSpecIsolationTest, ProcSysIsReadOnlyButNet) {
  OciSpecParams p;
  p.hostname = "c";
  p.args = {"/bin/sh"};
  p.netns_path = "/run/netns/x";
  p.proc_sys_entries = {"abi",    "debug", "dev",  "fs",
                        "kernel", "net",   "user", "vm"};
  p.seccomp_json = R"({"defaultAction": "SCMP_ACT_ALLOW"})";
  json j = json::parse(OciSpecJson(p));
  std::set<std::string> ro(j["linux"]["readonlyPaths"].begin(),
                           j["linux"]["readonlyPaths"].end());
  for (const char* e :
       {"/proc/sys/kernel", "/proc/sys/vm", "/proc/sys/fs", "/proc/sys/abi",
        "/proc/sys/debug", "/proc/sys/dev", "/proc/sys/user",
        "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs"}) {
    EXPECT_EQ(ro.count(e), 1u) << e;
  }
  EXPECT_EQ(ro.count("/proc/sys/net"), 0u);
  EXPECT_EQ(ro.count("/proc/sys"), 0u);
  std::set<std::string> masked(j["linux"]["maskedPaths"].begin(),
                               j["linux"]["maskedPaths"].end());
  for (const char* e : {"/proc/kcore", "/proc/keys", "/proc/timer_list",
                        "/proc/sched_debug", "/sys/firmware", "/proc/acpi"}) {
    EXPECT_EQ(masked.count(e), 1u) << e;
  }
  EXPECT_EQ(j["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ALLOW");
}

TEST(OciSpecIsolationTest, WholeProcSysReadOnlyWithoutOwnNetns) {
  OciSpecParams p;
  p.hostname = "c";
  p.args = {"/bin/sh"};
  p.proc_sys_entries = {"kernel", "net"};
  json j = json::parse(OciSpecJson(p));  // no netns: net.* would be the host's
  std::set<std::string> ro(j["linux"]["readonlyPaths"].begin(),
                           j["linux"]["readonlyPaths"].end());
  EXPECT_EQ(ro.count("/proc/sys"), 1u);
  EXPECT_FALSE(j["linux"].contains("seccomp"));
  p.netns_path = "/run/netns/x";
  p.proc_sys_entries = {};  // unreadable /proc/sys: all read-only
  j = json::parse(OciSpecJson(p));
  ro = std::set<std::string>(j["linux"]["readonlyPaths"].begin(),
                             j["linux"]["readonlyPaths"].end());
  EXPECT_EQ(ro.count("/proc/sys"), 1u);
}

TEST(OciSpecIsolationTest, HostProcSysEntriesListsNet) {
  auto e = HostProcSysEntries();
  EXPECT_NE(std::find(e.begin(), e.end(), "net"), e.end());
  EXPECT_NE(std::find(e.begin(), e.end(), "kernel"), e.end());
}

}  // namespace
}  // namespace cloonix
