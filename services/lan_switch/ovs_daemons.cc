#include "services/lan_switch/ovs_daemons.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "common/exec.h"
#include "common/netns.h"
#include "common/process.h"
#include "common/rpc_client.h"
#include "common/status_macros.h"
#include "spdlog/spdlog.h"

namespace cloonix {

std::string OvsDaemons::DbRemote() const {
  return "unix:" + RunDir() + "/db.sock";
}

absl::Status OvsDaemons::Start() {
  RETURN_IF_ERROR(CreateNetns(config_.netns));
  for (const char* d : {"/run", "/db", "/log"}) {
    RETURN_IF_ERROR(MakeDirs(config_.ovs_dir + d));
  }
  RETURN_IF_ERROR(StartOvsdb());
  return StartVswitchd();
}

absl::Status OvsDaemons::StartOvsdb() {
  std::string pidfile = RunDir() + "/ovsdb-server.pid";
  if (ProcessAlive(ReadPidFile(pidfile), "ovsdb-server")) {
    spdlog::info("adopting running ovsdb-server (pid {})",
                 ReadPidFile(pidfile));
    return absl::OkStatus();
  }
  std::string db = config_.ovs_dir + "/db/conf.db";
  if (access(db.c_str(), F_OK) != 0) {
    RETURN_IF_ERROR(ExecOk({"ovsdb-tool", "create", db,
                            "/usr/share/openvswitch/vswitch.ovsschema"})
                        .status());
  }
  std::string log = config_.ovs_dir + "/log/ovsdb-server.log";
  RETURN_IF_ERROR(ExecOk({"ip", "netns", "exec", config_.netns, "env",
                          "OVS_RUNDIR=" + RunDir(), "ovsdb-server", db,
                          "--remote=p" + DbRemote(), "--pidfile=" + pidfile,
                          "--unixctl=" + RunDir() + "/ovsdb-server.ctl",
                          "--log-file=" + log, "--detach", "--no-chdir"},
                         absl::StatusCode::kUnavailable)
                      .status());
  std::string vsctl_db = "--db=" + DbRemote();
  RETURN_IF_ERROR(
      ExecOk({"ovs-vsctl", vsctl_db, "--no-wait", "--timeout=10", "init"},
             absl::StatusCode::kUnavailable)
          .status());
  RETURN_IF_ERROR(
      ExecOk({"ovs-vsctl", vsctl_db, "--no-wait", "--timeout=10", "set",
              "Open_vSwitch", ".", "other_config:userspace-tso-enable=true"},
             absl::StatusCode::kUnavailable)
          .status());
  spdlog::info("ovsdb-server started in netns {} (pid {})", config_.netns,
               ReadPidFile(pidfile));
  return absl::OkStatus();
}

absl::Status OvsDaemons::StartVswitchd() {
  std::string pidfile = RunDir() + "/ovs-vswitchd.pid";
  if (ProcessAlive(ReadPidFile(pidfile), "ovs-vswitchd")) {
    spdlog::info("adopting running ovs-vswitchd (pid {})",
                 ReadPidFile(pidfile));
    return absl::OkStatus();
  }
  std::string log = config_.ovs_dir + "/log/ovs-vswitchd.log";
  RETURN_IF_ERROR(ExecOk({"ip", "netns", "exec", config_.netns, "env",
                          "OVS_RUNDIR=" + RunDir(), config_.vswitchd_binary,
                          DbRemote(), "--pidfile=" + pidfile,
                          "--unixctl=" + RunDir() + "/ovs-vswitchd.ctl",
                          "--log-file=" + log, "--detach", "--no-chdir"},
                         absl::StatusCode::kUnavailable, absl::Seconds(30))
                      .status());
  spdlog::info("ovs-vswitchd started in netns {} (pid {})", config_.netns,
               ReadPidFile(pidfile));
  return absl::OkStatus();
}

void OvsDaemons::Stop() {
  for (const char* name : {"ovs-vswitchd", "ovsdb-server"}) {
    pid_t pid = ReadPidFile(absl::StrCat(RunDir(), "/", name, ".pid"));
    if (!ProcessAlive(pid, name)) continue;
    spdlog::info("stopping {} (pid {})", name, pid);
    // "exit" through the control socket is immediate; SIGTERM takes seconds.
    auto r =
        Exec({"ovs-appctl",
              absl::StrCat("--target=", RunDir(), "/", name, ".ctl"), "exit"},
             absl::Seconds(5));
    if (r.ok() && r->exit_code == 0) {
      absl::Time deadline = absl::Now() + absl::Seconds(3);
      while (ProcessAlive(pid, name) && absl::Now() < deadline) {
        absl::SleepFor(absl::Milliseconds(10));
      }
    }
    TerminateProcess(pid, absl::Seconds(3));
  }
}

absl::Status OvsDaemons::Teardown() {
  Stop();
  RETURN_IF_ERROR(DeleteNetns(config_.netns));
  return RemoveTree(config_.ovs_dir);
}

}  // namespace cloonix
