#include "services/doorway/doorway_service.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <functional>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/error_reasons.h"
#include "common/fd_watcher.h"
#include "common/grpc_status.h"
#include "common/item_kind.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/impl/codegen/server_callback_handlers.h"

namespace cloonix {

namespace {

namespace v1 = ::cloonix::v1;
using grpc::ByteBuffer;

// `s` of a call to the net's daemon `who`: UNAVAILABLE from gRPC itself
// (no ErrorInfo: the daemon could not be reached, or went away) gets reason
// UPSTREAM_UNAVAILABLE; the daemon's own errors pass as they are.
grpc::Status Upstream(const grpc::Status& s, const char* who) {
  if (s.error_code() != grpc::StatusCode::UNAVAILABLE || !ReasonOf(s).empty())
    return s;
  return ToGrpcStatus(WithReason(
      absl::UnavailableError(absl::StrCat(
          "the net's ", who, " is not reachable: ", s.error_message())),
      reason::kUpstreamUnavailable, {{"service", who}}));
}

// Parses a copy of `bb` (Deserialize consumes its input).
template <typename Msg>
bool Parse(const ByteBuffer& bb, Msg* m) {
  ByteBuffer copy(bb);
  return grpc::SerializationTraits<Msg>::Deserialize(&copy, m).ok();
}

template <typename Msg>
ByteBuffer Serialize(const Msg& m) {
  std::string s = m.SerializeAsString();
  grpc::Slice slice(s);
  return ByteBuffer(&slice, 1);
}

// The item a Guest call names in its first message, or why there is none.
absl::StatusOr<std::string> ItemOf(GuestRouter::Method m,
                                   const ByteBuffer& first) {
  switch (m) {
    case GuestRouter::Method::kExec: {
      v1::ExecRequest r;
      if (!Parse(first, &r) || !r.has_start())
        return absl::InvalidArgumentError(
            "the first Exec message must be start");
      return r.start().item();
    }
    case GuestRouter::Method::kCopyTo: {
      v1::CopyToRequest r;
      if (!Parse(first, &r) || !r.has_start())
        return absl::InvalidArgumentError(
            "the first CopyTo message must be start");
      return r.start().item();
    }
    case GuestRouter::Method::kCopyFrom: {
      v1::CopyFromRequest r;
      if (!Parse(first, &r))
        return absl::InvalidArgumentError("malformed CopyFrom request");
      return r.item();
    }
    case GuestRouter::Method::kConsole: {
      v1::ConsoleRequest r;
      if (!Parse(first, &r) || r.item().empty())
        return absl::InvalidArgumentError(
            "the first Console message must name the item");
      return r.item();
    }
  }
  return absl::InternalError("unknown method");
}

// One Guest call relayed to the runner of its item. Down faces the client,
// Up the runner; each direction has one message in flight: a message read
// from one side is written to the other, and the next read starts when that
// write is done. Lifetime: Down's OnDone and, once started, Up's OnDone.
class GuestRelay {
 public:
  GuestRelay(grpc::CallbackServerContext* ctx, GuestRouter::Method method,
             std::string path, v1::Topology::Stub* topology,
             grpc::GenericStub* vms, grpc::GenericStub* cnts)
      : ctx_(ctx),
        method_(method),
        path_(std::move(path)),
        topology_(topology),
        vms_(vms),
        cnts_(cnts),
        down_(this),
        up_(this) {
    down_.StartRead(&first_);
  }
  grpc::ServerBidiReactor<ByteBuffer, ByteBuffer>* reactor() { return &down_; }

 private:
  class Down : public grpc::ServerBidiReactor<ByteBuffer, ByteBuffer> {
   public:
    explicit Down(GuestRelay* r) : r_(r) {}
    void OnReadDone(bool ok) override { r_->DownRead(ok); }
    void OnWriteDone(bool ok) override { r_->DownWritten(ok); }
    void OnCancel() override { r_->Cancel(); }
    void OnDone() override { r_->Unref(); }

   private:
    GuestRelay* r_;
  };
  class Up : public grpc::ClientBidiReactor<ByteBuffer, ByteBuffer> {
   public:
    explicit Up(GuestRelay* r) : r_(r) {}
    void OnReadDone(bool ok) override { r_->UpRead(ok); }
    void OnWriteDone(bool ok) override { r_->UpWritten(ok); }
    void OnDone(const grpc::Status& s) override { r_->UpDone(s); }

   private:
    GuestRelay* r_;
  };

  void Unref() {
    if (refs_.fetch_sub(1) == 1) delete this;
  }

  void FinishLocked(const grpc::Status& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    down_.Finish(s);
  }

  void Cancel() {
    absl::MutexLock l(&mu_);
    client_gone_ = true;
    if (up_cc_ != nullptr) up_cc_->TryCancel();
    if (route_cc_ != nullptr) route_cc_->TryCancel();
    if (!up_started_) {
      FinishLocked(
          grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
    }
  }

  void DownRead(bool ok) {
    absl::MutexLock l(&mu_);
    if (!routed_) {
      if (!ok) {
        FinishLocked(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                  "the call ended before its first message"));
        return;
      }
      routed_ = true;
      auto item = ItemOf(method_, first_);
      if (!item.ok()) {
        FinishLocked(ToGrpcStatus(item.status()));
        return;
      }
      RouteLocked(*item);
      return;
    }
    // Once the hold is gone, Up's stream may end (and be freed) at any time:
    // a write started then is not tracked by gRPC (CI: a doorway segfault
    // at ip 0 when a runner refused an Exec as the client half-closed).
    if (up_done_ || up_released_) return;
    if (ok) {
      up_.StartWrite(&to_up_);
    } else {
      up_.StartWritesDone();  // the client half-closed
    }
  }

  // Asks the orchestrator for the item's kind (no thread waits).
  void RouteLocked(const std::string& item) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    route_req_.set_name(item);
    route_cc_ = grpc::ClientContext::FromCallbackServerContext(*ctx_);
    refs_.fetch_add(1);  // the answer may come after the client went away
    topology_->async()->GetItem(route_cc_.get(), &route_req_, &route_item_,
                                [this](grpc::Status s) {
                                  Routed(s);
                                  Unref();
                                });
  }

  void Routed(const grpc::Status& s) {
    absl::MutexLock l(&mu_);
    if (finished_) return;
    if (!s.ok()) {
      FinishLocked(Upstream(s, "orchestrator"));
      return;
    }
    grpc::GenericStub* stub = nullptr;
    const std::string& item = route_item_.name();
    if (route_item_.kind() == v1::ITEM_KIND_KVM) {
      stub = vms_;
    } else if (route_item_.kind() == v1::ITEM_KIND_CNT) {
      if (method_ == GuestRouter::Method::kConsole) {
        FinishLocked(grpc::Status(
            grpc::StatusCode::FAILED_PRECONDITION,
            absl::StrCat(item,
                         " has no serial console: only kvm items do "
                         "(use cloonix ssh)")));
        return;
      }
      stub = cnts_;
    } else {
      FinishLocked(grpc::Status(
          grpc::StatusCode::FAILED_PRECONDITION,
          absl::StrCat(item, " is a ", KindName(route_item_.kind()),
                       ": only kvm and cnt items can run commands or take "
                       "files")));
      return;
    }
    runner_ = stub == vms_ ? "vm_runner" : "cnt_runner";
    up_cc_ = grpc::ClientContext::FromCallbackServerContext(*ctx_);
    refs_.fetch_add(1);  // Up's OnDone
    up_started_ = true;
    stub->PrepareBidiStreamingCall(up_cc_.get(), path_, grpc::StubOptions(),
                                   &up_);
    up_.StartWrite(&first_);
    up_.StartRead(&from_up_);
    // The reads after the first start from Down::OnWriteDone, outside Up's
    // reactions: the hold keeps the call until the read flow ends.
    up_.AddHold();
    up_.StartCall();
  }

  void UpWritten(bool ok) {
    absl::MutexLock l(&mu_);
    // A failed write: the runner ended the call; Up's OnDone says how.
    if (ok && !up_done_ && !up_released_ && !client_gone_) {
      down_.StartRead(&to_up_);
    }
  }

  void UpRead(bool ok) {
    absl::MutexLock l(&mu_);
    if (!ok) {
      ReleaseUpLocked();  // the runner's stream ended; OnDone has its status
      return;
    }
    if (method_ == GuestRouter::Method::kExec) {
      v1::ExecResponse r;
      if (Parse(from_up_, &r) && r.has_exit()) saw_exit_ = true;
    }
    down_.StartWrite(&from_up_);
  }

  void DownWritten(bool ok) {
    absl::MutexLock l(&mu_);
    if (ok && !finished_) {
      up_.StartRead(&from_up_);
    } else {
      up_cc_->TryCancel();  // the client is gone: no more reads
      ReleaseUpLocked();
    }
  }

  // Drops Up's hold; no operation on Up may start after it.
  void ReleaseUpLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    up_released_ = true;
    up_.RemoveHold();
  }

  void UpDone(const grpc::Status& s) {
    {
      absl::MutexLock l(&mu_);
      up_done_ = true;
      grpc::Status st = Upstream(s, runner_);
      if (method_ == GuestRouter::Method::kExec && !saw_exit_ &&
          !client_gone_ && !finished_) {
        // The runner failed before an exit status: say why in-band, so the
        // client half-closes and gets the status.
        v1::ExecResponse last;
        last.mutable_exit()->set_code(255);
        last.mutable_exit()->set_error(st.ok() ? "no exit status"
                                               : st.error_message());
        last_ = Serialize(last);
        finished_ = true;
        down_.StartWriteAndFinish(&last_, grpc::WriteOptions(), st);
      } else {
        FinishLocked(st);
      }
    }
    Unref();
  }

  grpc::CallbackServerContext* const ctx_;
  const GuestRouter::Method method_;
  const std::string path_;
  v1::Topology::Stub* const topology_;
  grpc::GenericStub* const vms_;
  grpc::GenericStub* const cnts_;
  Down down_;
  Up up_;
  // Down's OnDone, the routing call while pending, Up's OnDone once started.
  std::atomic<int> refs_{1};
  absl::Mutex mu_;
  ByteBuffer first_, to_up_, from_up_, last_;
  v1::GetItemRequest route_req_;
  v1::Item route_item_;
  std::unique_ptr<grpc::ClientContext> route_cc_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<grpc::ClientContext> up_cc_ ABSL_GUARDED_BY(mu_);
  const char* runner_ = "runner";
  bool routed_ ABSL_GUARDED_BY(mu_) = false;
  bool up_started_ ABSL_GUARDED_BY(mu_) = false;
  bool up_done_ ABSL_GUARDED_BY(mu_) = false;
  // Up's hold is gone (ReleaseUpLocked): start nothing more on Up.
  bool up_released_ ABSL_GUARDED_BY(mu_) = false;
  bool saw_exit_ ABSL_GUARDED_BY(mu_) = false;
  bool client_gone_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

// One Guest.Tunnel: a TCP connection to the loopback port the item's nat
// forwards to the guest's port, relayed on readiness events. The client's
// half-close half-closes the connection; the guest's side closing ends the
// stream (OK). The forward is released when the stream ends.
class TunnelRelay : public grpc::ServerBidiReactor<ByteBuffer, ByteBuffer> {
 public:
  TunnelRelay(grpc::CallbackServerContext* ctx, v1::Topology::Stub* topology)
      : ctx_(ctx), topology_(topology) {
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    absl::MutexLock l(&mu_);
    if (finished_) return;
    if (!opening_ && fd_ < 0) {
      v1::TunnelRequest first;
      if (!ok || !Parse(in_, &first) || !first.has_start()) {
        FinishLocked(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                  "the first Tunnel message must be start"));
        return;
      }
      const uint32_t port = first.start().port();
      if (port == 0 || port > 65535) {
        FinishLocked(
            grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                         absl::StrCat("port ", port, " is not a TCP port")));
        return;
      }
      item_ = first.start().item();
      port_ = port;
      opening_ = true;
      open_req_.set_item(item_);
      open_req_.set_guest_port(port);
      open_cc_ = grpc::ClientContext::FromCallbackServerContext(*ctx_);
      refs_.fetch_add(1);
      topology_->async()->OpenNatForward(open_cc_.get(), &open_req_, &fwd_,
                                         [this](grpc::Status s) { Opened(s); });
      return;
    }
    if (!ok) {  // the client half-closed: so does the guest's side
      client_eof_ = true;
      if (pending_.empty()) shutdown(fd_, SHUT_WR);
      return;
    }
    v1::TunnelRequest r;
    if (!Parse(in_, &r)) {
      FinishLocked(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                "malformed Tunnel message"));
      return;
    }
    pending_ = r.data();
    FlushLocked();
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock l(&mu_);
    writing_ = false;
    if (!ok) {
      FinishLocked(
          grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
      return;
    }
    want_in_ = true;
    ArmLocked();
  }

  void OnCancel() override {
    absl::MutexLock l(&mu_);
    if (open_cc_ != nullptr) open_cc_->TryCancel();
    FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
  }

  void OnDone() override {
    int fd;
    bool release;
    {
      absl::MutexLock l(&mu_);
      fd = fd_;
      server_done_ = true;
      release = TakeForwardLocked();
    }
    if (fd >= 0) {
      FdWatcher::Default()->Remove(fd);  // no lock: a callback may wait on it
      close(fd);
    }
    if (release) Release();
    Unref();
  }

 private:
  void Unref() {
    if (refs_.fetch_sub(1) == 1) delete this;
  }

  void Opened(const grpc::Status& s) {
    bool release = false;
    {
      absl::MutexLock l(&mu_);
      opening_ = false;
      if (s.ok()) forward_open_ = true;
      if (!s.ok()) {
        FinishLocked(Upstream(s, "orchestrator"));
      } else if (server_done_) {
        // The client went away while the forward was being opened: OnDone
        // found none to release.
        release = TakeForwardLocked();
      } else if (!finished_) {
        ConnectLocked();
      }
    }
    if (release) Release();
    Unref();
  }

  // Whether the caller is the one to release the forward (once).
  bool TakeForwardLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!forward_open_ || forward_released_) return false;
    forward_released_ = true;
    return true;
  }

  void ConnectLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(fwd_.host_port()));
    // The loopback: the connection is made (or refused) at once.
    if (fd < 0 ||
        connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
      if (fd >= 0) close(fd);
      FinishLocked(ToGrpcStatus(WithReason(
          absl::UnavailableError(absl::StrCat("cannot reach ", item_, ":",
                                              port_, " through its nat")),
          reason::kGuestError)));
      return;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    if (!FdWatcher::Default()
             ->Add(fd, [this](uint32_t ev) { OnSocket(ev); })
             .ok()) {
      close(fd);
      FinishLocked(grpc::Status(grpc::StatusCode::INTERNAL,
                                "cannot watch the tunnel's socket"));
      return;
    }
    fd_ = fd;
    want_in_ = true;
    ArmLocked();
    StartRead(&in_);
  }

  void ArmLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (fd_ < 0 || finished_) return;
    uint32_t ev = (want_in_ ? uint32_t{EPOLLIN} : 0u) |
                  (pending_.empty() ? 0u : uint32_t{EPOLLOUT});
    if (ev != 0) FdWatcher::Default()->Arm(fd_, ev);
  }

  // The FdWatcher thread.
  void OnSocket(uint32_t ev) {
    absl::MutexLock l(&mu_);
    if (finished_) return;
    if (!pending_.empty() && (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
      FlushLocked();
      if (finished_) return;
    }
    if (want_in_ && (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
      char buf[65536];
      ssize_t n = read(fd_, buf, sizeof(buf));
      if (n > 0) {
        v1::TunnelResponse out;
        out.set_data(std::string(buf, static_cast<size_t>(n)));
        out_ = Serialize(out);
        want_in_ = false;  // until the client took it
        writing_ = true;
        StartWrite(&out_);
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        FinishLocked(grpc::Status::OK);  // the guest's side closed
        return;
      }
    }
    ArmLocked();
  }

  // Sends what the client sent; the next read starts once it is all out.
  void FlushLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    while (!pending_.empty()) {
      ssize_t n = send(fd_, pending_.data(), pending_.size(), MSG_NOSIGNAL);
      if (n > 0) {
        pending_.erase(0, static_cast<size_t>(n));
      } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        ArmLocked();
        return;
      } else {
        FinishLocked(grpc::Status::OK);  // the guest's side went away
        return;
      }
    }
    if (client_eof_) {
      shutdown(fd_, SHUT_WR);
    } else {
      StartRead(&in_);
    }
  }

  void FinishLocked(const grpc::Status& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    Finish(s);
  }

  // Drops this tunnel's hold on the forward (the nat closes the loopback
  // port when no tunnel uses it); best effort, logged by the nat.
  void Release() {
    struct Call {
      grpc::ClientContext cc;
      v1::CloseNatForwardRequest req;
      v1::CloseNatForwardResponse resp;
    };
    auto* call = new Call;
    call->cc.set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(5));
    call->req.set_nat(fwd_.nat());
    call->req.set_host_port(fwd_.host_port());
    topology_->async()->CloseNatForward(&call->cc, &call->req, &call->resp,
                                        [call](grpc::Status) { delete call; });
  }

  grpc::CallbackServerContext* const ctx_;
  v1::Topology::Stub* const topology_;
  std::atomic<int> refs_{1};  // OnDone
  absl::Mutex mu_;
  ByteBuffer in_, out_;
  std::string item_;
  uint32_t port_ = 0;
  v1::OpenNatForwardRequest open_req_;
  v1::NatForward fwd_;
  std::unique_ptr<grpc::ClientContext> open_cc_ ABSL_GUARDED_BY(mu_);
  bool forward_open_ ABSL_GUARDED_BY(mu_) = false;
  bool forward_released_ ABSL_GUARDED_BY(mu_) = false;
  bool server_done_ ABSL_GUARDED_BY(mu_) = false;  // OnDone ran
  int fd_ ABSL_GUARDED_BY(mu_) = -1;
  std::string pending_ ABSL_GUARDED_BY(mu_);  // to the guest
  bool opening_ ABSL_GUARDED_BY(mu_) = false;
  bool want_in_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool client_eof_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

GuestRouter::GuestRouter(const Upstreams& up)
    : topology_(v1::Topology::NewStub(up.orchestrator)),
      vms_(up.vm_runner),
      cnts_(up.cnt_runner) {
  const google::protobuf::ServiceDescriptor* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
          "cloonix.v1.Guest");
  for (int i = 0; i < service->method_count(); ++i) {
    const std::string& name = service->method(i)->name();
    paths_.push_back(absl::StrCat("/", service->full_name(), "/", name));
    const std::string& path = paths_.back();
    // Every method as a bidi stream on the wire: a unary request or a single
    // response is a stream of one.
    AddMethod(new grpc::internal::RpcServiceMethod(
        path.c_str(), grpc::internal::RpcMethod::BIDI_STREAMING, nullptr));
    std::function<grpc::ServerBidiReactor<ByteBuffer, ByteBuffer>*(
        grpc::CallbackServerContext*)>
        make;
    if (name == "Tunnel") {
      make = [this](grpc::CallbackServerContext* ctx) {
        return new TunnelRelay(ctx, topology_.get());
      };
    } else {
      Method m = name == "Exec"       ? Method::kExec
                 : name == "CopyTo"   ? Method::kCopyTo
                 : name == "CopyFrom" ? Method::kCopyFrom
                                      : Method::kConsole;
      make = [this, m, &path](grpc::CallbackServerContext* ctx) {
        return (new GuestRelay(ctx, m, path, topology_.get(), &vms_, &cnts_))
            ->reactor();
      };
    }
    MarkMethodRawCallback(
        i, new grpc::internal::CallbackBidiHandler<ByteBuffer, ByteBuffer>(
               std::move(make)));
  }
}

}  // namespace cloonix
