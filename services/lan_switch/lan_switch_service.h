// Thin gRPC layer of cloonix-lan-switch (cloonix.lanswitch.v1.LanSwitch):
// validates names, calls OvsdbClient / OvsDaemons, maps statuses.
#ifndef CLOONIX_SERVICES_LAN_SWITCH_LAN_SWITCH_SERVICE_H_
#define CLOONIX_SERVICES_LAN_SWITCH_LAN_SWITCH_SERVICE_H_

#include <atomic>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "cloonix/lanswitch/v1/lan_switch.grpc.pb.h"
#include "services/lan_switch/capture.h"
#include "services/lan_switch/host_phys.h"
#include "services/lan_switch/host_taps.h"
#include "services/lan_switch/ovs_daemons.h"
#include "services/lan_switch/ovsdb_client.h"

namespace cloonix {

class LanSwitchService final
    : public cloonix::lanswitch::v1::LanSwitch::WithCallbackMethod_Capture<
          cloonix::lanswitch::v1::LanSwitch::Service> {
 public:
  // `shutdown` is notified after a Teardown.
  LanSwitchService(OvsDaemons* daemons, OvsdbClient* ovsdb, HostTaps* taps,
                   HostPhys* phys, std::string netns,
                   absl::Notification* shutdown)
      : daemons_(daemons),
        ovsdb_(ovsdb),
        taps_(taps),
        phys_(phys),
        netns_(std::move(netns)),
        shutdown_(shutdown) {}

  grpc::Status CreateBridge(grpc::ServerContext*,
                            const lanswitch::v1::CreateBridgeRequest* req,
                            lanswitch::v1::CreateBridgeResponse*) override;
  grpc::Status DeleteBridge(grpc::ServerContext*,
                            const lanswitch::v1::DeleteBridgeRequest* req,
                            lanswitch::v1::DeleteBridgeResponse*) override;
  grpc::Status AddPort(grpc::ServerContext*,
                       const lanswitch::v1::AddPortRequest* req,
                       lanswitch::v1::AddPortResponse*) override;
  grpc::Status DeletePort(grpc::ServerContext*,
                          const lanswitch::v1::DeletePortRequest* req,
                          lanswitch::v1::DeletePortResponse*) override;
  grpc::Status ListBridges(grpc::ServerContext*,
                           const lanswitch::v1::ListBridgesRequest*,
                           lanswitch::v1::ListBridgesResponse* resp) override;
  grpc::Status SyncBridges(grpc::ServerContext*,
                           const lanswitch::v1::SyncBridgesRequest* req,
                           lanswitch::v1::SyncBridgesResponse* resp) override;
  grpc::Status CreateTap(grpc::ServerContext*,
                         const lanswitch::v1::CreateTapRequest* req,
                         lanswitch::v1::CreateTapResponse*) override;
  grpc::Status DeleteTap(grpc::ServerContext*,
                         const lanswitch::v1::DeleteTapRequest* req,
                         lanswitch::v1::DeleteTapResponse*) override;
  grpc::Status ListTaps(grpc::ServerContext*,
                        const lanswitch::v1::ListTapsRequest*,
                        lanswitch::v1::ListTapsResponse* resp) override;
  grpc::Status CreatePhy(grpc::ServerContext*,
                         const lanswitch::v1::CreatePhyRequest* req,
                         lanswitch::v1::CreatePhyResponse* resp) override;
  grpc::Status DeletePhy(grpc::ServerContext*,
                         const lanswitch::v1::DeletePhyRequest* req,
                         lanswitch::v1::DeletePhyResponse*) override;
  grpc::Status ListPhys(grpc::ServerContext*,
                        const lanswitch::v1::ListPhysRequest*,
                        lanswitch::v1::ListPhysResponse* resp) override;
  grpc::Status SetPhyMac(grpc::ServerContext*,
                         const lanswitch::v1::SetPhyMacRequest* req,
                         lanswitch::v1::SetPhyMacResponse*) override;
  // A callback reactor (capture.h).
  grpc::ServerWriteReactor<cloonix::v1::CaptureMessage>* Capture(
      grpc::CallbackServerContext*,
      const lanswitch::v1::CaptureRequest* req) override;
  grpc::Status Teardown(grpc::ServerContext*,
                        const lanswitch::v1::TeardownRequest*,
                        lanswitch::v1::TeardownResponse*) override;

 private:
  OvsDaemons* daemons_;
  OvsdbClient* ovsdb_;
  HostTaps* taps_;
  HostPhys* phys_;
  const std::string netns_;
  absl::Notification* shutdown_;
  std::atomic<uint32_t> next_mirror_{1};
  // Tap and phy changes (host links) apart from OVSDB transactions.
  absl::Mutex taps_mu_;
  // Serializes OVSDB transactions: read-modify-write calls must not interleave.
  absl::Mutex mu_;
};

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_LAN_SWITCH_LAN_SWITCH_SERVICE_H_
