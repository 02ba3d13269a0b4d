#include "services/orchestrator/recordings.h"

#include <fcntl.h>
#include <pcap/pcap.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/grpc_status.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/grpcpp.h"
#include "spdlog/spdlog.h"

namespace cloonix {

namespace lsv1 = cloonix::lanswitch::v1;

// One recording: lan_switch's capture stream written to a pcap file. The
// next read starts when a batch is written; OnDone closes the file and tells
// the owner (which may drop the last reference: nothing runs after).
class Recordings::Recorder
    : public grpc::ClientReadReactor<cloonix::v1::CaptureMessage> {
 public:
  Recorder(Recordings* owner, std::string name, cloonix::v1::Recording rec,
           pcap_t* dead, pcap_dumper_t* dumper, lsv1::CaptureRequest req)
      : owner_(owner),
        name_(std::move(name)),
        req_(std::move(req)),
        dead_(dead),
        dumper_(dumper),
        rec_(std::move(rec)) {}
  ~Recorder() override {
    if (dumper_ != nullptr) pcap_dump_close(dumper_);  // never begun
    if (dead_ != nullptr) pcap_close(dead_);
  }

  void Begin(lsv1::LanSwitch::Stub* stub) {
    stub->async()->Capture(&ctx_, &req_, this);
    StartRead(&msg_);
    StartCall();
  }
  // OK once lan_switch sent `started`; its error if the call ended first.
  absl::Status AwaitStart(absl::Duration timeout) {
    absl::MutexLock l(&mu_);
    if (!mu_.AwaitWithTimeout(
            absl::Condition(
                +[](State* s) { return *s != kStarting; }, &state_),
            timeout)) {
      ctx_.TryCancel();
      return absl::DeadlineExceededError(
          "lan_switch did not start the capture in time");
    }
    if (state_ == kDone && !started_) return FromGrpcStatus(status_);
    return absl::OkStatus();
  }
  void Stop() {
    {
      absl::MutexLock l(&mu_);
      stop_requested_ = true;
    }
    ctx_.TryCancel();
  }
  void AwaitDone() {
    absl::MutexLock l(&mu_);
    mu_.Await(absl::Condition(
        +[](State* s) { return *s == kDone; }, &state_));
  }
  cloonix::v1::Recording Snapshot() {
    absl::MutexLock l(&mu_);
    return rec_;
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows
    {
      absl::MutexLock l(&mu_);
      if (msg_.has_started()) {
        started_ = true;
        state_ = kRunning;
      } else if (msg_.has_frames() && dumper_ != nullptr) {
        for (const auto& f : msg_.frames().frames()) {
          pcap_pkthdr h{};
          h.ts.tv_sec = f.time_ns() / 1000000000;
          h.ts.tv_usec = f.time_ns() % 1000000000;  // ns: nano dumper
          h.caplen = f.data().size();
          h.len = f.orig_len();
          pcap_dump(reinterpret_cast<u_char*>(dumper_), &h,
                    reinterpret_cast<const u_char*>(f.data().data()));
          rec_.set_frames(rec_.frames() + 1);
          rec_.set_bytes(rec_.bytes() + f.data().size());
        }
        pcap_dump_flush(dumper_);
      } else if (msg_.has_stats() && msg_.stats().points_size() > 0) {
        *rec_.mutable_stats() = msg_.stats().points(0);
      }
    }
    StartRead(&msg_);
  }

  void OnDone(const grpc::Status& s) override {
    cloonix::v1::Recording last;
    bool started;
    {
      absl::MutexLock l(&mu_);
      if (dumper_ != nullptr) pcap_dump_close(dumper_);
      dumper_ = nullptr;
      status_ = s;
      started = started_;
      rec_.set_active(false);
      if (stop_requested_) {
        rec_.set_ended("stopped");
      } else if (s.ok()) {
        rec_.set_ended("the capture ended");
      } else {
        rec_.set_ended(s.error_message());
      }
      last = rec_;
      state_ = kDone;
    }
    if (!started) unlink(rec_.file().c_str());
    spdlog::info("recording {} ended ({}): {} frames in {}", name_,
                 last.ended(), last.frames(), last.file());
    owner_->Ended(name_, last, started);  // may delete this
  }

 private:
  enum State { kStarting, kRunning, kDone };
  Recordings* owner_;
  const std::string name_;
  grpc::ClientContext ctx_;
  lsv1::CaptureRequest req_;
  cloonix::v1::CaptureMessage msg_;
  pcap_t* dead_;
  absl::Mutex mu_;
  pcap_dumper_t* dumper_ ABSL_GUARDED_BY(mu_);
  cloonix::v1::Recording rec_ ABSL_GUARDED_BY(mu_);
  State state_ ABSL_GUARDED_BY(mu_) = kStarting;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_requested_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
};

Recordings::Recordings(std::string dir, lsv1::LanSwitch::Stub* stub)
    : dir_(std::move(dir)), stub_(stub) {}

Recordings::~Recordings() { StopAll(); }

absl::StatusOr<cloonix::v1::Recording> Recordings::Start(
    const cloonix::v1::CapturePoint& point, const std::string& name,
    const std::string& file_stem, lsv1::CaptureRequest req) {
  // One start at a time: a second `on` of a point waits for the first.
  absl::MutexLock starting(&start_mu_);
  {
    absl::MutexLock l(&mu_);
    auto it = active_.find(name);
    if (it != active_.end()) return it->second->Snapshot();
  }
  if (mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST)
    return absl::InternalError(
        absl::StrCat("cannot make ", dir_, ": ", strerror(errno)));
  const std::string file = absl::StrCat(dir_, "/", file_stem, ".pcap");
  const int snaplen = req.snaplen() == 0 ? 262144 : req.snaplen();
  pcap_t* dead = pcap_open_dead_with_tstamp_precision(
      DLT_EN10MB, snaplen, PCAP_TSTAMP_PRECISION_NANO);
  if (dead == nullptr) return absl::InternalError("pcap_open_dead failed");
  const int fd =
      open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  FILE* f = fd < 0 ? nullptr : fdopen(fd, "wb");
  pcap_dumper_t* dumper = f == nullptr ? nullptr : pcap_dump_fopen(dead, f);
  if (dumper == nullptr) {
    std::string why = fd < 0 ? strerror(errno) : pcap_geterr(dead);
    if (f != nullptr) {
      fclose(f);
    } else if (fd >= 0) {
      close(fd);
    }
    pcap_close(dead);
    unlink(file.c_str());
    return absl::InternalError(absl::StrCat("cannot write ", file, ": ", why));
  }
  cloonix::v1::Recording rec;
  *rec.mutable_point() = point;
  rec.set_name(name);
  rec.set_file(file);
  rec.set_active(true);
  *rec.mutable_start_time() =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
          absl::ToUnixNanos(absl::Now()));
  auto r =
      std::make_shared<Recorder>(this, name, rec, dead, dumper, std::move(req));
  {
    absl::MutexLock l(&mu_);
    active_[name] = r;
  }
  r->Begin(stub_);
  if (absl::Status s = r->AwaitStart(absl::Seconds(15)); !s.ok()) {
    r->AwaitDone();
    return s;
  }
  spdlog::info("recording {} into {}", name, file);
  return r->Snapshot();
}

cloonix::v1::Recording Recordings::Stop(const cloonix::v1::CapturePoint& point,
                                        const std::string& name) {
  std::shared_ptr<Recorder> r;
  {
    absl::MutexLock l(&mu_);
    auto it = active_.find(name);
    if (it == active_.end()) {
      auto e = ended_.find(name);
      if (e != ended_.end()) return e->second;
      cloonix::v1::Recording none;
      *none.mutable_point() = point;
      none.set_name(name);
      return none;
    }
    r = it->second;
  }
  r->Stop();
  r->AwaitDone();
  return r->Snapshot();
}

std::vector<cloonix::v1::Recording> Recordings::List() {
  std::vector<std::shared_ptr<Recorder>> running;
  std::vector<cloonix::v1::Recording> out;
  {
    absl::MutexLock l(&mu_);
    for (const auto& [name, r] : active_) running.push_back(r);
    for (const auto& [name, rec] : ended_) {
      if (!active_.count(name)) out.push_back(rec);
    }
  }
  for (const auto& r : running) out.push_back(r->Snapshot());
  return out;
}

void Recordings::StopAll() {
  std::vector<std::shared_ptr<Recorder>> running;
  {
    absl::MutexLock l(&mu_);
    for (const auto& [name, r] : active_) running.push_back(r);
  }
  for (const auto& r : running) r->Stop();
  for (const auto& r : running) r->AwaitDone();
}

void Recordings::Ended(const std::string& name,
                       const cloonix::v1::Recording& last, bool started) {
  std::shared_ptr<Recorder> drop;  // released after mu_
  absl::MutexLock l(&mu_);
  if (started) ended_[name] = last;
  auto it = active_.find(name);
  if (it != active_.end()) {
    drop = std::move(it->second);
    active_.erase(it);
  }
}

}  // namespace cloonix
