#include "services/vm_runner/vm_guest_service.h"

#include <libvirt/libvirt.h>
#include <sys/stat.h>
#include <unistd.h>

#include <deque>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "common/atomic_file.h"
#include "common/error_reasons.h"
#include "common/exec.h"
#include "common/file_tree.h"
#include "common/grpc_status.h"
#include "common/guest_convert.h"
#include "common/names.h"
#include "common/netns.h"
#include "common/process.h"
#include "common/refuse_reactor.h"
#include "common/status_macros.h"
#include "grpcpp/alarm.h"
#include "services/vm_runner/domain_xml.h"
#include "spdlog/spdlog.h"

namespace cloonix {

namespace vr = ::cloonix::vmrunner::v1;

namespace {

// The agent side of one Guest stream (Exec, CopyTo, CopyFrom), for a gRPC
// callback reactor `Base`: a session on the VM's agent link whose frames wake
// the reactor (AgentSession's listener, from the link's thread), a timer for
// the agent's answers (grpc::Alarm: no thread waits), and a reference count
// (gRPC's OnDone and each alarm hold one), so nothing runs on a deleted
// stream. Subclasses react to frames in OnFramesLocked.
template <typename Base>
class AgentStream : public Base {
 public:
  void OnCancel() override {
    absl::MutexLock l(&mu_);
    FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
  }
  void OnDone() override {
    if (session_ != nullptr) {
      session_->SetListener(nullptr);  // waits for a call in progress
      agent_->Close(session_, !completed_);
    }
    {
      absl::MutexLock l(&mu_);
      ++gen_;
      if (alarm_ != nullptr) alarm_->Cancel();
    }
    Unref();
  }

 protected:
  explicit AgentStream(VmRunner* runner) : runner_(runner) {}
  virtual ~AgentStream() = default;

  // A session with the agent of `item`, whose frames call OnFramesLocked.
  absl::Status OpenLocked(const std::string& item)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    ASSIGN_OR_RETURN(agent_, runner_->UpLink(item));
    session_ = agent_->Open();
    session_->SetListener([this] {
      absl::MutexLock l(&mu_);
      if (!finished_) OnFramesLocked();
    });
    return absl::OkStatus();
  }
  absl::Status SendLocked(wire::Type type, const std::string& payload)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return agent_->Send(session_->id(), type, payload);
  }
  // The next queued frame, if any.
  bool NextFrameLocked(wire::Frame* f) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return session_->Pop(f, absl::ZeroDuration());
  }
  virtual void OnFramesLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) = 0;

  // The agent must send a frame within `timeout` (a frozen guest, a dead
  // agent), else the stream ends with DEADLINE_EXCEEDED naming `what`.
  void ExpectLocked(absl::Duration timeout, std::string what)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const uint64_t gen = ++gen_;
    if (alarm_ != nullptr) alarm_->Cancel();
    alarm_ = std::make_unique<grpc::Alarm>();
    Ref();
    alarm_->Set(absl::ToChronoTime(absl::Now() + timeout), [this, gen, timeout,
                                                            what](bool fired) {
      if (fired) {
        absl::MutexLock l(&mu_);
        if (gen == gen_) {
          FinishLocked(ToGrpcStatus(absl::DeadlineExceededError(
              absl::StrCat("the agent did not answer ", what, " within ",
                           absl::FormatDuration(timeout)))));
        }
      }
      Unref();
    });
  }
  // A frame came: the pending ExpectLocked no longer applies.
  void AnsweredLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { ++gen_; }

  void FinishLocked(const grpc::Status& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    ++gen_;
    this->Finish(s);
  }

  absl::Mutex mu_;
  VmRunner* const runner_;
  std::shared_ptr<AgentLink> agent_;
  std::shared_ptr<AgentSession> session_;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  // The agent finished its side: no kKill on close.
  std::atomic<bool> completed_{false};

 private:
  void Ref() { refs_.fetch_add(1); }
  void Unref() {
    if (refs_.fetch_sub(1) == 1) delete this;
  }
  std::atomic<int> refs_{1};  // OnDone
  uint64_t gen_ ABSL_GUARDED_BY(mu_) = 0;
  std::unique_ptr<grpc::Alarm> alarm_ ABSL_GUARDED_BY(mu_);
};

// Guest.Exec: client messages become agent frames as they arrive; agent
// frames become responses one write at a time (the session's bound holds the
// agent back while the client is slow).
class ExecReactor
    : public AgentStream<
          grpc::ServerBidiReactor<v1::ExecRequest, v1::ExecResponse>> {
 public:
  explicit ExecReactor(VmRunner* runner) : AgentStream(runner) {
    StartRead(&req_);
  }

  void OnReadDone(bool ok) override {
    absl::MutexLock l(&mu_);
    if (finished_) return;
    if (session_ == nullptr) {
      if (!ok || !req_.has_start()) {
        FinishLocked(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                  "the first Exec message must be start"));
        return;
      }
      const v1::ExecStart& st = req_.start();
      absl::Status s = OpenLocked(st.item());
      if (s.ok()) {
        wire::ExecStart es;
        es.argv.assign(st.command().begin(), st.command().end());
        es.env.assign(st.env().begin(), st.env().end());
        es.tty = st.tty();
        es.rows = st.size().rows();
        es.cols = st.size().cols();
        es.term = st.term();
        es.x11 = st.x11();
        es.x11_proto = st.x11_auth_proto();
        es.x11_cookie = st.x11_auth_cookie();
        s = SendLocked(wire::Type::kExecStart, wire::EncodeExecStart(es));
      }
      if (!s.ok()) {
        FinishLocked(ToGrpcStatus(s));
        return;
      }
      StartRead(&req_);
      return;
    }
    if (!ok) return;  // half-closed: the output goes on to the exit
    if (!req_.stdin().empty()) {
      SendLocked(wire::Type::kStdin, req_.stdin()).IgnoreError();
    } else if (req_.stdin_eof()) {
      SendLocked(wire::Type::kStdinEof, "").IgnoreError();
    } else if (req_.has_resize()) {
      wire::WireWriter w;
      w.U32(req_.resize().rows()).U32(req_.resize().cols());
      SendLocked(wire::Type::kResize, w.Take()).IgnoreError();
    } else if (req_.has_x11_data()) {
      SendLocked(wire::Type::kX11Data,
                 wire::EncodeX11Data(req_.x11_data().channel(),
                                     req_.x11_data().data()))
          .IgnoreError();
    } else if (req_.msg_case() == v1::ExecRequest::kX11Close) {
      wire::WireWriter w;
      w.U32(req_.x11_close());
      SendLocked(wire::Type::kX11Close, w.Take()).IgnoreError();
    }
    StartRead(&req_);
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock l(&mu_);
    writing_ = false;
    if (!ok) {
      FinishLocked(
          grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
      return;
    }
    if (!finished_) OnFramesLocked();
  }

 private:
  void OnFramesLocked() override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    wire::Frame f;
    while (!writing_ && NextFrameLocked(&f)) {
      resp_.Clear();
      switch (f.type) {
        case wire::Type::kStdout:
          resp_.set_stdout(std::move(f.payload));
          break;
        case wire::Type::kStderr:
          resp_.set_stderr(std::move(f.payload));
          break;
        case wire::Type::kX11Open:
        case wire::Type::kX11Close: {
          wire::WireReader rd(f.payload);
          const uint32_t chan = rd.U32();
          if (!rd.ok()) continue;
          if (f.type == wire::Type::kX11Open) {
            resp_.set_x11_open(chan);
          } else {
            resp_.set_x11_close(chan);
          }
          break;
        }
        case wire::Type::kX11Data: {
          uint32_t chan = 0;
          std::string data;
          if (!wire::DecodeX11Data(f.payload, &chan, &data)) continue;
          resp_.mutable_x11_data()->set_channel(chan);
          resp_.mutable_x11_data()->set_data(std::move(data));
          break;
        }
        case wire::Type::kExit: {
          wire::WireReader rd(f.payload);
          resp_.mutable_exit()->set_code(rd.I32());
          resp_.mutable_exit()->set_signal(rd.I32());
          completed_ = true;
          finished_ = true;
          StartWriteAndFinish(&resp_, grpc::WriteOptions(), grpc::Status::OK);
          return;
        }
        case wire::Type::kError:
          // In-band too: the client half-closes on the exit message.
          resp_.mutable_exit()->set_code(255);
          resp_.mutable_exit()->set_error(f.payload);
          finished_ = true;
          StartWriteAndFinish(
              &resp_, grpc::WriteOptions(),
              ToGrpcStatus(WithReason(absl::UnavailableError(f.payload),
                                      reason::kGuestError)));
          return;
        default:
          continue;
      }
      writing_ = true;
      StartWrite(&resp_);
    }
  }

  v1::ExecRequest req_;
  v1::ExecResponse resp_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
};

// Guest.CopyTo: begin (the agent checks the destination), the entries and
// data as they arrive, end (the agent checks it got every byte).
class CopyToReactor
    : public AgentStream<grpc::ServerReadReactor<v1::CopyToRequest>> {
 public:
  CopyToReactor(VmRunner* runner, grpc::CallbackServerContext* ctx,
                v1::CopyToResponse* resp)
      : AgentStream(runner), ctx_(ctx), resp_(resp) {
    StartRead(&req_);
  }

  void OnReadDone(bool ok) override {
    absl::MutexLock l(&mu_);
    if (finished_) return;
    if (session_ == nullptr) {
      if (!ok || !req_.has_start()) {
        FinishLocked(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                  "the first CopyTo message must be start"));
        return;
      }
      absl::Status s = OpenLocked(req_.start().item());
      if (s.ok()) s = SendLocked(wire::Type::kPutBegin, req_.start().path());
      if (!s.ok()) {
        FinishLocked(ToGrpcStatus(s));
        return;
      }
      phase_ = Phase::kBegin;
      ExpectLocked(absl::Seconds(30), "the copy");
      return;  // reads start once the agent accepts the destination
    }
    if (!ok) {
      // The end of the requests is also what a cancelled client looks like.
      if (ctx_->IsCancelled()) return;  // OnCancel finishes
      if (absl::Status s = SendLocked(wire::Type::kPutEnd, ""); !s.ok()) {
        FinishLocked(ToGrpcStatus(s));
        return;
      }
      phase_ = Phase::kEnd;
      ExpectLocked(absl::Seconds(60), "the end of the copy");
      return;
    }
    absl::Status s;
    if (req_.has_entry()) {
      TreeEntry e = FromProto(req_.entry());
      if (std::string err = CheckRelativePath(e.path); !err.empty()) {
        FinishLocked(ToGrpcStatus(absl::InvalidArgumentError(err)));
        return;
      }
      s = SendLocked(wire::Type::kEntry, EncodeEntry(e));
    } else {
      const std::string& d = req_.data();
      for (size_t off = 0; off < d.size() && s.ok(); off += wire::kChunk) {
        s = SendLocked(wire::Type::kData, d.substr(off, wire::kChunk));
      }
    }
    if (!s.ok()) {
      FinishLocked(ToGrpcStatus(s));
      return;
    }
    StartRead(&req_);
  }

 private:
  enum class Phase { kBegin, kData, kEnd };

  void OnFramesLocked() override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    wire::Frame f;
    while (!finished_ && NextFrameLocked(&f)) {
      AnsweredLocked();
      if (f.type != wire::Type::kOk) {  // refused, or failed while writing
        FinishLocked(ToGrpcStatus(absl::FailedPreconditionError(f.payload)));
        return;
      }
      if (phase_ == Phase::kBegin) {
        phase_ = Phase::kData;
        StartRead(&req_);
      } else if (phase_ == Phase::kEnd) {
        wire::WireReader rd(f.payload);
        resp_->set_files(rd.U32());
        resp_->set_bytes(rd.U64());
        completed_ = true;
        FinishLocked(grpc::Status::OK);
      }
    }
  }

  grpc::CallbackServerContext* const ctx_;
  v1::CopyToResponse* const resp_;
  v1::CopyToRequest req_;
  Phase phase_ ABSL_GUARDED_BY(mu_) = Phase::kBegin;
};

// Guest.CopyFrom: the agent's entries and data, one write at a time.
class CopyFromReactor
    : public AgentStream<grpc::ServerWriteReactor<v1::CopyFromResponse>> {
 public:
  CopyFromReactor(VmRunner* runner, const v1::CopyFromRequest& req)
      : AgentStream(runner) {
    absl::MutexLock l(&mu_);
    absl::Status s = OpenLocked(req.item());
    if (s.ok()) s = SendLocked(wire::Type::kGetBegin, req.path());
    if (!s.ok()) {
      FinishLocked(ToGrpcStatus(s));
      return;
    }
    ExpectLocked(absl::Seconds(60), "the copy");
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock l(&mu_);
    writing_ = false;
    if (!ok) {
      FinishLocked(
          grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
      return;
    }
    if (finished_) return;
    OnFramesLocked();
    if (!writing_ && !finished_) ExpectLocked(absl::Seconds(60), "the copy");
  }

 private:
  void OnFramesLocked() override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    wire::Frame f;
    while (!writing_ && !finished_ && NextFrameLocked(&f)) {
      AnsweredLocked();
      resp_.Clear();
      if (f.type == wire::Type::kEntry) {
        TreeEntry e;
        if (!DecodeEntry(f.payload, &e)) {
          FinishLocked(ToGrpcStatus(
              absl::InternalError("malformed entry from the agent")));
          return;
        }
        *resp_.mutable_entry() = ToProto(e);
      } else if (f.type == wire::Type::kData) {
        resp_.set_data(std::move(f.payload));
      } else if (f.type == wire::Type::kGetEnd) {
        completed_ = true;
        FinishLocked(grpc::Status::OK);
        return;
      } else if (f.type == wire::Type::kError) {
        FinishLocked(ToGrpcStatus(absl::FailedPreconditionError(f.payload)));
        return;
      } else {
        continue;
      }
      writing_ = true;
      StartWrite(&resp_);
    }
  }

  v1::CopyFromResponse resp_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

grpc::ServerBidiReactor<v1::ExecRequest, v1::ExecResponse>*
VmGuestService::Exec(grpc::CallbackServerContext*) {
  return new ExecReactor(runner_);
}

grpc::ServerReadReactor<v1::CopyToRequest>* VmGuestService::CopyTo(
    grpc::CallbackServerContext* ctx, v1::CopyToResponse* resp) {
  return new CopyToReactor(runner_, ctx, resp);
}

grpc::ServerWriteReactor<v1::CopyFromResponse>* VmGuestService::CopyFrom(
    grpc::CallbackServerContext*, const v1::CopyFromRequest* req) {
  return new CopyFromReactor(runner_, *req);
}

namespace {

// One Guest.Console stream, driven by events: libvirt calls OnStreamEvent
// (from its event loop thread, LibvirtHost) when the console has bytes or
// ends; gRPC calls the reactions. No thread waits and nothing polls.
// The state libvirt's callback sees outlives the reactor: it is freed by
// libvirt once the callback is removed and not running (virStreamEventAdd
// Callback's free function).
class ConsoleReactor
    : public grpc::ServerBidiReactor<v1::ConsoleRequest, v1::ConsoleResponse> {
 public:
  explicit ConsoleReactor(VmRunner* runner) : runner_(runner) {
    StartRead(&req_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // A client that only watches half-closes at once: keep streaming until
      // it cancels (detach, deadline) or the VM stops.
      absl::MutexLock l(&state_->mu);
      if (state_->stream == nullptr) {
        FinishLocked(
            grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                         "the first Console message must name the item"));
      }
      return;
    }
    absl::MutexLock l(&state_->mu);
    if (state_->finished) return;
    if (state_->stream == nullptr) {
      if (!Open()) return;
    } else {
      state_->to_guest += req_.data();
      SendLocked();
    }
    StartRead(&req_);
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock l(&state_->mu);
    state_->writing = false;
    if (!ok) {
      FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "client gone"));
      return;
    }
    PumpLocked();
  }

  void OnCancel() override {
    absl::MutexLock l(&state_->mu);
    FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "detached"));
  }

  void OnDone() override {
    {
      absl::MutexLock l(&state_->mu);
      state_->reactor = nullptr;  // the event callback stops using us
    }
    if (state_->stream != nullptr) {
      // libvirt frees its reference to the state once the callback is gone.
      virStreamEventRemoveCallback(state_->stream);
      virStreamAbort(state_->stream);
      virStreamFree(state_->stream);
    }
    delete this;
  }

 private:
  struct State {
    absl::Mutex mu;
    ConsoleReactor* reactor ABSL_GUARDED_BY(mu) = nullptr;
    virStreamPtr stream = nullptr;  // set once, before events flow
    std::deque<std::string> to_client ABSL_GUARDED_BY(mu);
    std::string to_guest ABSL_GUARDED_BY(mu);
    bool writing ABSL_GUARDED_BY(mu) = false;
    bool ended ABSL_GUARDED_BY(mu) = false;  // the console closed
    bool finished ABSL_GUARDED_BY(mu) = false;
  };

  // Opens the console of the item named by the first message.
  bool Open() ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_->mu) {
    const std::string item = req_.item();
    if (item.empty()) {
      FinishLocked(
          grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                       "the first Console message must name the item"));
      return false;
    }
    auto st = runner_->host()->OpenConsole(runner_->DomainOf(item));
    if (!st.ok()) {
      FinishLocked(
          absl::IsNotFound(st.status())
              ? grpc::Status(
                    grpc::StatusCode::FAILED_PRECONDITION,
                    absl::StrCat("VM ", item, " is not running (stopped?)"))
              : ToGrpcStatus(st.status()));
      return false;
    }
    state_->stream = *st;
    state_->reactor = this;
    auto* ref = new std::shared_ptr<State>(state_);
    if (virStreamEventAddCallback(
            state_->stream,
            VIR_STREAM_EVENT_READABLE | VIR_STREAM_EVENT_ERROR |
                VIR_STREAM_EVENT_HANGUP,
            &ConsoleReactor::OnStreamEvent, ref, [](void* p) {
              delete static_cast<std::shared_ptr<State>*>(p);
            }) != 0) {
      delete ref;
      FinishLocked(
          grpc::Status(grpc::StatusCode::UNAVAILABLE,
                       "libvirt cannot watch the console (no event loop)"));
      return false;
    }
    return true;
  }

  // libvirt's event loop thread.
  static void OnStreamEvent(virStreamPtr st, int events, void* opaque) {
    std::shared_ptr<State> state =
        *static_cast<std::shared_ptr<State>*>(opaque);
    absl::MutexLock l(&state->mu);
    if (state->reactor == nullptr) return;
    if (events & VIR_STREAM_EVENT_READABLE) {
      char buf[16384];
      for (;;) {
        int n = virStreamRecv(st, buf, sizeof(buf));
        if (n == -2) break;  // drained
        if (n <= 0) {        // the VM stopped, or an error
          state->ended = true;
          break;
        }
        state->to_client.emplace_back(buf, static_cast<size_t>(n));
      }
    }
    if (events & VIR_STREAM_EVENT_WRITABLE) state->reactor->SendLocked();
    if (events & (VIR_STREAM_EVENT_ERROR | VIR_STREAM_EVENT_HANGUP))
      state->ended = true;
    if (state->ended) virStreamEventUpdateCallback(st, 0);
    state->reactor->PumpLocked();
  }

  // Keystrokes to the guest; what the console cannot take now waits for it
  // to be writable.
  void SendLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_->mu) {
    std::string& d = state_->to_guest;
    while (!d.empty()) {
      int n = virStreamSend(state_->stream, d.data(), d.size());
      if (n == -2) break;
      if (n < 0) {
        d.clear();
        break;
      }
      d.erase(0, static_cast<size_t>(n));
    }
    if (state_->ended) return;
    int want = VIR_STREAM_EVENT_READABLE | VIR_STREAM_EVENT_ERROR |
               VIR_STREAM_EVENT_HANGUP;
    if (!d.empty()) want |= VIR_STREAM_EVENT_WRITABLE;
    virStreamEventUpdateCallback(state_->stream, want);
  }

  // The next write to the client, or the end.
  void PumpLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_->mu) {
    if (state_->writing || state_->finished) return;
    if (!state_->to_client.empty()) {
      resp_.set_data(std::move(state_->to_client.front()));
      state_->to_client.pop_front();
      state_->writing = true;
      StartWrite(&resp_);
      return;
    }
    if (state_->ended) FinishLocked(grpc::Status::OK);
  }

  void FinishLocked(const grpc::Status& s)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_->mu) {
    if (state_->finished) return;
    state_->finished = true;
    Finish(s);
  }

  VmRunner* runner_;
  std::shared_ptr<State> state_ = std::make_shared<State>();
  v1::ConsoleRequest req_;
  v1::ConsoleResponse resp_;
};

}  // namespace

grpc::ServerBidiReactor<v1::ConsoleRequest, v1::ConsoleResponse>*
VmGuestService::Console(grpc::CallbackServerContext*) {
  return new ConsoleReactor(runner_);
}

grpc::ServerBidiReactor<v1::TunnelRequest, v1::TunnelResponse>*
VmGuestService::Tunnel(grpc::CallbackServerContext*) {
  return new RefuseBidi<v1::TunnelRequest, v1::TunnelResponse>(
      grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                   "Tunnel is served by the doorway (it reaches the item's nat "
                   "forward), not by vm_runner"));
}

}  // namespace cloonix
