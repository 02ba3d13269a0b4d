#include "services/doorway/proxy.h"

#include <atomic>
#include <chrono>
#include <cstdlib>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/error_reasons.h"
#include "common/grpc_status.h"
#include "grpcpp/impl/codegen/server_callback_handlers.h"
#include "spdlog/spdlog.h"

namespace cloonix {

namespace {

using grpc::ByteBuffer;

// One server-streaming call relayed: the upstream's messages are written to
// the client one at a time (the next is read once the last is written), so a
// slow client slows the upstream instead of growing a buffer.
class StreamRelay {
 public:
  StreamRelay(grpc::CallbackServerContext* ctx, grpc::GenericStub* stub,
              const std::string& path, const ByteBuffer& req,
              std::function<grpc::Status(const grpc::Status&)> map)
      : cc_(grpc::ClientContext::FromCallbackServerContext(*ctx)),
        req_(req),
        down_(this),
        up_(this),
        map_(std::move(map)) {
    stub->PrepareBidiStreamingCall(cc_.get(), path, grpc::StubOptions(), &up_);
    up_.StartWrite(&req_);
    up_.StartWritesDone();
    up_.StartRead(&msg_);
    // The next reads start from Down::OnWriteDone, outside the upstream's
    // reactions: the hold keeps the call until the read flow ends.
    up_.AddHold();
    up_.StartCall();
  }
  grpc::ServerWriteReactor<ByteBuffer>* reactor() { return &down_; }

 private:
  class Down : public grpc::ServerWriteReactor<ByteBuffer> {
   public:
    explicit Down(StreamRelay* r) : r_(r) {}
    void OnWriteDone(bool ok) override {
      if (ok) {
        r_->up_.StartRead(&r_->msg_);
      } else {
        r_->cc_->TryCancel();  // the client is gone: no more reads
        r_->up_.RemoveHold();
      }
    }
    void OnCancel() override { r_->cc_->TryCancel(); }
    void OnDone() override { r_->Unref(); }

   private:
    StreamRelay* r_;
  };
  class Up : public grpc::ClientBidiReactor<ByteBuffer, ByteBuffer> {
   public:
    explicit Up(StreamRelay* r) : r_(r) {}
    void OnReadDone(bool ok) override {
      if (ok) {
        r_->down_.StartWrite(&r_->msg_);
      } else {
        RemoveHold();  // the stream ended; OnDone has its status
      }
    }
    void OnDone(const grpc::Status& s) override {
      r_->down_.Finish(r_->map_(s));
      r_->Unref();
    }

   private:
    StreamRelay* r_;
  };

  void Unref() {
    if (refs_.fetch_sub(1) == 1) delete this;
  }

  std::unique_ptr<grpc::ClientContext> cc_;
  ByteBuffer req_;
  ByteBuffer msg_;
  Down down_;
  Up up_;
  std::function<grpc::Status(const grpc::Status&)> map_;
  std::atomic<int> refs_{2};  // Down::OnDone and Up::OnDone
};

}  // namespace

ProxyService::ProxyService(const google::protobuf::ServiceDescriptor* service,
                           std::shared_ptr<grpc::Channel> upstream,
                           std::string who)
    : channel_(upstream), stub_(upstream), who_(std::move(who)) {
  for (int i = 0; i < service->method_count(); ++i) {
    const google::protobuf::MethodDescriptor* m = service->method(i);
    paths_.push_back(absl::StrCat("/", service->full_name(), "/", m->name()));
    const std::string& path = paths_.back();
    // The relayed services (Topology, Net) have unary and server-streaming
    // methods only; a client-streaming one would need a bidi relay here.
    if (m->client_streaming()) {
      spdlog::critical("{}: client-streaming methods are not relayed", path);
      std::abort();
    }
    if (m->server_streaming()) {
      AddMethod(new grpc::internal::RpcServiceMethod(
          path.c_str(), grpc::internal::RpcMethod::SERVER_STREAMING, nullptr));
      MarkMethodRawCallback(
          i, new grpc::internal::CallbackServerStreamingHandler<ByteBuffer,
                                                                ByteBuffer>(
                 [this, &path](grpc::CallbackServerContext* ctx,
                               const ByteBuffer* req) {
                   return ServerStream(ctx, path, req);
                 }));
    } else {
      AddMethod(new grpc::internal::RpcServiceMethod(
          path.c_str(), grpc::internal::RpcMethod::NORMAL_RPC, nullptr));
      MarkMethodRawCallback(
          i, new grpc::internal::CallbackUnaryHandler<ByteBuffer, ByteBuffer>(
                 [this, &path](grpc::CallbackServerContext* ctx,
                               const ByteBuffer* req, ByteBuffer* resp) {
                   return Unary(ctx, path, req, resp);
                 }));
    }
  }
}

void ProxyService::AwaitUpstream() {
  if (channel_->GetState(/*try_to_connect=*/true) == GRPC_CHANNEL_READY) return;
  channel_->WaitForConnected(std::chrono::system_clock::now() +
                             std::chrono::seconds(3));
}

grpc::Status ProxyService::Map(const grpc::Status& s) {
  if (s.error_code() != grpc::StatusCode::UNAVAILABLE || !ReasonOf(s).empty())
    return s;
  // UNAVAILABLE from gRPC itself, not from the upstream service: it could
  // not be reached, or went away during the call.
  return ToGrpcStatus(WithReason(
      absl::UnavailableError(absl::StrCat(
          "the net's ", who_, " is not reachable: ", s.error_message())),
      reason::kUpstreamUnavailable, {{"service", who_}}));
}

grpc::ServerUnaryReactor* ProxyService::Unary(grpc::CallbackServerContext* ctx,
                                              const std::string& path,
                                              const ByteBuffer* req,
                                              ByteBuffer* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  AwaitUpstream();
  std::shared_ptr<grpc::ClientContext> cc =
      grpc::ClientContext::FromCallbackServerContext(*ctx);
  stub_.UnaryCall(
      cc.get(), path, grpc::StubOptions(), req, resp,
      [this, reactor, cc](grpc::Status s) { reactor->Finish(Map(s)); });
  return reactor;
}

grpc::ServerWriteReactor<ByteBuffer>* ProxyService::ServerStream(
    grpc::CallbackServerContext* ctx, const std::string& path,
    const ByteBuffer* req) {
  AwaitUpstream();
  auto* relay =
      new StreamRelay(ctx, &stub_, path, *req,
                      [this](const grpc::Status& s) { return Map(s); });
  return relay->reactor();
}

}  // namespace cloonix
