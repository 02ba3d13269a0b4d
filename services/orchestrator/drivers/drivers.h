// The kind drivers of the table (registry.cc), one file per kind.
#ifndef CLOONIX_SERVICES_ORCHESTRATOR_DRIVERS_DRIVERS_H_
#define CLOONIX_SERVICES_ORCHESTRATOR_DRIVERS_DRIVERS_H_

#include <memory>

#include "services/orchestrator/kind_driver.h"

namespace cloonix {

constexpr uint32_t kMaxEths = 32;

std::unique_ptr<KindDriver> MakeLanDriver(const Backends& b);
std::unique_ptr<KindDriver> MakeCntDriver(const Backends& b);
std::unique_ptr<KindDriver> MakeKvmDriver(const Backends& b);
std::unique_ptr<KindDriver> MakeNatDriver(const Backends& b);
std::unique_ptr<KindDriver> MakeA2bDriver(const Backends& b);
std::unique_ptr<KindDriver> MakeTapDriver(const Backends& b);
std::unique_ptr<KindDriver> MakePhyDriver(const Backends& b);
std::unique_ptr<KindDriver> MakeC2cDriver(const Backends& b);

// A delete that finds nothing to delete is done.
inline absl::Status OkIfNotFound(absl::Status s) {
  return absl::IsNotFound(s) ? absl::OkStatus() : s;
}

// Checks an eth count given in a spec ("cnt.eth_count"): 1 to kMaxEths.
absl::Status CheckEthCount(uint32_t count, const char* field);
// Checks the shape of a guest's files (common/guest_files.h); whether the
// directories exist is the runner's check.
absl::Status ValidateFilesSpec(const cloonix::v1::GuestFiles& f);
// Checks Cloonix's --natplug=<eth> against the eth count.
absl::Status CheckNatplug(const char* kind, uint32_t natplug,
                          uint32_t eth_count);

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_ORCHESTRATOR_DRIVERS_DRIVERS_H_
