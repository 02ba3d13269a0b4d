// DPDK EAL start-up shared by the data-plane workers: no PCI, no telemetry,
// lcore 0, 128 MiB; hugepages (--in-memory) only when some are free, else
// --no-huge. The runtime dir /var/run/dpdk/<file_prefix> is removed by
// CleanupEal.
#ifndef CLOONIX_COMMON_DPDK_EAL_H_
#define CLOONIX_COMMON_DPDK_EAL_H_

#include <string>

#include "absl/status/status.h"

namespace cloonix {

absl::Status InitEal(const std::string& program,
                     const std::string& file_prefix);
void CleanupEal(const std::string& file_prefix);

}  // namespace cloonix

#endif  // CLOONIX_COMMON_DPDK_EAL_H_
