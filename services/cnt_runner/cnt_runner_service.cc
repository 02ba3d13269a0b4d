#include "services/cnt_runner/cnt_runner_service.h"

#include "common/grpc_status.h"
#include "common/notify_once.h"

namespace cloonix {

namespace crv1 = cloonix::cntrunner::v1;

grpc::Status CntRunnerService::CreateContainer(
    grpc::ServerContext*, const crv1::CreateContainerRequest* req,
    crv1::Container* resp) {
  auto c = runner_->Create(*req);
  if (!c.ok()) return ToGrpcStatus(c.status());
  *resp = std::move(*c);
  return grpc::Status::OK;
}

grpc::Status CntRunnerService::DeleteContainer(
    grpc::ServerContext*, const crv1::DeleteContainerRequest* req,
    crv1::DeleteContainerResponse*) {
  return ToGrpcStatus(runner_->Delete(req->name()));
}

grpc::Status CntRunnerService::ListContainers(
    grpc::ServerContext*, const crv1::ListContainersRequest*,
    crv1::ListContainersResponse* resp) {
  auto list = runner_->ListLocked();
  if (!list.ok()) return ToGrpcStatus(list.status());
  for (auto& c : *list) *resp->add_containers() = std::move(c);
  return grpc::Status::OK;
}

grpc::Status CntRunnerService::ImportImage(grpc::ServerContext*,
                                           const crv1::ImportImageRequest* req,
                                           crv1::ImportImageResponse* resp) {
  auto name = runner_->ImportImage(req->path());
  if (!name.ok()) return ToGrpcStatus(name.status());
  resp->set_name(*name);
  return grpc::Status::OK;
}

grpc::Status CntRunnerService::Teardown(grpc::ServerContext*,
                                        const crv1::TeardownRequest*,
                                        crv1::TeardownResponse*) {
  absl::Status s = runner_->Teardown([this] { return daemon_->Teardown(); });
  NotifyOnce(shutdown_);
  return ToGrpcStatus(s);
}

}  // namespace cloonix
