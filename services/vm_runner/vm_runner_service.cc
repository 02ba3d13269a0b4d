#include "services/vm_runner/vm_runner_service.h"

#include "common/grpc_status.h"

namespace cloonix {

namespace vr = ::cloonix::vmrunner::v1;

grpc::Status VmRunnerService::CreateVm(grpc::ServerContext*,
                                       const vr::CreateVmRequest* req,
                                       vr::Vm* resp) {
  auto r = runner_->Create(*req);
  if (!r.ok()) return ToGrpcStatus(r.status());
  *resp = *r;
  return grpc::Status::OK;
}

grpc::Status VmRunnerService::DeleteVm(grpc::ServerContext*,
                                       const vr::DeleteVmRequest* req,
                                       vr::DeleteVmResponse*) {
  return ToGrpcStatus(runner_->Delete(req->name(), req->keep_disk()));
}

grpc::Status VmRunnerService::ListVms(grpc::ServerContext*,
                                      const vr::ListVmsRequest*,
                                      vr::ListVmsResponse* resp) {
  auto r = runner_->List();
  if (!r.ok()) return ToGrpcStatus(r.status());
  for (auto& vm : *r) *resp->add_vms() = std::move(vm);
  return grpc::Status::OK;
}

grpc::Status VmRunnerService::RebootVm(grpc::ServerContext*,
                                       const vr::RebootVmRequest* req,
                                       vr::Vm* resp) {
  auto r = runner_->Reboot(req->name());
  if (!r.ok()) return ToGrpcStatus(r.status());
  *resp = *r;
  return grpc::Status::OK;
}

grpc::Status VmRunnerService::SaveDisk(grpc::ServerContext*,
                                       const vr::SaveDiskRequest* req,
                                       vr::SaveDiskResponse* resp) {
  auto r = runner_->SaveDisk(req->name(), req->path());
  if (!r.ok()) return ToGrpcStatus(r.status());
  *resp = *r;
  return grpc::Status::OK;
}

grpc::Status VmRunnerService::Teardown(grpc::ServerContext*,
                                       const vr::TeardownRequest*,
                                       vr::TeardownResponse*) {
  absl::Status s = runner_->DeleteAll();
  shutdown_->Notify();
  return ToGrpcStatus(s);
}

}  // namespace cloonix
