// HostTaps against a fake iproute2 that keeps host links (name -> alias,
// peer) and the net's netns links: a tap is a veth marked by its alias,
// creating it again is a no-op, the host's own interfaces are never touched,
// and only this net's taps are listed or deleted.
#include "services/lan_switch/host_taps.h"

#include <map>
#include <set>

#include "absl/strings/str_join.h"
#include "gtest/gtest.h"

namespace cloonix {
namespace {

class FakeIp : public CommandRunner {
 public:
  absl::StatusOr<ExecResult> Run(
      const std::vector<std::string>& argv) override {
    ExecResult r;
    r.exit_code = 0;
    const std::string cmd = absl::StrJoin(argv, " ");
    calls.push_back(cmd);
    auto link_json = [&](const std::string& n) {
      std::string j = "{\"ifname\":\"" + n + "\"";
      if (!host[n].empty()) j += ",\"ifalias\":\"" + host[n] + "\"";
      return j + "}";
    };
    if (cmd == "ip -j link show") {
      std::vector<std::string> all;
      for (const auto& [n, a] : host) all.push_back(link_json(n));
      r.out = "[" + absl::StrJoin(all, ",") + "]";
    } else if (argv.size() == 6 && argv[1] == "-j") {  // show dev NAME
      if (!host.count(argv[5]))
        r.exit_code = 1;
      else
        r.out = "[" + link_json(argv[5]) + "]";
    } else if (argv.size() == 7 && argv[1] == "-n" && argv[4] == "show") {
      r.exit_code = ns.count(argv[6]) ? 0 : 1;
    } else if (argv.size() >= 4 && argv[1] == "link" && argv[2] == "add") {
      // ip link add NAME type veth peer name PORT netns NS
      if (host.count(argv[3]) || ns.count(argv[8])) r.exit_code = 2;
      host[argv[3]] = "";
      peer[argv[3]] = argv[8];
      ns.insert(argv[8]);
    } else if (argv.size() == 7 && argv[5] == "alias") {
      host[argv[4]] = argv[6];
    } else if (argv.size() == 4 && argv[2] == "del") {
      ns.erase(peer[argv[3]]);
      host.erase(argv[3]);
    } else if (argv.size() == 6 && argv[4] == "del") {
      ns.erase(argv[5]);
    } else if (cmd.find(" up") == std::string::npos) {
      r.exit_code = 99;  // unknown to the fake
    }
    return r;
  }
  std::map<std::string, std::string> host;  // name -> alias
  std::map<std::string, std::string> peer;
  std::set<std::string> ns;
  std::vector<std::string> calls;
};

TEST(HostTapsTest, CreatesAMarkedVethAndIsIdempotent) {
  auto ip = std::make_shared<FakeIp>();
  HostTaps taps("n1", ip);
  ASSERT_TRUE(taps.Create("tap0", "cx3e0").ok());
  EXPECT_EQ(ip->host["tap0"], "cloonix:n1:tap");
  EXPECT_TRUE(ip->ns.count("cx3e0"));
  size_t calls = ip->calls.size();
  ASSERT_TRUE(taps.Create("tap0", "cx3e0").ok());
  for (size_t i = calls; i < ip->calls.size(); ++i)
    EXPECT_EQ(ip->calls[i].find("add"), std::string::npos) << ip->calls[i];
  auto list = taps.List();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(*list, std::vector<std::string>{"tap0"});
}

TEST(HostTapsTest, NeverTouchesTheHostsOwnInterfaces) {
  auto ip = std::make_shared<FakeIp>();
  ip->host["eth0"] = "";
  ip->host["uplink"] = "my nic";
  ip->host["t1"] = "cloonix:other:tap";  // another net's tap
  HostTaps taps("n1", ip);
  for (const char* n : {"eth0", "uplink", "t1"}) {
    absl::Status s = taps.Create(n, "cx4e0");
    EXPECT_TRUE(absl::IsAlreadyExists(s)) << n << ": " << s;
    EXPECT_NE(s.message().find("choose another"), std::string::npos);
    EXPECT_TRUE(taps.Delete(n).ok());
  }
  EXPECT_EQ(ip->host.size(), 3u);
  EXPECT_EQ(ip->host["uplink"], "my nic");
  EXPECT_TRUE(ip->ns.empty()) << "nothing made for a refused tap";
  auto list = taps.List();
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->empty());
}

TEST(HostTapsTest, DeleteRemovesBothEndsAndRecreatesAMissingPeer) {
  auto ip = std::make_shared<FakeIp>();
  HostTaps taps("n1", ip);
  ASSERT_TRUE(taps.Create("tap0", "cx3e0").ok());
  ip->ns.erase("cx3e0");  // the peer went (e.g. renamed by hand)
  ASSERT_TRUE(taps.Create("tap0", "cx3e0").ok());
  EXPECT_TRUE(ip->ns.count("cx3e0"));
  ASSERT_TRUE(taps.Delete("tap0").ok());
  EXPECT_FALSE(ip->host.count("tap0"));
  EXPECT_FALSE(ip->ns.count("cx3e0"));
  EXPECT_TRUE(taps.Delete("tap0").ok()) << "a missing tap is deleted";
}

TEST(HostTapsTest, RefusesBadNames) {
  auto ip = std::make_shared<FakeIp>();
  HostTaps taps("n1", ip);
  EXPECT_TRUE(absl::IsInvalidArgument(taps.Create("a-name-too-long-x", "p")));
  EXPECT_TRUE(absl::IsInvalidArgument(taps.Create("a/b", "p")));
  EXPECT_TRUE(ip->calls.empty());
}

}  // namespace
}  // namespace cloonix
