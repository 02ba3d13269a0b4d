// One nat item's user-mode network stack: a libslirp instance with Cloonix's
// addressing (network 172.17.0.0/24, gateway 172.17.0.2 which is the host's
// loopback, DNS relay 172.17.0.3 to the host's resolv.conf, DHCP leases from
// 172.17.0.10), fed with Ethernet frames from the lan and sending frames back
// through `send`. Leases are learnt from the DHCP ACKs slirp sends (libslirp
// has no lease API). Not thread-safe: one thread (the worker's) calls
// everything, including the poll integration.
#ifndef CLOONIX_SERVICES_NAT_SLIRP_STACK_H_
#define CLOONIX_SERVICES_NAT_SLIRP_STACK_H_

#include <poll.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

struct Slirp;

namespace cloonix {

struct NatLease {
  std::string mac;       // "aa:bb:cc:dd:ee:ff"
  std::string ip;        // "172.17.0.10"
  int64_t acked_ns = 0;  // CLOCK_MONOTONIC of the last ACK
};

inline constexpr char kNatNetwork[] = "172.17.0.0";
inline constexpr char kNatGateway[] = "172.17.0.2";
inline constexpr char kNatDns[] = "172.17.0.3";
inline constexpr char kNatDhcpStart[] = "172.17.0.10";

// A DHCP client frame (Ethernet broadcast, IPv4 0.0.0.0 -> 255.255.255.255,
// UDP 68 -> 67) from `mac` of message type `type` (1 discover, 3 request),
// requesting `want_ip` (option 50) when not empty. INVALID_ARGUMENT for a
// malformed MAC or address.
absl::StatusOr<std::vector<uint8_t>> DhcpClientFrame(const std::string& mac,
                                                     uint8_t type,
                                                     const std::string& want_ip,
                                                     uint32_t xid);

class SlirpStack {
 public:
  using SendFn = std::function<void(const uint8_t* frame, size_t len)>;
  // `notify` is called when slirp wants the poll loop to run again.
  // `mtu`: slirp's MTU and MRU, bytes of IP (576 to 65521): what it sends
  // is never longer; its TCP offers an MSS of `mtu` - 40.
  static absl::StatusOr<std::unique_ptr<SlirpStack>> Create(
      std::string name, SendFn send, std::function<void()> notify,
      uint32_t mtu = 1500);
  ~SlirpStack();
  SlirpStack(const SlirpStack&) = delete;
  SlirpStack& operator=(const SlirpStack&) = delete;

  // A frame from the lan. Unicast frames not addressed to one of slirp's
  // own MACs (52:55:<an address of 172.17.0.0/24>) are dropped: on a lan
  // that floods unknown unicast, slirp must not answer for other hosts.
  void Input(const uint8_t* frame, size_t len);
  // Frames dropped by that filter.
  uint64_t foreign_frames() const { return foreign_; }

  // Gives `mac` the lease `ip` again (after a restart of the nat): a DHCP
  // request is played into slirp, whose lease table then holds the address
  // for that MAC and never hands it to another guest; the ACK is not sent
  // to the lan. INVALID_ARGUMENT for a bad MAC or an address outside the
  // lease range; FAILED_PRECONDITION if slirp refuses (taken).
  absl::Status RestoreLease(const std::string& mac, const std::string& ip);

  // Called (in the worker's thread) when a lease is learnt or changes.
  void SetLeaseListener(std::function<void()> fn) { on_lease_ = std::move(fn); }
  // Poll integration: appends slirp's fds to `fds` and lowers `timeout_ms`;
  // after poll(), Poll() hands the results back.
  void FillPoll(std::vector<pollfd>* fds, uint32_t* timeout_ms);
  void Poll(std::vector<pollfd>* fds, bool poll_failed);
  // Fires expired timers; returns ms until the next one (or UINT32_MAX).
  uint32_t RunTimers();

  std::vector<NatLease> Leases() const;
  // Forwards 127.0.0.1:<returned port> (TCP) to guest_ip:guest_port. The
  // same guest port reuses the forward and counts one more holder.
  absl::StatusOr<int> AddHostForward(const std::string& guest_ip,
                                     int guest_port);
  // Drops one holder; the port is closed when none is left.
  absl::Status RemoveHostForward(int host_port);

  const std::string& name() const { return name_; }
  // Frames sent to / received from the lan.
  uint64_t tx_frames() const { return tx_; }
  uint64_t rx_frames() const { return rx_; }

  // Learns a lease if `frame` is a DHCP ACK (public for tests).
  void SniffDhcp(const uint8_t* frame, size_t len);

 private:
  struct Timer {
    int id;
    void* cb_opaque;
    int64_t expire_ms = -1;
  };
  explicit SlirpStack(std::string name) : name_(std::move(name)) {}
  static ssize_t SendCb(const void* buf, size_t len, void* opaque);
  static void* TimerNewCb(int id, void* cb_opaque, void* opaque);
  static void TimerFreeCb(void* timer, void* opaque);
  static void TimerModCb(void* timer, int64_t expire_ms, void* opaque);
  static void NotifyCb(void* opaque);
  static int AddPollCb(int fd, int events, void* opaque);
  static int GetREventsCb(int idx, void* opaque);

  std::string name_;
  SendFn send_;
  std::function<void()> notify_;
  Slirp* slirp_ = nullptr;
  std::vector<std::unique_ptr<Timer>> timers_;
  std::vector<pollfd>* poll_fds_ = nullptr;
  std::map<std::string, NatLease> leases_;
  std::function<void()> on_lease_;
  bool muted_ = false;  // RestoreLease: replies stay off the lan
  uint64_t foreign_ = 0;
  struct Forward {
    std::string guest_ip;
    int guest_port;
    int holders;
  };
  std::map<int, Forward> forwards_;  // by host port
  uint64_t tx_ = 0, rx_ = 0;
};

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_NAT_SLIRP_STACK_H_
