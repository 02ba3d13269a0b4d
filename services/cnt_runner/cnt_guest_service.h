// cloonix.v1.Guest for containers: Exec through containerd's task exec
// (the container's own OCI process as the base: same capabilities and
// user), with FIFOs for stdio under <work_dir>/cnt/exec/<exec id>/; copies
// through the container's root as seen by its init (/proc/<pid>/root), so
// they reach what the container sees.
#ifndef CLOONIX_SERVICES_CNT_RUNNER_CNT_GUEST_SERVICE_H_
#define CLOONIX_SERVICES_CNT_RUNNER_CNT_GUEST_SERVICE_H_

#include <atomic>
#include <string>

#include "cloonix/v1/guest.grpc.pb.h"
#include "services/cnt_runner/containerd_client.h"

namespace cloonix {

class CntGuestService final : public cloonix::v1::Guest::Service {
 public:
  CntGuestService(std::string work_dir, ContainerdClient* client)
      : work_dir_(std::move(work_dir)), client_(client) {}
  grpc::Status Exec(
      grpc::ServerContext* ctx,
      grpc::ServerReaderWriter<cloonix::v1::ExecResponse,
                               cloonix::v1::ExecRequest>* stream) override;
  grpc::Status CopyTo(grpc::ServerContext* ctx,
                      grpc::ServerReader<cloonix::v1::CopyToRequest>* reader,
                      cloonix::v1::CopyToResponse* resp) override;
  grpc::Status CopyFrom(
      grpc::ServerContext* ctx, const cloonix::v1::CopyFromRequest* req,
      grpc::ServerWriter<cloonix::v1::CopyFromResponse>* writer) override;

 private:
  std::string work_dir_;
  ContainerdClient* client_;
  std::atomic<uint64_t> next_exec_{1};
};

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_CNT_RUNNER_CNT_GUEST_SERVICE_H_
