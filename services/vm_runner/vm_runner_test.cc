// VmRunner's core against a fake hypervisor and fake host links: domains and
// taps as a create leaves them, rollback when a step fails, delete, and
// creates of different VMs running in parallel while one VM's create and
// delete run one after the other.
#include "services/vm_runner/vm_runner.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/names.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cloonix {
namespace {

namespace vr = ::cloonix::vmrunner::v1;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class FakeHost : public VmHost {
 public:
  absl::Status Create(const std::string& xml) override {
    auto a = xml.find("<name>"), b = xml.find("</name>");
    std::string name = xml.substr(a + 6, b - a - 6);
    absl::MutexLock l(&mu);
    ++in_create;
    max_in_create = std::max(max_in_create, in_create);
    auto go = [&] { return !hold; };
    mu.Await(absl::Condition(&go));
    --in_create;
    if (fail_create) return absl::UnavailableError("QEMU said no");
    doms[name] = {name, true, 4000 + static_cast<uint32_t>(doms.size())};
    xmls[name] = xml;
    return absl::OkStatus();
  }
  absl::Status Destroy(const std::string& name) override {
    absl::MutexLock l(&mu);
    if (!doms.erase(name)) return absl::NotFoundError("no domain " + name);
    return absl::OkStatus();
  }
  absl::Status Reset(const std::string& name) override {
    absl::MutexLock l(&mu);
    return doms.count(name) ? absl::OkStatus() : absl::NotFoundError(name);
  }
  absl::StatusOr<std::vector<DomainInfo>> List(
      const std::string& prefix) override {
    absl::MutexLock l(&mu);
    std::vector<DomainInfo> out;
    for (const auto& [n, d] : doms) {
      if (n.rfind(prefix, 0) == 0) out.push_back(d);
    }
    return out;
  }
  absl::Status BackupDisk(const std::string&, const std::string&,
                          const std::string&, absl::Duration) override {
    return absl::FailedPreconditionError("fake host: no backup");
  }
  absl::StatusOr<struct _virStream*> OpenConsole(const std::string&) override {
    return absl::NotFoundError("no console in the fake");
  }
  absl::Mutex mu;
  std::map<std::string, DomainInfo> doms;
  std::map<std::string, std::string> xmls;
  bool hold = false, fail_create = false;
  int in_create = 0, max_in_create = 0;
};

class FakeLinks : public HostLinks {
 public:
  bool NetnsExists(const std::string&) override { return true; }
  absl::Status CreateNetns(const std::string&) override {
    return absl::OkStatus();
  }
  absl::Status DeleteNetns(const std::string&) override {
    return absl::OkStatus();
  }
  std::vector<std::string> ListNetns(const std::string&) override { return {}; }
  bool LinkExists(const std::string&, const std::string&) override {
    return false;
  }
  absl::Status DeleteLink(const std::string&, const std::string&) override {
    return absl::OkStatus();
  }
  absl::Status AddVeth(const std::string&, const std::string&,
                       const std::string&, const std::string&,
                       const std::string&) override {
    return absl::OkStatus();
  }
  absl::Status MoveLink(const std::string& name, const std::string& ns,
                        const std::string& new_name) override {
    absl::MutexLock l(&mu);
    if (fail_move) return absl::InternalError("ip: cannot move " + name);
    moves.push_back(absl::StrCat(name, ">", ns, "/", new_name));
    return absl::OkStatus();
  }
  absl::Mutex mu;
  std::vector<std::string> moves;
  bool fail_move = false;
};

class VmRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Short: the agent socket path must fit in 107 bytes.
    char tmpl[] = "/tmp/cxvr.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    std::filesystem::create_directories(root_ + "/bulk");
    for (const char* f : {"/bulk/tiny-vmlinux", "/bulk/tiny-initrd.img"})
      std::ofstream(root_ + f) << "x";
    runner_ = std::make_unique<VmRunner>(
        VmRunnerConfig{"nemo", root_ + "/w", root_ + "/bulk", "qemu", "",
                       "/fw/qboot.rom"},
        &host_, &links_);
  }
  vr::CreateVmRequest Req(const std::string& name, uint32_t id, int eths = 1) {
    vr::CreateVmRequest r;
    r.set_name(name);
    r.set_id(id);
    r.set_image("tiny");
    r.set_ram_mb(256);
    r.set_cpu(1);
    for (int i = 0; i < eths; ++i) {
      auto* e = r.add_eths();
      e->set_port(EthPortName(id, i));
      e->set_mac(absl::StrCat("02:00:00:00:0", id, ":0", i));
    }
    return r;
  }
  void TearDown() override {
    runner_.reset();
    std::filesystem::remove_all(root_);
  }
  bool DirExists(const std::string& vm) {
    return access((root_ + "/w/vm/" + vm).c_str(), F_OK) == 0;
  }
  std::string root_;
  FakeHost host_;
  FakeLinks links_;
  std::unique_ptr<VmRunner> runner_;
};

TEST_F(VmRunnerTest, CreateStartsTheDomainAndMovesItsTaps) {
  auto vm = runner_->Create(Req("vm1", 5, 2));
  ASSERT_TRUE(vm.ok()) << vm.status();
  EXPECT_TRUE(vm->running());
  EXPECT_GT(vm->qemu_pid(), 0u);
  ASSERT_TRUE(host_.doms.count("cloonix.nemo.vm1"));
  EXPECT_THAT(host_.xmls["cloonix.nemo.vm1"], HasSubstr("tiny-vmlinux"));
  // Under TCG the kernel skips what costs an emulated CPU most.
  EXPECT_THAT(host_.xmls["cloonix.nemo.vm1"],
              HasSubstr("mitigations=off init_on_alloc=0 no5lvl "
                        "cryptomgr.notests "));
  // A kernel boot gets the configured firmware ROM (qboot).
  EXPECT_THAT(host_.xmls["cloonix.nemo.vm1"],
              HasSubstr("<loader readonly='yes' type='rom'>/fw/qboot.rom"
                        "</loader>"));
  const std::string tag = NetTag("nemo");
  EXPECT_THAT(links_.moves,
              ElementsAre(absl::StrCat("ct", tag, "5e0>cloonix_nemo/cx5e0"),
                          absl::StrCat("ct", tag, "5e1>cloonix_nemo/cx5e1")));
  EXPECT_TRUE(DirExists("vm1"));
  auto list = runner_->List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].name(), "vm1");
  EXPECT_EQ((*list)[0].agent(), vr::AGENT_STATE_DOWN);  // no agent here
  EXPECT_EQ(runner_->Create(Req("vm1", 5)).status().code(),
            absl::StatusCode::kAlreadyExists);
}

TEST_F(VmRunnerTest, AFailedStepLeavesNothing) {
  links_.fail_move = true;
  auto vm = runner_->Create(Req("vm1", 3));
  EXPECT_EQ(vm.status().code(), absl::StatusCode::kInternal);
  EXPECT_TRUE(host_.doms.empty());  // the domain was destroyed
  EXPECT_FALSE(DirExists("vm1"));
  links_.fail_move = false;
  host_.fail_create = true;
  EXPECT_EQ(runner_->Create(Req("vm2", 4)).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_FALSE(DirExists("vm2"));
  host_.fail_create = false;
  auto bad = runner_->Create([&] {
    auto r = Req("vm3", 6);
    r.set_image("nope");
    return r;
  }());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("nope"));
  EXPECT_TRUE(host_.doms.empty());
}

TEST_F(VmRunnerTest, DeleteRemovesDomainAndFiles) {
  ASSERT_TRUE(runner_->Create(Req("vm1", 1)).ok());
  ASSERT_TRUE(runner_->Delete("vm1").ok());
  EXPECT_TRUE(host_.doms.empty());
  EXPECT_FALSE(DirExists("vm1"));
  EXPECT_EQ(runner_->Delete("vm1").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(runner_->Delete("Bad Name").code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(VmRunnerTest, DifferentVmsAreCreatedInParallel) {
  {
    absl::MutexLock l(&host_.mu);
    host_.hold = true;
  }
  std::thread a([&] { EXPECT_TRUE(runner_->Create(Req("vm1", 1)).ok()); });
  std::thread b([&] { EXPECT_TRUE(runner_->Create(Req("vm2", 2)).ok()); });
  {
    // Both creates reach the hypervisor before either ends.
    absl::MutexLock l(&host_.mu);
    auto both = [&] { return host_.in_create == 2; };
    EXPECT_TRUE(
        host_.mu.AwaitWithTimeout(absl::Condition(&both), absl::Seconds(10)));
    host_.hold = false;
  }
  a.join();
  b.join();
  EXPECT_EQ(host_.max_in_create, 2);
  // One VM's delete waits for its create.
  {
    absl::MutexLock l(&host_.mu);
    host_.hold = true;
  }
  std::thread c([&] { EXPECT_TRUE(runner_->Create(Req("vm3", 3)).ok()); });
  {
    absl::MutexLock l(&host_.mu);
    auto in = [&] { return host_.in_create == 1; };
    ASSERT_TRUE(
        host_.mu.AwaitWithTimeout(absl::Condition(&in), absl::Seconds(10)));
  }
  std::thread d([&] { EXPECT_TRUE(runner_->Delete("vm3").ok()); });
  absl::SleepFor(absl::Milliseconds(50));
  {
    absl::MutexLock l(&host_.mu);
    EXPECT_TRUE(host_.doms.count("cloonix.nemo.vm3") == 0);
    host_.hold = false;
  }
  c.join();
  d.join();
  EXPECT_EQ(host_.doms.count("cloonix.nemo.vm3"), 0u);
}

}  // namespace
}  // namespace cloonix
