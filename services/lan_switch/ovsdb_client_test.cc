#include "services/lan_switch/ovsdb_client.h"

#include <map>
#include <set>

#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cloonix {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A fake OVS: answers list-br/list-ports from a BridgeMap and records every
// transaction; `ip link show` succeeds for interfaces in `links`.
class FakeOvs : public CommandRunner {
 public:
  absl::StatusOr<ExecResult> Run(
      const std::vector<std::string>& argv) override {
    ExecResult r;
    r.exit_code = 0;
    if (argv[0] == "ip") {
      r.exit_code = links.count(argv.back()) ? 0 : 1;
      return r;
    }
    std::string joined = absl::StrJoin(argv.begin() + 3, argv.end(), " ");
    if (joined == "-- list-br") {
      for (const auto& [b, p] : bridges) r.out += b + "\n";
      return r;
    }
    if (argv.size() == 6 && argv[4] == "br-exists") {
      r.exit_code = bridges.count(argv[5]) ? 0 : 2;
      return r;
    }
    if (argv.size() == 6 && argv[4] == "list-ports") {
      for (const auto& p : bridges[argv[5]]) r.out += p + "\n";
      return r;
    }
    transactions.push_back(joined);
    return r;
  }
  std::map<std::string, std::vector<std::string>> bridges;
  std::set<std::string> links;
  std::vector<std::string> transactions;
};

class OvsdbClientTest : public ::testing::Test {
 protected:
  std::shared_ptr<FakeOvs> ovs_ = std::make_shared<FakeOvs>();
  OvsdbClient client_{"unix:/x/db.sock", "cloonix_t", ovs_};
};

TEST_F(OvsdbClientTest, TransactionChainsCommands) {
  auto argv = client_.Transaction({{"add-br", "b"}, {"add-port", "b", "p"}});
  EXPECT_EQ(absl::StrJoin(argv, " "),
            "ovs-vsctl --db=unix:/x/db.sock --timeout=20 -- add-br b -- "
            "add-port b p");
}

TEST_F(OvsdbClientTest, CreateBridgeIsNetdevAndIdempotent) {
  ASSERT_TRUE(client_.CreateBridge("cxl1").ok());
  EXPECT_THAT(ovs_->transactions,
              ElementsAre("-- --may-exist add-br cxl1 -- set bridge cxl1 "
                          "datapath_type=netdev"));
}

TEST_F(OvsdbClientTest, AddPortChecksBridgeAndInterface) {
  auto s = client_.AddPort("cxl1", "cx2e0");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(s.message()), HasSubstr("bridge cxl1"));
  ovs_->bridges["cxl1"] = {};
  s = client_.AddPort("cxl1", "cx2e0");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(s.message()), HasSubstr("interface cx2e0"));
  EXPECT_TRUE(ovs_->transactions.empty());
  ovs_->links.insert("cx2e0");
  ASSERT_TRUE(client_.AddPort("cxl1", "cx2e0").ok());
  EXPECT_THAT(
      ovs_->transactions,
      ElementsAre("-- --if-exists del-port cx2e0 -- add-port cxl1 cx2e0"));
}

TEST_F(OvsdbClientTest, SyncIsOneTransactionAndReportsMissing) {
  ovs_->bridges["cxl1"] = {"cx1e0", "cx9e0"};
  ovs_->bridges["cxl7"] = {};
  ovs_->links = {"cx1e0", "cx2e0"};
  BridgeMap desired = {{"cxl1", {"cx1e0", "cx2e0"}}, {"cxl3", {"cx4e0"}}};
  auto missing = client_.Sync(desired);
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_THAT(*missing, ElementsAre("cx4e0"));
  ASSERT_EQ(ovs_->transactions.size(), 1u);
  const std::string& t = ovs_->transactions[0];
  EXPECT_THAT(t, HasSubstr("--if-exists del-br cxl7"));
  EXPECT_THAT(t, HasSubstr("--if-exists del-port cxl1 cx9e0"));
  EXPECT_THAT(t, HasSubstr("add-port cxl1 cx2e0"));
  EXPECT_THAT(t, HasSubstr("--may-exist add-br cxl3"));
  EXPECT_THAT(t, ::testing::Not(HasSubstr("add-port cxl1 cx1e0")));
}

TEST_F(OvsdbClientTest, SyncWithNothingToDoRunsNoTransaction) {
  ovs_->bridges["cxl1"] = {"cx1e0"};
  ovs_->links = {"cx1e0"};
  ASSERT_TRUE(client_.Sync({{"cxl1", {"cx1e0"}}}).ok());
  EXPECT_TRUE(ovs_->transactions.empty());
}

}  // namespace
}  // namespace cloonix
