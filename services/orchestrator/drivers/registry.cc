#include "absl/strings/str_cat.h"
#include "common/guest_files.h"
#include "services/orchestrator/drivers/drivers.h"

namespace cloonix {

std::vector<std::unique_ptr<KindDriver>> MakeDrivers(const Backends& b) {
  std::vector<std::unique_ptr<KindDriver>> t;
  t.push_back(MakeLanDriver(b));
  t.push_back(MakeCntDriver(b));
  t.push_back(MakeKvmDriver(b));
  t.push_back(MakeNatDriver(b));
  t.push_back(MakeA2bDriver(b));
  t.push_back(MakeTapDriver(b));
  t.push_back(MakePhyDriver(b));
  t.push_back(MakeC2cDriver(b));
  return t;
}

const KindDriver* ValidationDriver(v1::ItemKind kind) {
  static const auto* table =
      new std::vector<std::unique_ptr<KindDriver>>(MakeDrivers(Backends{}));
  for (const auto& d : *table) {
    if (d->kind() == kind) return d.get();
  }
  return nullptr;
}

absl::Status CheckEthCount(uint32_t count, const char* field) {
  if (count < 1 || count > kMaxEths) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " is ", count, "; it must be 1 to ", kMaxEths));
  }
  return absl::OkStatus();
}

absl::Status ValidateFilesSpec(const cloonix::v1::GuestFiles& f) {
  return ValidateGuestFiles({f.dirs().begin(), f.dirs().end()},
                            {f.delete_().begin(), f.delete_().end()});
}

absl::Status CheckNatplug(const char* kind, uint32_t natplug,
                          uint32_t eth_count) {
  if (natplug >= eth_count) {
    return absl::InvalidArgumentError(absl::StrCat("natplug=eth", natplug,
                                                   ": the ", kind, " has only ",
                                                   eth_count, " eths"));
  }
  return absl::OkStatus();
}

}  // namespace cloonix
