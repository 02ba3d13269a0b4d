// ProxyService against a fake orchestrator served in-process on a unix
// socket: unary calls and their ErrorInfo pass through unchanged, the event
// stream is relayed in order, a client's cancel reaches the upstream, and an
// upstream that does not answer gives UPSTREAM_UNAVAILABLE. The proxy is
// built from the descriptor alone: the fake's methods are not named here.
#include "services/doorway/proxy.h"

#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "absl/synchronization/notification.h"
#include "cloonix/v1/topology.grpc.pb.h"
#include "common/error_reasons.h"
#include "common/grpc_status.h"
#include "common/rpc_client.h"
#include "common/server.h"
#include "gtest/gtest.h"

namespace cloonix {
namespace {

namespace v1 = cloonix::v1;

class FakeTopology final : public v1::Topology::Service {
 public:
  grpc::Status GetItem(grpc::ServerContext*, const v1::GetItemRequest* req,
                       v1::Item* resp) override {
    if (req->name() != "vm1") {
      return ToGrpcStatus(WithReason(absl::NotFoundError("no " + req->name()),
                                     reason::kItemNotFound,
                                     {{"item", req->name()}}));
    }
    resp->set_name("vm1");
    resp->set_kind(v1::ITEM_KIND_KVM);
    return grpc::Status::OK;
  }
  grpc::Status WatchEvents(grpc::ServerContext* ctx,
                           const v1::WatchEventsRequest*,
                           grpc::ServerWriter<v1::Event>* w) override {
    for (int i = 0; i < 100; ++i) {
      v1::Event e;
      e.set_type(v1::EVENT_TYPE_UPDATED);
      e.mutable_item()->set_name("item" + std::to_string(i));
      if (!w->Write(e)) return grpc::Status::CANCELLED;
    }
    // Then wait for the client to go: its cancel must reach us.
    while (!ctx->IsCancelled()) absl::SleepFor(absl::Milliseconds(5));
    cancelled_.Notify();
    return grpc::Status::CANCELLED;
  }
  absl::Notification cancelled_;
};

class ProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Short: unix socket paths must fit in 107 bytes.
    char tmpl[] = "/tmp/cxpx.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    const std::string& dir = dir_;
    up_sock_ = dir + "/up.sock";
    auto up = StartUnixServer(up_sock_, {&fake_});
    ASSERT_TRUE(up.ok()) << up.status();
    up_ = *std::move(up);
    proxy_ = std::make_unique<ProxyService>(
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
            "cloonix.v1.Topology"),
        UnixChannel(up_sock_), "orchestrator");
    auto front = StartUnixServer(dir + "/front.sock", {proxy_.get()});
    ASSERT_TRUE(front.ok()) << front.status();
    front_ = *std::move(front);
    stub_ = v1::Topology::NewStub(UnixChannel(dir + "/front.sock"));
  }
  void TearDown() override {
    if (front_) front_->Shutdown();
    if (up_) up_->Shutdown();
    std::filesystem::remove_all(dir_);
  }
  std::string dir_, up_sock_;
  FakeTopology fake_;
  std::unique_ptr<grpc::Server> up_, front_;
  std::unique_ptr<ProxyService> proxy_;
  std::unique_ptr<v1::Topology::Stub> stub_;
};

TEST_F(ProxyTest, UnaryCallsAndTheirErrorsPassThrough) {
  grpc::ClientContext c1;
  v1::GetItemRequest req;
  req.set_name("vm1");
  v1::Item item;
  ASSERT_TRUE(stub_->GetItem(&c1, req, &item).ok());
  EXPECT_EQ(item.kind(), v1::ITEM_KIND_KVM);
  grpc::ClientContext c2;
  req.set_name("nope");
  grpc::Status s = stub_->GetItem(&c2, req, &item);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(s.error_message(), "no nope");
  EXPECT_EQ(ReasonOf(s), reason::kItemNotFound);
  EXPECT_EQ(ReasonDetail(s, "item"), "nope");
  // A method the fake does not implement: UNIMPLEMENTED from upstream.
  grpc::ClientContext c3;
  v1::ListItemsResponse list;
  EXPECT_EQ(stub_->ListItems(&c3, v1::ListItemsRequest(), &list).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
}

TEST_F(ProxyTest, StreamsAreRelayedInOrderAndCancelReachesUpstream) {
  grpc::ClientContext ctx;
  auto reader = stub_->WatchEvents(&ctx, v1::WatchEventsRequest());
  v1::Event e;
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(reader->Read(&e)) << i;
    EXPECT_EQ(e.item().name(), "item" + std::to_string(i));
  }
  ctx.TryCancel();
  EXPECT_TRUE(
      fake_.cancelled_.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(ProxyTest, AnUpstreamThatDoesNotAnswerIsUnavailableWithAReason) {
  up_->Shutdown();
  up_.reset();
  std::remove(up_sock_.c_str());
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  v1::GetItemRequest req;
  req.set_name("vm1");
  v1::Item item;
  grpc::Status s = stub_->GetItem(&ctx, req, &item);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(ReasonOf(s), reason::kUpstreamUnavailable);
  EXPECT_EQ(ReasonDetail(s, "service"), "orchestrator");
  EXPECT_NE(s.error_message().find("orchestrator is not reachable"),
            std::string::npos);
  grpc::ClientContext sctx;
  auto reader = stub_->WatchEvents(&sctx, v1::WatchEventsRequest());
  v1::Event e;
  EXPECT_FALSE(reader->Read(&e));
  grpc::Status ss = reader->Finish();
  EXPECT_EQ(ReasonOf(ss), reason::kUpstreamUnavailable);
}

}  // namespace
}  // namespace cloonix
