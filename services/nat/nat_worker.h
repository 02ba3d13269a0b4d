// The nat data plane of one net: one VnetPort per nat item (AF_PACKET with
// virtio-net headers, common/vnet_port.h) on a veth whose other end is the
// item's port in netns cloonix_<net>, and one libslirp stack per item, all
// driven by a single thread. A guest's TCP super-frames (TSO/GSO, up to
// 64 KB) reach slirp whole, their checksum completed, so slirp writes 64 KB
// to the host socket per packet instead of one MSS; and slirp sends 64 KB
// segments back, as super-frames (services/nat/big_segments.h). What slirp
// sends is batched into one sendmmsg per loop pass. The thread sleeps in poll()
// on the ports' sockets, slirp's sockets and timers, and an eventfd for control
// calls: no busy polling when no packet flows. The process stays in the host's
// netns, so slirp's sockets reach the host's services. The DPDK EAL is still
// started (runtime dir as before) but carries no frame.
#ifndef CLOONIX_SERVICES_NAT_NAT_WORKER_H_
#define CLOONIX_SERVICES_NAT_NAT_WORKER_H_

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "cloonix/nat/v1/nat.pb.h"
#include "common/vnet_port.h"
#include "services/nat/big_segments.h"
#include "services/nat/slirp_stack.h"

namespace cloonix {

struct NatWorkerOptions {
  std::string net;
  std::string file_prefix;  // DPDK runtime dir name
  // Where each nat's DHCP leases are kept (<lease_dir>/<nat>.leases.json):
  // written when a lease changes, replayed when the nat is created again
  // (a restarted worker), removed when the nat is deleted. Empty: not kept.
  std::string lease_dir;
};

class NatWorker {
 public:
  static absl::StatusOr<std::unique_ptr<NatWorker>> Create(
      const NatWorkerOptions& opts);
  // The packet loop, in the calling thread, until Stop().
  void Run();
  void Stop();
  // After Run returned: deletes every nat, frees DPDK, removes its dirs.
  void Cleanup();

  // Control calls (any thread; executed by the loop thread).
  absl::StatusOr<nat::v1::Nat> CreateNat(const std::string& name, uint32_t id,
                                         const std::string& port);
  absl::Status DeleteNat(const std::string& name);
  std::vector<nat::v1::Nat> List();
  absl::StatusOr<nat::v1::AddHostForwardResponse> AddHostForward(
      const nat::v1::AddHostForwardRequest& req);
  absl::Status RemoveHostForward(const std::string& nat, int host_port);
  absl::Status DeleteAll();

 private:
  struct Entry {
    std::string name;
    VnetPort port;
    std::unique_ptr<SlirpStack> stack;
    std::vector<VnetFrame*> out;  // frames slirp sent, until Flush
    BigSegments segments;
  };
  std::string LeaseFile(const std::string& nat) const;
  void SaveLeases(const std::string& nat, const SlirpStack& stack);
  void RestoreLeases(const std::string& nat, SlirpStack* stack);
  NatWorker() = default;
  // Runs `f` on the loop thread and waits for it.
  void OnLoop(std::function<void()> f);
  void Wake();
  nat::v1::Nat Describe(const Entry& e) const;
  // Queues a frame from slirp for `e`'s lan; sent by Flush (at once when a
  // burst is full).
  void Send(Entry* e, const uint8_t* frame, size_t len);
  static void Flush(Entry* e);

  NatWorkerOptions opts_;
  int wake_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<bool> running_{false};
  absl::Mutex mu_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  // Loop thread only.
  std::map<std::string, std::unique_ptr<Entry>> nats_;
};

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_NAT_NAT_WORKER_H_
