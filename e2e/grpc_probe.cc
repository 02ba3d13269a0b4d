// grpc_probe --socket=PATH: checks a daemon's gRPC health service and lists
// its services through server reflection (what grpcurl does), one per line.
// Exit 0 if healthy and reflection answers, 1 otherwise.
#include <iostream>
#include <string>

#include "grpc_std/health.grpc.pb.h"
#include "grpc_std/reflection.grpc.pb.h"
#include "grpcpp/grpcpp.h"

int main(int argc, char** argv) {
  std::string socket;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--socket=", 0) == 0) socket = a.substr(9);
  }
  if (socket.empty()) {
    std::cerr << "usage: grpc_probe --socket=PATH" << std::endl;
    return 2;
  }
  auto channel =
      grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials());
  {
    auto stub = grpc::health::v1::Health::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(5));
    grpc::health::v1::HealthCheckRequest req;
    grpc::health::v1::HealthCheckResponse resp;
    grpc::Status s = stub->Check(&ctx, req, &resp);
    if (!s.ok() ||
        resp.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
      std::cerr << "health: not serving: " << s.error_message() << std::endl;
      return 1;
    }
    std::cout << "health: SERVING" << std::endl;
  }
  auto stub = grpc::reflection::v1alpha::ServerReflection::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  auto stream = stub->ServerReflectionInfo(&ctx);
  grpc::reflection::v1alpha::ServerReflectionRequest req;
  req.set_list_services("*");
  stream->Write(req);
  stream->WritesDone();
  grpc::reflection::v1alpha::ServerReflectionResponse resp;
  bool got = false;
  while (stream->Read(&resp)) {
    for (const auto& s : resp.list_services_response().service()) {
      std::cout << s.name() << std::endl;
      got = true;
    }
  }
  grpc::Status s = stream->Finish();
  if (!s.ok() || !got) {
    std::cerr << "reflection failed: " << s.error_message() << std::endl;
    return 1;
  }
  return 0;
}
