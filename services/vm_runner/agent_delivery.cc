#include "services/vm_runner/agent_delivery.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/atomic_file.h"
#include "common/exec.h"
#include "common/process.h"
#include "common/status_macros.h"

namespace cloonix {

namespace {

// Reads what comes within `d` (or until the peer closes).
void ReadFor(int fd, absl::Duration d, std::string* out) {
  const absl::Time end = absl::Now() + d;
  char buf[4096];
  for (absl::Time now = absl::Now(); now < end; now = absl::Now()) {
    pollfd p{fd, POLLIN, 0};
    int ms = static_cast<int>(absl::ToInt64Milliseconds(end - now)) + 1;
    if (poll(&p, 1, ms) <= 0) return;
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) return;
    out->append(buf, n);
  }
}

}  // namespace

absl::Status MakeAgentDisk(const std::string& agent, const std::string& out) {
  // A disk newer than the agent holds it already (a restarted vm_runner).
  struct stat a, o;
  if (stat(agent.c_str(), &a) == 0 && stat(out.c_str(), &o) == 0 &&
      o.st_size > 0 && o.st_mtim.tv_sec > a.st_mtim.tv_sec) {
    return absl::OkStatus();
  }
  const std::string dir = out + ".d";
  RemoveTree(dir).IgnoreError();
  RETURN_IF_ERROR(MakeDirs(dir, 0755));
  auto cleanup = [&] { RemoveTree(dir).IgnoreError(); };
  auto cp = ExecOk({"install", "-m", "0755", agent, dir + "/cloonix-agent"});
  if (!cp.ok()) {
    cleanup();
    return cp.status();
  }
  const std::string tmp = out + ".tmp";
  unlink(tmp.c_str());
  auto mk = ExecOk(
      {"mkfs.ext4", "-q", "-F", "-L", "cloonix-cfg", "-d", dir, tmp, "16M"});
  cleanup();
  if (!mk.ok()) {
    unlink(tmp.c_str());
    return mk.status();
  }
  if (rename(tmp.c_str(), out.c_str()) != 0) {
    return absl::InternalError(
        absl::StrCat("rename ", tmp, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

std::string DeliveryCommand() {
  return "pgrep -x cloonix-agent >/dev/null || { mkdir -p /run/cloonix-cfg; "
         "mountpoint -q /run/cloonix-cfg || mount -o ro "
         "/dev/disk/by-id/virtio-cloonix-cfg /run/cloonix-cfg; setsid "
         "/run/cloonix-cfg/cloonix-agent </dev/null >/dev/null 2>&1 & }";
}

std::string CloudInitUserData() {
  // A YAML single-quoted scalar: the command has no single quote.
  return absl::StrCat(
      "#cloud-config\n"
      "# cloonix: start the agent from the config disk at every boot\n"
      "bootcmd:\n"
      "  - ['sh', '-c', '",
      DeliveryCommand(), "']\n");
}

absl::Status MakeCloudInitSeed(const std::string& out,
                               const std::string& instance_id,
                               const std::string& hostname) {
  // Item and net names may hold '_' (not in a hostname): '-' instead.
  auto label = [](std::string v) {
    for (char& c : v) {
      if (!absl::ascii_isalnum(c) && c != '-' && c != '.') c = '-';
    }
    return v.substr(0, 63);
  };
  const std::string dir = out + ".d";
  RemoveTree(dir).IgnoreError();
  RETURN_IF_ERROR(MakeDirs(dir, 0700));
  auto cleanup = [&] { RemoveTree(dir).IgnoreError(); };
  absl::Status st =
      WriteFileAtomic(dir + "/meta-data",
                      absl::StrCat("instance-id: ", label(instance_id),
                                   "\nlocal-hostname: ", label(hostname), "\n"),
                      0644);
  if (st.ok())
    st = WriteFileAtomic(dir + "/user-data", CloudInitUserData(), 0644);
  if (st.ok()) {
    const std::string tmp = out + ".tmp";
    st = ExecOk({"genisoimage", "-quiet", "-output", tmp, "-volid", "cidata",
                 "-joliet", "-rock", dir + "/user-data", dir + "/meta-data"})
             .status();
    if (st.ok() && rename(tmp.c_str(), out.c_str()) != 0) {
      st = absl::InternalError(
          absl::StrCat("rename ", tmp, ": ", std::strerror(errno)));
    }
    if (!st.ok()) unlink(tmp.c_str());
  }
  cleanup();
  return st;
}

absl::Status TypeIntoHvc0(const std::string& socket, absl::Duration settle,
                          std::string* seen) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (socket.size() >= sizeof(a.sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("hvc0 socket path too long: ", socket));
  }
  std::memcpy(a.sun_path, socket.c_str(), socket.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(std::strerror(errno));
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    std::string why = std::strerror(errno);
    close(fd);
    return absl::UnavailableError(absl::StrCat("hvc0 ", socket, ": ", why));
  }
  std::string shown;
  absl::Status s = absl::OkStatus();
  if (!WriteAll(fd, "\r")) {
    s = absl::UnavailableError("hvc0: write failed");
  } else {
    ReadFor(fd, settle, &shown);
    if (absl::StrContains(shown, "login:") ||
        absl::StrContains(shown, "Password:")) {
      s = absl::FailedPreconditionError(
          "hvc0 asks for a login (no root autologin in the image): the "
          "agent is not delivered");
    } else if (!WriteAll(fd, DeliveryCommand() + "\r")) {
      s = absl::UnavailableError("hvc0: write failed");
    } else {
      ReadFor(fd, settle, &shown);
    }
  }
  close(fd);
  seen->append(shown);
  return s;
}

}  // namespace cloonix
