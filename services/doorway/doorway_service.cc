#include "services/doorway/doorway_service.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
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
#include "common/item_kind.h"

namespace cloonix {

namespace {

// An upstream context carrying the caller's deadline.
void Inherit(grpc::ServerContext* server, grpc::ClientContext* client) {
  if (server->deadline() != std::chrono::system_clock::time_point::max())
    client->set_deadline(server->deadline());
}

grpc::Status Upstream(grpc::Status s, const char* who) {
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE &&
      s.error_message().find("connect") != std::string::npos) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        absl::StrCat("the net's ", who,
                                     " is not reachable: ", s.error_message()));
  }
  return s;
}

// A call that could not even connect was not delivered: retrying it is
// safe. The channel may be in reconnect back-off just after the orchestrator
// came back: retry for up to 3 s.
bool NotDelivered(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::UNAVAILABLE &&
         s.error_message().find("failed to connect") != std::string::npos;
}

template <typename Stub, typename Req, typename Resp>
grpc::Status Forward(grpc::ServerContext* sc, Stub* stub,
                     grpc::Status (Stub::*method)(grpc::ClientContext*,
                                                  const Req&, Resp*),
                     const Req& req, Resp* resp) {
  absl::Time give_up = absl::Now() + absl::Seconds(3);
  for (;;) {
    grpc::ClientContext cc;
    Inherit(sc, &cc);
    grpc::Status s = (stub->*method)(&cc, req, resp);
    if (!NotDelivered(s) || absl::Now() > give_up || sc->IsCancelled())
      return Upstream(s, "orchestrator");
    absl::SleepFor(absl::Milliseconds(100));
  }
}

// Cancels `upstream` once `server` is cancelled (client gone), until
// stopped.
class CancelRelay {
 public:
  CancelRelay(grpc::ServerContext* server, grpc::ClientContext* upstream)
      : thread_([=] {
          while (
              !done_.WaitForNotificationWithTimeout(absl::Milliseconds(200))) {
            if (server->IsCancelled()) {
              upstream->TryCancel();
              return;
            }
          }
        }) {}
  ~CancelRelay() {
    done_.Notify();
    thread_.join();
  }

 private:
  absl::Notification done_;
  std::thread thread_;
};

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
  CancelRelay relay(c, cc);
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

grpc::Status TopologyProxy::CreateItem(grpc::ServerContext* c,
                                       const v1::CreateItemRequest* r,
                                       v1::Item* o) {
  return Forward(c, stub_.get(), &v1::Topology::Stub::CreateItem, *r, o);
}
grpc::Status TopologyProxy::GetItem(grpc::ServerContext* c,
                                    const v1::GetItemRequest* r, v1::Item* o) {
  return Forward(c, stub_.get(), &v1::Topology::Stub::GetItem, *r, o);
}
grpc::Status TopologyProxy::ListItems(grpc::ServerContext* c,
                                      const v1::ListItemsRequest* r,
                                      v1::ListItemsResponse* o) {
  return Forward(c, stub_.get(), &v1::Topology::Stub::ListItems, *r, o);
}
grpc::Status TopologyProxy::DeleteItem(grpc::ServerContext* c,
                                       const v1::DeleteItemRequest* r,
                                       v1::DeleteItemResponse* o) {
  return Forward(c, stub_.get(), &v1::Topology::Stub::DeleteItem, *r, o);
}
grpc::Status TopologyProxy::ConnectEth(grpc::ServerContext* c,
                                       const v1::ConnectEthRequest* r,
                                       v1::Item* o) {
  return Forward(c, stub_.get(), &v1::Topology::Stub::ConnectEth, *r, o);
}
grpc::Status TopologyProxy::DisconnectEth(grpc::ServerContext* c,
                                          const v1::DisconnectEthRequest* r,
                                          v1::Item* o) {
  return Forward(c, stub_.get(), &v1::Topology::Stub::DisconnectEth, *r, o);
}
grpc::Status TopologyProxy::ConfigureA2b(grpc::ServerContext* c,
                                         const v1::ConfigureA2bRequest* r,
                                         v1::Item* o) {
  return Forward(c, stub_.get(), &v1::Topology::Stub::ConfigureA2b, *r, o);
}

grpc::Status TopologyProxy::WhatIp(grpc::ServerContext* c,
                                   const v1::WhatIpRequest* r,
                                   v1::WhatIpResponse* o) {
  return Forward(c, stub_.get(), &v1::Topology::Stub::WhatIp, *r, o);
}

grpc::Status TopologyProxy::ControlKvm(grpc::ServerContext* c,
                                       const v1::ControlKvmRequest* r,
                                       v1::Item* o) {
  return Forward(c, stub_.get(), &v1::Topology::Stub::ControlKvm, *r, o);
}

grpc::Status TopologyProxy::WatchEvents(grpc::ServerContext* c,
                                        const v1::WatchEventsRequest* r,
                                        grpc::ServerWriter<v1::Event>* w) {
  grpc::ClientContext cc;
  Inherit(c, &cc);
  auto reader = stub_->WatchEvents(&cc, *r);
  CancelRelay relay(c, &cc);
  v1::Event e;
  while (reader->Read(&e)) {
    if (!w->Write(e)) {
      cc.TryCancel();
      break;
    }
  }
  return Upstream(reader->Finish(), "orchestrator");
}

grpc::Status NetProxy::GetNet(grpc::ServerContext* c,
                              const v1::GetNetRequest* r, v1::NetInfo* o) {
  return Forward(c, stub_.get(), &v1::Net::Stub::GetNet, *r, o);
}
grpc::Status NetProxy::StopNet(grpc::ServerContext* c,
                               const v1::StopNetRequest* r,
                               v1::StopNetResponse* o) {
  return Forward(c, stub_.get(), &v1::Net::Stub::StopNet, *r, o);
}

GuestRouter::GuestRouter(const Upstreams& up)
    : topology_(v1::Topology::NewStub(up.orchestrator)),
      vms_(v1::Guest::NewStub(up.vm_runner)),
      cnts_(v1::Guest::NewStub(up.cnt_runner)),
      nat_(cloonix::nat::v1::NatWorker::NewStub(up.nat)) {}

grpc::Status GuestRouter::Route(grpc::ServerContext* c, const std::string& item,
                                v1::Guest::Stub** stub) {
  v1::GetItemRequest req;
  req.set_name(item);
  v1::Item it;
  grpc::Status s =
      Forward(c, topology_.get(), &v1::Topology::Stub::GetItem, req, &it);
  if (!s.ok()) return s;
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
  grpc::ClientContext cc;
  Inherit(c, &cc);
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
  grpc::ClientContext cc;
  Inherit(c, &cc);
  auto up = stub->CopyTo(&cc, o);
  CancelRelay relay(c, &cc);
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
  grpc::ClientContext cc;
  Inherit(c, &cc);
  auto up = stub->CopyFrom(&cc, *r);
  CancelRelay relay(c, &cc);
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
                                     std::string* nat_out,
                                     uint32_t* host_port) {
  v1::GetItemRequest greq;
  greq.set_name(item);
  v1::Item it;
  grpc::Status s =
      Forward(c, topology_.get(), &v1::Topology::Stub::GetItem, greq, &it);
  if (!s.ok()) return s;
  if (it.kind() != v1::ITEM_KIND_KVM && it.kind() != v1::ITEM_KIND_CNT) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        absl::StrCat(item, " is a ", KindName(it.kind()),
                                     ": only kvm and cnt items have guests"));
  }
  v1::ListItemsRequest lreq;
  lreq.set_kind(v1::ITEM_KIND_NAT);
  v1::ListItemsResponse nats;
  s = Forward(c, topology_.get(), &v1::Topology::Stub::ListItems, lreq, &nats);
  if (!s.ok()) return s;
  // The natplug eth first, then any eth on a lan with a nat.
  std::optional<uint32_t> plug;
  if (it.has_kvm() && it.kvm().has_natplug()) plug = it.kvm().natplug();
  if (it.has_cnt() && it.cnt().has_natplug()) plug = it.cnt().natplug();
  std::string nat, mac;
  for (int pass = 0; pass < 2 && nat.empty(); ++pass) {
    for (const auto& e : it.eths()) {
      if (e.lan().empty() || (pass == 0 && (!plug || e.index() != *plug)))
        continue;
      for (const auto& n : nats.items()) {
        if (!n.eths().empty() && n.eths(0).lan() == e.lan()) {
          nat = n.name();
          mac = e.mac();
          break;
        }
      }
      if (!nat.empty()) break;
    }
  }
  if (nat.empty()) {
    return grpc::Status(
        grpc::StatusCode::FAILED_PRECONDITION,
        absl::StrCat("no nat on the lans of ", item,
                     ": cable a nat to one of its lans, or create it with "
                     "--natplug=<eth>"));
  }
  cloonix::nat::v1::AddHostForwardRequest req;
  req.set_nat(nat);
  req.set_mac(mac);
  req.set_guest_port(port);
  cloonix::nat::v1::AddHostForwardResponse resp;
  grpc::ClientContext cc;
  Inherit(c, &cc);
  s = nat_->AddHostForward(&cc, req, &resp);
  if (!s.ok()) return Upstream(s, "nat");
  *host_port = resp.host_port();
  *nat_out = nat;
  return grpc::Status::OK;
}

void GuestRouter::ReleaseForward(const std::string& nat, uint32_t host_port) {
  cloonix::nat::v1::RemoveHostForwardRequest req;
  req.set_nat(nat);
  req.set_host_port(host_port);
  cloonix::nat::v1::RemoveHostForwardResponse resp;
  grpc::ClientContext cc;
  cc.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  nat_->RemoveHostForward(&cc, req, &resp);  // best effort: logged by nat
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
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        absl::StrCat("cannot reach ", first.start().item(), ":",
                                     port, " through its nat"));
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
    shutdown(fd, SHUT_WR);
    pump_done.Notify();
  });
  char buf[65536];
  for (;;) {
    struct pollfd p = {fd, POLLIN, 0};
    int r = poll(&p, 1, 200);
    if (r == 0) {
      if (c->IsCancelled()) break;
      continue;
    }
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
  grpc::ClientContext cc;
  Inherit(c, &cc);
  auto up = stub->Console(&cc);
  return RelayBidi<v1::ConsoleRequest, v1::ConsoleResponse>(
      c, s, &cc, up.get(), first, "vm_runner", nullptr, nullptr);
}

}  // namespace cloonix
