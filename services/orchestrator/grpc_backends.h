// LanBackend and CntBackend over the services' unix sockets.
#ifndef CLOONIX_SERVICES_ORCHESTRATOR_GRPC_BACKENDS_H_
#define CLOONIX_SERVICES_ORCHESTRATOR_GRPC_BACKENDS_H_

#include <memory>
#include <string>

#include "cloonix/a2b/v1/a2b.grpc.pb.h"
#include "cloonix/c2c/v1/c2c.grpc.pb.h"
#include "cloonix/cntrunner/v1/cnt_runner.grpc.pb.h"
#include "cloonix/lanswitch/v1/lan_switch.grpc.pb.h"
#include "cloonix/nat/v1/nat.grpc.pb.h"
#include "cloonix/vmrunner/v1/vm_runner.grpc.pb.h"
#include "services/orchestrator/backends.h"

namespace cloonix {

class GrpcLanBackend : public LanBackend {
 public:
  explicit GrpcLanBackend(const std::string& socket);
  absl::Status CreateBridge(const std::string& bridge) override;
  absl::Status DeleteBridge(const std::string& bridge) override;
  absl::Status AddPort(const std::string& bridge,
                       const std::string& port) override;
  absl::Status DeletePort(const std::string& port) override;
  absl::StatusOr<std::vector<std::string>> Sync(
      const std::map<std::string, std::vector<std::string>>& bridges) override;
  absl::StatusOr<std::map<std::string, std::vector<std::string>>> ListBridges()
      override;
  absl::Status Teardown() override;
  absl::Status CreateTap(const std::string& name,
                         const std::string& port) override;
  absl::Status DeleteTap(const std::string& name) override;
  absl::StatusOr<std::vector<std::string>> ListTaps() override;
  absl::StatusOr<std::string> CreatePhy(const cloonix::v1::Item& item) override;
  absl::Status DeletePhy(const std::string& name) override;
  absl::StatusOr<std::vector<PhyPort>> ListPhys() override;
  absl::Status SetPhyMac(const std::string& name,
                         const std::string& mac) override;

 private:
  std::unique_ptr<cloonix::lanswitch::v1::LanSwitch::Stub> stub_;
};

class GrpcCntBackend : public CntBackend {
 public:
  explicit GrpcCntBackend(const std::string& socket);
  absl::Status Create(cloonix::v1::Item* item) override;
  absl::Status Delete(const std::string& name) override;
  absl::StatusOr<std::vector<RunningCnt>> List() override;
  absl::Status Teardown() override;

 private:
  std::unique_ptr<cloonix::cntrunner::v1::CntRunner::Stub> stub_;
};

class GrpcA2bBackend : public A2bBackend {
 public:
  explicit GrpcA2bBackend(const std::string& socket);
  absl::Status Create(const cloonix::v1::Item& item) override;
  absl::Status Delete(const std::string& name) override;
  absl::Status Set(const std::string& name, uint32_t dir,
                   const cloonix::v1::A2bSettings& settings) override;
  absl::StatusOr<cloonix::v1::A2bSpec> Get(const std::string& name) override;
  absl::StatusOr<std::vector<std::string>> List() override;
  absl::Status Teardown() override;

 private:
  std::unique_ptr<cloonix::a2b::v1::A2bWorker::Stub> stub_;
};

class GrpcVmBackend : public VmBackend {
 public:
  explicit GrpcVmBackend(const std::string& socket);
  absl::Status Create(cloonix::v1::Item* item, bool restart) override;
  absl::Status Delete(const std::string& name) override;
  absl::Status Stop(const std::string& name) override;
  absl::Status Reboot(const std::string& name) override;
  absl::StatusOr<std::pair<std::string, uint64_t>> SaveDisk(
      const std::string& name, const std::string& path) override;
  absl::StatusOr<std::vector<RunningVm>> List() override;
  absl::Status Teardown() override;

 private:
  std::unique_ptr<cloonix::vmrunner::v1::VmRunner::Stub> stub_;
};

class GrpcNatBackend : public NatBackend {
 public:
  explicit GrpcNatBackend(const std::string& socket);
  absl::Status Create(const cloonix::v1::Item& item) override;
  absl::Status Delete(const std::string& name) override;
  absl::StatusOr<std::vector<NatState>> List() override;
  absl::StatusOr<uint32_t> AddHostForward(const std::string& nat,
                                          const std::string& mac,
                                          uint32_t guest_port) override;
  absl::Status RemoveHostForward(const std::string& nat,
                                 uint32_t host_port) override;
  absl::Status Teardown() override;

 private:
  std::unique_ptr<cloonix::nat::v1::NatWorker::Stub> stub_;
};

class GrpcC2cBackend : public C2cBackend {
 public:
  explicit GrpcC2cBackend(const std::string& socket);
  absl::StatusOr<C2cEnd> Create(const std::string& name,
                                const std::string& port, uint32_t vni,
                                uint32_t udp_port, const std::string& peer_ip,
                                uint32_t peer_udp_port,
                                const std::string& mac_mangle) override;
  absl::StatusOr<C2cEnd> SetMacMangle(const std::string& name,
                                      const std::string& mac) override;
  absl::StatusOr<C2cEnd> SetPeer(const std::string& name,
                                 const std::string& peer_ip,
                                 uint32_t peer_udp_port) override;
  absl::Status Delete(const std::string& name) override;
  absl::StatusOr<std::vector<C2cEnd>> List() override;
  absl::Status Teardown() override;

 private:
  std::unique_ptr<cloonix::c2c::v1::C2cWorker::Stub> stub_;
};

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_ORCHESTRATOR_GRPC_BACKENDS_H_
