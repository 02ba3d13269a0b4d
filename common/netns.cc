#include "common/netns.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <system_error>

#include "common/exec.h"
#include "common/status_macros.h"

namespace cloonix {

std::string NetnsPath(const std::string& name) { return "/run/netns/" + name; }

std::vector<std::string> ListNetns(const std::string& prefix) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/run/netns", ec)) {
    std::string name = e.path().filename().string();
    if (name.compare(0, prefix.size(), prefix) == 0) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool NetnsExists(const std::string& name) {
  return access(NetnsPath(name).c_str(), F_OK) == 0;
}

absl::Status CreateNetns(const std::string& name) {
  if (!NetnsExists(name)) {
    RETURN_IF_ERROR(ExecOk({"ip", "netns", "add", name}).status());
  }
  return ExecOk({"ip", "-n", name, "link", "set", "lo", "up"}).status();
}

absl::Status DeleteNetns(const std::string& name) {
  if (!NetnsExists(name)) return absl::OkStatus();
  return ExecOk({"ip", "netns", "delete", name}).status();
}

absl::Status EnterNetns(const std::string& name) {
  int fd = open(NetnsPath(name).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, "open netns " + name);
  int rc = setns(fd, CLONE_NEWNET);
  int e = errno;
  close(fd);
  if (rc != 0) return absl::ErrnoToStatus(e, "setns " + name);
  return absl::OkStatus();
}

bool LinkExists(const std::string& ns, const std::string& ifname) {
  auto r = Exec({"ip", "-n", ns, "link", "show", "dev", ifname});
  return r.ok() && r->exit_code == 0;
}

}  // namespace cloonix
