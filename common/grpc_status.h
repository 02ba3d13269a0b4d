// The one mapping between absl::Status (inside) and grpc::Status (at every
// service edge and in every client). Codes map one to one; messages are kept,
// capped at kMaxStatusMessage bytes (an error must not echo a huge input back
// as gRPC metadata, which peers refuse past 8 KiB).
#ifndef CLOONIX_COMMON_GRPC_STATUS_H_
#define CLOONIX_COMMON_GRPC_STATUS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "grpcpp/support/status.h"

namespace cloonix {

inline constexpr size_t kMaxStatusMessage = 1024;

grpc::Status ToGrpcStatus(const absl::Status& status);

// `s` cut to `max` bytes with a note of how much was cut (for messages that
// quote user input).
std::string CapMessage(absl::string_view s, size_t max = kMaxStatusMessage);

// `what` prefixes the message, e.g. "lan_switch: ".
absl::Status FromGrpcStatus(const grpc::Status& status,
                            absl::string_view what = "");

}  // namespace cloonix

#endif  // CLOONIX_COMMON_GRPC_STATUS_H_
