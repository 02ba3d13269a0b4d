// Captured frames (Topology.Capture) into libpcap dumpers, shared by
// `cloonix snf` and the gui's pcap download.
#ifndef CLOONIX_CLI_PCAP_FRAMES_H_
#define CLOONIX_CLI_PCAP_FRAMES_H_

#include <pcap/pcap.h>

#include "cloonix/v1/topology.pb.h"

namespace cloonix::cli {

// A handle for dumpers of the capture that `started` describes, with
// nanosecond timestamps. The caller pcap_close()s it.
pcap_t* OpenDeadFor(const cloonix::v1::CaptureStarted& started);

// Writes one frame to `d` (a dumper of OpenDeadFor's handle).
void DumpFrame(pcap_dumper_t* d, const cloonix::v1::CapturedFrame& f);

}  // namespace cloonix::cli

#endif  // CLOONIX_CLI_PCAP_FRAMES_H_
