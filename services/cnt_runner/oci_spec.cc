#include "services/cnt_runner/oci_spec.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "nlohmann/json.hpp"

namespace cloonix {

std::vector<std::string> ContainerCapabilities() {
  return {"CAP_CHOWN",
          "CAP_DAC_OVERRIDE",
          "CAP_FSETID",
          "CAP_FOWNER",
          "CAP_MKNOD",
          "CAP_NET_RAW",
          "CAP_SETGID",
          "CAP_SETUID",
          "CAP_SETFCAP",
          "CAP_SETPCAP",
          "CAP_NET_BIND_SERVICE",
          "CAP_SYS_CHROOT",
          "CAP_KILL",
          "CAP_AUDIT_WRITE",
          "CAP_NET_ADMIN"};
}

std::vector<std::string> AllCapabilities() {
  return {"CAP_CHOWN",
          "CAP_DAC_OVERRIDE",
          "CAP_DAC_READ_SEARCH",
          "CAP_FOWNER",
          "CAP_FSETID",
          "CAP_KILL",
          "CAP_SETGID",
          "CAP_SETUID",
          "CAP_SETPCAP",
          "CAP_LINUX_IMMUTABLE",
          "CAP_NET_BIND_SERVICE",
          "CAP_NET_BROADCAST",
          "CAP_NET_ADMIN",
          "CAP_NET_RAW",
          "CAP_IPC_LOCK",
          "CAP_IPC_OWNER",
          "CAP_SYS_MODULE",
          "CAP_SYS_RAWIO",
          "CAP_SYS_CHROOT",
          "CAP_SYS_PTRACE",
          "CAP_SYS_PACCT",
          "CAP_SYS_ADMIN",
          "CAP_SYS_BOOT",
          "CAP_SYS_NICE",
          "CAP_SYS_RESOURCE",
          "CAP_SYS_TIME",
          "CAP_SYS_TTY_CONFIG",
          "CAP_MKNOD",
          "CAP_LEASE",
          "CAP_AUDIT_WRITE",
          "CAP_AUDIT_CONTROL",
          "CAP_SETFCAP",
          "CAP_MAC_OVERRIDE",
          "CAP_MAC_ADMIN",
          "CAP_SYSLOG",
          "CAP_WAKE_ALARM",
          "CAP_BLOCK_SUSPEND",
          "CAP_AUDIT_READ",
          "CAP_PERFMON",
          "CAP_BPF",
          "CAP_CHECKPOINT_RESTORE"};
}

std::vector<std::string> CapabilitiesInMask(uint64_t mask) {
  std::vector<std::string> all = AllCapabilities(), out;
  for (size_t i = 0; i < all.size(); ++i) {
    if (mask & (uint64_t{1} << i)) out.push_back(all[i]);
  }
  return out;
}

uint64_t OwnBoundingSet() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("CapBnd:", 0) != 0) continue;
    try {
      return std::stoull(line.substr(7), nullptr, 16);
    } catch (const std::exception&) {
      break;
    }
  }
  return ~uint64_t{0};
}

std::vector<std::string> HostProcSysEntries() {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc/sys", ec)) {
    out.push_back(e.path().filename().string());
  }
  if (ec) out.clear();
  std::sort(out.begin(), out.end());
  return out;
}

std::string OciSpecJson(const OciSpecParams& p) {
  using nlohmann::json;
  json caps = !p.privileged               ? ContainerCapabilities()
              : p.privileged_caps.empty() ? AllCapabilities()
                                          : p.privileged_caps;
  // Docker's (moby oci/defaults.go) masked and read-only paths; /proc/sys is
  // read-only entry by entry so that /proc/sys/net stays writable (runc
  // refuses a bind mount inside /proc, so a rw /proc/sys/net cannot be laid
  // over a read-only /proc/sys).
  json readonly = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sysrq-trigger"};
  bool has_net = std::find(p.proc_sys_entries.begin(), p.proc_sys_entries.end(),
                           "net") != p.proc_sys_entries.end();
  if (p.netns_path.empty() || !has_net) {
    readonly.push_back("/proc/sys");
  } else {
    for (const auto& e : p.proc_sys_entries) {
      if (e == "net" || e.empty() || e.find('/') != std::string::npos ||
          e == "." || e == "..") {
        continue;
      }
      readonly.push_back("/proc/sys/" + e);
    }
  }
  json spec = {
      {"ociVersion", "1.0.2"},
      {"process",
       {{"terminal", false},
        {"user", {{"uid", 0}, {"gid", 0}}},
        {"args", p.args},
        {"env", p.env},
        {"cwd", p.cwd},
        {"capabilities",
         {{"bounding", caps}, {"effective", caps}, {"permitted", caps}}},
        {"rlimits",
         json::array(
             {{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}})},
        {"noNewPrivileges", true}}},
      {"root", {{"path", "rootfs"}, {"readonly", false}}},
      {"hostname", p.hostname},
      {"mounts",
       json::array({
           {{"destination", "/proc"},
            {"type", "proc"},
            {"source", "proc"},
            {"options", {"nosuid", "noexec", "nodev"}}},
           {{"destination", "/dev"},
            {"type", "tmpfs"},
            {"source", "tmpfs"},
            {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}},
           {{"destination", "/dev/pts"},
            {"type", "devpts"},
            {"source", "devpts"},
            {"options",
             {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620",
              "gid=5"}}},
           {{"destination", "/dev/shm"},
            {"type", "tmpfs"},
            {"source", "shm"},
            {"options",
             {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}}},
           {{"destination", "/dev/mqueue"},
            {"type", "mqueue"},
            {"source", "mqueue"},
            {"options", {"nosuid", "noexec", "nodev"}}},
           {{"destination", "/sys"},
            {"type", "sysfs"},
            {"source", "sysfs"},
            {"options", {"nosuid", "noexec", "nodev", "ro"}}},
           {{"destination", "/tmp"},
            {"type", "tmpfs"},
            {"source", "tmpfs"},
            {"options", {"nosuid", "nodev", "mode=1777"}}},
       })},
      {"linux",
       {{"namespaces",
         json::array({{{"type", "pid"}},
                      {{"type", "ipc"}},
                      {{"type", "uts"}},
                      {{"type", "mount"}},
                      {{"type", "network"}, {"path", p.netns_path}}})},
        {"cgroupsPath", p.cgroups_path},
        {"resources",
         {{"devices", json::array({{{"allow", false}, {"access", "rwm"}}})}}},
        {"maskedPaths",
         {"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys",
          "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
          "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
          "/sys/devices/virtual/powercap"}},
        {"readonlyPaths", readonly}}}};
  for (const auto& m : p.mounts) {
    spec["mounts"].push_back(
        {{"destination", m.guest_path},
         {"type", "bind"},
         {"source", m.host_path},
         {"options", {"rbind", m.readonly ? "ro" : "rw"}}});
  }
  if (p.privileged) {
    spec["process"]["noNewPrivileges"] = false;
    spec["linux"]["maskedPaths"] = json::array();
    spec["linux"]["readonlyPaths"] = json::array();
    spec["linux"]["resources"]["devices"] =
        json::array({{{"allow", true}, {"access", "rwm"}}});
    for (auto& m : spec["mounts"]) {
      if (m["destination"] == "/sys") {
        m["options"] = {"nosuid", "noexec", "nodev", "rw"};
      } else if (m["destination"] == "/dev") {
        m = {{"destination", "/dev"},
             {"type", "bind"},
             {"source", "/dev"},
             {"options", {"rbind", "rw"}}};
      }
    }
    return spec.dump();
  }
  if (!p.seccomp_json.empty()) {
    spec["linux"]["seccomp"] = json::parse(p.seccomp_json);
  }
  return spec.dump();
}

}  // namespace cloonix
