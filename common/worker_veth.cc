#include "common/worker_veth.h"

#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/exec.h"

namespace cloonix {

namespace {

absl::Status Ip(std::initializer_list<std::string> args) {
  std::vector<std::string> argv = {"ip"};
  argv.insert(argv.end(), args);
  return ExecOk(argv).status();
}

absl::Status SetOne(int fd, const std::string& ifname, uint32_t cmd, bool on) {
  struct ethtool_value v = {};
  v.cmd = cmd;
  v.data = on ? 1 : 0;
  struct ifreq ifr = {};
  std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  ifr.ifr_data = reinterpret_cast<char*>(&v);
  if (ioctl(fd, SIOCETHTOOL, &ifr) != 0) {
    return absl::UnavailableError(absl::StrCat(
        "ethtool ioctl ", cmd, " on ", ifname, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CreateWorkerVeth(const std::string& port_if,
                              const std::string& worker_if,
                              const std::string& port_netns, bool frames_only) {
  Exec({"ip", "link", "del", worker_if}).IgnoreError();
  if (!port_netns.empty())
    Exec({"ip", "-n", port_netns, "link", "del", port_if}).IgnoreError();
  else
    Exec({"ip", "link", "del", port_if}).IgnoreError();
  if (auto s = Ip(
          {"link", "add", port_if, "type", "veth", "peer", "name", worker_if});
      !s.ok()) {
    return absl::UnavailableError(s.message());
  }
  auto fail = [&worker_if](const absl::Status& s) {
    DeleteWorkerVeth(worker_if);
    return absl::UnavailableError(s.message());
  };
  if (!port_netns.empty()) {
    if (auto s = Ip({"link", "set", port_if, "netns", port_netns}); !s.ok())
      return fail(s);
  }
  for (const auto& ifn : {port_if, worker_if}) {
    bool moved = ifn == port_if && !port_netns.empty();
    if (frames_only) {
      std::vector<std::string> ethtool = {"ethtool", "-K",  ifn,   "tx",
                                          "off",     "tso", "off", "gso",
                                          "off",     "gro", "off"};
      if (moved)
        ethtool.insert(ethtool.begin(), {"ip", "netns", "exec", port_netns});
      if (auto r = ExecOk(ethtool); !r.ok()) return fail(r.status());
    }
    absl::Status up = moved ? Ip({"-n", port_netns, "link", "set", ifn, "up"})
                            : Ip({"link", "set", ifn, "up"});
    if (!up.ok()) return fail(up);
  }
  return absl::OkStatus();
}

void DeleteWorkerVeth(const std::string& worker_if) {
  if (!worker_if.empty()) Exec({"ip", "link", "del", worker_if}).IgnoreError();
}

absl::Status SetSegmentationOffloads(const std::string& ifname, bool on) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::ErrnoToStatus(errno, "socket");
  absl::Status s;
  // TSO needs TX checksumming: turn it on first and off last.
  if (on) {
    s = SetOne(fd, ifname, ETHTOOL_STXCSUM, true);
    if (s.ok()) s = SetOne(fd, ifname, ETHTOOL_STSO, true);
    if (s.ok()) s = SetOne(fd, ifname, ETHTOOL_SGSO, true);
  } else {
    s = SetOne(fd, ifname, ETHTOOL_SGSO, false);
    if (s.ok()) s = SetOne(fd, ifname, ETHTOOL_STSO, false);
    if (s.ok()) s = SetOne(fd, ifname, ETHTOOL_STXCSUM, false);
  }
  close(fd);
  return s;
}

}  // namespace cloonix
