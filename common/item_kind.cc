#include "common/item_kind.h"

namespace cloonix {

std::string KindName(cloonix::v1::ItemKind kind) {
  namespace v1 = cloonix::v1;
  switch (kind) {
    case v1::ITEM_KIND_LAN:
      return "lan";
    case v1::ITEM_KIND_CNT:
      return "cnt";
    case v1::ITEM_KIND_KVM:
      return "kvm";
    case v1::ITEM_KIND_NAT:
      return "nat";
    case v1::ITEM_KIND_TAP:
      return "tap";
    case v1::ITEM_KIND_PHY:
      return "phy";
    case v1::ITEM_KIND_A2B:
      return "a2b";
    case v1::ITEM_KIND_C2C:
      return "c2c";
    default:
      return "unspecified";
  }
}

}  // namespace cloonix
