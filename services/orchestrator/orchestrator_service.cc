#include "services/orchestrator/orchestrator_service.h"

#include <unistd.h>

#include "common/grpc_status.h"
#include "google/protobuf/util/time_util.h"

namespace cloonix {

grpc::Status TopologyService::CreateItem(grpc::ServerContext*,
                                         const v1::CreateItemRequest* req,
                                         v1::Item* resp) {
  auto item = manager_->CreateItem(req->item());
  if (!item.ok()) return ToGrpcStatus(item.status());
  *resp = std::move(*item);
  return grpc::Status::OK;
}

grpc::Status TopologyService::GetItem(grpc::ServerContext*,
                                      const v1::GetItemRequest* req,
                                      v1::Item* resp) {
  auto item = manager_->GetItem(req->name());
  if (!item.ok()) return ToGrpcStatus(item.status());
  *resp = std::move(*item);
  return grpc::Status::OK;
}

grpc::Status TopologyService::ListItems(grpc::ServerContext*,
                                        const v1::ListItemsRequest* req,
                                        v1::ListItemsResponse* resp) {
  for (auto& it : manager_->ListItems(req->kind()))
    *resp->add_items() = std::move(it);
  return grpc::Status::OK;
}

grpc::Status TopologyService::DeleteItem(grpc::ServerContext*,
                                         const v1::DeleteItemRequest* req,
                                         v1::DeleteItemResponse*) {
  return ToGrpcStatus(manager_->DeleteItem(req->name(), req->allow_missing()));
}

grpc::Status TopologyService::ConnectEth(grpc::ServerContext*,
                                         const v1::ConnectEthRequest* req,
                                         v1::Item* resp) {
  auto item = manager_->ConnectEth(req->item(), req->eth(), req->lan(),
                                   req->create_lan());
  if (!item.ok()) return ToGrpcStatus(item.status());
  *resp = std::move(*item);
  return grpc::Status::OK;
}

grpc::Status TopologyService::DisconnectEth(grpc::ServerContext*,
                                            const v1::DisconnectEthRequest* req,
                                            v1::Item* resp) {
  auto item = manager_->DisconnectEth(req->item(), req->eth(), req->lan());
  if (!item.ok()) return ToGrpcStatus(item.status());
  *resp = std::move(*item);
  return grpc::Status::OK;
}

grpc::Status TopologyService::WatchEvents(
    grpc::ServerContext* ctx, const v1::WatchEventsRequest*,
    grpc::ServerWriter<v1::Event>* writer) {
  std::vector<v1::Item> current;
  auto sub = manager_->Watch(&current);
  auto now = google::protobuf::util::TimeUtil::GetCurrentTime();
  bool ok = true;
  for (const auto& it : current) {
    v1::Event e;
    e.set_type(v1::EVENT_TYPE_EXISTING);
    *e.mutable_item() = it;
    *e.mutable_time() = now;
    ok = ok && writer->Write(e);
  }
  v1::Event synced;
  synced.set_type(v1::EVENT_TYPE_SYNCED);
  *synced.mutable_time() = now;
  ok = ok && writer->Write(synced);
  grpc::Status status = grpc::Status::OK;
  while (ok && !ctx->IsCancelled() && !stopping_->HasBeenNotified()) {
    v1::Event e;
    if (sub->Next(&e, absl::Milliseconds(200))) {
      ok = writer->Write(e);
    } else if (sub->overflowed()) {
      status = grpc::Status(
          grpc::RESOURCE_EXHAUSTED,
          "the watcher fell more than 10000 events behind; watch again");
      break;
    }
  }
  manager_->Unwatch(sub);
  return status;
}

grpc::Status NetService::GetNet(grpc::ServerContext*, const v1::GetNetRequest*,
                                v1::NetInfo* resp) {
  resp->set_name(id_.name);
  resp->set_work_dir(id_.work_dir);
  resp->set_netns(id_.netns);
  resp->set_item_count(manager_->ItemCount());
  resp->set_orchestrator_pid(getpid());
  for (const auto& s : supervisor_->Status()) {
    auto* si = resp->add_services();
    si->set_name(s.name);
    si->set_pid(s.pid);
    si->set_healthy(s.healthy);
    si->set_restarts(s.restarts);
    si->set_socket(s.socket);
  }
  return grpc::Status::OK;
}

grpc::Status NetService::StopNet(grpc::ServerContext*,
                                 const v1::StopNetRequest*,
                                 v1::StopNetResponse*) {
  return ToGrpcStatus(stop_());
}

}  // namespace cloonix
