// HostPhys on real iproute2: a veth in a netns this test makes stands in for
// the host's NIC ("nic0", its peer in a far netns), netns cloonix_<net> is
// made by the test too. Checks that an absorbed NIC comes back with its
// addresses, MTU, state and routes (after a delete, and from the records file
// after a "crash"), that macvlan leaves the NIC in place, and that bad
// requests change nothing. Needs root.
#include "services/lan_switch/host_phys.h"

#include <unistd.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/exec.h"
#include "gtest/gtest.h"

namespace cloonix {
namespace {

std::string Sh(const std::string& cmd) {
  auto r = Exec({"sh", "-c", cmd});
  return r.ok() ? r->out + r->err : "exec failed";
}

class HostPhysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (getuid() != 0) GTEST_SKIP() << "needs root";
    const std::string id = std::to_string(getpid());
    net_ = "phyt" + id;
    host_ = "cxphh" + id;
    far_ = "cxphf" + id;
    dir_ = ::testing::TempDir() + "/phys" + id;
    Sh("mkdir -p " + dir_);
    for (const auto& ns : {host_, far_, "cloonix_" + net_})
      ASSERT_EQ(Sh("ip netns add " + ns), "");
    ASSERT_EQ(Sh("ip -n " + host_ +
                 " link add nic0 type veth peer name far0 "
                 "netns " +
                 far_),
              "");
    Sh("ip -n " + host_ + " link set dev nic0 mtu 1400 up");
    Sh("ip -n " + host_ + " addr add 10.77.0.1/24 dev nic0");
    Sh("ip -n " + host_ + " -6 addr add fd77::1/64 nodad dev nic0");
    Sh("ip -n " + host_ + " route add 10.88.0.0/16 via 10.77.0.2");
    Sh("ip -n " + far_ + " link set dev far0 up");
    Sh("ip -n " + far_ + " addr add 10.77.0.2/24 dev far0");
  }
  void TearDown() override {
    if (net_.empty()) return;
    for (const auto& ns :
         {"cloonix_" + net_, "cloonix_" + net_ + "b", host_, far_})
      Sh("ip netns del " + ns + " 2>/dev/null");
    Sh("rm -rf " + dir_);
  }
  PhyRequest Req(const std::string& name, bool macvlan = false) {
    PhyRequest r;
    r.name = name;
    r.nic = "nic0";
    r.host_netns = host_;
    r.macvlan = macvlan;
    r.port = "cxp1e0";
    return r;
  }
  std::string HostLink() {
    return Sh("ip -n " + host_ + " -d addr show dev nic0");
  }
  HostPhys Phys(const std::string& net = "") {
    return HostPhys(net.empty() ? net_ : net, dir_ + "/" + net_ + ".json",
                    std::to_string(getpid()),
                    std::make_shared<RealCommandRunner>());
  }
  std::string net_, host_, far_, dir_;
};

TEST_F(HostPhysTest, AbsorbMovesTheNicAndDeleteGivesItBackAsItWas) {
  HostPhys phys = Phys();
  auto mac = phys.Create(Req("p1"));
  ASSERT_TRUE(mac.ok()) << mac.status();
  EXPECT_EQ(mac->size(), 17u);
  EXPECT_TRUE(absl::StrContains(HostLink(), "does not exist"));
  std::string port = Sh("ip -n cloonix_" + net_ + " link show dev cxp1e0");
  EXPECT_TRUE(absl::StrContains(port, "UP")) << port;
  EXPECT_TRUE(absl::StrContains(
      port, "alias cloonix:" + net_ + ":phy:p1:nic0@" + host_))
      << port;
  auto list = phys.List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_TRUE((*list)[0].present);
  // Idempotent.
  EXPECT_TRUE(phys.Create(Req("p1")).ok());

  ASSERT_TRUE(phys.Delete("p1").ok());
  std::string back = HostLink();
  EXPECT_TRUE(absl::StrContains(back, "10.77.0.1/24")) << back;
  EXPECT_TRUE(absl::StrContains(back, "fd77::1/64")) << back;
  EXPECT_TRUE(absl::StrContains(back, "mtu 1400")) << back;
  EXPECT_TRUE(absl::StrContains(back, ",UP")) << back;
  EXPECT_FALSE(absl::StrContains(back, "cloonix")) << back;
  std::string routes = Sh("ip -n " + host_ + " route");
  EXPECT_TRUE(absl::StrContains(routes, "10.88.0.0/16 via 10.77.0.2"))
      << routes;
  EXPECT_TRUE(absl::StrContains(
      Sh("ip netns exec " + host_ + " ping -c1 -W2 10.77.0.2"), " 0% packet"));
  ASSERT_TRUE(phys.List().ok());
  EXPECT_TRUE(phys.List()->empty());
}

TEST_F(HostPhysTest, TheRecordsGiveTheNicBackAfterACrash) {
  {
    HostPhys phys = Phys();
    ASSERT_TRUE(phys.Create(Req("p1")).ok());
  }  // lan_switch killed: only the file remains
  HostPhys again = Phys();
  ASSERT_TRUE(again.Load().ok());
  auto list = again.List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_TRUE((*list)[0].present);
  ASSERT_TRUE(again.GiveBackAll().ok());
  EXPECT_TRUE(absl::StrContains(HostLink(), "10.77.0.1/24"));
}

TEST_F(HostPhysTest, MacvlanLeavesTheNicToTheHost) {
  HostPhys phys = Phys();
  auto mac = phys.Create(Req("m1", /*macvlan=*/true));
  ASSERT_TRUE(mac.ok()) << mac.status();
  EXPECT_TRUE(absl::StrContains(HostLink(), "10.77.0.1/24"));
  std::string port = Sh("ip -n cloonix_" + net_ + " -d link show dev cxp1e0");
  EXPECT_TRUE(absl::StrContains(port, "macvlan mode bridge")) << port;
  ASSERT_TRUE(phys.SetMac("m1", "02:aa:bb:cc:dd:01").ok());
  EXPECT_TRUE(
      absl::StrContains(Sh("ip -n cloonix_" + net_ + " link show dev cxp1e0"),
                        "02:aa:bb:cc:dd:01"));
  ASSERT_TRUE(phys.Delete("m1").ok());
  EXPECT_TRUE(absl::StrContains(
      Sh("ip -n cloonix_" + net_ + " link show dev cxp1e0"), "does not exist"));
  EXPECT_TRUE(absl::StrContains(HostLink(), "10.77.0.1/24"));
}

TEST_F(HostPhysTest, BadRequestsChangeNothing) {
  HostPhys phys = Phys();
  PhyRequest missing = Req("p1");
  missing.nic = "nope0";
  EXPECT_EQ(phys.Create(missing).status().code(), absl::StatusCode::kNotFound);
  PhyRequest lo = Req("p1");
  lo.nic = "lo";
  EXPECT_EQ(phys.Create(lo).status().code(),
            absl::StatusCode::kInvalidArgument);
  // The NIC holding the default route is absorbed only with force.
  Sh("ip -n " + host_ + " route add default via 10.77.0.2");
  const std::string before = HostLink();
  auto refused = phys.Create(Req("p1"));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "--force"))
      << refused.status();
  EXPECT_EQ(HostLink(), before);
  PhyRequest forced = Req("p1");
  forced.force = true;
  ASSERT_TRUE(phys.Create(forced).ok());
  // Another net cannot take it (nor another phy of this net).
  Sh("ip netns add cloonix_" + net_ + "b");
  HostPhys other = Phys(net_ + "b");
  auto taken = other.Create(Req("q1"));
  EXPECT_EQ(taken.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(
      absl::StrContains(taken.status().message(), "phy p1 of net " + net_))
      << taken.status();
  PhyRequest twice = Req("p2");
  twice.port = "cxp2e0";
  EXPECT_EQ(phys.Create(twice).status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(phys.Delete("p1").ok());
  std::string routes = Sh("ip -n " + host_ + " route");
  EXPECT_TRUE(absl::StrContains(routes, "default via 10.77.0.2")) << routes;
  // A host netns that does not exist.
  PhyRequest nons = Req("p3");
  nons.host_netns = "cxnone" + std::to_string(getpid());
  EXPECT_EQ(phys.Create(nons).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace cloonix
