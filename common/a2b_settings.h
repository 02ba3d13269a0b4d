// Validation and patching of cloonix.v1.A2bSettings, shared by the
// orchestrator (at the edge) and the a2b worker.
#ifndef CLOONIX_COMMON_A2B_SETTINGS_H_
#define CLOONIX_COMMON_A2B_SETTINGS_H_

#include <string>

#include "absl/status/status.h"
#include "cloonix/v1/topology.pb.h"

namespace cloonix {

// INVALID_ARGUMENT naming the field for: negative or non-finite delay or
// jitter, delay or jitter over 60000 ms, loss outside 0..100, rate over
// 100 Gbit/s.
absl::Status ValidateA2bSettings(const cloonix::v1::A2bSettings& s);
// Applies the fields set in `patch` to `s`.
void ApplyA2bPatch(const cloonix::v1::A2bSettingsPatch& patch,
                   cloonix::v1::A2bSettings* s);
// "delay 20 ms, loss 10%, rate 10000 kbit/s" or "clean".
std::string A2bSettingsText(const cloonix::v1::A2bSettings& s);

}  // namespace cloonix

#endif  // CLOONIX_COMMON_A2B_SETTINGS_H_
