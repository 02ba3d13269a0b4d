// Cloonix's names of item kinds ("lan", "cnt", ...), from the API's enum.
#ifndef CLOONIX_COMMON_ITEM_KIND_H_
#define CLOONIX_COMMON_ITEM_KIND_H_

#include <string>

#include "cloonix/v1/topology.pb.h"

namespace cloonix {

// "lan", "cnt", "kvm", "nat", "tap", "phy", "a2b", "c2c"; "unspecified".
std::string KindName(cloonix::v1::ItemKind kind);

}  // namespace cloonix

#endif  // CLOONIX_COMMON_ITEM_KIND_H_
