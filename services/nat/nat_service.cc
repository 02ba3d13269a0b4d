#include "services/nat/nat_service.h"

#include "common/grpc_status.h"
#include "common/notify_once.h"

namespace cloonix {

grpc::Status NatService::CreateNat(grpc::ServerContext*,
                                   const nat::v1::CreateNatRequest* req,
                                   nat::v1::Nat* resp) {
  auto r = worker_->CreateNat(req->name(), req->id(), req->port());
  if (!r.ok()) return ToGrpcStatus(r.status());
  *resp = *r;
  return grpc::Status::OK;
}

grpc::Status NatService::DeleteNat(grpc::ServerContext*,
                                   const nat::v1::DeleteNatRequest* req,
                                   nat::v1::DeleteNatResponse*) {
  return ToGrpcStatus(worker_->DeleteNat(req->name()));
}

grpc::Status NatService::ListNats(grpc::ServerContext*,
                                  const nat::v1::ListNatsRequest*,
                                  nat::v1::ListNatsResponse* resp) {
  for (auto& n : worker_->List()) *resp->add_nats() = std::move(n);
  return grpc::Status::OK;
}

grpc::Status NatService::AddHostForward(
    grpc::ServerContext*, const nat::v1::AddHostForwardRequest* req,
    nat::v1::AddHostForwardResponse* resp) {
  auto r = worker_->AddHostForward(*req);
  if (!r.ok()) return ToGrpcStatus(r.status());
  *resp = *r;
  return grpc::Status::OK;
}

grpc::Status NatService::RemoveHostForward(
    grpc::ServerContext*, const nat::v1::RemoveHostForwardRequest* req,
    nat::v1::RemoveHostForwardResponse*) {
  return ToGrpcStatus(worker_->RemoveHostForward(
      req->nat(), static_cast<int>(req->host_port())));
}

grpc::Status NatService::Teardown(grpc::ServerContext*,
                                  const nat::v1::TeardownRequest*,
                                  nat::v1::TeardownResponse*) {
  absl::Status s = worker_->DeleteAll();
  NotifyOnce(shutdown_);
  return ToGrpcStatus(s);
}

}  // namespace cloonix
