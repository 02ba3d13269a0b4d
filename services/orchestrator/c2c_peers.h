// The other nets that this net's c2c items join (topology.proto C2cSpec):
// their client credentials, kept in <work_dir>/c2c/<name>/ (dir 0700, files
// 0600; never in the topology or a log), mutual-TLS channels to their
// doorways, and the calls to them (JoinC2c, LeaveC2c, GetItem).
#ifndef CLOONIX_SERVICES_ORCHESTRATOR_C2C_PEERS_H_
#define CLOONIX_SERVICES_ORCHESTRATOR_C2C_PEERS_H_

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "cloonix/v1/topology.grpc.pb.h"
#include "common/pki.h"
#include "grpcpp/grpcpp.h"

namespace cloonix {

class C2cPeers {
 public:
  C2cPeers(std::string net, std::string work_dir);
  const std::string& net() const { return net_; }

  // Keeps the peer's credentials of c2c `name`.
  absl::Status Keep(const std::string& name, const ClientCreds& creds);
  // The credentials kept for c2c `name`.
  absl::StatusOr<ClientCreds> Load(const std::string& name);
  // Forgets them (the c2c is deleted).
  void Forget(const std::string& name);
  // Asks the peer of `item` (a c2c with vni and udp_port set) to make or
  // refresh its end; this net's credentials go along for the calls back.
  absl::StatusOr<cloonix::v1::JoinC2cResponse> Join(
      const cloonix::v1::Item& item);
  // Tells the peer that this end is deleted (5 s at most).
  absl::Status Leave(const cloonix::v1::Item& item);
  // GetItem of the peer's end (2 s at most): OK, NOT_FOUND (the peer runs
  // but its end is gone), or why the peer cannot be reached.
  absl::Status Check(const cloonix::v1::Item& item);
  // The address this host uses to reach HOST of `address` (HOST:PORT), and
  // HOST resolved to an IP.
  absl::StatusOr<std::string> LocalIpTowards(const std::string& address);
  absl::StatusOr<std::string> PeerIp(const std::string& address);

  // Net stop: deleting the items must not delete the peers' ends.
  void SetStopping() { stopping_ = true; }
  bool stopping() const { return stopping_; }
  // A delete asked by the peer (LeaveC2c): not told back to it.
  void MarkLeaving(const std::string& name);
  bool TakeLeaving(const std::string& name);

  // Tombstones: an end deleted here while its peer could not be told. The
  // peer's own end stays until it learns it: JoinC2c for that end (same
  // name, peer net and VNI) is refused (Buried) instead of making it again.
  // Kept in <work_dir>/c2c.deleted across orchestrator restarts; a new c2c
  // of that name (Unbury) or a new VNI clears it.
  void Bury(const std::string& name, const std::string& peer_net, uint32_t vni);
  bool Buried(const std::string& name, const std::string& peer_net,
              uint32_t vni);
  void Unbury(const std::string& name);

 private:
  std::shared_ptr<grpc::Channel> Channel(const cloonix::v1::Item& item);
  std::string Dir(const std::string& name) const;

  const std::string net_;
  const std::string work_dir_;
  std::atomic<bool> stopping_{false};
  absl::Mutex mu_;
  std::map<std::string, std::pair<std::string, std::shared_ptr<grpc::Channel>>>
      channels_ ABSL_GUARDED_BY(mu_);  // name -> (address, channel)
  std::set<std::string> leaving_ ABSL_GUARDED_BY(mu_);
  void SaveBuriedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // name -> "peer_net vni"
  std::map<std::string, std::string> buried_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_ORCHESTRATOR_C2C_PEERS_H_
