// Host end of one VM's guest channel (common/agent_wire.h): a thread keeps a
// connection to the VM's virtio-serial unix socket (QEMU is the server),
// reconnecting after QEMU or the guest restarts, tracks heartbeats (agent up
// = a frame within the last 3 s) and routes frames to sessions.
#ifndef CLOONIX_SERVICES_VM_RUNNER_AGENT_LINK_H_
#define CLOONIX_SERVICES_VM_RUNNER_AGENT_LINK_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/agent_wire.h"

namespace cloonix {

// Frames addressed to one session, in arrival order. Bounded: when a
// consumer (a slow gRPC client) lets more than kHighWater bytes wait, the
// link stops reading the channel until it drains, so the agent's writes
// block in the guest (back-pressure through virtio) instead of vm_runner's
// memory growing.
class AgentSession {
 public:
  static constexpr size_t kHighWater = 8 << 20;
  explicit AgentSession(uint32_t id) : id_(id) {}
  uint32_t id() const { return id_; }
  // Waits up to `timeout` for a frame. Returns false on timeout; a lost
  // channel gives a kError frame.
  bool Pop(wire::Frame* f, absl::Duration timeout);
  // Queues `f` (always: errors).
  void Push(wire::Frame f);
  // Queues `f` unless kHighWater bytes wait; then waits up to `timeout`
  // for room and returns false (f untouched) if there is none yet. A
  // closed session takes (drops) everything.
  bool PushWait(wire::Frame* f, absl::Duration timeout);
  // The consumer is gone: stop holding the link back.
  void Close();
  size_t queued();
  // Called (from the link's thread, no lock of the link held) after each
  // frame is queued, for consumers driven by events (gRPC reactors) rather
  // than waiting in Pop. Setting another listener (or none) waits for a call
  // in progress, so a consumer that unsets it before going away is never
  // called afterwards: do not hold a lock the listener takes while a call
  // may be in progress. The listener must not call SetListener.
  void SetListener(std::function<void()> fn);

 private:
  void Notify();
  const uint32_t id_;
  absl::Mutex listener_mu_;
  std::function<void()> listener_ ABSL_GUARDED_BY(listener_mu_);
  int calling_ ABSL_GUARDED_BY(listener_mu_) = 0;
  absl::Mutex mu_;
  std::deque<wire::Frame> q_ ABSL_GUARDED_BY(mu_);
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

class AgentLink {
 public:
  AgentLink(std::string name, std::string socket_path);
  ~AgentLink();
  AgentLink(const AgentLink&) = delete;
  AgentLink& operator=(const AgentLink&) = delete;

  // Ends the link: open sessions get an error, no reconnect. Idempotent.
  void Stop();
  bool Up();
  std::string Hostname();
  // A new session; Close() it when done (sends kKill if `kill`).
  std::shared_ptr<AgentSession> Open();
  void Close(const std::shared_ptr<AgentSession>& s, bool kill);
  // UNAVAILABLE when not connected.
  absl::Status Send(uint32_t session, wire::Type type,
                    const std::string& payload);

 private:
  void Loop();
  void Drop(const std::string& why);

  const std::string name_;
  const std::string path_;
  std::atomic<bool> stop_{false};
  absl::Mutex write_mu_;
  int fd_ ABSL_GUARDED_BY(write_mu_) = -1;
  absl::Mutex mu_;
  absl::Time last_seen_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::string hostname_ ABSL_GUARDED_BY(mu_);
  uint32_t next_session_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<uint32_t, std::shared_ptr<AgentSession>> sessions_
      ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_VM_RUNNER_AGENT_LINK_H_
