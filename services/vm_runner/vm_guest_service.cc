#include "services/vm_runner/vm_guest_service.h"

#include <libvirt/libvirt.h>
#include <sys/stat.h>
#include <unistd.h>

#include <deque>
#include <memory>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/notification.h"
#include "common/atomic_file.h"
#include "common/error_reasons.h"
#include "common/exec.h"
#include "common/file_tree.h"
#include "common/grpc_status.h"
#include "common/guest_convert.h"
#include "common/names.h"
#include "common/netns.h"
#include "common/process.h"
#include "common/status_macros.h"
#include "services/vm_runner/domain_xml.h"
#include "spdlog/spdlog.h"

namespace cloonix {

namespace vr = ::cloonix::vmrunner::v1;

namespace {

// Ends a session: waits for the frame answering a request.
absl::StatusOr<wire::Frame> Await(AgentSession* s, absl::Duration timeout,
                                  const std::string& what) {
  wire::Frame f;
  if (!s->Pop(&f, timeout)) {
    return absl::DeadlineExceededError(
        absl::StrCat("the agent did not answer ", what, " within ",
                     absl::FormatDuration(timeout)));
  }
  return f;
}

}  // namespace

grpc::Status VmGuestService::Exec(
    grpc::ServerContext* ctx,
    grpc::ServerReaderWriter<v1::ExecResponse, v1::ExecRequest>* stream) {
  v1::ExecRequest first;
  if (!stream->Read(&first) || !first.has_start()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "the first Exec message must be start");
  }
  const v1::ExecStart& st = first.start();
  auto link = runner_->UpLink(st.item());
  if (!link.ok()) return ToGrpcStatus(link.status());
  std::shared_ptr<AgentLink> agent = *link;
  auto session = agent->Open();
  wire::ExecStart es;
  es.argv.assign(st.command().begin(), st.command().end());
  es.env.assign(st.env().begin(), st.env().end());
  es.tty = st.tty();
  es.rows = st.size().rows();
  es.cols = st.size().cols();
  es.term = st.term();
  if (auto s = agent->Send(session->id(), wire::Type::kExecStart,
                           wire::EncodeExecStart(es));
      !s.ok()) {
    agent->Close(session, false);
    return ToGrpcStatus(s);
  }
  absl::Notification reader_done;
  std::thread reader([&] {
    v1::ExecRequest r;
    while (stream->Read(&r)) {
      if (r.has_start()) continue;
      if (!r.stdin().empty()) {
        agent->Send(session->id(), wire::Type::kStdin, r.stdin()).IgnoreError();
      } else if (r.stdin_eof()) {
        agent->Send(session->id(), wire::Type::kStdinEof, "").IgnoreError();
      } else if (r.has_resize()) {
        wire::WireWriter w;
        w.U32(r.resize().rows()).U32(r.resize().cols());
        agent->Send(session->id(), wire::Type::kResize, w.Take()).IgnoreError();
      }
    }
    reader_done.Notify();
  });
  grpc::Status result = grpc::Status::OK;
  bool finished = false;
  while (!finished) {
    wire::Frame f;
    if (!session->Pop(&f, absl::Milliseconds(200))) {
      if (ctx->IsCancelled()) {
        result = grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
        break;
      }
      continue;
    }
    v1::ExecResponse out;
    switch (f.type) {
      case wire::Type::kStdout:
        out.set_stdout(f.payload);
        break;
      case wire::Type::kStderr:
        out.set_stderr(f.payload);
        break;
      case wire::Type::kExit: {
        wire::WireReader rd(f.payload);
        out.mutable_exit()->set_code(rd.I32());
        out.mutable_exit()->set_signal(rd.I32());
        finished = true;
        break;
      }
      case wire::Type::kError:
        // In-band too: the client half-closes on the exit message.
        result = ToGrpcStatus(
            WithReason(absl::UnavailableError(f.payload), reason::kGuestError));
        out.mutable_exit()->set_code(255);
        out.mutable_exit()->set_error(f.payload);
        finished = true;
        break;
      default:
        continue;
    }
    if (!stream->Write(out)) {
      result = grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
      break;
    }
  }
  bool exited = finished && result.ok();
  agent->Close(session, !exited);
  // A well-behaved client half-closes once it has the exit status.
  if (!reader_done.WaitForNotificationWithTimeout(absl::Seconds(2)))
    ctx->TryCancel();
  reader.join();
  return result;
}

grpc::Status VmGuestService::CopyTo(
    grpc::ServerContext* ctx, grpc::ServerReader<v1::CopyToRequest>* reader,
    v1::CopyToResponse* resp) {
  v1::CopyToRequest req;
  if (!reader->Read(&req) || !req.has_start()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "the first CopyTo message must be start");
  }
  auto link = runner_->UpLink(req.start().item());
  if (!link.ok()) return ToGrpcStatus(link.status());
  std::shared_ptr<AgentLink> agent = *link;
  auto session = agent->Open();
  auto done = [&](absl::Status s) {
    agent->Close(session, !s.ok());
    return ToGrpcStatus(s);
  };
  if (auto s =
          agent->Send(session->id(), wire::Type::kPutBegin, req.start().path());
      !s.ok())
    return done(s);
  auto ok = Await(session.get(), absl::Seconds(30), "the copy");
  if (!ok.ok()) return done(ok.status());
  if (ok->type != wire::Type::kOk)
    return done(absl::FailedPreconditionError(ok->payload));
  while (reader->Read(&req)) {
    wire::Frame early;
    if (session->queued() > 0 && session->Pop(&early, absl::ZeroDuration())) {
      return done(absl::FailedPreconditionError(early.payload));
    }
    absl::Status s;
    if (req.has_entry()) {
      TreeEntry e = FromProto(req.entry());
      if (std::string err = CheckRelativePath(e.path); !err.empty())
        return done(absl::InvalidArgumentError(err));
      s = agent->Send(session->id(), wire::Type::kEntry, EncodeEntry(e));
    } else {
      const std::string& d = req.data();
      for (size_t off = 0; off < d.size() && s.ok(); off += wire::kChunk) {
        s = agent->Send(session->id(), wire::Type::kData,
                        d.substr(off, wire::kChunk));
      }
    }
    if (!s.ok()) return done(s);
  }
  // The end of the requests is also what a cancelled client looks like.
  if (ctx->IsCancelled()) return done(absl::CancelledError("client went away"));
  if (auto s = agent->Send(session->id(), wire::Type::kPutEnd, ""); !s.ok())
    return done(s);
  auto end = Await(session.get(), absl::Seconds(60), "the end of the copy");
  if (!end.ok()) return done(end.status());
  if (end->type != wire::Type::kOk)
    return done(absl::FailedPreconditionError(end->payload));
  wire::WireReader rd(end->payload);
  resp->set_files(rd.U32());
  resp->set_bytes(rd.U64());
  return done(absl::OkStatus());
}

grpc::Status VmGuestService::CopyFrom(
    grpc::ServerContext* ctx, const v1::CopyFromRequest* req,
    grpc::ServerWriter<v1::CopyFromResponse>* writer) {
  auto link = runner_->UpLink(req->item());
  if (!link.ok()) return ToGrpcStatus(link.status());
  std::shared_ptr<AgentLink> agent = *link;
  auto session = agent->Open();
  auto done = [&](absl::Status s) {
    agent->Close(session, !s.ok());
    return ToGrpcStatus(s);
  };
  if (auto s = agent->Send(session->id(), wire::Type::kGetBegin, req->path());
      !s.ok())
    return done(s);
  for (;;) {
    if (ctx->IsCancelled())
      return done(absl::CancelledError("client went away"));
    auto f = Await(session.get(), absl::Seconds(60), "the copy");
    if (!f.ok()) return done(f.status());
    v1::CopyFromResponse out;
    if (f->type == wire::Type::kEntry) {
      TreeEntry e;
      if (!DecodeEntry(f->payload, &e))
        return done(absl::InternalError("malformed entry from the agent"));
      *out.mutable_entry() = ToProto(e);
    } else if (f->type == wire::Type::kData) {
      out.set_data(std::move(f->payload));
    } else if (f->type == wire::Type::kGetEnd) {
      return done(absl::OkStatus());
    } else if (f->type == wire::Type::kError) {
      return done(absl::FailedPreconditionError(f->payload));
    } else {
      continue;
    }
    if (!writer->Write(out)) return done(absl::CancelledError("client gone"));
  }
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

}  // namespace cloonix
