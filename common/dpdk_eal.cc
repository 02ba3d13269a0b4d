#include "common/dpdk_eal.h"

#include <rte_eal.h>
#include <rte_errno.h>

#include <fstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/process.h"

namespace cloonix {
namespace {

bool HugepagesFree() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  long value;
  while (in >> key >> value) {
    if (key == "HugePages_Free:") return value > 0;
    in.ignore(256, '\n');
  }
  return false;
}

}  // namespace

absl::Status InitEal(const std::string& program,
                     const std::string& file_prefix) {
  std::vector<std::string> args = {program,
                                   "--no-pci",
                                   "--no-telemetry",
                                   "-l",
                                   "0",
                                   "--file-prefix=" + file_prefix,
                                   "--log-level=lib.eal:warning"};
  if (HugepagesFree()) {
    args.insert(args.end(),
                {"--in-memory", "--single-file-segments", "-m", "128"});
  } else {
    args.insert(args.end(), {"--no-huge", "--no-shconf", "-m", "128"});
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) {
    return absl::UnavailableError(
        absl::StrCat("DPDK EAL init failed: ", rte_strerror(rte_errno)));
  }
  return absl::OkStatus();
}

void CleanupEal(const std::string& file_prefix) {
  rte_eal_cleanup();
  RemoveTree("/var/run/dpdk/" + file_prefix).IgnoreError();
}

}  // namespace cloonix
