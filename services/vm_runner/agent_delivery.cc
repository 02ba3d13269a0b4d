#include "services/vm_runner/agent_delivery.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/atomic_file.h"
#include "common/exec.h"
#include "common/guest_files.h"
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

// Runs the command `argv(tmp)` that writes `out`.tmp, then renames it to
// `out`: a reader never sees half an image. The tmp file goes on failure.
absl::Status MakeImageFile(
    const std::string& out,
    const std::function<std::vector<std::string>(const std::string&)>& argv) {
  const std::string tmp = out + ".tmp";
  unlink(tmp.c_str());
  absl::Status st =
      ExecOk(argv(tmp), absl::StatusCode::kInternal, absl::Minutes(5)).status();
  if (st.ok() && rename(tmp.c_str(), out.c_str()) != 0) {
    st = absl::InternalError(
        absl::StrCat("rename ", tmp, ": ", std::strerror(errno)));
  }
  if (!st.ok()) unlink(tmp.c_str());
  return st;
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
  absl::Status mk = MakeImageFile(out, [&](const std::string& tmp) {
    return std::vector<std::string>{
        "mkfs.ext4", "-q", "-F", "-L", "cloonix-cfg", "-d", dir, tmp, "16M"};
  });
  cleanup();
  return mk;
}

std::string DeliveryCommand() {
  // The files disk first (unless the initramfs placed it: its marker), once
  // per boot; then the agent.
  return "[ -e /run/cloonix-files.done ] || [ ! -e "
         "/dev/disk/by-id/virtio-cloonix-files ] || { mkdir -p "
         "/run/cloonix-files && mount -o ro "
         "/dev/disk/by-id/virtio-cloonix-files /run/cloonix-files && cp -a "
         "/run/cloonix-files/tree/. / && while read -r p; do rm -f \"$p\" "
         "2>/dev/null || rmdir \"$p\"; done </run/cloonix-files/delete; "
         "umount /run/cloonix-files; : >/run/cloonix-files.done; }; "
         "pgrep -x cloonix-agent >/dev/null || { mkdir -p /run/cloonix-cfg; "
         "mountpoint -q /run/cloonix-cfg || mount -o ro "
         "/dev/disk/by-id/virtio-cloonix-cfg /run/cloonix-cfg; setsid "
         "/run/cloonix-cfg/cloonix-agent </dev/null >/dev/null 2>&1 & }";
}

absl::Status MakeFilesDisk(const std::string& out,
                           const std::vector<std::string>& dirs,
                           const std::vector<std::string>& deletes) {
  const std::string stage = out + ".d";
  RemoveTree(stage).IgnoreError();
  RETURN_IF_ERROR(MakeDirs(stage + "/tree", 0755));
  chmod((stage + "/tree").c_str(), 0755);
  auto cleanup = [&] { RemoveTree(stage).IgnoreError(); };
  absl::Status st = PlaceFiles(stage + "/tree", dirs, {});
  if (st.ok()) {
    st = WriteFileAtomic(stage + "/delete",
                         deletes.empty()
                             ? std::string()
                             : absl::StrCat(absl::StrJoin(deletes, "\n"), "\n"),
                         0644);
  }
  uint64_t bytes = 0, inodes = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(stage, ec);
       st.ok() && !ec && it != std::filesystem::recursive_directory_iterator();
       it.increment(ec)) {
    ++inodes;
    if (it->is_regular_file(ec)) bytes += it->file_size(ec);
  }
  if (st.ok()) {
    // Room for the data (4 KiB blocks), the inodes and the journal.
    const uint64_t kib = 16 * 1024 + bytes / 1024 * 5 / 4 + inodes * 8;
    st = MakeImageFile(out, [&](const std::string& tmp) {
      return std::vector<std::string>{"mkfs.ext4",           "-q", "-F",  "-L",
                                      "cloonix-files",       "-d", stage, tmp,
                                      absl::StrCat(kib, "k")};
    });
  }
  cleanup();
  return st;
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
    st = MakeImageFile(out, [&](const std::string& tmp) {
      return std::vector<std::string>{
          "genisoimage",      "-quiet",          "-output", tmp,
          "-volid",           "cidata",          "-joliet", "-rock",
          dir + "/user-data", dir + "/meta-data"};
    });
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
