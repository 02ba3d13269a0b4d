// The one mapping between absl::Status (inside) and grpc::Status (at every
// service edge and in every client). Codes map one to one; messages are kept,
// capped at kMaxStatusMessage bytes (an error must not echo a huge input back
// as gRPC metadata, which peers refuse past 8 KiB). The kind of an error
// travels as a google.rpc.ErrorInfo (reason, domain, metadata) in the
// status details; inside, as a payload of the absl::Status (WithReason).
#ifndef CLOONIX_COMMON_GRPC_STATUS_H_
#define CLOONIX_COMMON_GRPC_STATUS_H_

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "grpcpp/support/status.h"

namespace cloonix {

inline constexpr size_t kMaxStatusMessage = 1024;

grpc::Status ToGrpcStatus(const absl::Status& status);

// `s` cut to `max` bytes with a note of how much was cut (for messages that
// quote user input).
std::string CapMessage(absl::string_view s, size_t max = kMaxStatusMessage);

// `what` prefixes the message, e.g. "lan_switch: ". The ErrorInfo, if any,
// is kept.
absl::Status FromGrpcStatus(const grpc::Status& status,
                            absl::string_view what = "");

// `status` with an ErrorInfo of `reason` (common/error_reasons.h) and
// `metadata` (e.g. {"item", "vm1"}). OK stays OK.
absl::Status WithReason(
    absl::Status status, absl::string_view reason,
    const std::map<std::string, std::string>& metadata = {});

// The ErrorInfo reason of a status; "" when it has none.
std::string ReasonOf(const absl::Status& status);
std::string ReasonOf(const grpc::Status& status);
// A metadata value of the ErrorInfo; "" when absent.
std::string ReasonDetail(const grpc::Status& status, const std::string& key);

}  // namespace cloonix

#endif  // CLOONIX_COMMON_GRPC_STATUS_H_
