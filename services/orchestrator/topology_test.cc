#include "services/orchestrator/topology.h"

#include "common/names.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cloonix {
namespace {

using ::testing::HasSubstr;
namespace v1 = cloonix::v1;

v1::Item Lan(const std::string& name) {
  v1::Item i;
  i.set_name(name);
  i.mutable_lan();
  return i;
}

v1::Item Cnt(const std::string& name, uint32_t eths) {
  v1::Item i;
  i.set_name(name);
  i.mutable_cnt()->set_image("busybox");
  i.mutable_cnt()->set_eth_count(eths);
  return i;
}

void Add(Topology* t, const v1::Item& req) {
  auto it = t->PrepareCreate(req);
  ASSERT_TRUE(it.ok()) << it.status();
  t->Commit(*it);
}

TEST(TopologyTest, PrepareAssignsIdsPortsMacsAndBridge) {
  Topology t("nemo");
  Add(&t, Lan("lan1"));
  auto cnt = t.PrepareCreate(Cnt("cnt1", 2));
  ASSERT_TRUE(cnt.ok());
  EXPECT_EQ(cnt->kind(), v1::ITEM_KIND_CNT);
  EXPECT_EQ(cnt->id(), 2u);
  ASSERT_EQ(cnt->eths_size(), 2);
  EXPECT_EQ(cnt->eths(1).port(), "cx2e1");
  EXPECT_EQ(cnt->eths(1).mac(), DerivedMac("nemo", 2, 1));
  EXPECT_EQ(t.Find("lan1")->lan().bridge(), "cxl1");
  // Prepare does not change anything.
  EXPECT_EQ(t.Find("cnt1"), nullptr);
  EXPECT_EQ(t.PrepareCreate(Cnt("cnt1", 1))->id(), 2u);
}

TEST(TopologyTest, CreateErrorsHaveTheRightCodes) {
  Topology t("nemo");
  Add(&t, Lan("lan1"));
  EXPECT_EQ(t.PrepareCreate(Lan("Bad Name")).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto dup = t.PrepareCreate(Cnt("lan1", 1));
  EXPECT_EQ(dup.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(std::string(dup.status().message()),
              HasSubstr("lan1 already exists"));
  EXPECT_EQ(t.PrepareCreate(Cnt("c", 0)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(t.PrepareCreate(Cnt("c", 33)).status().code(),
            absl::StatusCode::kInvalidArgument);
  v1::Item noimg = Cnt("c", 1);
  noimg.mutable_cnt()->clear_image();
  EXPECT_EQ(t.PrepareCreate(noimg).status().code(),
            absl::StatusCode::kInvalidArgument);
  v1::Item nospec;
  nospec.set_name("x");
  EXPECT_EQ(t.PrepareCreate(nospec).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(TopologyTest, KvmValidationAndMacs) {
  Topology t("nemo");
  auto kvm = [](uint32_t ram, uint32_t cpu, uint32_t eths) {
    v1::Item k;
    k.set_name("vm1");
    k.mutable_kvm()->set_image("tiny");
    k.mutable_kvm()->set_ram_mb(ram);
    k.mutable_kvm()->set_cpu(cpu);
    k.mutable_kvm()->set_eth_count(eths);
    return k;
  };
  auto ram0 = t.PrepareCreate(kvm(0, 1, 1));
  EXPECT_EQ(ram0.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(ram0.status().message()), HasSubstr("ram_mb is 0"));
  EXPECT_EQ(t.PrepareCreate(kvm(256, 0, 1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(t.PrepareCreate(kvm(256, 1, 0)).status().code(),
            absl::StatusCode::kInvalidArgument);
  v1::Item noimg = kvm(256, 1, 1);
  noimg.mutable_kvm()->clear_image();
  EXPECT_EQ(t.PrepareCreate(noimg).status().code(),
            absl::StatusCode::kInvalidArgument);
  v1::Item badmac = kvm(256, 1, 2);
  (*badmac.mutable_kvm()->mutable_macs())[1] = "01:00:00:00:00:01";
  EXPECT_THAT(std::string(t.PrepareCreate(badmac).status().message()),
              HasSubstr("multicast"));
  v1::Item ok = kvm(256, 1, 2);
  (*ok.mutable_kvm()->mutable_macs())[1] = "02:AA:bb:Cc:DD:ee";  // any case
  ok.mutable_kvm()->set_agent_up(true);  // output only: ignored
  auto item = t.PrepareCreate(ok);
  ASSERT_TRUE(item.ok()) << item.status();
  EXPECT_EQ(item->kind(), v1::ITEM_KIND_KVM);
  ASSERT_EQ(item->eths_size(), 2);
  EXPECT_EQ(item->eths(1).mac(), "02:aa:bb:cc:dd:ee");  // stored lowercase
  EXPECT_EQ(item->kvm().macs().at(1), "02:aa:bb:cc:dd:ee");
  EXPECT_NE(item->eths(0).mac(), item->eths(1).mac());
  EXPECT_FALSE(item->kvm().agent_up());
}

TEST(TopologyTest, ConnectChecks) {
  Topology t("nemo");
  Add(&t, Lan("lan1"));
  Add(&t, Cnt("cnt1", 1));
  EXPECT_EQ(t.CheckConnect("nope", 0, "lan1", false).status().code(),
            absl::StatusCode::kNotFound);
  auto range = t.CheckConnect("cnt1", 1, "lan1", false);
  EXPECT_EQ(range.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(range.status().message()),
              HasSubstr("has 1 eth (eth0..eth0)"));
  EXPECT_EQ(t.CheckConnect("cnt1", 0, "lan9", false).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(*t.CheckConnect("cnt1", 0, "lan9", true), true);
  EXPECT_EQ(*t.CheckConnect("cnt1", 0, "lan1", false), false);
  EXPECT_EQ(t.CheckConnect("lan1", 0, "lan1", false).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(t.CheckConnect("cnt1", 0, "cnt1", false).status().code(),
            absl::StatusCode::kFailedPrecondition);
  t.SetCable("cnt1", 0, "lan1");
  Add(&t, Lan("lan2"));
  EXPECT_EQ(t.CheckConnect("cnt1", 0, "lan2", false).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(t.CheckDisconnect("cnt1", 0, "").ok());
  EXPECT_EQ(t.CheckDisconnect("cnt1", 0, "lan2").code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(TopologyTest, RemovingALanUncablesAndEndpointsAreListed) {
  Topology t("nemo");
  Add(&t, Lan("lan1"));
  Add(&t, Cnt("cnt1", 1));
  Add(&t, Cnt("cnt2", 1));
  t.SetCable("cnt1", 0, "lan1");
  t.SetCable("cnt2", 0, "lan1");
  auto lan = t.WithEndpoints(*t.Find("lan1"));
  ASSERT_EQ(lan.lan().endpoints_size(), 2);
  EXPECT_EQ(lan.lan().endpoints(1).item(), "cnt2");
  auto bridges = t.DesiredBridges();
  EXPECT_THAT(bridges["cxl1"], ::testing::ElementsAre("cx2e0", "cx3e0"));
  auto touched = t.Remove("lan1");
  EXPECT_THAT(touched, ::testing::ElementsAre("cnt1", "cnt2"));
  EXPECT_TRUE(t.Find("cnt1")->eths(0).lan().empty());
}

TEST(TopologyTest, JsonRoundTripKeepsIdsAndCables) {
  Topology t("nemo");
  Add(&t, Lan("lan1"));
  Add(&t, Cnt("cnt1", 1));
  t.SetCable("cnt1", 0, "lan1");
  auto back = Topology::FromJson(t.ToJson());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->net(), "nemo");
  EXPECT_EQ(back->Find("cnt1")->eths(0).lan(), "lan1");
  EXPECT_EQ(back->PrepareCreate(Lan("lan2"))->id(), 3u);
  EXPECT_EQ(Topology::FromJson("{not json").status().code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace cloonix
