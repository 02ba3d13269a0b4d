#include "services/lan_switch/capture.h"

#include <pcap/pcap.h>
#include <sys/epoll.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/fd_watcher.h"
#include "common/grpc_status.h"
#include "common/netns.h"
#include "grpcpp/alarm.h"
#include "spdlog/spdlog.h"

namespace cloonix {

namespace {

namespace v1 = ::cloonix::v1;
namespace lsv1 = ::cloonix::lanswitch::v1;

constexpr uint32_t kMaxSnaplen = 262144;
constexpr int kMaxTargets = 16;
// A batch sent to the client: at most this many frames or bytes.
constexpr int kBatchFrames = 256;
constexpr size_t kBatchBytes = 1 << 20;

// Opens `ifname` of netns `netns` for capture. pcap's socket belongs to the
// netns of the thread that makes it: a short-lived thread enters the netns.
absl::StatusOr<pcap_t*> OpenInNetns(const std::string& netns,
                                    const std::string& ifname, uint32_t snaplen,
                                    const std::string& filter) {
  absl::StatusOr<pcap_t*> out = absl::InternalError("not opened");
  std::thread t([&] {
    if (absl::Status s = EnterNetns(netns); !s.ok()) {
      out = s;
      return;
    }
    char err[PCAP_ERRBUF_SIZE] = {0};
    pcap_t* h = pcap_create(ifname.c_str(), err);
    if (h == nullptr) {
      out = absl::InternalError(absl::StrCat("pcap on ", ifname, ": ", err));
      return;
    }
    pcap_set_snaplen(h, static_cast<int>(snaplen));
    pcap_set_promisc(h, 1);
    pcap_set_immediate_mode(h, 1);
    pcap_set_buffer_size(h, 8 << 20);
    pcap_set_tstamp_precision(h, PCAP_TSTAMP_PRECISION_NANO);
    int rc = pcap_activate(h);
    if (rc < 0) {
      out = rc == PCAP_ERROR_NO_SUCH_DEVICE
                ? absl::NotFoundError(
                      absl::StrCat("no interface ", ifname, " in ", netns))
                : absl::InternalError(
                      absl::StrCat("pcap on ", ifname, ": ", pcap_geterr(h)));
      pcap_close(h);
      return;
    }
    if (!filter.empty()) {
      struct bpf_program prog;
      if (pcap_compile(h, &prog, filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) !=
          0) {
        out = absl::InvalidArgumentError(
            absl::StrCat("filter \"", filter, "\": ", pcap_geterr(h)));
        pcap_close(h);
        return;
      }
      rc = pcap_setfilter(h, &prog);
      pcap_freecode(&prog);
      if (rc != 0) {
        out = absl::InternalError(
            absl::StrCat("filter on ", ifname, ": ", pcap_geterr(h)));
        pcap_close(h);
        return;
      }
    }
    if (pcap_setnonblock(h, 1, err) != 0) {
      out = absl::InternalError(absl::StrCat("pcap nonblock: ", err));
      pcap_close(h);
      return;
    }
    out = h;
  });
  t.join();
  return out;
}

class CaptureReactor : public grpc::ServerWriteReactor<v1::CaptureMessage> {
 public:
  CaptureReactor(const lsv1::CaptureRequest& req, CaptureEnv env)
      : env_(std::move(env)), count_(req.count()) {
    absl::MutexLock l(&mu_);
    if (absl::Status s = Start(req); !s.ok()) {
      FinishLocked(ToGrpcStatus(s));
      return;
    }
    resp_.Clear();
    v1::CaptureStarted* st = resp_.mutable_started();
    for (const auto& p : points_) st->add_ifnames(p.ifname);
    st->set_link_type(link_type_);
    st->set_snaplen(snaplen_);
    writing_ = true;
    StartWrite(&resp_);
    if (req.duration_ms() > 0) {
      refs_.fetch_add(1);
      alarm_.Set(absl::ToChronoTime(absl::Now() +
                                    absl::Milliseconds(req.duration_ms())),
                 [this](bool fired) {
                   if (fired) {
                     absl::MutexLock l(&mu_);
                     EndLocked();
                   }
                   Unref();
                 });
    }
    for (size_t i = 0; i < points_.size(); ++i) {
      FdWatcher::Default()->Arm(points_[i].fd, EPOLLIN);
    }
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock l(&mu_);
    writing_ = false;
    if (!ok) {
      FinishLocked(
          grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
      return;
    }
    PumpLocked();
    if (!finished_ && !ending_) {
      for (auto& p : points_) FdWatcher::Default()->Arm(p.fd, EPOLLIN);
    }
  }

  void OnCancel() override {
    absl::MutexLock l(&mu_);
    FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "capture stopped"));
  }

  void OnDone() override {
    for (auto& p : points_) {
      if (p.fd >= 0) FdWatcher::Default()->Remove(p.fd);  // no lock held
    }
    alarm_.Cancel();
    Unref();
  }

 private:
  struct Point {
    std::string ifname;
    std::string mirror_bridge;  // a lan: the mirror to remove
    pcap_t* pcap = nullptr;
    int fd = -1;
  };

  ~CaptureReactor() override {
    for (auto& p : points_) {
      if (p.pcap != nullptr) pcap_close(p.pcap);
      if (!p.mirror_bridge.empty())
        env_.remove_mirror(p.mirror_bridge, p.ifname);
    }
  }

  void Unref() {
    if (refs_.fetch_sub(1) == 1) delete this;
  }

  absl::Status Start(const lsv1::CaptureRequest& req)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (req.targets_size() == 0)
      return absl::InvalidArgumentError("a capture needs at least one point");
    if (req.targets_size() > kMaxTargets)
      return absl::InvalidArgumentError(
          absl::StrCat("at most ", kMaxTargets, " points in one capture"));
    if (req.snaplen() > kMaxSnaplen)
      return absl::InvalidArgumentError(absl::StrCat(
          "snaplen ", req.snaplen(), " is more than ", kMaxSnaplen));
    snaplen_ = req.snaplen() == 0 ? kMaxSnaplen : req.snaplen();
    for (const auto& t : req.targets()) {
      Point p;
      if (!t.bridge().empty()) {
        auto port = env_.add_mirror(t.bridge());
        if (!port.ok()) return port.status();
        p.ifname = *port;
        p.mirror_bridge = t.bridge();
      } else {
        p.ifname = t.ifname();
      }
      points_.push_back(p);  // the destructor removes its mirror
      auto h = OpenInNetns(env_.netns, p.ifname, snaplen_, req.filter());
      if (!h.ok()) return h.status();
      points_.back().pcap = *h;
      link_type_ = pcap_datalink(*h);
      int fd = pcap_get_selectable_fd(*h);
      const size_t i = points_.size() - 1;
      if (fd < 0 || !FdWatcher::Default()
                         ->Add(fd, [this, i](uint32_t) { OnReadable(i); })
                         .ok()) {
        return absl::InternalError(
            absl::StrCat("cannot watch the capture of ", p.ifname));
      }
      points_.back().fd = fd;
    }
    spdlog::info("capture started on {} point(s), filter \"{}\"",
                 points_.size(), req.filter());
    return absl::OkStatus();
  }

  struct Collect {
    CaptureReactor* self;
    uint32_t point;
    pcap_t* pcap;
  };
  static void OnFrame(u_char* user, const struct pcap_pkthdr* h,
                      const u_char* bytes) {
    auto* c = reinterpret_cast<Collect*>(user);
    CaptureReactor* self = c->self;
    if (self->count_ > 0 && self->seen_ >= self->count_) return;
    ++self->seen_;
    v1::CapturedFrame* f = self->pending_.add_frames();
    f->set_point(c->point);
    // Nanosecond precision: tv_usec holds ns.
    f->set_time_ns(static_cast<int64_t>(h->ts.tv_sec) * 1000000000 +
                   h->ts.tv_usec);
    f->set_orig_len(h->len);
    f->set_data(bytes, h->caplen);
    self->pending_bytes_ += h->caplen;
    // A batch stays well under gRPC's 4 MB message limit (offloaded TCP
    // frames reach 64 KB each): the rest waits in the ring.
    if (self->pending_bytes_ >= kBatchBytes) pcap_breakloop(c->pcap);
  }

  // The FdWatcher thread: what the ring holds, up to a batch.
  void OnReadable(size_t i) {
    absl::MutexLock l(&mu_);
    if (finished_ || ending_) return;
    if (pending_.frames_size() >= kBatchFrames ||
        pending_bytes_ >= kBatchBytes) {
      return;  // re-armed once the batch in flight is written
    }
    Collect c{this, static_cast<uint32_t>(i), points_[i].pcap};
    int n =
        pcap_dispatch(points_[i].pcap, kBatchFrames - pending_.frames_size(),
                      &OnFrame, reinterpret_cast<u_char*>(&c));
    if (n == PCAP_ERROR_BREAK) n = 0;  // the batch is full
    if (n < 0) {
      FinishLocked(ToGrpcStatus(absl::InternalError(
          absl::StrCat("capture on ", points_[i].ifname, ": ",
                       pcap_geterr(points_[i].pcap)))));
      return;
    }
    if (count_ > 0 && seen_ >= count_) {
      EndLocked();
      return;
    }
    PumpLocked();
    // While a write is in flight the batch fills; once full, the ring holds
    // the rest until OnWriteDone re-arms.
    if (pending_.frames_size() < kBatchFrames && pending_bytes_ < kBatchBytes)
      FdWatcher::Default()->Arm(points_[i].fd, EPOLLIN);
  }

  void PumpLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || finished_) return;
    if (pending_.frames_size() > 0) {
      resp_.Clear();
      resp_.mutable_frames()->Swap(&pending_);
      pending_bytes_ = 0;
      writing_ = true;
      StartWrite(&resp_);
      return;
    }
    if (ending_) {
      resp_.Clear();
      v1::CaptureStats* st = resp_.mutable_stats();
      for (auto& p : points_) {
        struct pcap_stat ps = {};
        pcap_stats(p.pcap, &ps);
        auto* s = st->add_points();
        s->set_received(ps.ps_recv);
        s->set_dropped(ps.ps_drop);
        s->set_if_dropped(ps.ps_ifdrop);
      }
      finished_ = true;
      writing_ = true;
      StartWriteAndFinish(&resp_, grpc::WriteOptions(), grpc::Status::OK);
      spdlog::info("capture ended: {} frame(s)", seen_);
    }
  }

  // The count or the duration is reached: the frames collected, then the
  // stats, then the end.
  void EndLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || ending_) return;
    ending_ = true;
    PumpLocked();
  }

  void FinishLocked(const grpc::Status& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    Finish(s);
  }

  CaptureEnv env_;
  const uint64_t count_;
  std::atomic<int> refs_{1};  // OnDone
  absl::Mutex mu_;
  std::vector<Point> points_;
  uint32_t snaplen_ = kMaxSnaplen;
  int link_type_ = DLT_EN10MB;
  v1::CaptureMessage resp_ ABSL_GUARDED_BY(mu_);
  v1::CapturedFrames pending_ ABSL_GUARDED_BY(mu_);
  size_t pending_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t seen_ ABSL_GUARDED_BY(mu_) = 0;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool ending_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Alarm alarm_;
};

}  // namespace

grpc::ServerWriteReactor<v1::CaptureMessage>* NewCapture(
    const lsv1::CaptureRequest& req, CaptureEnv env) {
  return new CaptureReactor(req, std::move(env));
}

}  // namespace cloonix
