#include "services/orchestrator/net_manager.h"

#include <cmath>
#include <cstdlib>
#include <limits>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/atomic_file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cloonix {
namespace {

namespace v1 = cloonix::v1;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class FakeLans : public LanBackend {
 public:
  absl::Status CreateBridge(const std::string& b) override {
    if (fail_next) return Fail();
    bridges[b];
    return absl::OkStatus();
  }
  absl::Status DeleteBridge(const std::string& b) override {
    bridges.erase(b);
    return absl::OkStatus();
  }
  absl::Status AddPort(const std::string& b, const std::string& p) override {
    if (fail_next) return Fail();
    bridges[b].insert(p);
    return absl::OkStatus();
  }
  absl::Status DeletePort(const std::string& p) override {
    for (auto& [b, ports] : bridges) ports.erase(p);
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<std::string>> Sync(
      const std::map<std::string, std::vector<std::string>>& want) override {
    ++syncs;
    bridges.clear();
    for (const auto& [b, ports] : want)
      bridges[b].insert(ports.begin(), ports.end());
    return std::vector<std::string>{};
  }
  absl::StatusOr<std::map<std::string, std::vector<std::string>>> ListBridges()
      override {
    std::map<std::string, std::vector<std::string>> out;
    for (const auto& [b, ports] : bridges) {
      out[b].assign(ports.begin(), ports.end());
    }
    return out;
  }
  absl::Status Teardown() override { return absl::OkStatus(); }
  absl::Status CreateTap(const std::string& name,
                         const std::string& port) override {
    if (host_links.count(name))
      return absl::AlreadyExistsError("the host already has " + name);
    taps[name] = port;
    return absl::OkStatus();
  }
  absl::Status DeleteTap(const std::string& name) override {
    taps.erase(name);
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<std::string>> ListTaps() override {
    std::vector<std::string> out;
    for (const auto& [n, p] : taps) out.push_back(n);
    return out;
  }
  absl::StatusOr<std::string> CreatePhy(const v1::Item& item) override {
    const std::string& nic = item.phy().host_ifname();
    if (!host_links.count(nic))
      return absl::NotFoundError("no interface " + nic);
    for (const auto& [n, p] : phys) {
      if (p.nic == nic && n != item.name())
        return absl::FailedPreconditionError("NIC used by phy " + n);
    }
    phys[item.name()] = {nic, item.eths(0).port(), "02:00:00:00:00:aa"};
    return phys[item.name()].mac;
  }
  absl::Status DeletePhy(const std::string& name) override {
    phys.erase(name);
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<PhyPort>> ListPhys() override {
    std::vector<PhyPort> out;
    for (const auto& [n, p] : phys) out.push_back({n, true, p.mac});
    return out;
  }
  absl::Status SetPhyMac(const std::string& name,
                         const std::string& mac) override {
    if (!phys.count(name)) return absl::NotFoundError("no phy " + name);
    phys[name].mac = mac;
    return absl::OkStatus();
  }
  absl::Status Fail() {
    fail_next = false;
    return absl::NotFoundError("interface missing");
  }
  struct Phy {
    std::string nic, port, mac;
  };
  std::map<std::string, Phy> phys;
  std::map<std::string, std::string> taps;  // host end -> port
  std::set<std::string> host_links;         // the host's own interfaces
  std::map<std::string, std::set<std::string>> bridges;
  bool fail_next = false;
  int syncs = 0;
};

class FakeCnts : public CntBackend {
 public:
  absl::Status Create(v1::Item* item) override {
    if (fail_next) {
      fail_next = false;
      return absl::NotFoundError("image nope not found");
    }
    running[item->name()] = true;
    item->mutable_cnt()->set_netns("ns_" + item->name());
    std::vector<RunningEth> eths;
    for (const auto& e : item->eths()) {
      eths.push_back({e.index(), e.port(), e.mac()});
    }
    details[item->name()] = {item->cnt().image(), eths};
    return absl::OkStatus();
  }
  absl::Status Delete(const std::string& name) override {
    if (!running.erase(name)) return absl::NotFoundError("no such container");
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<RunningCnt>> List() override {
    std::vector<RunningCnt> out;
    for (const auto& [n, r] : running) {
      RunningCnt c{n, r, 1, "", {}};
      auto d = details.find(n);
      if (d != details.end()) {
        c.image = d->second.first;
        c.eths = d->second.second;
      }
      out.push_back(c);
    }
    return out;
  }
  absl::Status Teardown() override { return absl::OkStatus(); }
  std::map<std::string, bool> running;
  std::map<std::string, std::pair<std::string, std::vector<RunningEth>>>
      details;
  bool fail_next = false;
};

class FakeA2bs : public A2bBackend {
 public:
  absl::Status Create(const v1::Item& item) override {
    if (fail_next) {
      fail_next = false;
      return absl::UnavailableError("DPDK said no");
    }
    live[item.name()] = item.a2b();
    return absl::OkStatus();
  }
  absl::Status Delete(const std::string& name) override {
    if (!live.erase(name)) return absl::NotFoundError("no a2b");
    return absl::OkStatus();
  }
  absl::Status Set(const std::string& name, uint32_t dir,
                   const v1::A2bSettings& s) override {
    if (!live.count(name)) return absl::NotFoundError("no a2b");
    *(dir == 0 ? live[name].mutable_dir0() : live[name].mutable_dir1()) = s;
    return absl::OkStatus();
  }
  absl::StatusOr<v1::A2bSpec> Get(const std::string& name) override {
    if (!live.count(name)) return absl::NotFoundError("no a2b");
    v1::A2bSpec spec = live[name];
    spec.mutable_counters0()->set_rx_packets(42);
    return spec;
  }
  absl::StatusOr<std::vector<std::string>> List() override {
    std::vector<std::string> out;
    for (const auto& [n, s] : live) out.push_back(n);
    return out;
  }
  absl::Status Teardown() override { return absl::OkStatus(); }
  std::map<std::string, v1::A2bSpec> live;
  bool fail_next = false;
};

class FakeVms : public VmBackend {
 public:
  absl::Status Create(v1::Item* item, bool restart) override {
    if (fail_next) {
      fail_next = false;
      return absl::NotFoundError("image nope not found");
    }
    if (restart) ++restarts;
    vms[item->name()] = {item->name(), true, false, 4242};
    item->mutable_kvm()->set_pid(4242);
    ++creates;
    return absl::OkStatus();
  }
  absl::Status Delete(const std::string& name) override {
    if (!vms.erase(name)) return absl::NotFoundError("no such VM");
    return absl::OkStatus();
  }
  absl::Status Stop(const std::string& name) override {
    if (!vms.erase(name)) return absl::NotFoundError("no such VM");
    return absl::OkStatus();
  }
  absl::Status Reboot(const std::string& name) override {
    if (!vms.count(name)) return absl::NotFoundError("no such VM");
    ++reboots;
    return absl::OkStatus();
  }
  absl::StatusOr<std::pair<std::string, uint64_t>> SaveDisk(
      const std::string& name, const std::string& path) override {
    saved.push_back(name + ">" + path);
    return std::make_pair("/bulk/" + path, uint64_t{4096});
  }
  std::vector<std::string> saved;
  absl::StatusOr<std::vector<RunningVm>> List() override {
    std::vector<RunningVm> out;
    for (const auto& [n, v] : vms) out.push_back(v);
    return out;
  }
  absl::Status Teardown() override { return absl::OkStatus(); }
  std::map<std::string, RunningVm> vms;
  bool fail_next = false;
  int creates = 0;
  int restarts = 0;
  int reboots = 0;
};

class FakeNats : public NatBackend {
 public:
  absl::Status Create(const v1::Item& item) override {
    live[item.name()];
    return absl::OkStatus();
  }
  absl::Status Delete(const std::string& name) override {
    if (!live.erase(name)) return absl::NotFoundError("no nat");
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<NatState>> List() override {
    std::vector<NatState> out;
    for (const auto& [n, leases] : live) out.push_back({n, leases});
    return out;
  }
  absl::StatusOr<uint32_t> AddHostForward(const std::string&,
                                          const std::string&,
                                          uint32_t) override {
    return 40000u;
  }
  absl::Status RemoveHostForward(const std::string&, uint32_t) override {
    return absl::OkStatus();
  }
  absl::Status Teardown() override { return absl::OkStatus(); }
  std::map<std::string, std::vector<v1::NatLease>> live;
};

class NetManagerTest : public ::testing::Test {
 protected:
  std::string state_ = std::string(std::getenv("TEST_TMPDIR")) + "/state.json";
  FakeLans lans_;
  FakeCnts cnts_;
  FakeA2bs a2bs_;
  FakeVms vms_;
  FakeNats nats_;
  std::unique_ptr<NetManager> m_ = std::make_unique<NetManager>(
      "nemo", state_, &lans_, &cnts_, &a2bs_, &vms_, &nats_);

  void SetUp() override {
    std::remove(state_.c_str());
    std::remove((state_ + ".prev").c_str());
  }

  v1::Item Cnt(const std::string& name, uint32_t eths = 1) {
    v1::Item i;
    i.set_name(name);
    i.mutable_cnt()->set_image("busybox");
    i.mutable_cnt()->set_eth_count(eths);
    return i;
  }
};

TEST_F(NetManagerTest, CableTwoContainersOnAutoCreatedLan) {
  ASSERT_TRUE(m_->CreateItem(Cnt("cnt1")).ok());
  ASSERT_TRUE(m_->CreateItem(Cnt("cnt2")).ok());
  auto c1 = m_->ConnectEth("cnt1", 0, "lan1", true);
  ASSERT_TRUE(c1.ok()) << c1.status();
  EXPECT_EQ(c1->eths(0).lan(), "lan1");
  ASSERT_TRUE(m_->ConnectEth("cnt2", 0, "lan1", true).ok());
  auto lan = m_->GetItem("lan1");
  ASSERT_TRUE(lan.ok());
  EXPECT_EQ(lan->lan().endpoints_size(), 2);
  EXPECT_THAT(lans_.bridges[lan->lan().bridge()],
              ::testing::UnorderedElementsAre("cx1e0", "cx2e0"));
  // Persisted: a new manager on the same file sees the same topology.
  NetManager again("nemo", state_, &lans_, &cnts_, &a2bs_, &vms_, &nats_);
  ASSERT_TRUE(again.Load().ok());
  EXPECT_EQ(again.ListItems(v1::ITEM_KIND_UNSPECIFIED).size(), 3u);
  EXPECT_EQ(again.ListItems(v1::ITEM_KIND_UNSPECIFIED)[0].name(), "lan1");
}

TEST_F(NetManagerTest, SetLayoutIsAllOrNothingAndPersisted) {
  v1::Item c = Cnt("cnt1");
  c.mutable_position()->set_x(5);
  c.mutable_position()->set_y(6);
  auto made = m_->CreateItem(c);
  ASSERT_TRUE(made.ok()) << made.status();
  EXPECT_EQ(made->position().x(), 5);  // given at create, kept after it
  ASSERT_TRUE(m_->ConnectEth("cnt1", 0, "lan1", true).ok());
  v1::SetLayoutRequest req;
  (*req.mutable_positions())["cnt1"].set_x(10.5);
  (*req.mutable_positions())["lan1"].set_y(-20);
  (*req.mutable_positions())["nosuch"].set_x(1);
  EXPECT_EQ(m_->SetLayout(req).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(m_->GetItem("cnt1")->position().x(), 5);  // nothing changed
  req.mutable_positions()->erase("nosuch");
  (*req.mutable_positions())["lan1"].set_x(std::nan(""));
  EXPECT_EQ(m_->SetLayout(req).status().code(),
            absl::StatusCode::kInvalidArgument);
  (*req.mutable_positions())["lan1"].set_x(2e6);
  EXPECT_EQ(m_->SetLayout(req).status().code(),
            absl::StatusCode::kInvalidArgument);
  (*req.mutable_positions())["lan1"].set_x(0);
  auto r = m_->SetLayout(req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->items_size(), 2);
  // The same positions again: nothing changed, nothing reported.
  EXPECT_EQ(m_->SetLayout(req)->items_size(), 0);
  NetManager again("nemo", state_, &lans_, &cnts_, &a2bs_, &vms_, &nats_);
  ASSERT_TRUE(again.Load().ok());
  auto lan = again.GetItem("lan1");
  ASSERT_TRUE(lan.ok());
  EXPECT_EQ(lan->position().y(), -20);
  EXPECT_EQ(again.GetItem("cnt1")->position().x(), 10.5);
  v1::Item bad = Cnt("cnt2");
  bad.mutable_position()->set_y(std::numeric_limits<double>::infinity());
  EXPECT_EQ(m_->CreateItem(bad).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(m_->GetItem("cnt2").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(NetManagerTest, KeepsThePreviousStateAndFallsBackToIt) {
  auto fresh = m_->Load();
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(fresh->source, LoadReport::kNone);
  ASSERT_TRUE(m_->CreateItem(Cnt("cnt1")).ok());
  ASSERT_TRUE(m_->CreateItem(Cnt("cnt2")).ok());
  // state.json.prev is the state before the last change (cnt1 only).
  auto prev = ReadFile(state_ + ".prev");
  ASSERT_TRUE(prev.ok());
  EXPECT_NE(prev->find("cnt1"), std::string::npos);
  EXPECT_EQ(prev->find("cnt2"), std::string::npos);

  // A truncated state.json (a crash, a full disk): the previous one is used.
  std::string cur = ReadFile(state_).value();
  ASSERT_TRUE(WriteFileAtomic(state_, cur.substr(0, cur.size() / 2)).ok());
  NetManager again("nemo", state_, &lans_, &cnts_, &a2bs_, &vms_, &nats_);
  auto r = again.Load();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->source, LoadReport::kPrevious);
  EXPECT_THAT(r->problem, ::testing::HasSubstr("unreadable"));
  EXPECT_EQ(again.ListItems(v1::ITEM_KIND_UNSPECIFIED).size(), 1u);
  // cnt2 runs but the recovered state does not know it: reported, so that
  // the caller does not let Reconcile delete it.
  auto unknown = again.UnknownGuests();
  ASSERT_TRUE(unknown.ok());
  EXPECT_THAT(*unknown, ::testing::ElementsAre("cnt cnt2"));
  // The next change writes a good state.json without copying the damaged
  // one over state.json.prev.
  ASSERT_TRUE(again.CreateItem(Cnt("cnt3")).ok());
  EXPECT_EQ(ReadFile(state_ + ".prev").value(), *prev);
  NetManager third("nemo", state_, &lans_, &cnts_, &a2bs_, &vms_, &nats_);
  auto r3 = third.Load();
  ASSERT_TRUE(r3.ok());
  EXPECT_EQ(r3->source, LoadReport::kCurrent);
  EXPECT_EQ(third.ListItems(v1::ITEM_KIND_UNSPECIFIED).size(), 2u);

  // state.json missing: also the previous one; both gone: empty, and every
  // running guest is unknown.
  std::remove(state_.c_str());
  NetManager fourth("nemo", state_, &lans_, &cnts_, &a2bs_, &vms_, &nats_);
  auto r4 = fourth.Load();
  ASSERT_TRUE(r4.ok());
  EXPECT_EQ(r4->source, LoadReport::kPrevious);
  EXPECT_EQ(r4->problem, "missing");
  std::remove((state_ + ".prev").c_str());
  NetManager fifth("nemo", state_, &lans_, &cnts_, &a2bs_, &vms_, &nats_);
  auto r5 = fifth.Load();
  ASSERT_TRUE(r5.ok());
  EXPECT_EQ(r5->source, LoadReport::kNone);
  EXPECT_THAT(
      fifth.UnknownGuests().value(),
      ::testing::UnorderedElementsAre("cnt cnt1", "cnt cnt2", "cnt cnt3"));
}

TEST_F(NetManagerTest, AdoptTakesRunningContainersWithTheirCables) {
  ASSERT_TRUE(m_->CreateItem(Cnt("cnt1", 2)).ok());
  ASSERT_TRUE(m_->CreateItem(Cnt("cnt2")).ok());
  ASSERT_TRUE(m_->ConnectEth("cnt1", 1, "lan1", true).ok());
  ASSERT_TRUE(m_->ConnectEth("cnt2", 0, "lan1", true).ok());
  auto before = m_->GetItem("cnt1").value();
  std::string bridge = m_->GetItem("lan1").value().lan().bridge();
  // The state is lost; the containers and the switch still run.
  std::remove(state_.c_str());
  std::remove((state_ + ".prev").c_str());
  NetManager lost("nemo", state_, &lans_, &cnts_, &a2bs_, &vms_, &nats_);
  ASSERT_TRUE(lost.Load().ok());
  ASSERT_TRUE(lost.AdoptGuests().ok());
  EXPECT_TRUE(lost.UnknownGuests().value().empty());
  auto c1 = lost.GetItem("cnt1");
  ASSERT_TRUE(c1.ok());
  EXPECT_EQ(c1->id(), before.id());
  EXPECT_EQ(c1->cnt().image(), "busybox");
  ASSERT_EQ(c1->eths_size(), 2);
  EXPECT_EQ(c1->eths(1).port(), before.eths(1).port());
  EXPECT_EQ(c1->eths(1).mac(), before.eths(1).mac());
  EXPECT_EQ(c1->eths(0).lan(), "");
  // lan1's name was lost with the state: the lan is named after its id.
  std::string lan = c1->eths(1).lan();
  EXPECT_EQ(lan, absl::StrCat("lan", bridge.substr(3)));
  auto l = lost.GetItem(lan);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->lan().bridge(), bridge);
  EXPECT_EQ(l->lan().endpoints_size(), 2);
  // Adopted, then persisted: a new item gets a fresh id and ports.
  auto c3 = lost.CreateItem(Cnt("cnt3"));
  ASSERT_TRUE(c3.ok());
  EXPECT_GT(c3->id(), before.id());
  NetManager again("nemo", state_, &lans_, &cnts_, &a2bs_, &vms_, &nats_);
  EXPECT_EQ(again.Load().value().source, LoadReport::kCurrent);
  EXPECT_EQ(again.ListItems(v1::ITEM_KIND_UNSPECIFIED).size(), 4u);
}

TEST_F(NetManagerTest, AdoptRefusesUnknownVmsAndChangesNothing) {
  ASSERT_TRUE(m_->CreateItem(Cnt("cnt1")).ok());
  v1::Item vm;
  vm.set_name("vm1");
  vm.mutable_kvm()->set_image("tiny");
  vm.mutable_kvm()->set_ram_mb(128);
  vm.mutable_kvm()->set_cpu(1);
  vm.mutable_kvm()->set_eth_count(1);
  ASSERT_TRUE(m_->CreateItem(vm).ok());
  std::remove(state_.c_str());
  std::remove((state_ + ".prev").c_str());
  NetManager lost("nemo", state_, &lans_, &cnts_, &a2bs_, &vms_, &nats_);
  ASSERT_TRUE(lost.Load().ok());
  absl::Status s = lost.AdoptGuests();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("vm1"));
  EXPECT_TRUE(lost.ListItems(v1::ITEM_KIND_UNSPECIFIED).empty());
}

TEST_F(NetManagerTest, StateOfAnotherNetIsRefused) {
  NetManager other("other", state_, &lans_, &cnts_, &a2bs_, &vms_, &nats_);
  ASSERT_TRUE(other.Load().ok());
  ASSERT_TRUE(other.CreateItem(Cnt("cnt1")).ok());
  EXPECT_EQ(m_->Load().status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(NetManagerTest, FailedRequestsChangeNothing) {
  ASSERT_TRUE(m_->CreateItem(Cnt("cnt1")).ok());
  std::string before = ReadFile(state_).value();
  cnts_.fail_next = true;
  EXPECT_EQ(m_->CreateItem(Cnt("cnt2")).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(m_->GetItem("cnt2").status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(m_->CreateItem([] {
                  v1::Item l;
                  l.set_name("lan0");
                  l.mutable_lan();
                  return l;
                }())
                  .ok());
  before = ReadFile(state_).value();
  auto bridges_before = lans_.bridges;
  EXPECT_EQ(m_->ConnectEth("cnt1", 5, "lan1", true).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(m_->ConnectEth("cnt9", 0, "lan1", true).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(m_->ConnectEth("cnt1", 0, "lan9", false).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(m_->CreateItem(Cnt("cnt1")).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(m_->DeleteItem("ghost", false).code(), absl::StatusCode::kNotFound);
  bool deleted = true;
  EXPECT_TRUE(m_->DeleteItem("ghost", true, &deleted).ok());
  EXPECT_FALSE(deleted);
  EXPECT_EQ(ReadFile(state_).value(), before);
  EXPECT_EQ(lans_.bridges, bridges_before);
}

TEST_F(NetManagerTest, PortFailureRollsBackTheNewLan) {
  ASSERT_TRUE(m_->CreateItem(Cnt("cnt1")).ok());
  // CreateBridge succeeds, AddPort fails: fail_next is consumed by AddPort.
  struct OneShot : FakeLans {
    absl::Status CreateBridge(const std::string& b) override {
      bridges[b];
      fail_next = true;
      return absl::OkStatus();
    }
  } lans;
  NetManager m("nemo", state_ + "2", &lans, &cnts_, &a2bs_, &vms_, &nats_);
  ASSERT_TRUE(m.CreateItem(Cnt("cntx")).ok());
  auto r = m.ConnectEth("cntx", 0, "lan1", true);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(lans.bridges.empty());
  EXPECT_EQ(m.GetItem("lan1").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(m.GetItem("cntx")->eths(0).lan().empty());
}

TEST_F(NetManagerTest, DeletingACabledItemOrLan) {
  ASSERT_TRUE(m_->CreateItem(Cnt("cnt1")).ok());
  ASSERT_TRUE(m_->ConnectEth("cnt1", 0, "lan1", true).ok());
  ASSERT_TRUE(m_->DeleteItem("cnt1", false).ok());
  EXPECT_TRUE(cnts_.running.empty());
  EXPECT_EQ(m_->GetItem("lan1")->lan().endpoints_size(), 0);
  // Cabling a deleted item is NOT_FOUND.
  EXPECT_EQ(m_->ConnectEth("cnt1", 0, "lan1", false).status().code(),
            absl::StatusCode::kNotFound);
  ASSERT_TRUE(m_->CreateItem(Cnt("cnt2")).ok());
  ASSERT_TRUE(m_->ConnectEth("cnt2", 0, "lan1", false).ok());
  ASSERT_TRUE(m_->DeleteItem("lan1", false).ok());
  EXPECT_TRUE(m_->GetItem("cnt2")->eths(0).lan().empty());
  EXPECT_TRUE(lans_.bridges.empty());
}

TEST_F(NetManagerTest, ReconcileRecreatesDeadContainersAndSyncsLans) {
  ASSERT_TRUE(m_->CreateItem(Cnt("cnt1")).ok());
  ASSERT_TRUE(m_->CreateItem(Cnt("cnt2")).ok());
  ASSERT_TRUE(m_->ConnectEth("cnt1", 0, "lan1", true).ok());
  cnts_.running.erase("cnt1");    // died
  cnts_.running["cnt2"] = false;  // stopped
  cnts_.running["stray"] = true;  // not in the topology
  lans_.bridges.clear();          // vswitchd lost everything
  ASSERT_TRUE(m_->Reconcile().ok());
  EXPECT_THAT(cnts_.running,
              ElementsAre(std::pair<const std::string, bool>("cnt1", true),
                          std::pair<const std::string, bool>("cnt2", true)));
  EXPECT_EQ(lans_.syncs, 1);
  EXPECT_THAT(lans_.bridges["cxl3"], ElementsAre("cx1e0"));
  cnts_.fail_next = true;
  cnts_.running.erase("cnt2");
  ASSERT_TRUE(m_->Reconcile().ok());
  EXPECT_EQ(m_->GetItem("cnt2")->state(), v1::ITEM_STATE_FAILED);
  EXPECT_NE(m_->GetItem("cnt2")->state_message().find("image nope"),
            std::string::npos);
}

TEST_F(NetManagerTest, TapLifeCycleRefusalAndReconcile) {
  v1::Item t;
  t.set_name("tap0");
  t.mutable_tap();
  auto made = m_->CreateItem(t);
  ASSERT_TRUE(made.ok()) << made.status();
  ASSERT_EQ(made->eths_size(), 1);
  const std::string port = made->eths(0).port();
  EXPECT_EQ(lans_.taps["tap0"], port);
  ASSERT_TRUE(m_->ConnectEth("tap0", 0, "lan1", true).ok());
  EXPECT_TRUE(lans_.bridges[m_->GetItem("lan1")->lan().bridge()].count(port));

  // The host's own interface name: refused, nothing kept.
  lans_.host_links.insert("eth9");
  v1::Item bad;
  bad.set_name("eth9");
  bad.mutable_tap();
  EXPECT_TRUE(absl::IsAlreadyExists(m_->CreateItem(bad).status()));
  EXPECT_FALSE(m_->GetItem("eth9").ok());
  EXPECT_FALSE(lans_.taps.count("eth9"));
  v1::Item longname;
  longname.set_name("tap-name-too-long");
  longname.mutable_tap();
  EXPECT_TRUE(absl::IsInvalidArgument(m_->CreateItem(longname).status()));

  // Gone behind our back: the loop makes it again and re-cables it.
  lans_.taps.clear();
  for (auto& [b, ports] : lans_.bridges) ports.erase(port);
  ASSERT_TRUE(m_->Reconcile().ok());
  EXPECT_EQ(lans_.taps["tap0"], port);
  EXPECT_TRUE(lans_.bridges[m_->GetItem("lan1")->lan().bridge()].count(port));
  // A tap of this net the topology does not have is removed.
  lans_.taps["stray"] = "cx99e0";
  ASSERT_TRUE(m_->Reconcile().ok());
  EXPECT_FALSE(lans_.taps.count("stray"));

  ASSERT_TRUE(m_->DeleteItem("tap0", false).ok());
  EXPECT_TRUE(lans_.taps.empty());
}

TEST_F(NetManagerTest, PhyLifeCycleAndMacvlanMacFollowsTheGuest) {
  lans_.host_links.insert("eth7");
  v1::Item p;
  p.set_name("p1");
  p.mutable_phy()->set_host_ifname("eth7");
  p.mutable_phy()->set_mode(v1::PHY_MODE_MACVLAN);
  auto made = m_->CreateItem(p);
  ASSERT_TRUE(made.ok()) << made.status();
  EXPECT_EQ(made->phy().mac(), "02:00:00:00:00:aa");
  const std::string port = made->eths(0).port();
  EXPECT_EQ(lans_.phys["p1"].port, port);
  // Refused, nothing kept: a missing NIC, a NIC in use, no NIC, force with
  // macvlan.
  v1::Item bad = p;
  bad.set_name("p2");
  bad.mutable_phy()->set_host_ifname("eth8");
  EXPECT_TRUE(absl::IsNotFound(m_->CreateItem(bad).status()));
  bad.mutable_phy()->set_host_ifname("eth7");
  EXPECT_TRUE(absl::IsFailedPrecondition(m_->CreateItem(bad).status()));
  bad.mutable_phy()->clear_host_ifname();
  EXPECT_TRUE(absl::IsInvalidArgument(m_->CreateItem(bad).status()));
  bad.mutable_phy()->set_host_ifname("eth7");
  bad.mutable_phy()->set_force(true);
  EXPECT_TRUE(absl::IsInvalidArgument(m_->CreateItem(bad).status()));
  EXPECT_FALSE(m_->GetItem("p2").ok());
  EXPECT_EQ(lans_.phys.size(), 1u);

  // The macvlan's MAC follows the guest on its lan, here through an a2b.
  v1::Item a;
  a.set_name("ab");
  a.mutable_a2b();
  ASSERT_TRUE(m_->CreateItem(a).ok());
  v1::Item c;
  c.set_name("c1");
  c.mutable_cnt()->set_image("busybox");
  c.mutable_cnt()->set_eth_count(1);
  auto cnt = m_->CreateItem(c);
  ASSERT_TRUE(cnt.ok()) << cnt.status();
  ASSERT_TRUE(m_->ConnectEth("p1", 0, "lanw", true).ok());
  ASSERT_TRUE(m_->ConnectEth("ab", 0, "lanw", false).ok());
  ASSERT_TRUE(m_->ConnectEth("ab", 1, "lang", true).ok());
  ASSERT_TRUE(m_->ConnectEth("c1", 0, "lang", false).ok());
  m_->Refresh();
  const std::string c1mac = m_->GetItem("c1")->eths(0).mac();
  EXPECT_EQ(lans_.phys["p1"].mac, c1mac);
  EXPECT_EQ(m_->GetItem("p1")->phy().mac(), c1mac);

  // Gone behind our back: made again and cabled again.
  lans_.phys.clear();
  ASSERT_TRUE(m_->Reconcile().ok());
  EXPECT_EQ(lans_.phys["p1"].port, port);
  EXPECT_TRUE(lans_.bridges[m_->GetItem("lanw")->lan().bridge()].count(port));
  // A phy the topology does not hold is given back.
  lans_.phys["stray"] = {"eth9", "cx99e0", ""};
  ASSERT_TRUE(m_->Reconcile().ok());
  EXPECT_FALSE(lans_.phys.count("stray"));
  ASSERT_TRUE(m_->DeleteItem("p1", false).ok());
  EXPECT_TRUE(lans_.phys.empty());
}

TEST_F(NetManagerTest, A2bCreateConfigureAndCounters) {
  v1::Item a;
  a.set_name("a2b1");
  a.mutable_a2b()->mutable_dir0()->set_delay_ms(20);
  auto created = m_->CreateItem(a);
  ASSERT_TRUE(created.ok()) << created.status();
  ASSERT_EQ(created->eths_size(), 2);
  ASSERT_TRUE(m_->ConnectEth("a2b1", 0, "lan1", true).ok());
  ASSERT_TRUE(m_->ConnectEth("a2b1", 1, "lan2", true).ok());
  v1::A2bSettingsPatch p;
  p.set_loss_percent(10);
  auto item = m_->ConfigureA2b("a2b1", 0, p);
  ASSERT_TRUE(item.ok()) << item.status();
  EXPECT_EQ(item->a2b().dir0().delay_ms(), 20);  // kept
  EXPECT_EQ(item->a2b().dir0().loss_percent(), 10);
  EXPECT_EQ(a2bs_.live["a2b1"].dir0().loss_percent(), 10);
  EXPECT_EQ(m_->GetItem("a2b1")->a2b().counters0().rx_packets(), 42u);
  // Bad values change nothing.
  std::string before = ReadFile(state_).value();
  v1::A2bSettingsPatch bad;
  bad.set_delay_ms(-1);
  EXPECT_EQ(m_->ConfigureA2b("a2b1", 0, bad).status().code(),
            absl::StatusCode::kInvalidArgument);
  bad.Clear();
  bad.set_loss_percent(101);
  EXPECT_EQ(m_->ConfigureA2b("a2b1", 1, bad).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(m_->ConfigureA2b("a2b1", 2, p).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(m_->ConfigureA2b("nope", 0, p).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(m_->ConfigureA2b("lan1", 0, p).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadFile(state_).value(), before);
  EXPECT_EQ(a2bs_.live["a2b1"].dir0().loss_percent(), 10);
  // A restarted worker lost everything: reconcile recreates with settings.
  a2bs_.live.clear();
  ASSERT_TRUE(m_->Reconcile().ok());
  EXPECT_EQ(a2bs_.live["a2b1"].dir0().loss_percent(), 10);
  EXPECT_EQ(a2bs_.live["a2b1"].dir0().delay_ms(), 20);
  auto del = m_->DeleteItem("a2b1", false);
  ASSERT_TRUE(del.ok()) << del;
  EXPECT_TRUE(a2bs_.live.empty());
}

TEST_F(NetManagerTest, WatchGetsCurrentThenChanges) {
  ASSERT_TRUE(m_->CreateItem(Cnt("cnt1")).ok());
  std::vector<v1::Item> current;
  auto sub = m_->Watch(&current);
  ASSERT_EQ(current.size(), 1u);
  ASSERT_TRUE(m_->ConnectEth("cnt1", 0, "lan1", true).ok());
  v1::Event e;
  ASSERT_TRUE(sub->Next(&e, absl::Seconds(1)));
  EXPECT_EQ(e.type(), v1::EVENT_TYPE_CREATED);
  EXPECT_EQ(e.item().name(), "lan1");
  EXPECT_EQ(e.item().state(), v1::ITEM_STATE_CREATING);
  ASSERT_TRUE(sub->Next(&e, absl::Seconds(1)));
  EXPECT_EQ(e.type(), v1::EVENT_TYPE_UPDATED);
  EXPECT_EQ(e.item().name(), "lan1");
  EXPECT_EQ(e.item().state(), v1::ITEM_STATE_RUNNING);
  EXPECT_EQ(e.item().lan().endpoints_size(), 1);
  ASSERT_TRUE(sub->Next(&e, absl::Seconds(1)));
  EXPECT_EQ(e.type(), v1::EVENT_TYPE_UPDATED);
  EXPECT_EQ(e.item().name(), "cnt1");
  ASSERT_TRUE(m_->DeleteItem("cnt1", false).ok());
  ASSERT_TRUE(sub->Next(&e, absl::Seconds(1)));
  EXPECT_EQ(e.item().name(), "cnt1");
  EXPECT_EQ(e.item().state(), v1::ITEM_STATE_DELETING);
  ASSERT_TRUE(sub->Next(&e, absl::Seconds(1)));
  EXPECT_EQ(e.item().name(), "lan1");  // lost its endpoint
  ASSERT_TRUE(sub->Next(&e, absl::Seconds(1)));
  EXPECT_EQ(e.type(), v1::EVENT_TYPE_DELETED);
  EXPECT_FALSE(sub->Next(&e, absl::Milliseconds(10)));
  m_->Unwatch(sub);
}

TEST_F(NetManagerTest, SaveKvmDiskGoesToTheVmBackendForKvmsOnly) {
  v1::Item req;
  req.set_name("vm1");
  auto* k = req.mutable_kvm();
  k->set_image("deb.qcow2");
  k->set_ram_mb(256);
  k->set_cpu(1);
  k->set_eth_count(1);
  ASSERT_TRUE(m_->CreateItem(req).ok());
  ASSERT_TRUE(m_->CreateItem(Cnt("cnt1")).ok());
  auto r = m_->SaveKvmDisk("vm1", "vm1-saved.qcow2");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->path(), "/bulk/vm1-saved.qcow2");
  EXPECT_EQ(r->size_bytes(), 4096u);
  EXPECT_EQ(vms_.saved, std::vector<std::string>{"vm1>vm1-saved.qcow2"});
  EXPECT_EQ(m_->SaveKvmDisk("cnt1", "x.qcow2").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(m_->SaveKvmDisk("nosuch", "x.qcow2").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(vms_.saved.size(), 1u);
  // The name is free again: another save and a delete go through.
  EXPECT_TRUE(m_->SaveKvmDisk("vm1", "again.qcow2").ok());
  EXPECT_TRUE(m_->DeleteItem("vm1", false).ok());
}

TEST_F(NetManagerTest, KvmLifeCycleAgentStateAndReconcile) {
  v1::Item req;
  req.set_name("vm1");
  auto* k = req.mutable_kvm();
  k->set_image("tiny");
  k->set_ram_mb(256);
  k->set_cpu(1);
  k->set_eth_count(1);
  vms_.fail_next = true;
  EXPECT_EQ(m_->CreateItem(req).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(m_->ItemCount(), 0u);
  auto vm = m_->CreateItem(req);
  ASSERT_TRUE(vm.ok()) << vm.status();
  EXPECT_EQ(vm->kvm().pid(), 4242u);
  EXPECT_FALSE(vm->kvm().agent_up());
  ASSERT_TRUE(m_->ConnectEth("vm1", 0, "lan1", true).ok());

  std::vector<v1::Item> current;
  auto sub = m_->Watch(&current);
  vms_.vms["vm1"].agent_up = true;
  m_->Refresh();
  m_->Refresh();  // no change: no second event
  std::vector<v1::Event> events;
  for (v1::Event e; sub->TryNext(&e);) events.push_back(e);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type(), v1::EVENT_TYPE_UPDATED);
  EXPECT_TRUE(events[0].item().kvm().agent_up());
  EXPECT_TRUE(m_->GetItem("vm1")->kvm().agent_up());
  m_->Unwatch(sub);

  // A running VM is adopted as is; a vanished one is started again.
  ASSERT_TRUE(m_->Reconcile().ok());
  EXPECT_EQ(vms_.creates, 1);
  vms_.vms.erase("vm1");
  vms_.vms["stray"] = {"stray", true, false, 1};
  ASSERT_TRUE(m_->Reconcile().ok());
  EXPECT_EQ(vms_.creates, 2);
  EXPECT_EQ(vms_.restarts, 1);  // on its overlay, not a fresh one
  EXPECT_TRUE(vms_.vms.count("vm1"));
  EXPECT_FALSE(vms_.vms.count("stray"));
  EXPECT_TRUE(lans_.bridges.begin()->second.count("cx1e0"));

  // Reboot, stop (stays stopped across reconcile), start (re-plugged).
  ASSERT_TRUE(m_->ControlKvm("vm1", v1::KVM_ACTION_REBOOT).ok());
  EXPECT_EQ(vms_.reboots, 1);
  auto stopped = m_->ControlKvm("vm1", v1::KVM_ACTION_STOP);
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_EQ(stopped->state(), v1::ITEM_STATE_STOPPED);
  EXPECT_EQ(m_->ControlKvm("vm1", v1::KVM_ACTION_REBOOT).status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(m_->Reconcile().ok());
  EXPECT_FALSE(vms_.vms.count("vm1"));  // not restarted behind the user
  auto started = m_->ControlKvm("vm1", v1::KVM_ACTION_START);
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_EQ(started->state(), v1::ITEM_STATE_RUNNING);
  EXPECT_EQ(vms_.restarts, 2);
  EXPECT_EQ(m_->ControlKvm("vm1", v1::KVM_ACTION_START).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(m_->ControlKvm("lan1", v1::KVM_ACTION_STOP).status().code(),
            absl::StatusCode::kInvalidArgument);

  // QEMU dies: the kvm shows stopped with the reason, not running.
  vms_.vms.erase("vm1");
  m_->Refresh();
  auto gone = m_->GetItem("vm1");
  EXPECT_EQ(gone->state(), v1::ITEM_STATE_STOPPED);
  EXPECT_THAT(gone->state_message(), HasSubstr("QEMU exited"));
  ASSERT_TRUE(m_->ControlKvm("vm1", v1::KVM_ACTION_START).ok());
  EXPECT_EQ(m_->GetItem("vm1")->state_message(), "");

  ASSERT_TRUE(m_->DeleteItem("vm1", false).ok());
  EXPECT_TRUE(vms_.vms.empty());
}

TEST_F(NetManagerTest, NatWhatIpOneNatPerLanAndNatplug) {
  v1::Item nat;
  nat.set_name("nat1");
  nat.mutable_nat();
  ASSERT_TRUE(m_->CreateItem(nat).ok());
  ASSERT_TRUE(m_->ConnectEth("nat1", 0, "lan1", true).ok());
  nat.set_name("nat2");
  ASSERT_TRUE(m_->CreateItem(nat).ok());
  auto two = m_->ConnectEth("nat2", 0, "lan1", false);
  EXPECT_EQ(two.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(two.status().message()), HasSubstr("one nat"));

  ASSERT_TRUE(m_->CreateItem(Cnt("cnt1", 2)).ok());
  EXPECT_EQ(m_->WhatIp("nat1", "cnt1").status().code(),
            absl::StatusCode::kFailedPrecondition);  // not on lan1
  auto cabled = m_->ConnectEth("cnt1", 1, "lan1", false);
  ASSERT_TRUE(cabled.ok());
  EXPECT_EQ(m_->WhatIp("nat1", "cnt1").status().code(),
            absl::StatusCode::kNotFound);  // no lease yet
  v1::NatLease lease;
  lease.set_mac(cabled->eths(1).mac());
  lease.set_ip("172.17.0.10");
  nats_.live["nat1"].push_back(lease);
  auto ip = m_->WhatIp("nat1", "cnt1");
  ASSERT_TRUE(ip.ok()) << ip.status();
  EXPECT_EQ(ip->ip(), "172.17.0.10");
  EXPECT_EQ(ip->eth(), 1u);
  EXPECT_EQ(m_->GetItem("nat1")->nat().leases_size(), 1);
  EXPECT_EQ(m_->WhatIp("nope", "cnt1").status().code(),
            absl::StatusCode::kNotFound);

  // natplug: a nat and a lan made with the item, gone with it.
  v1::Item plugged = Cnt("c2", 2);
  plugged.mutable_cnt()->set_natplug(1);
  auto c2 = m_->CreateItem(plugged);
  ASSERT_TRUE(c2.ok()) << c2.status();
  EXPECT_EQ(c2->eths(1).lan(), "lan-c2");
  ASSERT_NE(m_->GetItem("nat-c2").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(m_->GetItem("nat-c2")->nat().natplug_of(), "c2");
  EXPECT_TRUE(nats_.live.count("nat-c2"));
  ASSERT_TRUE(m_->DeleteItem("c2", false).ok());
  EXPECT_EQ(m_->GetItem("nat-c2").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(m_->GetItem("lan-c2").status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(nats_.live.count("nat-c2"));
  // natplug on an eth out of range creates nothing.
  plugged.set_name("c3");
  plugged.mutable_cnt()->set_natplug(5);
  EXPECT_EQ(m_->CreateItem(plugged).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(m_->GetItem("nat-c3").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace cloonix
