#include "services/a2b/a2b_service.h"

#include "common/grpc_status.h"
#include "common/notify_once.h"
#include "spdlog/spdlog.h"

namespace cloonix {

namespace a2bv1 = cloonix::a2b::v1;

namespace {
grpc::Status Reply(absl::StatusOr<a2bv1::A2b> r, a2bv1::A2b* resp) {
  if (!r.ok()) return ToGrpcStatus(r.status());
  *resp = std::move(*r);
  return grpc::Status::OK;
}
}  // namespace

grpc::Status A2bService::CreateA2b(grpc::ServerContext*,
                                   const a2bv1::CreateA2bRequest* req,
                                   a2bv1::A2b* resp) {
  return Reply(worker_->Add(*req), resp);
}

grpc::Status A2bService::DeleteA2b(grpc::ServerContext*,
                                   const a2bv1::DeleteA2bRequest* req,
                                   a2bv1::DeleteA2bResponse*) {
  return ToGrpcStatus(worker_->Remove(req->name()));
}

grpc::Status A2bService::SetSettings(grpc::ServerContext*,
                                     const a2bv1::SetSettingsRequest* req,
                                     a2bv1::A2b* resp) {
  return Reply(worker_->Set(req->name(), req->dir(), req->settings()), resp);
}

grpc::Status A2bService::GetA2b(grpc::ServerContext*,
                                const a2bv1::GetA2bRequest* req,
                                a2bv1::A2b* resp) {
  return Reply(worker_->Get(req->name()), resp);
}

grpc::Status A2bService::ListA2b(grpc::ServerContext*,
                                 const a2bv1::ListA2bRequest*,
                                 a2bv1::ListA2bResponse* resp) {
  for (auto& a : worker_->List()) *resp->add_a2bs() = std::move(a);
  return grpc::Status::OK;
}

grpc::Status A2bService::Teardown(grpc::ServerContext*,
                                  const a2bv1::TeardownRequest*,
                                  a2bv1::TeardownResponse*) {
  spdlog::info("teardown: removing every a2b, stopping the worker");
  worker_->RemoveAll();
  NotifyOnce(shutdown_);
  return grpc::Status::OK;
}

}  // namespace cloonix
