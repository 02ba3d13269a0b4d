// The c2c data plane of one net (c2c.proto): one DPDK process in the host's
// netns, one packet thread (the EAL main lcore), every c2c end of the net.
// Each end: an af_packet port (veth: port end in netns cloonix_<net>, worker
// end "cc<tag><id>" in the host's netns) and a UDP socket. lan -> peer: a
// burst from the PMD is sent with one sendmmsg, each frame behind an 8-byte
// VXLAN header (iovec, no copy). peer -> lan: recvmmsg into mbufs directly
// (the VXLAN header lands in the headroom), source and VNI checked, one
// tx burst. Control calls swap an RCU-protected table (as in a2b); the
// packet thread sleeps in ppoll() on the PMD sockets, the UDP sockets and an
// eventfd when idle.
#ifndef CLOONIX_SERVICES_C2C_WORKER_H_
#define CLOONIX_SERVICES_C2C_WORKER_H_

#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "cloonix/c2c/v1/c2c.pb.h"
#include "common/af_packet_port.h"
#include "services/c2c/mac_mangle.h"

struct rte_mempool;
struct rte_rcu_qsbr;

namespace cloonix {

struct C2cWorkerOptions {
  std::string net;
  std::string file_prefix;  // DPDK runtime dir /var/run/dpdk/<prefix>
  int mbufs = 8191;
};

class C2cWorker {
 public:
  static absl::StatusOr<std::unique_ptr<C2cWorker>> Create(
      const C2cWorkerOptions& opts);
  ~C2cWorker();

  absl::StatusOr<cloonix::c2c::v1::C2c> Add(
      const cloonix::c2c::v1::CreateC2cRequest& req);
  absl::StatusOr<cloonix::c2c::v1::C2c> SetPeer(const std::string& name,
                                                const std::string& ip,
                                                uint32_t port);
  // mac_mangle: "" off, else a unicast MAC (mac_mangle.h), live.
  absl::StatusOr<cloonix::c2c::v1::C2c> SetMacMangle(const std::string& name,
                                                     const std::string& mac);
  absl::Status Remove(const std::string& name);
  std::vector<cloonix::c2c::v1::C2c> List();
  void RemoveAll();

  void Run();
  void Stop();
  void Cleanup();

 private:
  struct Counters {
    std::atomic<uint64_t> tx_frames{0}, tx_bytes{0}, rx_frames{0}, rx_bytes{0},
        drop_foreign{0}, drop_bad_vni{0}, drop_too_big{0}, drop_other{0},
        tcp_split{0}, mangled{0};
  };
  struct Peer {
    sockaddr_storage addr{};
    socklen_t len = 0;
    uint32_t max_frame = 0;  // inner frame bytes (with its Ethernet header)
  };
  struct End {
    std::string name;
    AfPacketPort port;
    std::string worker_if;
    int udp_fd = -1;
    uint32_t vni = 0;
    uint32_t udp_port = 0;
    std::atomic<const Peer*> peer{nullptr};
    std::string peer_ip;
    uint32_t peer_port = 0;
    uint32_t inner_mtu = 0;
    // Swapped under mu_ and freed after Synchronize(); used by the packet
    // thread only.
    std::atomic<MacMangler*> mangle{nullptr};
    std::string mangle_mac;
    Counters counters;
  };
  struct Table {
    std::vector<End*> ends;
    std::vector<int> fds;
    bool all_pollable = true;
  };

  C2cWorker() = default;
  void Publish() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Synchronize();
  void Wake();
  cloonix::c2c::v1::C2c Describe(const End& e) const;
  // The peer as a socket address and its path's frame limit.
  absl::StatusOr<std::unique_ptr<Peer>> MakePeer(const std::string& ip,
                                                 uint32_t port,
                                                 uint32_t* inner_mtu);
  // A TCP/IPv4 frame over the path's limit (OVS 3.1 cuts TSO traffic to
  // its output port's MTU, 1500, whatever the sender's segment size) is
  // sent as several segments that fit, as a NIC's TSO would. Returns the
  // number of datagrams sent; false if the frame is not TCP/IPv4.
  bool SplitTcp(End* e, const Peer& peer, const uint8_t* hdr,
                const uint8_t* frame, uint32_t len, uint64_t* sent);
  void FromLan(End* e);
  void FromPeer(End* e);

  std::string net_;
  std::string file_prefix_;
  rte_mempool* pool_ = nullptr;
  rte_rcu_qsbr* rcu_ = nullptr;
  int wake_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<const Table*> table_{nullptr};
  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<End>> ends_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_C2C_WORKER_H_
