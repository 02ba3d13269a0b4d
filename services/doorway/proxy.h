// A generic relay of one gRPC service to an upstream channel: every method of
// the service's descriptor (unary and server-streaming) is served by copying
// its request and response bytes, unparsed, so a method added to the proto
// needs no doorway change. Deadlines and cancellation propagate upstream
// (ClientContext::FromCallbackServerContext). An upstream that cannot be
// reached gives UNAVAILABLE with reason UPSTREAM_UNAVAILABLE
// (common/error_reasons.h); every other status, with its ErrorInfo, passes
// through as the upstream returned it. The service is registered by name, so
// server reflection lists it.
#ifndef CLOONIX_SERVICES_DOORWAY_PROXY_H_
#define CLOONIX_SERVICES_DOORWAY_PROXY_H_

#include <deque>
#include <memory>
#include <string>

#include "google/protobuf/descriptor.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"

namespace cloonix {

class ProxyService : public grpc::Service {
 public:
  // `service`: from the generated pool, e.g.
  // DescriptorPool::generated_pool()->FindServiceByName("cloonix.v1.Topology")
  // (must not be null). `who` names the
  // upstream in errors ("orchestrator"). Unary and server-streaming methods
  // only: a service with a client-streaming method aborts at construction
  // (a programming error; Topology and Net have none).
  ProxyService(const google::protobuf::ServiceDescriptor* service,
               std::shared_ptr<grpc::Channel> upstream, std::string who);

 private:
  grpc::ServerUnaryReactor* Unary(grpc::CallbackServerContext* ctx,
                                  const std::string& path,
                                  const grpc::ByteBuffer* req,
                                  grpc::ByteBuffer* resp);
  grpc::ServerWriteReactor<grpc::ByteBuffer>* ServerStream(
      grpc::CallbackServerContext* ctx, const std::string& path,
      const grpc::ByteBuffer* req);
  // Waits (3 s at most) for a channel in reconnect back-off, e.g. just after
  // the orchestrator came back.
  void AwaitUpstream();
  // `s` of a call upstream, with UPSTREAM_UNAVAILABLE if it was not reached.
  grpc::Status Map(const grpc::Status& s);

  std::shared_ptr<grpc::Channel> channel_;
  grpc::GenericStub stub_;
  std::string who_;
  std::deque<std::string> paths_;  // stable storage for the method names
};

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_DOORWAY_PROXY_H_
