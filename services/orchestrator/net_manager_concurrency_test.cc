// NetManager under parallel requests: no lock across backend calls, items
// reserved while they are created, cabling that waits for its item, reads
// that never wait, and recovery of operations a crash cut short. The fakes
// are thread-safe and can hold a create until the test releases it.
#include <atomic>
#include <cstdlib>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/atomic_file.h"
#include "common/error_reasons.h"
#include "common/grpc_status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/orchestrator/net_manager.h"

namespace cloonix {
namespace {

namespace v1 = cloonix::v1;
using ::testing::HasSubstr;

class Lans : public LanBackend {
 public:
  absl::Status CreateBridge(const std::string& b) override {
    absl::MutexLock l(&mu);
    bridges[b];
    return absl::OkStatus();
  }
  absl::Status DeleteBridge(const std::string& b) override {
    absl::MutexLock l(&mu);
    bridges.erase(b);
    return absl::OkStatus();
  }
  absl::Status AddPort(const std::string& b, const std::string& p) override {
    absl::MutexLock l(&mu);
    if (!bridges.count(b)) return absl::NotFoundError("no bridge " + b);
    bridges[b].insert(p);
    return absl::OkStatus();
  }
  absl::Status DeletePort(const std::string& p) override {
    absl::MutexLock l(&mu);
    for (auto& [b, ports] : bridges) ports.erase(p);
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<std::string>> Sync(
      const std::map<std::string, std::vector<std::string>>& want) override {
    absl::MutexLock l(&mu);
    bridges.clear();
    for (const auto& [b, ports] : want)
      bridges[b].insert(ports.begin(), ports.end());
    return std::vector<std::string>{};
  }
  absl::StatusOr<std::map<std::string, std::vector<std::string>>> ListBridges()
      override {
    absl::MutexLock l(&mu);
    std::map<std::string, std::vector<std::string>> out;
    for (const auto& [b, ports] : bridges)
      out[b].assign(ports.begin(), ports.end());
    return out;
  }
  absl::Status Teardown() override { return absl::OkStatus(); }
  // This test makes no taps or phys: the host has none to list.
  absl::Status CreateTap(const std::string&, const std::string&) override {
    return absl::FailedPreconditionError("no taps in this test");
  }
  absl::Status DeleteTap(const std::string&) override {
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<std::string>> ListTaps() override {
    return std::vector<std::string>{};
  }
  absl::StatusOr<std::string> CreatePhy(const v1::Item&) override {
    return absl::FailedPreconditionError("no phys in this test");
  }
  absl::Status DeletePhy(const std::string&) override {
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<PhyPort>> ListPhys() override {
    return std::vector<PhyPort>{};
  }
  absl::Status SetPhyMac(const std::string&, const std::string&) override {
    return absl::FailedPreconditionError("no phys in this test");
  }
  absl::Mutex mu;
  std::map<std::string, std::set<std::string>> bridges;
};

// Containers; a create of a name in `held` blocks until Release(name).
class Cnts : public CntBackend {
 public:
  absl::Status Create(v1::Item* item) override {
    const std::string name = item->name();
    {
      absl::MutexLock l(&mu);
      ++in_flight;
      max_in_flight = std::max(max_in_flight, in_flight);
      auto released = [&] { return !held.count(name); };
      mu.Await(absl::Condition(&released));
    }
    absl::SleepFor(delay);  // a backend that takes time, unlocked
    {
      absl::MutexLock l(&mu);
      --in_flight;
      if (fail.erase(name)) return absl::UnavailableError("containerd said no");
      running.insert(name);
    }
    item->mutable_cnt()->set_pid(100);
    return absl::OkStatus();
  }
  absl::Status Delete(const std::string& name) override {
    absl::MutexLock l(&mu);
    if (!running.erase(name)) return absl::NotFoundError("no container");
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<RunningCnt>> List() override {
    absl::MutexLock l(&mu);
    std::vector<RunningCnt> out;
    for (const auto& n : running) out.push_back({n, true, 100, "busybox", {}});
    return out;
  }
  absl::Status Teardown() override { return absl::OkStatus(); }
  void Hold(const std::string& n) {
    absl::MutexLock l(&mu);
    held.insert(n);
  }
  void Release(const std::string& n) {
    absl::MutexLock l(&mu);
    held.erase(n);
  }
  bool InCreate() {
    absl::MutexLock l(&mu);
    return in_flight > 0;
  }
  absl::Mutex mu;
  std::set<std::string> held, running, fail;
  int in_flight = 0, max_in_flight = 0;
  absl::Duration delay = absl::ZeroDuration();
};

class NoA2bs : public A2bBackend {
 public:
  absl::Status Create(const v1::Item&) override { return absl::OkStatus(); }
  absl::Status Delete(const std::string&) override { return absl::OkStatus(); }
  absl::Status Set(const std::string&, uint32_t,
                   const v1::A2bSettings&) override {
    return absl::OkStatus();
  }
  absl::StatusOr<v1::A2bSpec> Get(const std::string&) override {
    return v1::A2bSpec();
  }
  absl::StatusOr<std::vector<std::string>> List() override {
    return std::vector<std::string>{};
  }
  absl::Status Teardown() override { return absl::OkStatus(); }
};

class NoVms : public VmBackend {
 public:
  absl::Status Create(v1::Item*, bool) override { return absl::OkStatus(); }
  absl::Status Delete(const std::string&) override { return absl::OkStatus(); }
  absl::Status Stop(const std::string&) override { return absl::OkStatus(); }
  absl::Status Reboot(const std::string&) override { return absl::OkStatus(); }
  absl::StatusOr<std::pair<std::string, uint64_t>> SaveDisk(
      const std::string&, const std::string&) override {
    return absl::FailedPreconditionError("this test has no VMs");
  }
  absl::StatusOr<std::vector<RunningVm>> List() override {
    return std::vector<RunningVm>{};
  }
  absl::Status Teardown() override { return absl::OkStatus(); }
};

class NoNats : public NatBackend {
 public:
  absl::Status Create(const v1::Item&) override { return absl::OkStatus(); }
  absl::Status Delete(const std::string&) override { return absl::OkStatus(); }
  absl::StatusOr<std::vector<NatState>> List() override {
    return std::vector<NatState>{};
  }
  absl::StatusOr<uint32_t> AddHostForward(const std::string&,
                                          const std::string&,
                                          uint32_t) override {
    return 1u;
  }
  absl::Status RemoveHostForward(const std::string&, uint32_t) override {
    return absl::OkStatus();
  }
  absl::Status Teardown() override { return absl::OkStatus(); }
};

v1::Item Cnt(const std::string& name) {
  v1::Item i;
  i.set_name(name);
  i.mutable_cnt()->set_image("busybox");
  i.mutable_cnt()->set_eth_count(1);
  return i;
}

class ConcurrencyTest : public ::testing::Test {
 protected:
  std::string state_ = std::string(std::getenv("TEST_TMPDIR")) + "/c.json";
  Lans lans_;
  Cnts cnts_;
  NoA2bs a2bs_;
  NoVms vms_;
  NoNats nats_;
  std::unique_ptr<NetManager> m_;
  void SetUp() override {
    std::remove(state_.c_str());
    std::remove((state_ + ".prev").c_str());
    m_ = std::make_unique<NetManager>("nemo", state_, &lans_, &cnts_, &a2bs_,
                                      &vms_, &nats_);
  }
  void WaitInCreate() {
    while (!cnts_.InCreate()) absl::SleepFor(absl::Milliseconds(1));
  }
  v1::ItemState StateOf(const std::string& name) {
    for (const auto& it : m_->ListItems(v1::ITEM_KIND_UNSPECIFIED)) {
      if (it.name() == name) return it.state();
    }
    return v1::ITEM_STATE_UNSPECIFIED;
  }
};

TEST_F(ConcurrencyTest, ReadsAndOtherItemsDoNotWaitForACreate) {
  cnts_.Hold("slow");
  std::thread t([&] { EXPECT_TRUE(m_->CreateItem(Cnt("slow")).ok()); });
  WaitInCreate();
  // Visible, reserved, and reads answer while the backend works.
  EXPECT_EQ(StateOf("slow"), v1::ITEM_STATE_CREATING);
  EXPECT_EQ(m_->GetItem("slow")->state(), v1::ITEM_STATE_CREATING);
  EXPECT_EQ(m_->CreateItem(Cnt("slow")).status().code(),
            absl::StatusCode::kAlreadyExists);
  // Another item is created, cabled and deleted meanwhile.
  ASSERT_TRUE(m_->CreateItem(Cnt("fast")).ok());
  ASSERT_TRUE(m_->ConnectEth("fast", 0, "lan1", true).ok());
  ASSERT_TRUE(m_->DeleteItem("fast", false).ok());
  EXPECT_EQ(StateOf("slow"), v1::ITEM_STATE_CREATING);
  cnts_.Release("slow");
  t.join();
  EXPECT_EQ(StateOf("slow"), v1::ITEM_STATE_RUNNING);
}

TEST_F(ConcurrencyTest, CablingWaitsForTheItemBeingCreated) {
  cnts_.Hold("vm1");
  std::thread create([&] { EXPECT_TRUE(m_->CreateItem(Cnt("vm1")).ok()); });
  WaitInCreate();
  absl::Notification cabled;
  absl::StatusOr<v1::Item> r;
  std::thread cable([&] {
    r = m_->ConnectEth("vm1", 0, "lan1", true);
    cabled.Notify();
  });
  EXPECT_FALSE(cabled.WaitForNotificationWithTimeout(absl::Milliseconds(100)));
  cnts_.Release("vm1");
  create.join();
  cable.join();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->eths(0).lan(), "lan1");
  EXPECT_EQ(r->state(), v1::ITEM_STATE_RUNNING);
}

TEST_F(ConcurrencyTest, CablingAnItemThatAppearsSoonWaitsForIt) {
  absl::StatusOr<v1::Item> r;
  std::thread cable([&] { r = m_->ConnectEth("late", 0, "lan1", true); });
  absl::SleepFor(absl::Milliseconds(200));  // the create comes after
  ASSERT_TRUE(m_->CreateItem(Cnt("late")).ok());
  cable.join();
  ASSERT_TRUE(r.ok()) << r.status();
  // An item that never comes: NOT_FOUND after the grace.
  absl::Time start = absl::Now();
  EXPECT_EQ(m_->ConnectEth("never", 0, "lan1", true).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_GE(absl::Now() - start, NetManager::kAppearGrace);
}

TEST_F(ConcurrencyTest, WaitIsBoundedAndAFailedCreateIsNotFound) {
  cnts_.Hold("vm1");
  std::thread create([&] {
    EXPECT_EQ(m_->CreateItem(Cnt("vm1")).status().code(),
              absl::StatusCode::kUnavailable);
  });
  WaitInCreate();
  auto timed_out =
      m_->ConnectEth("vm1", 0, "lan1", true, absl::Milliseconds(50));
  EXPECT_EQ(timed_out.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(timed_out.status().message()),
              HasSubstr("vm1 is still being created"));
  EXPECT_EQ(StateOf("lan1"), v1::ITEM_STATE_UNSPECIFIED);  // nothing made
  absl::StatusOr<v1::Item> r;
  std::thread cable([&] { r = m_->ConnectEth("vm1", 0, "lan1", true); });
  absl::SleepFor(absl::Milliseconds(50));
  {
    absl::MutexLock l(&cnts_.mu);
    cnts_.fail.insert("vm1");
  }
  cnts_.Release("vm1");
  create.join();
  cable.join();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(m_->ItemCount(), 0u);
  EXPECT_TRUE(lans_.bridges.empty());
}

TEST_F(ConcurrencyTest, ManyClientsAtOnce) {
  constexpr int kClients = 8, kRounds = 10;
  cnts_.delay = absl::Milliseconds(5);
  std::atomic<int> errors{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      for (int r = 0; r < kRounds; ++r) {
        std::string a = absl::StrCat("c", c, "a"),
                    b = absl::StrCat("c", c, "b");
        std::string lan = absl::StrCat("lan", c);
        bool ok = m_->CreateItem(Cnt(a)).ok() && m_->CreateItem(Cnt(b)).ok() &&
                  m_->ConnectEth(a, 0, lan, true).ok() &&
                  m_->ConnectEth(b, 0, lan, false).ok() &&
                  m_->ConnectEth(a, 0, "shared", true).status().code() ==
                      absl::StatusCode::kFailedPrecondition &&
                  m_->DeleteItem(a, false).ok() &&
                  m_->DeleteItem(b, false).ok() &&
                  m_->DeleteItem(lan, false).ok();
        if (!ok) ++errors;
        m_->ListItems(v1::ITEM_KIND_UNSPECIFIED);
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(m_->ItemCount(), 0u);
  EXPECT_TRUE(cnts_.running.empty());
  EXPECT_TRUE(lans_.bridges.empty());
  EXPECT_GT(cnts_.max_in_flight, 1);  // creates did overlap
}

TEST_F(ConcurrencyTest, NetStopRefusesWhatWaitsAndWhatComes) {
  cnts_.Hold("slow");
  std::thread create([&] { EXPECT_TRUE(m_->CreateItem(Cnt("slow")).ok()); });
  WaitInCreate();
  absl::StatusOr<v1::Item> waiting;
  std::thread cable([&] { waiting = m_->ConnectEth("slow", 0, "lan1", true); });
  absl::SleepFor(absl::Milliseconds(50));
  std::thread stop([&] { EXPECT_TRUE(m_->DeleteAll().ok()); });
  absl::SleepFor(absl::Milliseconds(50));
  cnts_.Release("slow");
  create.join();
  cable.join();
  stop.join();
  EXPECT_EQ(waiting.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ReasonOf(waiting.status()), reason::kNetStopping);
  auto late = m_->CreateItem(Cnt("late"));
  EXPECT_EQ(late.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(m_->ItemCount(), 0u);
  EXPECT_TRUE(cnts_.running.empty());
  EXPECT_TRUE(lans_.bridges.empty());
}

TEST_F(ConcurrencyTest, ReconcileFinishesWhatACrashCutShort) {
  ASSERT_TRUE(m_->CreateItem(Cnt("done")).ok());
  ASSERT_TRUE(m_->CreateItem(Cnt("gone")).ok());
  // A crash while "half" was being created and "gone" deleted: the state on
  // disk holds them CREATING and DELETING; the runtime has both.
  cnts_.Hold("half");
  std::thread t([&] { m_->CreateItem(Cnt("half")).IgnoreError(); });
  WaitInCreate();
  std::string state = ReadFile(state_).value();
  ASSERT_THAT(state, HasSubstr("ITEM_STATE_CREATING"));
  cnts_.Release("half");
  t.join();
  auto pos = state.find("\"name\": \"gone\"");
  ASSERT_NE(pos, std::string::npos);
  auto st = state.find("ITEM_STATE_RUNNING", pos);
  state.replace(st, strlen("ITEM_STATE_RUNNING"), "ITEM_STATE_DELETING");
  ASSERT_TRUE(WriteFileAtomic(state_, state).ok());

  NetManager after("nemo", state_, &lans_, &cnts_, &a2bs_, &vms_, &nats_);
  ASSERT_TRUE(after.Load().ok());
  ASSERT_TRUE(after.Reconcile().ok());
  auto items = after.ListItems(v1::ITEM_KIND_UNSPECIFIED);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].name(), "done");
  EXPECT_EQ(items[0].state(), v1::ITEM_STATE_RUNNING);
  EXPECT_EQ(cnts_.running, std::set<std::string>{"done"});
}

}  // namespace
}  // namespace cloonix
