// CntRunner's core against a fake runtime and fake host links: what a create
// makes (netns, veths, labels, spec), rollback when a step fails, refusals
// that change nothing, list, delete, orphan netns, and creates of different
// containers in parallel.
#include "services/cnt_runner/cnt_runner.h"

#include <cstdlib>
#include <filesystem>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cloonix {
namespace {

namespace crv1 = cloonix::cntrunner::v1;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class FakeRuntime : public ContainerRuntime {
 public:
  absl::StatusOr<std::string> PullImage(const std::string& ref) override {
    pulled.push_back(ref);
    return absl::NotFoundError(ref + " not in the fake registry");
  }
  std::vector<std::string> pulled;
  absl::StatusOr<std::string> ImportOciTarball(const std::string&) override {
    return std::string("busybox");
  }
  absl::StatusOr<ImageInfo> GetImage(const std::string& name) override {
    if (name != "busybox") return absl::NotFoundError("no image " + name);
    ImageInfo i;
    i.name = name;
    i.chain_id = "sha256:top";
    i.args = {"/bin/sh"};
    return i;
  }
  absl::Status Unpack(const ImageInfo&) override { return absl::OkStatus(); }
  absl::StatusOr<uint32_t> CreateAndStart(const ContainerParams& p) override {
    absl::MutexLock l(&mu);
    ++in_create;
    max_in_create = std::max(max_in_create, in_create);
    auto go = [&] { return !hold; };
    mu.Await(absl::Condition(&go));
    --in_create;
    if (fail_start) return absl::InternalError("runc said no");
    params[p.id] = p;
    ContainerInfo c{p.id, p.image, p.labels, 100, true};
    running[p.id] = c;
    return 100u;
  }
  absl::Status Delete(const std::string& id, absl::Duration) override {
    absl::MutexLock l(&mu);
    deleted.push_back(id);
    running.erase(id);
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<ContainerInfo>> List() override {
    absl::MutexLock l(&mu);
    std::vector<ContainerInfo> out;
    for (const auto& [id, c] : running) out.push_back(c);
    return out;
  }
  absl::StatusOr<bool> Exists(const std::string& id) override {
    absl::MutexLock l(&mu);
    return running.count(id) > 0;
  }
  absl::Mutex mu;
  std::map<std::string, ContainerParams> params;
  std::map<std::string, ContainerInfo> running;
  std::vector<std::string> deleted;
  bool hold = false, fail_start = false;
  int in_create = 0, max_in_create = 0;
};

class FakeLinks : public HostLinks {
 public:
  bool NetnsExists(const std::string& ns) override {
    absl::MutexLock l(&mu);
    return netns.count(ns) > 0;
  }
  absl::Status CreateNetns(const std::string& ns) override {
    absl::MutexLock l(&mu);
    netns.insert(ns);
    return absl::OkStatus();
  }
  absl::Status DeleteNetns(const std::string& ns) override {
    absl::MutexLock l(&mu);
    netns.erase(ns);
    for (auto it = links.begin(); it != links.end();) {
      it = it->second == ns || it->first.rfind(ns + "/", 0) == 0
               ? links.erase(it)
               : std::next(it);
    }
    return absl::OkStatus();
  }
  std::vector<std::string> ListNetns(const std::string& prefix) override {
    absl::MutexLock l(&mu);
    std::vector<std::string> out;
    for (const auto& n : netns) {
      if (n.rfind(prefix, 0) == 0) out.push_back(n);
    }
    return out;
  }
  bool LinkExists(const std::string& ns, const std::string& name) override {
    absl::MutexLock l(&mu);
    return links.count(ns + "/" + name) > 0;
  }
  absl::Status DeleteLink(const std::string& ns,
                          const std::string& name) override {
    absl::MutexLock l(&mu);
    links.erase(ns + "/" + name);
    return absl::OkStatus();
  }
  // Links are "ns/name" -> the netns of the pair's other end.
  absl::Status AddVeth(const std::string& ns, const std::string& name,
                       const std::string& mac, const std::string& peer,
                       const std::string& peer_ns) override {
    absl::MutexLock l(&mu);
    links[ns + "/" + name] = peer_ns;
    links[peer_ns + "/" + peer] = ns;
    macs[ns + "/" + name] = mac;
    return absl::OkStatus();
  }
  absl::Status MoveLink(const std::string&, const std::string&,
                        const std::string&) override {
    return absl::OkStatus();
  }
  absl::Mutex mu;
  std::set<std::string> netns = {"cloonix_nemo"};
  std::map<std::string, std::string> links, macs;
};

class CntRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::string(std::getenv("TEST_TMPDIR")) + "/cr";
    std::filesystem::remove_all(dir_);
    runner_ = std::make_unique<CntRunner>(
        CntRunnerConfig{"nemo", dir_, dir_ + "/bulk", "", {}}, &runtime_,
        &links_);
  }
  crv1::CreateContainerRequest Req(const std::string& name, uint32_t id,
                                   int eths = 1) {
    crv1::CreateContainerRequest r;
    r.set_name(name);
    r.set_image("busybox");
    for (int i = 0; i < eths; ++i) {
      auto* e = r.add_eths();
      e->set_index(static_cast<uint32_t>(i));
      e->set_port(absl::StrCat("cx", id, "e", i));
      e->set_mac(absl::StrCat("02:00:00:00:0", id, ":0", i));
    }
    return r;
  }
  std::string dir_;
  FakeRuntime runtime_;
  FakeLinks links_;
  std::unique_ptr<CntRunner> runner_;
};

TEST_F(CntRunnerTest, CreatePlumbsVethsAndLabelsTheContainer) {
  auto c = runner_->Create(Req("c1", 3, 2));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->pid(), 100u);
  EXPECT_EQ(c->netns(), "cloonix_nemo.c1");
  EXPECT_TRUE(links_.netns.count("cloonix_nemo.c1"));
  EXPECT_EQ(links_.links["cloonix_nemo.c1/eth1"], "cloonix_nemo");
  EXPECT_EQ(links_.links["cloonix_nemo/cx3e1"], "cloonix_nemo.c1");
  EXPECT_EQ(links_.macs["cloonix_nemo.c1/eth0"], "02:00:00:00:03:00");
  const ContainerParams& p = runtime_.params["c1"];
  EXPECT_EQ(p.labels.at("cloonix.net"), "nemo");
  EXPECT_THAT(p.labels.at("cloonix.eths"), HasSubstr("\"port\":\"cx3e1\""));
  EXPECT_THAT(p.spec_json, HasSubstr("/run/netns/cloonix_nemo.c1"));
  EXPECT_EQ(p.log_path, dir_ + "/cnt/c1.log");
  // Listed back from the runtime, with its eths from the label.
  auto list = runner_->ListLocked();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].eths_size(), 2);
  EXPECT_EQ((*list)[0].eths(1).port(), "cx3e1");
  EXPECT_EQ(runner_->Create(Req("c1", 4)).status().code(),
            absl::StatusCode::kAlreadyExists);
}

TEST_F(CntRunnerTest, AFailedStartLeavesNothing) {
  runtime_.fail_start = true;
  EXPECT_EQ(runner_->Create(Req("c1", 1)).status().code(),
            absl::StatusCode::kInternal);
  EXPECT_THAT(runtime_.deleted, ElementsAre("c1"));
  EXPECT_EQ(links_.netns, std::set<std::string>{"cloonix_nemo"});
  EXPECT_TRUE(links_.links.empty());
}

TEST_F(CntRunnerTest, RefusalsChangeNothing) {
  links_.links["cloonix_nemo/cx1e0"] = "";  // the port is taken
  EXPECT_EQ(runner_->Create(Req("c1", 1)).status().code(),
            absl::StatusCode::kAlreadyExists);
  auto bad_mac = Req("c2", 2);
  bad_mac.mutable_eths(0)->set_mac("02:00:00:00:00:ZZ");
  EXPECT_EQ(runner_->Create(bad_mac).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto twice = Req("c3", 3, 2);
  twice.mutable_eths(1)->set_index(0);
  EXPECT_EQ(runner_->Create(twice).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(runner_->Create(Req("Bad Name", 4)).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto no_image = Req("c5", 5);
  no_image.set_image("nope");
  auto r = runner_->Create(no_image);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("nope"));
  EXPECT_EQ(links_.netns, std::set<std::string>{"cloonix_nemo"});
  EXPECT_TRUE(runtime_.params.empty());
}

TEST_F(CntRunnerTest, DeleteAndOrphans) {
  ASSERT_TRUE(runner_->Create(Req("c1", 1)).ok());
  ASSERT_TRUE(runner_->Delete("c1").ok());
  EXPECT_FALSE(links_.netns.count("cloonix_nemo.c1"));
  EXPECT_FALSE(links_.links.count("cloonix_nemo/cx1e0"));
  EXPECT_EQ(runner_->Delete("c1").code(), absl::StatusCode::kNotFound);
  // A netns a killed create left: removed at start-up, the others kept.
  links_.netns.insert("cloonix_nemo.left");
  links_.netns.insert("cloonix_other.x");
  ASSERT_TRUE(runner_->Create(Req("c2", 2)).ok());
  ASSERT_TRUE(runner_->RemoveOrphanNetns().ok());
  EXPECT_FALSE(links_.netns.count("cloonix_nemo.left"));
  EXPECT_TRUE(links_.netns.count("cloonix_nemo.c2"));
  EXPECT_TRUE(links_.netns.count("cloonix_other.x"));
}

TEST_F(CntRunnerTest, DifferentContainersAreCreatedInParallel) {
  {
    absl::MutexLock l(&runtime_.mu);
    runtime_.hold = true;
  }
  std::vector<std::thread> t;
  for (int i = 1; i <= 3; ++i) {
    t.emplace_back([&, i] {
      EXPECT_TRUE(runner_->Create(Req(absl::StrCat("c", i), i)).ok());
    });
  }
  {
    absl::MutexLock l(&runtime_.mu);
    auto all = [&] { return runtime_.in_create == 3; };
    EXPECT_TRUE(
        runtime_.mu.AwaitWithTimeout(absl::Condition(&all), absl::Seconds(10)));
    runtime_.hold = false;
  }
  for (auto& th : t) th.join();
  EXPECT_EQ(runtime_.max_in_create, 3);
  EXPECT_EQ(runtime_.running.size(), 3u);
}

}  // namespace
}  // namespace cloonix
