#include "common/grpc_status.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace cloonix {

namespace {

constexpr char kErrorInfoUrl[] = "type.googleapis.com/google.rpc.ErrorInfo";

// The ErrorInfo in a status's payload or details, if any.
bool InfoOf(const absl::Status& status, google::rpc::ErrorInfo* info) {
  auto p = status.GetPayload(kErrorInfoUrl);
  return p.has_value() && info->ParseFromString(std::string(*p));
}

bool InfoOf(const grpc::Status& status, google::rpc::ErrorInfo* info) {
  if (status.error_details().empty()) return false;
  google::rpc::Status details;
  if (!details.ParseFromString(status.error_details())) return false;
  for (const auto& any : details.details()) {
    if (any.Is<google::rpc::ErrorInfo>() && any.UnpackTo(info)) return true;
  }
  return false;
}

}  // namespace

std::string CapMessage(absl::string_view s, size_t max) {
  if (s.size() <= max) return std::string(s);
  return absl::StrCat(s.substr(0, max), "... (", s.size() - max,
                      " more bytes cut)");
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const std::string message = CapMessage(status.message());
  google::rpc::ErrorInfo info;
  if (!InfoOf(status, &info)) {
    info.set_reason(absl::StatusCodeToString(status.code()));
    info.set_domain("cloonix.v1");
  }
  google::rpc::Status details;
  details.set_code(static_cast<int>(status.code()));
  details.set_message(message);
  details.add_details()->PackFrom(info);
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), message,
                      details.SerializeAsString());
}

absl::Status FromGrpcStatus(const grpc::Status& status,
                            absl::string_view what) {
  if (status.ok()) return absl::OkStatus();
  absl::Status s(static_cast<absl::StatusCode>(status.error_code()),
                 CapMessage(absl::StrCat(what, status.error_message())));
  google::rpc::ErrorInfo info;
  if (InfoOf(status, &info)) {
    s.SetPayload(kErrorInfoUrl, absl::Cord(info.SerializeAsString()));
  }
  return s;
}

absl::Status WithReason(absl::Status status, absl::string_view reason,
                        const std::map<std::string, std::string>& metadata) {
  if (status.ok()) return status;
  google::rpc::ErrorInfo info;
  info.set_reason(std::string(reason));
  info.set_domain("cloonix.v1");
  for (const auto& [k, v] : metadata) (*info.mutable_metadata())[k] = v;
  status.SetPayload(kErrorInfoUrl, absl::Cord(info.SerializeAsString()));
  return status;
}

std::string ReasonOf(const absl::Status& status) {
  google::rpc::ErrorInfo info;
  return InfoOf(status, &info) ? info.reason() : "";
}

std::string ReasonOf(const grpc::Status& status) {
  google::rpc::ErrorInfo info;
  return InfoOf(status, &info) ? info.reason() : "";
}

std::string ReasonDetail(const grpc::Status& status, const std::string& key) {
  google::rpc::ErrorInfo info;
  if (!InfoOf(status, &info)) return "";
  auto it = info.metadata().find(key);
  return it == info.metadata().end() ? "" : it->second;
}

}  // namespace cloonix
