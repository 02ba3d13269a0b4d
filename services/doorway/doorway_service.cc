#include "services/doorway/doorway_service.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/error_reasons.h"
#include "common/grpc_status.h"
#include "common/item_kind.h"

namespace cloonix {

namespace {

// `s` of a call to the net's daemon `who`: UNAVAILABLE from gRPC itself
// (no ErrorInfo: the daemon could not be reached, or went away) gets reason
// UPSTREAM_UNAVAILABLE; the daemon's own errors pass as they are.
grpc::Status Upstream(grpc::Status s, const char* who) {
  if (s.error_code() != grpc::StatusCode::UNAVAILABLE || !ReasonOf(s).empty())
    return s;
  return ToGrpcStatus(WithReason(
      absl::UnavailableError(absl::StrCat(
          "the net's ", who, " is not reachable: ", s.error_message())),
      reason::kUpstreamUnavailable, {{"service", who}}));
}

// Relays a bidi stream to `up` (already given `first`) and back. The client
// half-closes once it has its last message; one that does not within 2 s,
// or that went away, is cancelled. `before_end` runs after the upstream
// ended, with whether the client is gone and the upstream status.
template <typename Req, typename Resp>
grpc::Status RelayBidi(
    grpc::ServerContext* c, grpc::ServerReaderWriter<Resp, Req>* s,
    grpc::ClientContext* cc, grpc::ClientReaderWriter<Req, Resp>* up,
    const Req& first, const char* who,
    const std::function<void(const Resp&)>& on_resp,
    const std::function<void(bool, const grpc::Status&)>& before_end) {
  absl::Mutex up_mu;  // up's writes vs its Finish
  bool finished = false;
  up->Write(first);
  absl::Notification pump_done;
  std::thread pump([&] {
    Req r;
    while (s->Read(&r)) {
      absl::MutexLock l(&up_mu);
      if (finished || !up->Write(r)) break;
    }
    {
      absl::MutexLock l(&up_mu);
      if (!finished) up->WritesDone();
    }
    pump_done.Notify();
  });
  Resp resp;
  bool client_gone = false;
  while (up->Read(&resp)) {
    if (on_resp) on_resp(resp);
    if (!s->Write(resp)) {
      client_gone = true;
      cc->TryCancel();
      break;
    }
  }
  grpc::Status st;
  {
    absl::MutexLock l(&up_mu);
    finished = true;
    st = Upstream(up->Finish(), who);
  }
  if (before_end) before_end(client_gone, st);
  if (client_gone ||
      !pump_done.WaitForNotificationWithTimeout(absl::Seconds(2))) {
    c->TryCancel();
  }
  pump.join();
  return st;
}

}  // namespace

GuestRouter::GuestRouter(const Upstreams& up)
    : topology_(v1::Topology::NewStub(up.orchestrator)),
      vms_(v1::Guest::NewStub(up.vm_runner)),
      cnts_(v1::Guest::NewStub(up.cnt_runner)) {}

grpc::Status GuestRouter::Route(grpc::ServerContext* c, const std::string& item,
                                v1::Guest::Stub** stub) {
  v1::GetItemRequest req;
  req.set_name(item);
  v1::Item it;
  // Deadline and cancellation propagate: a client that goes away cancels
  // the upstream call (no thread watching it).
  auto ccp = grpc::ClientContext::FromServerContext(*c);
  grpc::ClientContext& cc = *ccp;
  grpc::Status s = topology_->GetItem(&cc, req, &it);
  if (!s.ok()) return Upstream(s, "orchestrator");
  if (it.kind() == v1::ITEM_KIND_KVM) {
    *stub = vms_.get();
  } else if (it.kind() == v1::ITEM_KIND_CNT) {
    *stub = cnts_.get();
  } else {
    return grpc::Status(
        grpc::StatusCode::FAILED_PRECONDITION,
        absl::StrCat(item, " is a ", KindName(it.kind()),
                     ": only kvm and cnt items can run commands or take "
                     "files"));
  }
  return grpc::Status::OK;
}

grpc::Status GuestRouter::Exec(
    grpc::ServerContext* c,
    grpc::ServerReaderWriter<v1::ExecResponse, v1::ExecRequest>* s) {
  v1::ExecRequest first;
  if (!s->Read(&first) || !first.has_start()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "the first Exec message must be start");
  }
  v1::Guest::Stub* stub = nullptr;
  if (auto st = Route(c, first.start().item(), &stub); !st.ok()) return st;
  // Deadline and cancellation propagate: a client that goes away cancels
  // the upstream call (no thread watching it).
  auto ccp = grpc::ClientContext::FromServerContext(*c);
  grpc::ClientContext& cc = *ccp;
  auto up = stub->Exec(&cc);
  bool saw_exit = false;
  return RelayBidi<v1::ExecRequest, v1::ExecResponse>(
      c, s, &cc, up.get(), first, "runner",
      [&](const v1::ExecResponse& r) { saw_exit |= r.has_exit(); },
      [&](bool client_gone, const grpc::Status& st) {
        if (saw_exit || client_gone) return;
        // The runner failed before an exit status: say why in-band, so that
        // the client half-closes and gets the status.
        v1::ExecResponse last;
        last.mutable_exit()->set_code(255);
        last.mutable_exit()->set_error(st.ok() ? "no exit status"
                                               : st.error_message());
        s->Write(last);
      });
}

grpc::Status GuestRouter::CopyTo(grpc::ServerContext* c,
                                 grpc::ServerReader<v1::CopyToRequest>* r,
                                 v1::CopyToResponse* o) {
  v1::CopyToRequest first;
  if (!r->Read(&first) || !first.has_start()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "the first CopyTo message must be start");
  }
  v1::Guest::Stub* stub = nullptr;
  if (auto st = Route(c, first.start().item(), &stub); !st.ok()) return st;
  // Deadline and cancellation propagate: a client that goes away cancels
  // the upstream call (no thread watching it).
  auto ccp = grpc::ClientContext::FromServerContext(*c);
  grpc::ClientContext& cc = *ccp;
  auto up = stub->CopyTo(&cc, o);
  bool ok = up->Write(first);
  v1::CopyToRequest m;
  while (ok && r->Read(&m)) ok = up->Write(m);
  // A cancelled client must not look like a complete copy upstream.
  if (c->IsCancelled()) cc.TryCancel();
  up->WritesDone();
  return Upstream(up->Finish(), "runner");
}

grpc::Status GuestRouter::CopyFrom(
    grpc::ServerContext* c, const v1::CopyFromRequest* r,
    grpc::ServerWriter<v1::CopyFromResponse>* w) {
  v1::Guest::Stub* stub = nullptr;
  if (auto st = Route(c, r->item(), &stub); !st.ok()) return st;
  // Deadline and cancellation propagate: a client that goes away cancels
  // the upstream call (no thread watching it).
  auto ccp = grpc::ClientContext::FromServerContext(*c);
  grpc::ClientContext& cc = *ccp;
  auto up = stub->CopyFrom(&cc, *r);
  v1::CopyFromResponse m;
  while (up->Read(&m)) {
    if (!w->Write(m)) {
      cc.TryCancel();
      break;
    }
  }
  return Upstream(up->Finish(), "runner");
}

grpc::Status GuestRouter::NatForward(grpc::ServerContext* c,
                                     const std::string& item, uint32_t port,
                                     std::string* nat, uint32_t* host_port) {
  v1::OpenNatForwardRequest req;
  req.set_item(item);
  req.set_guest_port(port);
  v1::NatForward fwd;
  // Deadline and cancellation propagate: a client that goes away cancels
  // the upstream call (no thread watching it).
  auto ccp = grpc::ClientContext::FromServerContext(*c);
  grpc::ClientContext& cc = *ccp;
  grpc::Status s = topology_->OpenNatForward(&cc, req, &fwd);
  if (!s.ok()) return Upstream(s, "orchestrator");
  *nat = fwd.nat();
  *host_port = fwd.host_port();
  return grpc::Status::OK;
}

void GuestRouter::ReleaseForward(const std::string& nat, uint32_t host_port) {
  v1::CloseNatForwardRequest req;
  req.set_nat(nat);
  req.set_host_port(host_port);
  v1::CloseNatForwardResponse resp;
  grpc::ClientContext cc;
  cc.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  topology_->CloseNatForward(&cc, req, &resp);  // best effort: logged by nat
}

grpc::Status GuestRouter::Tunnel(
    grpc::ServerContext* c,
    grpc::ServerReaderWriter<v1::TunnelResponse, v1::TunnelRequest>* s) {
  v1::TunnelRequest first;
  if (!s->Read(&first) || !first.has_start()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "the first Tunnel message must be start");
  }
  const uint32_t port = first.start().port();
  if (port == 0 || port > 65535) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("port ", port, " is not a TCP port"));
  }
  uint32_t host_port = 0;
  std::string nat;
  if (auto st = NatForward(c, first.start().item(), port, &nat, &host_port);
      !st.ok())
    return st;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(host_port));
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    if (fd >= 0) close(fd);
    ReleaseForward(nat, host_port);
    return ToGrpcStatus(WithReason(absl::UnavailableError(absl::StrCat(
                                       "cannot reach ", first.start().item(),
                                       ":", port, " through its nat")),
                                   reason::kGuestError));
  }
  absl::Notification pump_done;
  std::thread pump([&] {
    v1::TunnelRequest r;
    while (s->Read(&r)) {
      const std::string& d = r.data();
      size_t off = 0;
      while (off < d.size()) {
        ssize_t n = send(fd, d.data() + off, d.size() - off, MSG_NOSIGNAL);
        if (n <= 0) break;
        off += static_cast<size_t>(n);
      }
      if (off < d.size()) break;
    }
    // The client half-closed: so does the guest's side. The client went
    // away: the read below ends too.
    shutdown(fd, c->IsCancelled() ? SHUT_RDWR : SHUT_WR);
    pump_done.Notify();
  });
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    v1::TunnelResponse out;
    out.set_data(std::string(buf, static_cast<size_t>(n)));
    if (!s->Write(out)) break;
  }
  if (!pump_done.WaitForNotificationWithTimeout(absl::Seconds(2))) {
    shutdown(fd, SHUT_RDWR);  // a pump stuck in send() returns
    c->TryCancel();           // a pump stuck in Read() returns
  }
  pump.join();
  close(fd);
  ReleaseForward(nat, host_port);
  return grpc::Status::OK;
}

grpc::Status GuestRouter::Console(
    grpc::ServerContext* c,
    grpc::ServerReaderWriter<v1::ConsoleResponse, v1::ConsoleRequest>* s) {
  v1::ConsoleRequest first;
  if (!s->Read(&first) || first.item().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "the first Console message must name the item");
  }
  v1::Guest::Stub* stub = nullptr;
  if (auto st = Route(c, first.item(), &stub); !st.ok()) return st;
  if (stub != vms_.get()) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        absl::StrCat(first.item(),
                                     " has no serial console: only kvm items "
                                     "do (use cloonix ssh)"));
  }
  // Deadline and cancellation propagate: a client that goes away cancels
  // the upstream call (no thread watching it).
  auto ccp = grpc::ClientContext::FromServerContext(*c);
  grpc::ClientContext& cc = *ccp;
  auto up = stub->Console(&cc);
  return RelayBidi<v1::ConsoleRequest, v1::ConsoleResponse>(
      c, s, &cc, up.get(), first, "vm_runner", nullptr, nullptr);
}

}  // namespace cloonix
