// Rendering of API objects for the cloonix CLI: human tables by default,
// JSON (one object) or NDJSON (streams) with --format json. Also parsing of
// Cloonix-style arguments ("eth0" or "0", "eth=2").
#ifndef CLOONIX_CLI_OUTPUT_H_
#define CLOONIX_CLI_OUTPUT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cloonix/v1/topology.pb.h"
#include "google/protobuf/message.h"

namespace cloonix::cli {

// "eth3" or "3" -> 3. INVALID_ARGUMENT otherwise.
absl::StatusOr<uint32_t> ParseEth(const std::string& s);

// "HOST:GUEST" or "HOST:GUEST:ro|rw" (Cloonix's --vmount) -> a BindMount
// (paths checked by the net). INVALID_ARGUMENT otherwise.
absl::StatusOr<cloonix::v1::BindMount> ParseVmount(const std::string& s);

// --files DIR... and --delete PATH...: the dirs made absolute (against the
// current directory; they are read on the net's host).
cloonix::v1::GuestFiles MakeGuestFiles(const std::vector<std::string>& dirs,
                                       const std::vector<std::string>& deletes);

// One-line JSON of a message (proto field names, enums as names).
std::string ToJsonLine(const google::protobuf::Message& m);

// NAME  KIND  STATE  DETAILS table.
std::string ItemsTable(const std::vector<cloonix::v1::Item>& items);
// Multi-line description of one item.
std::string ItemDetails(const cloonix::v1::Item& item);
// "created cnt cnt1", "updated lan lan1: cnt1:eth0 cnt2:eth0", ...
std::string EventLine(const cloonix::v1::Event& e);
// "running", "failed: <msg>", ...
std::string StateText(const cloonix::v1::Item& item);

}  // namespace cloonix::cli

#endif  // CLOONIX_CLI_OUTPUT_H_
