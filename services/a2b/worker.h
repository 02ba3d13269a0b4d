// The a2b data plane of one net: one process, one packet thread (the DPDK
// EAL main lcore), every a2b item of the net. Each end is a VnetPort
// (AF_PACKET with virtio-net headers, common/vnet_port.h): a direction with
// no loss, jitter or rate forwards the kernel's TSO/GSO super-frames whole;
// one with any of them gets MTU frames (the port end's segmentation is
// turned off), so that each frame is lost, jittered and rated on its own.
// Control calls (any thread) change the link table and the settings by
// atomic pointer swaps; old versions are freed after the packet thread
// passes a quiescent state (DPDK QSBR RCU), so the packet path takes no
// lock. When nothing is due, the packet thread sleeps in ppoll() on the
// ports' sockets, an eventfd for control changes, and the time of the next
// departure: no busy-polled core.
#ifndef CLOONIX_SERVICES_A2B_WORKER_H_
#define CLOONIX_SERVICES_A2B_WORKER_H_

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "cloonix/a2b/v1/a2b.pb.h"
#include "common/vnet_port.h"
#include "services/a2b/shaper.h"

struct rte_rcu_qsbr;

namespace cloonix {

struct WorkerOptions {
  std::string file_prefix;  // DPDK runtime dir /var/run/dpdk/<prefix>
};

class Worker {
 public:
  // Initializes the EAL (in the calling thread, which must later call Run)
  // for its RCU: --no-huge unless free hugepages exist, no PCI, no
  // telemetry.
  static absl::StatusOr<std::unique_ptr<Worker>> Create(
      const WorkerOptions& opts);
  ~Worker();

  // ALREADY_EXISTS, INVALID_ARGUMENT (settings, port names), UNAVAILABLE
  // (DPDK or veth failure; nothing is left).
  absl::StatusOr<cloonix::a2b::v1::A2b> Add(
      const cloonix::a2b::v1::CreateA2bRequest& req);
  absl::Status Remove(const std::string& name);
  absl::StatusOr<cloonix::a2b::v1::A2b> Set(const std::string& name,
                                            uint32_t dir,
                                            const cloonix::v1::A2bSettings& s);
  absl::StatusOr<cloonix::a2b::v1::A2b> Get(const std::string& name);
  std::vector<cloonix::a2b::v1::A2b> List();
  void RemoveAll();

  // The packet loop; returns after Stop(). Call from the thread that called
  // Create.
  void Run();
  void Stop();
  // After Run returned: frees everything, EAL cleanup, removes the runtime dir.
  void Cleanup();

 private:
  struct Link {
    std::string name;
    VnetPort ports[2];
    std::atomic<const ShaperSettings*> settings[2];
    cloonix::v1::A2bSettings proto[2];
    Shaper shaper[2];
    Link() : settings{nullptr, nullptr} {}
  };
  struct Table {
    std::vector<Link*> links;
    std::vector<int> fds;
    bool all_pollable = true;
  };

  Worker() = default;
  void Publish() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Synchronize();
  void Wake();
  cloonix::a2b::v1::A2b Describe(const Link& l) const;
  // Super-frames into direction `dir` of `l` unless `s` acts on frames.
  static absl::Status ApplyFraming(Link& l, int dir, const ShaperSettings& s);

  std::string file_prefix_;
  rte_rcu_qsbr* rcu_ = nullptr;
  int wake_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<const Table*> table_{nullptr};
  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<Link>> links_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_A2B_WORKER_H_
