#include "common/grpc_status.h"

#include "gtest/gtest.h"

namespace cloonix {
namespace {

TEST(GrpcStatusTest, RoundTripKeepsCodeAndMessage) {
  for (auto code :
       {absl::StatusCode::kInvalidArgument, absl::StatusCode::kNotFound,
        absl::StatusCode::kAlreadyExists, absl::StatusCode::kFailedPrecondition,
        absl::StatusCode::kUnavailable, absl::StatusCode::kUnimplemented}) {
    absl::Status in(code, "bad thing");
    grpc::Status g = ToGrpcStatus(in);
    EXPECT_EQ(static_cast<int>(g.error_code()), static_cast<int>(code));
    EXPECT_EQ(g.error_message(), "bad thing");
    absl::Status back = FromGrpcStatus(g, "svc: ");
    EXPECT_EQ(back.code(), code);
    EXPECT_EQ(back.message(), "svc: bad thing");
  }
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
}

}  // namespace
}  // namespace cloonix
