// Supervision of a net's service daemons (no systemd here): start each one
// in order, or adopt one already running (pid file + live health check), or
// only watch the health of an external one;
// watch them; restart one that dies with exponential back-off (0.5 s doubling
// to 10 s, reset after 60 s of health), then call on_restart so the caller
// reconciles.
#ifndef CLOONIX_COMMON_SUPERVISOR_H_
#define CLOONIX_COMMON_SUPERVISOR_H_

#include <sys/types.h>

#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace cloonix {

struct ServiceSpec {
  std::string name;               // "lan_switch"
  std::vector<std::string> argv;  // argv[0]: binary path or name in PATH
  std::string socket;             // its gRPC unix socket (health-checked)
  std::string pid_file;
  std::string log_file;
  // Run by someone else at `socket`: health-checked, never spawned, restarted
  // or stopped. When it comes back after a failure, on_restart is called.
  bool external = false;
  // Spawned into this network namespace (an open fd of it) instead of the
  // supervisor's own; -1: the supervisor's.
  int netns_fd = -1;
};

struct ServiceStatus {
  std::string name;
  pid_t pid = 0;
  bool healthy = false;
  int restarts = 0;
  std::string socket;
};

class Supervisor {
 public:
  Supervisor(std::vector<ServiceSpec> specs,
             std::function<void(const std::string&)> on_restart);
  ~Supervisor();

  // Adopts or starts every service, in order, each healthy within `timeout`.
  absl::Status StartAll(absl::Duration timeout);
  // Starts the watch thread.
  void Watch();
  // Stops the watch thread: no more restarts (call before tearing down).
  void StopWatch();
  // Stops watching, then SIGTERMs every service but `except` (they exit;
  // what they run, e.g. OVS, is theirs to keep or tear down).
  void StopAll(const std::string& except = "");
  std::vector<ServiceStatus> Status();

 private:
  struct Entry {
    ServiceSpec spec;
    pid_t pid = 0;
    bool adopted = false;     // started by an earlier orchestrator
    bool was_healthy = true;  // external services: last health seen
    int restarts = 0;
    int backoff_step = 0;
    absl::Time healthy_since;
  };
  absl::Status StartOne(Entry* e, absl::Duration timeout);
  bool Alive(const Entry& e);
  void Loop();

  std::function<void(const std::string&)> on_restart_;
  absl::Mutex mu_;
  std::vector<Entry> entries_ ABSL_GUARDED_BY(mu_);
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace cloonix

#endif  // CLOONIX_COMMON_SUPERVISOR_H_
