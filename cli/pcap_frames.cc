#include "cli/pcap_frames.h"

namespace cloonix::cli {

pcap_t* OpenDeadFor(const cloonix::v1::CaptureStarted& started) {
  return pcap_open_dead_with_tstamp_precision(
      started.link_type(), static_cast<int>(started.snaplen()),
      PCAP_TSTAMP_PRECISION_NANO);
}

void DumpFrame(pcap_dumper_t* d, const cloonix::v1::CapturedFrame& f) {
  struct pcap_pkthdr h = {};
  h.ts.tv_sec = f.time_ns() / 1000000000;
  h.ts.tv_usec = f.time_ns() % 1000000000;  // ns: the dumper's precision
  h.caplen = static_cast<uint32_t>(f.data().size());
  h.len = f.orig_len();
  pcap_dump(reinterpret_cast<u_char*>(d), &h,
            reinterpret_cast<const u_char*>(f.data().data()));
}

}  // namespace cloonix::cli
