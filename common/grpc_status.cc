#include "common/grpc_status.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace cloonix {

std::string CapMessage(absl::string_view s, size_t max) {
  if (s.size() <= max) return std::string(s);
  return absl::StrCat(s.substr(0, max), "... (", s.size() - max,
                      " more bytes cut)");
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      CapMessage(status.message()));
}

absl::Status FromGrpcStatus(const grpc::Status& status,
                            absl::string_view what) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      CapMessage(absl::StrCat(what, status.error_message())));
}

}  // namespace cloonix
