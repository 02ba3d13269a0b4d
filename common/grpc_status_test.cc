#include "common/grpc_status.h"

#include "common/error_reasons.h"
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

TEST(GrpcStatusTest, ReasonsTravelAsErrorInfo) {
  absl::Status in = WithReason(absl::NotFoundError("item vm1 does not exist"),
                               reason::kItemNotFound, {{"item", "vm1"}});
  grpc::Status g = ToGrpcStatus(in);
  EXPECT_EQ(ReasonOf(g), "ITEM_NOT_FOUND");
  EXPECT_EQ(ReasonDetail(g, "item"), "vm1");
  EXPECT_EQ(ReasonDetail(g, "nope"), "");
  // Through a service that maps it in and out again (the doorway, a client).
  absl::Status back = FromGrpcStatus(g, "orchestrator: ");
  EXPECT_EQ(ReasonOf(back), "ITEM_NOT_FOUND");
  EXPECT_EQ(ReasonOf(ToGrpcStatus(back)), "ITEM_NOT_FOUND");
  // No explicit reason: the code's name.
  EXPECT_EQ(ReasonOf(ToGrpcStatus(absl::InvalidArgumentError("x"))),
            "INVALID_ARGUMENT");
  EXPECT_EQ(ReasonOf(grpc::Status(grpc::StatusCode::UNAVAILABLE, "x")), "");
  EXPECT_TRUE(WithReason(absl::OkStatus(), reason::kItemBusy).ok());
}

TEST(GrpcStatusTest, HugeMessagesAreCapped) {
  std::string name(3 << 20, 'x');  // a 3 MB input quoted in an error
  grpc::Status g = ToGrpcStatus(absl::InvalidArgumentError("bad " + name));
  EXPECT_EQ(g.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_LT(g.error_message().size(), kMaxStatusMessage + 64);
  EXPECT_NE(g.error_message().find("more bytes cut"), std::string::npos);
  EXPECT_EQ(CapMessage("short"), "short");
}

}  // namespace
}  // namespace cloonix
