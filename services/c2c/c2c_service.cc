#include "services/c2c/c2c_service.h"

#include "common/grpc_status.h"
#include "common/notify_once.h"
#include "spdlog/spdlog.h"

namespace cloonix {

namespace c2cv1 = cloonix::c2c::v1;

namespace {
grpc::Status Reply(absl::StatusOr<c2cv1::C2c> r, c2cv1::C2c* resp) {
  if (!r.ok()) return ToGrpcStatus(r.status());
  *resp = std::move(*r);
  return grpc::Status::OK;
}
}  // namespace

grpc::Status C2cService::CreateC2c(grpc::ServerContext*,
                                   const c2cv1::CreateC2cRequest* req,
                                   c2cv1::C2c* resp) {
  return Reply(worker_->Add(*req), resp);
}

grpc::Status C2cService::SetPeer(grpc::ServerContext*,
                                 const c2cv1::SetPeerRequest* req,
                                 c2cv1::C2c* resp) {
  return Reply(
      worker_->SetPeer(req->name(), req->peer_ip(), req->peer_udp_port()),
      resp);
}

grpc::Status C2cService::SetMacMangle(grpc::ServerContext*,
                                      const c2cv1::SetMacMangleRequest* req,
                                      c2cv1::C2c* resp) {
  return Reply(worker_->SetMacMangle(req->name(), req->mac_mangle()), resp);
}

grpc::Status C2cService::DeleteC2c(grpc::ServerContext*,
                                   const c2cv1::DeleteC2cRequest* req,
                                   c2cv1::DeleteC2cResponse*) {
  return ToGrpcStatus(worker_->Remove(req->name()));
}

grpc::Status C2cService::ListC2c(grpc::ServerContext*,
                                 const c2cv1::ListC2cRequest*,
                                 c2cv1::ListC2cResponse* resp) {
  for (auto& c : worker_->List()) *resp->add_c2cs() = std::move(c);
  return grpc::Status::OK;
}

grpc::Status C2cService::Teardown(grpc::ServerContext*,
                                  const c2cv1::TeardownRequest*,
                                  c2cv1::TeardownResponse*) {
  spdlog::info("teardown: removing every c2c end, stopping the worker");
  worker_->RemoveAll();
  NotifyOnce(shutdown_);
  return grpc::Status::OK;
}

}  // namespace cloonix
