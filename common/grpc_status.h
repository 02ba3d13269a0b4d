// The one mapping between absl::Status (inside) and grpc::Status (at every
// service edge and in every client). Codes map one to one; messages are kept.
#ifndef CLOONIX_COMMON_GRPC_STATUS_H_
#define CLOONIX_COMMON_GRPC_STATUS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "grpcpp/support/status.h"

namespace cloonix {

grpc::Status ToGrpcStatus(const absl::Status& status);

// `what` prefixes the message, e.g. "lan_switch: ".
absl::Status FromGrpcStatus(const grpc::Status& status,
                            absl::string_view what = "");

}  // namespace cloonix

#endif  // CLOONIX_COMMON_GRPC_STATUS_H_
