#include "common/af_packet_port.h"

#include <dirent.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <rte_bus_vdev.h>
#include <rte_ethdev.h>
#include <rte_mempool.h>
#include <sys/socket.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/worker_veth.h"
#include "spdlog/spdlog.h"

namespace cloonix {

namespace {

constexpr uint16_t kRingSize = 1024;

// The AF_PACKET socket bound to `ifindex`, among this process's fds.
int FindPacketSocket(int ifindex) {
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  int found = -1;
  while (struct dirent* e = readdir(d)) {
    int fd = atoi(e->d_name);
    if (fd <= 2) continue;
    int domain = 0;
    socklen_t len = sizeof(domain);
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0 ||
        domain != AF_PACKET) {
      continue;
    }
    struct sockaddr_ll sll = {};
    socklen_t slen = sizeof(sll);
    if (getsockname(fd, reinterpret_cast<struct sockaddr*>(&sll), &slen) == 0 &&
        sll.sll_ifindex == ifindex) {
      found = fd;
    }
  }
  closedir(d);
  return found;
}

}  // namespace

absl::StatusOr<AfPacketPort> AfPacketPort::Open(const std::string& port_if,
                                                const std::string& worker_if,
                                                rte_mempool* pool,
                                                const std::string& port_netns) {
  AfPacketPort p;
  p.port_if_ = port_if;
  p.worker_if_ = worker_if;
  p.port_netns_ = port_netns;
  p.vdev_ = "net_af_packet_" + worker_if;
  RETURN_IF_ERROR(CreateWorkerVeth(port_if, worker_if, port_netns,
                                   /*frames_only=*/true));
  auto fail = [&p](absl::Status s) -> absl::StatusOr<AfPacketPort> {
    p.Close();
    return s;
  };
  std::string args = absl::StrCat("iface=", worker_if,
                                  ",qpairs=1,framecnt=1024,qdisc_bypass=1");
  if (rte_vdev_init(p.vdev_.c_str(), args.c_str()) != 0) {
    return fail(absl::UnavailableError(
        absl::StrCat("DPDK cannot attach net_af_packet to ", worker_if)));
  }
  p.open_ = true;
  if (rte_eth_dev_get_port_by_name(p.vdev_.c_str(), &p.port_id_) != 0) {
    return fail(absl::InternalError("af_packet port not found after probe"));
  }
  struct rte_eth_conf conf = {};
  int rc = rte_eth_dev_configure(p.port_id_, 1, 1, &conf);
  if (rc == 0)
    rc = rte_eth_rx_queue_setup(p.port_id_, 0, kRingSize, SOCKET_ID_ANY,
                                nullptr, pool);
  if (rc == 0)
    rc = rte_eth_tx_queue_setup(p.port_id_, 0, kRingSize, SOCKET_ID_ANY,
                                nullptr);
  if (rc == 0) rc = rte_eth_dev_start(p.port_id_);
  if (rc != 0) {
    return fail(absl::InternalError(absl::StrCat(
        "configuring DPDK port ", p.vdev_, ": ", rte_strerror(-rc))));
  }
  rte_eth_promiscuous_enable(p.port_id_);
  p.poll_fd_ =
      FindPacketSocket(static_cast<int>(if_nametoindex(worker_if.c_str())));
  if (p.poll_fd_ < 0)
    spdlog::warn("no pollable socket found for {}: worker will poll",
                 worker_if);
  return p;
}

void AfPacketPort::Close() {
  if (open_) {
    rte_eth_dev_stop(port_id_);
    rte_eth_dev_close(port_id_);
    rte_vdev_uninit(vdev_.c_str());
    open_ = false;
  }
  poll_fd_ = -1;
  DeleteWorkerVeth(worker_if_);
}

}  // namespace cloonix
