// GuestRouter against in-process fakes of the orchestrator (GetItem,
// OpenNatForward) and of the two runners, on unix sockets: each call goes to
// the runner of its item's kind, messages flow both ways in order, the
// runners' errors pass through, a kind without a guest or a container's
// console is refused before any runner is called, a client's cancel reaches
// the runner, an Exec whose runner is gone ends with an in-band exit and
// UPSTREAM_UNAVAILABLE, and Tunnel relays a loopback TCP connection.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>

#include "absl/synchronization/notification.h"
#include "cloonix/v1/guest.grpc.pb.h"
#include "cloonix/v1/topology.grpc.pb.h"
#include "common/error_reasons.h"
#include "common/grpc_status.h"
#include "common/rpc_client.h"
#include "common/server.h"
#include "gtest/gtest.h"
#include "services/doorway/doorway_service.h"

namespace cloonix {
namespace {

namespace v1 = cloonix::v1;

class FakeTopology final : public v1::Topology::Service {
 public:
  grpc::Status GetItem(grpc::ServerContext*, const v1::GetItemRequest* req,
                       v1::Item* resp) override {
    resp->set_name(req->name());
    if (req->name().rfind("slow", 0) == 0) {
      absl::SleepFor(absl::Milliseconds(300));  // outlives a cancelled call
      resp->set_kind(v1::ITEM_KIND_KVM);
      return grpc::Status::OK;
    }
    if (req->name().rfind("vm", 0) == 0) {
      resp->set_kind(v1::ITEM_KIND_KVM);
    } else if (req->name().rfind("c", 0) == 0) {
      resp->set_kind(v1::ITEM_KIND_CNT);
    } else if (req->name().rfind("lan", 0) == 0) {
      resp->set_kind(v1::ITEM_KIND_LAN);
    } else {
      return ToGrpcStatus(WithReason(absl::NotFoundError("no " + req->name()),
                                     reason::kItemNotFound));
    }
    return grpc::Status::OK;
  }
  grpc::Status OpenNatForward(grpc::ServerContext*,
                              const v1::OpenNatForwardRequest*,
                              v1::NatForward* resp) override {
    resp->set_nat("nat1");
    resp->set_host_port(port);
    return grpc::Status::OK;
  }
  grpc::Status CloseNatForward(grpc::ServerContext*,
                               const v1::CloseNatForwardRequest* req,
                               v1::CloseNatForwardResponse*) override {
    if (req->host_port() == port) closed.Notify();
    return grpc::Status::OK;
  }
  uint32_t port = 0;
  absl::Notification closed;
};

// A runner whose Exec echoes stdin back prefixed with its name, exits 3 at
// stdin's end, and notices a cancel.
class FakeRunner final : public v1::Guest::Service {
 public:
  explicit FakeRunner(std::string name) : name_(std::move(name)) {}
  grpc::Status Exec(
      grpc::ServerContext* ctx,
      grpc::ServerReaderWriter<v1::ExecResponse, v1::ExecRequest>* s) override {
    v1::ExecRequest r;
    if (!s->Read(&r) || !r.has_start()) return grpc::Status::CANCELLED;
    if (r.start().command_size() > 0 && r.start().command(0) == "refuse") {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "agent restarted");
    }
    if (r.start().command_size() > 0 && r.start().command(0) == "hang") {
      while (!ctx->IsCancelled()) absl::SleepFor(absl::Milliseconds(5));
      cancelled.Notify();
      return grpc::Status::CANCELLED;
    }
    while (s->Read(&r)) {
      if (r.stdin_eof()) break;
      v1::ExecResponse out;
      out.set_stdout(name_ + ":" + r.stdin());
      s->Write(out);
    }
    v1::ExecResponse exit;
    exit.mutable_exit()->set_code(3);
    s->Write(exit);
    return grpc::Status::OK;
  }
  grpc::Status CopyFrom(grpc::ServerContext*, const v1::CopyFromRequest* req,
                        grpc::ServerWriter<v1::CopyFromResponse>* w) override {
    if (req->path() == "/missing") {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          "cannot read /missing");
    }
    for (int i = 0; i < 50; ++i) {
      v1::CopyFromResponse m;
      m.set_data(name_ + std::to_string(i));
      w->Write(m);
    }
    return grpc::Status::OK;
  }
  grpc::Status CopyTo(grpc::ServerContext*,
                      grpc::ServerReader<v1::CopyToRequest>* r,
                      v1::CopyToResponse* resp) override {
    v1::CopyToRequest m;
    uint64_t bytes = 0;
    while (r->Read(&m)) bytes += m.data().size();
    resp->set_bytes(bytes);
    resp->set_files(name_ == "vm" ? 1 : 2);
    return grpc::Status::OK;
  }
  absl::Notification cancelled;

 private:
  std::string name_;
};

class GuestRouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cxgr.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    for (auto [svc, sock] :
         std::initializer_list<std::pair<grpc::Service*, std::string>>{
             {&topo_, "o.sock"}, {&vms_, "v.sock"}, {&cnts_, "c.sock"}}) {
      auto s = StartUnixServer(dir_ + "/" + sock, {svc});
      ASSERT_TRUE(s.ok()) << s.status();
      servers_.push_back(*std::move(s));
    }
    router_ = std::make_unique<GuestRouter>(
        Upstreams{UnixChannel(dir_ + "/o.sock"), UnixChannel(dir_ + "/v.sock"),
                  UnixChannel(dir_ + "/c.sock")});
    auto front = StartUnixServer(dir_ + "/f.sock", {router_.get()});
    ASSERT_TRUE(front.ok()) << front.status();
    servers_.push_back(*std::move(front));
    stub_ = v1::Guest::NewStub(UnixChannel(dir_ + "/f.sock"));
  }
  void TearDown() override {
    for (auto it = servers_.rbegin(); it != servers_.rend(); ++it)
      (*it)->Shutdown();
    std::filesystem::remove_all(dir_);
  }

  // Runs an Exec on `item` with `inputs`; returns the output and exit code.
  grpc::Status RunExec(const std::string& item,
                       const std::vector<std::string>& inputs, std::string* out,
                       int* code) {
    grpc::ClientContext cc;
    auto s = stub_->Exec(&cc);
    v1::ExecRequest r;
    r.mutable_start()->set_item(item);
    s->Write(r);
    for (const auto& in : inputs) {
      v1::ExecRequest m;
      m.set_stdin(in);
      s->Write(m);
    }
    v1::ExecRequest eof;
    eof.set_stdin_eof(true);
    s->Write(eof);
    v1::ExecResponse resp;
    while (s->Read(&resp)) {
      *out += resp.stdout();
      if (resp.has_exit()) {
        *code = resp.exit().code();
        if (!resp.exit().error().empty())
          *out += "error:" + resp.exit().error();
        s->WritesDone();
      }
    }
    return s->Finish();
  }

  std::string dir_;
  FakeTopology topo_;
  FakeRunner vms_{"vm"};
  FakeRunner cnts_{"cnt"};
  std::vector<std::unique_ptr<grpc::Server>> servers_;
  std::unique_ptr<GuestRouter> router_;
  std::unique_ptr<v1::Guest::Stub> stub_;
};

TEST_F(GuestRouterTest, ExecGoesToTheRunnerOfTheKindInOrder) {
  std::string out;
  int code = -1;
  ASSERT_TRUE(RunExec("vm1", {"a", "b", "c"}, &out, &code).ok());
  EXPECT_EQ(out, "vm:avm:bvm:c");
  EXPECT_EQ(code, 3);
  out.clear();
  ASSERT_TRUE(RunExec("c1", {"x"}, &out, &code).ok());
  EXPECT_EQ(out, "cnt:x");
}

TEST_F(GuestRouterTest, RefusesBeforeAnyRunner) {
  std::string out;
  int code = -1;
  grpc::Status s = RunExec("nosuch", {}, &out, &code);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(ReasonOf(s), reason::kItemNotFound);
  s = RunExec("lan1", {}, &out, &code);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(s.error_message().find("lan1 is a lan"), std::string::npos);

  grpc::ClientContext cc;
  auto con = stub_->Console(&cc);
  v1::ConsoleRequest first;
  first.set_item("c1");
  con->Write(first);
  con->WritesDone();
  v1::ConsoleResponse resp;
  while (con->Read(&resp)) {
  }
  s = con->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(s.error_message().find("no serial console"), std::string::npos);

  grpc::ClientContext cc2;
  auto bad = stub_->Exec(&cc2);
  v1::ExecRequest not_start;
  not_start.set_stdin("x");
  bad->Write(not_start);
  bad->WritesDone();
  v1::ExecResponse r;
  while (bad->Read(&r)) {
  }
  EXPECT_EQ(bad->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(GuestRouterTest, CopiesRelayBothShapes) {
  grpc::ClientContext cc;
  v1::CopyFromRequest req;
  req.set_item("c7");
  req.set_path("/x");
  auto rd = stub_->CopyFrom(&cc, req);
  v1::CopyFromResponse m;
  int n = 0;
  while (rd->Read(&m)) EXPECT_EQ(m.data(), "cnt" + std::to_string(n++));
  EXPECT_TRUE(rd->Finish().ok());
  EXPECT_EQ(n, 50);

  grpc::ClientContext cc2;
  req.set_path("/missing");
  auto rd2 = stub_->CopyFrom(&cc2, req);
  while (rd2->Read(&m)) {
  }
  grpc::Status s = rd2->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(s.error_message(), "cannot read /missing");

  grpc::ClientContext cc3;
  v1::CopyToResponse resp;
  auto wr = stub_->CopyTo(&cc3, &resp);
  v1::CopyToRequest start;
  start.mutable_start()->set_item("vm2");
  wr->Write(start);
  for (int i = 0; i < 10; ++i) {
    v1::CopyToRequest d;
    d.set_data(std::string(1000, 'x'));
    wr->Write(d);
  }
  wr->WritesDone();
  ASSERT_TRUE(wr->Finish().ok());
  EXPECT_EQ(resp.bytes(), 10000u);
  EXPECT_EQ(resp.files(), 1u);
}

TEST_F(GuestRouterTest, ClientCancelReachesTheRunner) {
  grpc::ClientContext cc;
  auto s = stub_->Exec(&cc);
  v1::ExecRequest r;
  r.mutable_start()->set_item("vm1");
  r.mutable_start()->add_command("hang");
  s->Write(r);
  absl::SleepFor(absl::Milliseconds(200));
  cc.TryCancel();
  EXPECT_TRUE(vms_.cancelled.WaitForNotificationWithTimeout(absl::Seconds(5)));
}

TEST_F(GuestRouterTest, ClientGoneWhileRoutingIsSafe) {
  for (int i = 0; i < 3; ++i) {
    grpc::ClientContext cc;
    auto s = stub_->Exec(&cc);
    v1::ExecRequest r;
    r.mutable_start()->set_item("slowvm");
    s->Write(r);
    absl::SleepFor(absl::Milliseconds(50));
    cc.TryCancel();
    EXPECT_EQ(s->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  absl::SleepFor(absl::Milliseconds(500));  // the routing answers arrive
  std::string out;
  int code = -1;
  ASSERT_TRUE(RunExec("vm1", {"z"}, &out, &code).ok());
  EXPECT_EQ(out, "vm:z");
}

TEST_F(GuestRouterTest, ExecWithTheRunnerGoneEndsInBand) {
  servers_[1]->Shutdown();  // vm_runner
  std::string out;
  int code = -1;
  grpc::Status s = RunExec("vm1", {}, &out, &code);
  EXPECT_EQ(code, 255);
  EXPECT_NE(out.find("error:"), std::string::npos);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(ReasonOf(s), reason::kUpstreamUnavailable);
}

// The runner refuses at once while the client's stdin and half-close are
// already on their way: nothing may be written to the runner's ended call
// (CI once saw the doorway jump to ip 0 there).
TEST_F(GuestRouterTest, ExecRefusedWhileTheClientStillWrites) {
  for (int i = 0; i < 300; ++i) {
    grpc::ClientContext cc;
    auto s = stub_->Exec(&cc);
    v1::ExecRequest r;
    r.mutable_start()->set_item("vm1");
    r.mutable_start()->add_command("refuse");
    s->Write(r);
    v1::ExecRequest in;
    in.set_stdin("x");
    s->Write(in);
    v1::ExecRequest eof;
    eof.set_stdin_eof(true);
    s->Write(eof);
    s->WritesDone();
    v1::ExecResponse resp;
    int code = -1;
    while (s->Read(&resp)) {
      if (resp.has_exit()) code = resp.exit().code();
    }
    grpc::Status st = s->Finish();
    ASSERT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE) << i;
    ASSERT_EQ(code, 255) << i;
  }
}

TEST_F(GuestRouterTest, TunnelRelaysALoopbackConnection) {
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(listen(ls, 1), 0);
  socklen_t len = sizeof(a);
  getsockname(ls, reinterpret_cast<sockaddr*>(&a), &len);
  topo_.port = ntohs(a.sin_port);
  // The "guest service": upper-cases what it gets until EOF, then closes.
  std::thread server([ls] {
    int c = accept(ls, nullptr, nullptr);
    char buf[4096];
    ssize_t n;
    while ((n = read(c, buf, sizeof(buf))) > 0) {
      for (ssize_t i = 0; i < n; ++i)
        buf[i] = static_cast<char>(toupper(buf[i]));
      if (write(c, buf, static_cast<size_t>(n)) != n) break;
    }
    close(c);
  });
  grpc::ClientContext cc;
  auto s = stub_->Tunnel(&cc);
  v1::TunnelRequest r;
  r.mutable_start()->set_item("vm1");
  r.mutable_start()->set_port(22);
  s->Write(r);
  std::string sent;
  for (int i = 0; i < 100; ++i) {
    v1::TunnelRequest d;
    d.set_data("chunk" + std::to_string(i) + ";");
    sent += d.data();
    s->Write(d);
  }
  s->WritesDone();
  std::string got;
  v1::TunnelResponse resp;
  while (s->Read(&resp)) got += resp.data();
  EXPECT_TRUE(s->Finish().ok());
  for (auto& ch : sent) ch = static_cast<char>(toupper(ch));
  EXPECT_EQ(got, sent);
  server.join();
  close(ls);
  EXPECT_TRUE(topo_.closed.WaitForNotificationWithTimeout(absl::Seconds(5)))
      << "the forward was not released";

  grpc::ClientContext cc2;
  auto bad = stub_->Tunnel(&cc2);
  v1::TunnelRequest zero;
  zero.mutable_start()->set_item("vm1");
  bad->Write(zero);
  bad->WritesDone();
  while (bad->Read(&resp)) {
  }
  EXPECT_EQ(bad->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace cloonix
