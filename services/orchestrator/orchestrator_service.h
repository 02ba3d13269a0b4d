// Thin gRPC layer of cloonix-orchestrator: cloonix.v1.Topology and
// cloonix.v1.Net, translating to NetManager and mapping statuses.
#ifndef CLOONIX_SERVICES_ORCHESTRATOR_ORCHESTRATOR_SERVICE_H_
#define CLOONIX_SERVICES_ORCHESTRATOR_ORCHESTRATOR_SERVICE_H_

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "cloonix/lanswitch/v1/lan_switch.grpc.pb.h"
#include "cloonix/v1/topology.grpc.pb.h"
#include "common/supervisor.h"
#include "grpcpp/grpcpp.h"
#include "services/orchestrator/c2c_peers.h"
#include "services/orchestrator/net_manager.h"
#include "services/orchestrator/recordings.h"

namespace cloonix {

class WatchReactor;

// WatchEvents uses the callback API (a ServerWriteReactor per stream, fed by
// the event bus); the unary methods use the sync API.
class TopologyService final
    : public cloonix::v1::Topology::WithCallbackMethod_Capture<
          cloonix::v1::Topology::WithCallbackMethod_WatchEvents<
              cloonix::v1::Topology::Service>> {
 public:
  // `lan_switch`: the channel of the net's lan_switch, which captures.
  // `snf_dir`: where recordings (SetRecording) write their pcap files.
  // `c2cs`, `peers`: the c2c worker and the peer nets (JoinC2c, LeaveC2c).
  TopologyService(NetManager* manager,
                  std::shared_ptr<grpc::Channel> lan_switch,
                  std::string snf_dir, C2cBackend* c2cs, C2cPeers* peers)
      : manager_(manager),
        c2cs_(c2cs),
        peers_(peers),
        lan_switch_(cloonix::lanswitch::v1::LanSwitch::NewStub(lan_switch)),
        recordings_(std::move(snf_dir), lan_switch_.get()) {}

  grpc::Status CreateItem(grpc::ServerContext*,
                          const v1::CreateItemRequest* req,
                          v1::Item* resp) override;
  grpc::Status GetItem(grpc::ServerContext*, const v1::GetItemRequest* req,
                       v1::Item* resp) override;
  grpc::Status ListItems(grpc::ServerContext*, const v1::ListItemsRequest* req,
                         v1::ListItemsResponse* resp) override;
  grpc::Status DeleteItem(grpc::ServerContext*,
                          const v1::DeleteItemRequest* req,
                          v1::DeleteItemResponse*) override;
  grpc::Status ConnectEth(grpc::ServerContext*,
                          const v1::ConnectEthRequest* req,
                          v1::Item* resp) override;
  grpc::Status DisconnectEth(grpc::ServerContext*,
                             const v1::DisconnectEthRequest* req,
                             v1::Item* resp) override;
  grpc::Status ConfigureA2b(grpc::ServerContext*,
                            const v1::ConfigureA2bRequest* req,
                            v1::Item* resp) override;
  grpc::Status SetLayout(grpc::ServerContext*, const v1::SetLayoutRequest* req,
                         v1::SetLayoutResponse* resp) override;
  grpc::Status ConfigureC2c(grpc::ServerContext*,
                            const v1::ConfigureC2cRequest* req,
                            v1::Item* resp) override;
  grpc::Status WhatIp(grpc::ServerContext*, const v1::WhatIpRequest* req,
                      v1::WhatIpResponse* resp) override;
  grpc::Status SaveKvmDisk(grpc::ServerContext*,
                           const v1::SaveKvmDiskRequest* req,
                           v1::SaveKvmDiskResponse* resp) override;
  grpc::Status ControlKvm(grpc::ServerContext*,
                          const v1::ControlKvmRequest* req,
                          v1::Item* resp) override;
  grpc::ServerWriteReactor<v1::Event>* WatchEvents(
      grpc::CallbackServerContext* ctx,
      const v1::WatchEventsRequest* req) override;
  // Resolves the points (an item's eth: its port; a lan: its bridge) and
  // relays lan_switch's capture stream (callback reactors both ways).
  grpc::ServerWriteReactor<v1::CaptureMessage>* Capture(
      grpc::CallbackServerContext* ctx, const v1::CaptureRequest* req) override;
  // Cloonix's `snf <item> <eth> on|off` (recordings.h).
  grpc::Status SetRecording(grpc::ServerContext*,
                            const v1::SetRecordingRequest* req,
                            v1::Recording* resp) override;
  grpc::Status ListRecordings(grpc::ServerContext*,
                              const v1::ListRecordingsRequest*,
                              v1::ListRecordingsResponse* resp) override;
  // Another net's orchestrator makes or refreshes, or deletes, the other
  // end of one of its c2cs (topology.proto).
  grpc::Status JoinC2c(grpc::ServerContext*, const v1::JoinC2cRequest* req,
                       v1::JoinC2cResponse* resp) override;
  grpc::Status LeaveC2c(grpc::ServerContext*, const v1::LeaveC2cRequest* req,
                        v1::LeaveC2cResponse*) override;
  // Ends every recording, files closed (net stop).
  void StopRecordings() { recordings_.StopAll(); }
  grpc::Status OpenNatForward(grpc::ServerContext*,
                              const v1::OpenNatForwardRequest* req,
                              v1::NatForward* resp) override;
  grpc::Status CloseNatForward(grpc::ServerContext*,
                               const v1::CloseNatForwardRequest* req,
                               v1::CloseNatForwardResponse*) override;

  // Ends every open watch stream with OK and refuses new ones (net stop).
  void EndWatches();

 private:
  friend class WatchReactor;
  void Forget(WatchReactor* r);

  NetManager* manager_;
  C2cBackend* c2cs_;
  C2cPeers* peers_;
  std::unique_ptr<cloonix::lanswitch::v1::LanSwitch::Stub> lan_switch_;
  Recordings recordings_;
  absl::Mutex mu_;
  std::set<WatchReactor*> reactors_ ABSL_GUARDED_BY(mu_);
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
};

struct NetIdentity {
  std::string name;
  std::string work_dir;
  std::string netns;
};

class NetService final : public cloonix::v1::Net::Service {
 public:
  // `stop` runs the net stop (delete items, tear services down) and then
  // requests the server's shutdown.
  NetService(NetIdentity id, NetManager* manager, Supervisor* supervisor,
             std::function<absl::Status()> stop)
      : id_(std::move(id)),
        manager_(manager),
        supervisor_(supervisor),
        stop_(std::move(stop)) {}

  grpc::Status GetNet(grpc::ServerContext*, const v1::GetNetRequest*,
                      v1::NetInfo* resp) override;
  grpc::Status StopNet(grpc::ServerContext*, const v1::StopNetRequest*,
                       v1::StopNetResponse*) override;

 private:
  NetIdentity id_;
  NetManager* manager_;
  Supervisor* supervisor_;
  std::function<absl::Status()> stop_;
};

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_ORCHESTRATOR_ORCHESTRATOR_SERVICE_H_
