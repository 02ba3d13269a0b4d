// One capture of lan_switch's Capture stream (cloonix.v1.Topology.Capture):
// a pcap handle per target, opened inside netns cloonix_<net> (libpcap:
// TPACKET_V3 ring, immediate mode, nanosecond timestamps, the BPF filter
// compiled by pcap), read on readiness (common/fd_watcher.h) and written to
// the client in batches, one write in flight: while the client is slow the
// frames wait in the kernel ring, and what it cannot hold is counted as
// dropped (pcap_stats) and reported at the end. A lan target gets an OVS
// mirror to an internal port made for the capture and removed after it.
#ifndef CLOONIX_SERVICES_LAN_SWITCH_CAPTURE_H_
#define CLOONIX_SERVICES_LAN_SWITCH_CAPTURE_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "cloonix/lanswitch/v1/lan_switch.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace cloonix {

struct CaptureEnv {
  std::string netns;  // where the interfaces are
  // Makes a mirror of every frame of `bridge` to a new internal port;
  // returns the port's interface name (up in `netns`).
  std::function<absl::StatusOr<std::string>(const std::string& bridge)>
      add_mirror;
  std::function<void(const std::string& bridge, const std::string& port)>
      remove_mirror;
};

// The reactor of one Capture call; it deletes itself when done.
grpc::ServerWriteReactor<cloonix::v1::CaptureMessage>* NewCapture(
    const cloonix::lanswitch::v1::CaptureRequest& req, CaptureEnv env);

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_LAN_SWITCH_CAPTURE_H_
