// Cloonix's `snf <item> <eth> on|off` (topology.proto SetRecording): captures
// the net runs by itself, each a ClientReadReactor on lan_switch's Capture
// stream that writes every batch to a pcap file with libpcap (nanosecond
// timestamps) and flushes it. No thread per recording, no polling.
#ifndef CLOONIX_SERVICES_ORCHESTRATOR_RECORDINGS_H_
#define CLOONIX_SERVICES_ORCHESTRATOR_RECORDINGS_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "cloonix/lanswitch/v1/lan_switch.grpc.pb.h"
#include "cloonix/v1/topology.pb.h"

namespace cloonix {

class Recordings {
 public:
  // Files go to `dir` (made 0700 on first use). `stub`: lan_switch's.
  Recordings(std::string dir, cloonix::lanswitch::v1::LanSwitch::Stub* stub);
  ~Recordings();  // StopAll

  // Starts recording `point` (named `name`: "item:ethN" or a lan) with
  // lan_switch's request `req` (one target) into <dir>/<file_stem>.pcap.
  // Waits for lan_switch's first message: its error (a filter pcap cannot
  // compile, an interface gone) is returned and the file removed. A point
  // already recording: its recording.
  absl::StatusOr<cloonix::v1::Recording> Start(
      const cloonix::v1::CapturePoint& point, const std::string& name,
      const std::string& file_stem, cloonix::lanswitch::v1::CaptureRequest req);
  // Stops `name`'s recording and returns its final state; none running:
  // the last one's (active false), or just the point.
  cloonix::v1::Recording Stop(const cloonix::v1::CapturePoint& point,
                              const std::string& name);
  std::vector<cloonix::v1::Recording> List();
  // Ends every recording (net stop) and waits for their files to close.
  void StopAll();

 private:
  class Recorder;
  // From a Recorder's OnDone.
  void Ended(const std::string& name, const cloonix::v1::Recording& last,
             bool started);

  const std::string dir_;
  cloonix::lanswitch::v1::LanSwitch::Stub* stub_;
  absl::Mutex start_mu_;
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<Recorder>> active_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, cloonix::v1::Recording> ended_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_ORCHESTRATOR_RECORDINGS_H_
