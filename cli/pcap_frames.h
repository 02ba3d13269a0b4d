// Captured frames (Topology.Capture) written as pcap files with libpcap,
// shared by `cloonix snf` and the gui's pcap download.
//
// libpcap is loaded (dlopen) when the first writer opens, not at the CLI's
// start: linked, it and its D-Bus and systemd dependencies cost every short
// command (`cloonix ls`, `cloonix ssh`) the binding of nine more shared
// libraries.
#ifndef CLOONIX_CLI_PCAP_FRAMES_H_
#define CLOONIX_CLI_PCAP_FRAMES_H_

#include <cstdio>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "cloonix/v1/topology.pb.h"

namespace cloonix::cli {

// One pcap stream (libpcap's classic format, nanosecond timestamps, the link
// type and snaplen of the capture that `started` describes).
class PcapWriter {
 public:
  // Writes to `path` ("-": stdout). Errors: UNAVAILABLE when libpcap cannot
  // be loaded, UNKNOWN with libpcap's message when the file cannot be made.
  static absl::StatusOr<std::unique_ptr<PcapWriter>> OpenPath(
      const cloonix::v1::CaptureStarted& started, const std::string& path);
  // Writes to `f`, which the writer then owns and closes. On an error the
  // caller must not use `f` again: libpcap closes it when the file header
  // cannot be written, and not on its other errors.
  static absl::StatusOr<std::unique_ptr<PcapWriter>> OpenFile(
      const cloonix::v1::CaptureStarted& started, FILE* f);

  PcapWriter(const PcapWriter&) = delete;
  PcapWriter& operator=(const PcapWriter&) = delete;
  ~PcapWriter();  // flushes and closes the stream

  void Dump(const cloonix::v1::CapturedFrame& f);
  void Flush();

 private:
  PcapWriter(void* pcap, void* dumper) : pcap_(pcap), dumper_(dumper) {}
  static absl::StatusOr<std::unique_ptr<PcapWriter>> Open(
      const cloonix::v1::CaptureStarted& started, const std::string* path,
      FILE* f);

  void* pcap_;    // pcap_t*
  void* dumper_;  // pcap_dumper_t*
};

}  // namespace cloonix::cli

#endif  // CLOONIX_CLI_PCAP_FRAMES_H_
