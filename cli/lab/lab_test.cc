#include "cli/lab/lab.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "cli/lab/plan.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cloonix::cli::lab {
namespace {

namespace v1 = cloonix::v1;
using ::testing::HasSubstr;

constexpr char kLab[] = R"(net: demo
defaults:
  kvm: {image: tiny, ram: 256}
items:
  vm1: {kind: kvm, cpu: 2}
  vm2:
    kind: kvm
    eths: 2
    addresses: {eth0: 10.1.0.2/24, eth1: [10.2.0.2/24, "fd00::2/64"]}
    depends_on: vm1
  c1:
    kind: cnt
    env: {A: "1"}
    cmd: sleep 1000
    exec: ["ip route add default via 10.1.0.1"]
    wait: {command: "true"}
  ab1: {kind: a2b, dir0: {delay: 40, loss: 1}, both: {rate: 10000}}
  nat1: {kind: nat}
  lanx: {kind: lan}
lans: [spare]
cables:
  - vm1:eth0 -- lan1
  - vm2:eth0 -- lan1
  - lan2 -- vm2:eth1
  - ab1:eth0 -- lan1
  - ab1:eth1 -- lan2
  - nat1:eth0 -- lan2
  - c1:eth0 -- vm1:eth1
)";

Lab Parse(const std::string& text, std::vector<LabError>* errors) {
  Lab l = ParseLab(text, "lab.yaml", errors);
  if (errors->empty()) CheckLab(l, "", errors);
  return l;
}

std::string Errors(const std::string& text) {
  std::vector<LabError> errors;
  Parse(text, &errors);
  return FormatErrors("lab.yaml", errors);
}

TEST(LabTest, ParsesEveryPart) {
  std::vector<LabError> errors;
  Lab l = Parse(kLab, &errors);
  ASSERT_TRUE(errors.empty()) << FormatErrors("lab.yaml", errors);
  EXPECT_EQ(l.net, "demo");
  ASSERT_EQ(l.items.size(), 5u);
  const LabItem* vm1 = l.Find("vm1");
  ASSERT_NE(vm1, nullptr);
  EXPECT_EQ(vm1->item.kvm().image(), "tiny");  // from defaults
  EXPECT_EQ(vm1->item.kvm().ram_mb(), 256u);
  EXPECT_EQ(vm1->item.kvm().cpu(), 2u);
  EXPECT_EQ(vm1->item.kvm().eth_count(), 2u);  // eth1 is cabled
  EXPECT_EQ(vm1->wait, Wait::kAgent);
  const LabItem* vm2 = l.Find("vm2");
  EXPECT_EQ(vm2->addresses.at(1).size(), 2u);
  EXPECT_EQ(vm2->depends_on, std::vector<std::string>{"vm1"});
  const LabItem* c1 = l.Find("c1");
  EXPECT_EQ(c1->item.cnt().image(), "busybox");
  EXPECT_EQ(c1->item.cnt().env(0), "A=1");
  EXPECT_EQ(c1->item.cnt().command(2), "sleep 1000");
  EXPECT_EQ(c1->wait, Wait::kCommand);
  EXPECT_EQ(c1->exec.size(), 1u);
  const LabItem* ab1 = l.Find("ab1");
  EXPECT_DOUBLE_EQ(ab1->a2b[0].delay_ms(), 40);
  EXPECT_DOUBLE_EQ(ab1->a2b[0].loss_percent(), 1);
  EXPECT_EQ(ab1->a2b[0].rate_kbps(), 10000u);
  EXPECT_EQ(ab1->a2b[1].rate_kbps(), 10000u);
  EXPECT_DOUBLE_EQ(ab1->a2b[1].delay_ms(), 0);
  // lans: declared (lanx, spare), named by cables (lan1, lan2), p2p.
  EXPECT_EQ(l.lans.size(), 5u);
  EXPECT_TRUE(l.lans.count(P2pLanName("c1", 0, "vm1", 1)));
  EXPECT_EQ(l.cables.size(), 8u);
}

TEST(LabTest, P2pNamesAreStableAndValid) {
  EXPECT_EQ(P2pLanName("c1", 0, "vm1", 1), P2pLanName("vm1", 1, "c1", 0));
  std::string long_name =
      P2pLanName("a-very-long-item-name-x", 3, "another-long-name", 7);
  EXPECT_LE(long_name.size(), 31u);
  EXPECT_EQ(long_name,
            P2pLanName("another-long-name", 7, "a-very-long-item-name-x", 3));
}

TEST(LabTest, ErrorsCarryLineAndColumn) {
  EXPECT_THAT(Errors("net: demo\nitems:\n  vm1: {kind: kvm, image: t, "
                     "colour: red}\n"),
              HasSubstr("lab.yaml:3:30: unknown key \"colour\" for a kvm"));
  EXPECT_THAT(Errors("itemz: {}\n"), HasSubstr("lab.yaml:1:1: unknown key"));
  EXPECT_THAT(Errors("items:\n  Bad:Name: {kind: nat}\n"),
              HasSubstr("lab.yaml:2:3: item name \"Bad:Name\" is invalid"));
  EXPECT_THAT(Errors("items:\n  x: {kind: router}\n"),
              HasSubstr("lab.yaml:2:13: kind \"router\""));
  EXPECT_THAT(Errors("items:\n  c: {kind: cnt, eths: 99}\n"),
              HasSubstr("eths is 99; it must be 1 to 32"));
  EXPECT_THAT(Errors("items:\n  c: {kind: cnt, addresses: {eth0: 10.0.0.1}}\n"),
              HasSubstr("not an address with its prefix length"));
  EXPECT_THAT(Errors("items:\n  a: {kind: a2b, dir0: {loss: 300}}\n"),
              HasSubstr("loss"));
  EXPECT_THAT(Errors("items: [\n"), HasSubstr("lab.yaml:"));  // YAML syntax
}

TEST(LabTest, WholeFileChecks) {
  // Unknown item, unknown eth, an eth cabled twice, two nats on a lan.
  std::string e = Errors(
      "items:\n"
      "  c1: {kind: cnt, eths: 1}\n"
      "  n1: {kind: nat}\n"
      "  n2: {kind: nat}\n"
      "cables:\n"
      "  - ghost:eth0 -- lan1\n"
      "  - c1:eth3 -- lan1\n"
      "  - c1:eth0 -- lan1\n"
      "  - c1:eth0 -- lan2\n"
      "  - n1:eth0 -- lan1\n"
      "  - n2:eth0 -- lan1\n");
  EXPECT_THAT(e, HasSubstr("lab.yaml:6:5: cable: no item ghost"));
  EXPECT_THAT(e, HasSubstr("lab.yaml:7:5: c1 has no eth3"));
  EXPECT_THAT(e, HasSubstr("lab.yaml:9:5: c1:eth0 is cabled twice (first at "
                           "line 8)"));
  EXPECT_THAT(e, HasSubstr("lab.yaml:11:5: lan lan1 has two nats"));
  EXPECT_THAT(Errors("items:\n  n1: {kind: nat}\ncables:\n  - n1 -- lan1\n"),
              HasSubstr("lab.yaml:4:5: cable \"n1 -- lan1\" joins no eth"));
  // depends_on: unknown, cycle.
  e = Errors(
      "items:\n"
      "  a: {kind: cnt, depends_on: [b]}\n"
      "  b: {kind: cnt, depends_on: [c]}\n"
      "  c: {kind: cnt, depends_on: [a, zz]}\n");
  EXPECT_THAT(e, HasSubstr("depends_on cycle: a -> b -> c -> a"));
  EXPECT_THAT(e, HasSubstr("c depends_on zz, which this file does not have"));
  // A cable to a non-lan without its eth.
  e = Errors(
      "items:\n  c1: {kind: cnt}\n  c2: {kind: cnt}\ncables:\n"
      "  - c1:eth0 -- c2\n");
  EXPECT_THAT(e, HasSubstr("c2 is a cnt, not a lan: give its eth"));
}

TEST(LabTest, MissingImages) {
  char tmpl[] = "/tmp/labbulkXXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string bulk = tmpl;
  std::ofstream(bulk + "/busybox.tar") << "x";
  std::ofstream(bulk + "/tiny-vmlinux") << "x";
  std::ofstream(bulk + "/tiny-initrd.img") << "x";
  std::ofstream(bulk + "/frr.zip") << "x";
  mkdir((bulk + "/bookworm").c_str(), 0755);
  std::vector<LabError> errors;
  Lab l = ParseLab(
      "items:\n"
      "  c1: {kind: cnt}\n"
      "  c2: {kind: cnt, image: nosuch}\n"
      "  c3: {kind: cnt, image: \"alpine:3.19\"}\n"
      "  c4: {kind: cnt, image: frr.zip}\n"
      "  c5: {kind: cnt, image: bookworm}\n"
      "  v1: {kind: kvm, image: tiny}\n"
      "  v2: {kind: kvm, image: deb.qcow2}\n",
      "lab.yaml", &errors);
  ASSERT_TRUE(errors.empty());
  CheckLab(l, bulk, &errors);
  std::string e = FormatErrors("lab.yaml", errors);
  EXPECT_THAT(e, HasSubstr("lab.yaml:3:26: cnt c2: image nosuch not found"));
  EXPECT_THAT(e, HasSubstr("lab.yaml:8:26: kvm v2: image deb.qcow2 not found"));
  // busybox, alpine:3.19, the zip and dir rootfs, tiny are fine
  EXPECT_EQ(errors.size(), 2u) << e;
  std::system(("rm -rf " + bulk).c_str());
}

v1::Item Have(const LabItem& li,
              std::vector<std::pair<uint32_t, std::string>> eths = {}) {
  v1::Item it = li.item;
  for (const auto& [i, lan] : eths) {
    auto* e = it.add_eths();
    e->set_index(i);
    e->set_lan(lan);
  }
  return it;
}

v1::Item Lan(const std::string& name) {
  v1::Item it;
  it.set_name(name);
  it.set_kind(v1::ITEM_KIND_LAN);
  it.mutable_lan();
  return it;
}

TEST(PlanTest, EmptyNetGetsEverything) {
  std::vector<LabError> errors;
  Lab l = Parse(kLab, &errors);
  Plan p = MakePlan(l, {});
  EXPECT_EQ(p.creates.size(), 5u);
  EXPECT_EQ(p.lan_creates.size(), 5u);
  EXPECT_EQ(p.cables.size(), 8u);
  EXPECT_TRUE(p.deletes.empty());
  EXPECT_TRUE(p.a2b.empty());
}

TEST(PlanTest, SameNetIsNoChange) {
  std::vector<LabError> errors;
  Lab l = ParseLab(
      "items:\n  c1: {kind: cnt, eths: 2}\n  c2: {kind: cnt}\n"
      "  ab: {kind: a2b, dir1: {delay: 5}}\n"
      "cables: [c1:eth0 -- lan1, c2:eth0 -- lan1, ab:eth0 -- lan1, ab:eth1 "
      "-- lan2]\n",
      "f", &errors);
  ASSERT_TRUE(errors.empty());
  std::vector<v1::Item> now = {Have(*l.Find("c1"), {{0, "lan1"}, {1, ""}}),
                               Have(*l.Find("c2"), {{0, "lan1"}}),
                               Have(*l.Find("ab"), {{0, "lan1"}, {1, "lan2"}}),
                               Lan("lan1"), Lan("lan2")};
  Plan p = MakePlan(l, now);
  EXPECT_EQ(p.Changes(), 0u) << p.Text(now);
  EXPECT_EQ(p.Text(now), "no changes\n");
}

TEST(PlanTest, EditedFileChangesOnlyTheDifference) {
  std::vector<LabError> errors;
  Lab l = ParseLab(
      "items:\n  c1: {kind: cnt}\n  c2: {kind: cnt, image: other}\n"
      "  ab: {kind: a2b, dir0: {delay: 40}}\n"
      "cables: [c1:eth0 -- lan2, c2:eth0 -- lan1, ab:eth0 -- lan1, ab:eth1 "
      "-- lan2]\n",
      "f", &errors);
  ASSERT_TRUE(errors.empty());
  v1::Item c2_old = Have(*l.Find("c2"), {{0, "lan1"}});
  c2_old.mutable_cnt()->set_image("busybox");
  v1::Item ab_old = Have(*l.Find("ab"), {{0, "lan1"}, {1, "lan2"}});
  ab_old.mutable_a2b()->mutable_dir0()->set_delay_ms(10);
  v1::Item gone;
  gone.set_name("c3");
  gone.set_kind(v1::ITEM_KIND_CNT);
  gone.mutable_cnt();
  std::vector<v1::Item> now = {Have(*l.Find("c1"), {{0, "lan1"}}),
                               c2_old,
                               ab_old,
                               gone,
                               Lan("lan1"),
                               Lan("lan2"),
                               Lan("lan3")};
  Plan p = MakePlan(l, now);
  std::string t = p.Text(now);
  EXPECT_THAT(t, HasSubstr("- cnt c3"));
  EXPECT_THAT(t, HasSubstr("- cable c1:eth0 -- lan1"));
  EXPECT_THAT(t, HasSubstr("+ cable c1:eth0 -- lan2"));
  EXPECT_THAT(t, HasSubstr("! cnt c2 (made again: image busybox -> other)"));
  EXPECT_THAT(t, HasSubstr("~ a2b ab dir0: delay 10"));
  EXPECT_THAT(t, HasSubstr("- lan lan3"));
  ASSERT_EQ(p.creates.size(), 1u);
  EXPECT_EQ(p.creates[0]->item.name(), "c2");
  // c2 is made again: its cable too; ab's cables stay.
  int c2_cables = 0;
  for (const auto& c : p.cables) {
    EXPECT_NE(c.item, "ab");
    c2_cables += c.item == "c2";
  }
  EXPECT_EQ(c2_cables, 1);
}

TEST(PlanTest, NatplugItemsBelongToTheirOwner) {
  std::vector<LabError> errors;
  Lab l = ParseLab("items:\n  c1: {kind: cnt, eths: 2, natplug: eth1}\n", "f",
                   &errors);
  ASSERT_TRUE(errors.empty());
  v1::Item nat;
  nat.set_name("nat-c1");
  nat.set_kind(v1::ITEM_KIND_NAT);
  nat.mutable_nat()->set_natplug_of("c1");
  nat.add_eths()->set_lan("lan-c1");
  std::vector<v1::Item> now = {Have(*l.Find("c1"), {{1, "lan-c1"}}), nat,
                               Lan("lan-c1")};
  Plan p = MakePlan(l, now);
  EXPECT_EQ(p.Changes(), 0u) << p.Text(now);
  // save leaves them to natplug: too.
  std::string saved = SaveLab("n", now);
  EXPECT_THAT(saved, HasSubstr("natplug: eth1"));
  EXPECT_THAT(saved, ::testing::Not(HasSubstr("nat-c1")));
}

// A creds dir as `cloonix net creds` writes it (with its address file).
std::string CredsDir(bool with_address) {
  char tmpl[] = "/tmp/lab_test_credsXXXXXX";
  std::string dir = mkdtemp(tmpl);
  for (const char* f : {"ca.pem", "client.pem", "client.key"}) {
    std::ofstream(dir + "/" + f) << "x";
  }
  if (with_address) std::ofstream(dir + "/address") << "127.0.0.1:7001\n";
  return dir;
}

TEST(HostsTest, SplitsItemsAndJoinsSharedLansByC2c) {
  std::string creds = CredsDir(true);
  std::vector<LabError> errors;
  Lab l = ParseLab(
      "net: east\n"
      "hosts:\n  west: {creds: " +
          creds +
          "}\n"
          "items:\n"
          "  c1: {kind: cnt, depends_on: [v2]}\n"
          "  c2: {kind: cnt, host: west}\n"
          "  v2: {kind: cnt, host: west, eths: 2}\n"
          "  c3: {kind: cnt}\n"
          "cables:\n"
          "  - c1:eth0 -- lan1\n"
          "  - c2:eth0 -- lan1\n"
          "  - v2:eth0 -- lanw\n"
          "  - c3:eth0 -- v2:eth1\n",
      "lab.yaml", &errors);
  ResolvePaths("lab.yaml", &l);
  CheckLab(l, "", &errors);
  ASSERT_TRUE(errors.empty()) << FormatErrors("lab.yaml", errors);
  EXPECT_EQ(l.hosts.at("west").address, "127.0.0.1:7001");
  auto parts = SplitByHost(l, {{"west", "westnet"}});
  ASSERT_EQ(parts.size(), 2u);
  const Lab& here = parts.at("");
  const Lab& west = parts.at("west");
  EXPECT_EQ(west.net, "westnet");
  // lan1 and the p2p lan span both nets: a c2c each, made here.
  std::string p2p = P2pLanName("c3", 0, "v2", 1);
  for (const std::string& lan : {std::string("lan1"), p2p}) {
    const LabItem* mine = here.Find(C2cName(lan, "west"));
    ASSERT_NE(mine, nullptr) << lan;
    EXPECT_FALSE(mine->foreign);
    EXPECT_EQ(mine->item.c2c().peer_net(), "westnet");
    EXPECT_EQ(mine->item.c2c().peer_address(), "127.0.0.1:7001");
    EXPECT_EQ(mine->c2c_creds, creds);
    const LabItem* far = west.Find(C2cName(lan, "west"));
    ASSERT_NE(far, nullptr) << lan;
    EXPECT_TRUE(far->foreign);
    EXPECT_TRUE(here.lans.count(lan) && west.lans.count(lan)) << lan;
  }
  // lanw is the host's only.
  EXPECT_TRUE(west.lans.count("lanw"));
  EXPECT_FALSE(here.lans.count("lanw"));
  EXPECT_EQ(here.Find("c2"), nullptr);
  EXPECT_NE(west.Find("c2"), nullptr);
  // c1 depends on v2 across nets: v2 is awaited on its host, c1 no longer
  // lists it.
  EXPECT_TRUE(west.Find("v2")->awaited);
  EXPECT_TRUE(here.Find("c1")->depends_on.empty());
  // The foreign end is neither made nor cabled before it exists, and kept
  // once it does.
  Plan first = MakePlan(west, {});
  for (const LabItem* li : first.creates) EXPECT_FALSE(li->foreign);
  for (const auto& c : first.cables) {
    EXPECT_FALSE(absl::StartsWith(c.item, "c2c-")) << c.item;
  }
  v1::Item end;
  end.set_name(C2cName("lan1", "west"));
  end.set_kind(v1::ITEM_KIND_C2C);
  end.mutable_c2c()->set_peer_net("other");
  end.add_eths()->set_index(0);
  Plan second = MakePlan(west, {end});
  EXPECT_TRUE(second.deletes.empty());
  bool cabled = false;
  for (const auto& c : second.cables) cabled |= c.item == end.name();
  EXPECT_TRUE(cabled);
}

TEST(HostsTest, Errors) {
  std::string creds = CredsDir(false);
  std::string e = Errors(
      "hosts:\n"
      "  south: {address: nowhere, creds: x}\n"
      "  east: {creds: " +
      creds + ", address: 127.0.0.1:1, user: me}\n");
  EXPECT_THAT(e, HasSubstr(":2:20: address \"nowhere\" is not HOST:PORT"));
  EXPECT_THAT(e, HasSubstr("unknown key \"user\" for host east"));
  e = Errors(
      "hosts:\n"
      "  west: {creds: /nonexistent/dir}\n"
      "  north: {creds: " +
      creds +
      "}\n"
      "items:\n"
      "  c1: {kind: cnt, host: mars}\n"
      "  c2: {kind: cnt, host: west, depends_on: [c3]}\n"
      "  c3: {kind: cnt}\n");
  EXPECT_THAT(e, HasSubstr(":2:3: host west: no ca.pem in /nonexistent/dir"));
  EXPECT_THAT(e, HasSubstr(":3:3: host north: no address, and no "));
  EXPECT_THAT(e, HasSubstr("c1: no host mars under hosts:"));
  EXPECT_THAT(e, HasSubstr("c2 (on host west) depends_on c3 on this net"));
  // A relative creds dir is the file's directory's, not the caller's.
  std::vector<LabError> errors;
  Lab l = ParseLab("hosts:\n  w: {creds: creds-w}\n", "/some/dir/lab.yaml",
                   &errors);
  ResolvePaths("/some/dir/lab.yaml", &l);
  EXPECT_EQ(l.hosts.at("w").creds, "/some/dir/creds-w");
}

TEST(SaveTest, RoundTrip) {
  std::vector<LabError> errors;
  Lab l = Parse(kLab, &errors);
  ASSERT_TRUE(errors.empty());
  // The net as apply leaves it.
  std::vector<v1::Item> now;
  for (const auto& li : l.items) {
    v1::Item it = li.item;
    for (const auto& c : l.cables) {
      if (c.item != li.item.name()) continue;
      auto* e = it.add_eths();
      e->set_index(c.eth);
      e->set_lan(c.lan);
    }
    now.push_back(it);
  }
  for (const auto& [lan, _] : l.lans) now.push_back(Lan(lan));
  std::string text = SaveLab("demo", now);
  std::vector<LabError> e2;
  Lab back = Parse(text, &e2);
  ASSERT_TRUE(e2.empty()) << FormatErrors("saved", e2) << text;
  Plan p = MakePlan(back, now);
  EXPECT_EQ(p.Changes(), 0u) << p.Text(now) << text;
  EXPECT_THAT(text, ::testing::AnyOf(HasSubstr("c1:eth0 -- vm1:eth1"),
                                     HasSubstr("vm1:eth1 -- c1:eth0")));
}

TEST(SaveTest, LayoutRoundTripAndErrors) {
  std::vector<LabError> errors;
  Lab l = Parse(
      std::string(kLab) + "layout:\n  vm1: [10, -20.5]\n  lan1: [0, 300]\n",
      &errors);
  ASSERT_TRUE(errors.empty()) << FormatErrors("lab.yaml", errors);
  ASSERT_EQ(l.layout.size(), 2u);
  EXPECT_EQ(l.layout.at("vm1").y(), -20.5);
  EXPECT_EQ(l.layout.at("lan1").y(), 300);
  std::vector<v1::Item> now;
  for (const auto& li : l.items) {
    v1::Item it = li.item;
    if (l.layout.count(it.name()))
      *it.mutable_position() = l.layout.at(it.name());
    now.push_back(it);
  }
  v1::Item lan = Lan("lan1");
  *lan.mutable_position() = l.layout.at("lan1");
  now.push_back(lan);
  std::string text = SaveLab("demo", now);
  EXPECT_THAT(text, HasSubstr("vm1: [10, -20.5]")) << text;
  std::vector<LabError> e2;
  Lab back = ParseLab(text, "saved", &e2);
  ASSERT_TRUE(e2.empty()) << FormatErrors("saved", e2) << text;
  EXPECT_EQ(back.layout.at("lan1").y(), 300);
  EXPECT_EQ(back.layout.at("vm1").x(), 10);
  // Errors: not a pair, not finite, too far, a name the file lacks.
  std::string base = std::string(kLab) + "layout:\n";
  EXPECT_THAT(Errors(base + "  vm1: 3\n"), HasSubstr("[x, y]"));
  EXPECT_THAT(Errors(base + "  vm1: [1, nan]\n"), HasSubstr("[x, y]"));
  EXPECT_THAT(Errors(base + "  vm1: [1, 2e7]\n"), HasSubstr("1e6"));
  EXPECT_THAT(Errors(base + "  ghost: [1, 2]\n"),
              HasSubstr("layout: no item or lan ghost"));
  EXPECT_THAT(Errors(std::string(kLab) + "layout: [1]\n"),
              HasSubstr("a map of item or lan name"));
}

TEST(SaveTest, KvmOptionsRoundTripAndRemake) {
  std::vector<LabError> errors;
  Lab l = Parse(
      "items:\n  vm1: {kind: kvm, image: d.qcow2, added_disk: x.qcow2, "
      "install_cdrom: /i.iso, balloon: true, no_reboot: yes, cloud_init: "
      "true}\n",
      &errors);
  ASSERT_TRUE(errors.empty()) << FormatErrors("f", errors);
  const auto& o = l.Find("vm1")->item.kvm().options();
  EXPECT_EQ(o.added_disk(), "x.qcow2");
  EXPECT_EQ(o.install_cdrom(), "/i.iso");
  EXPECT_TRUE(o.balloon() && o.no_reboot() && !o.fullvirt() && o.cloud_init());
  std::vector<v1::Item> now = {l.Find("vm1")->item};
  std::string text = SaveLab("n", now);
  EXPECT_THAT(text, HasSubstr("added_disk: x.qcow2"));
  EXPECT_THAT(text, HasSubstr("balloon: true"));
  EXPECT_THAT(text, HasSubstr("cloud_init: true"));
  std::vector<LabError> e2;
  Lab back = Parse(text, &e2);
  ASSERT_TRUE(e2.empty()) << text;
  EXPECT_EQ(MakePlan(back, now).Changes(), 0u);
  // Another option makes the VM again.
  now[0].mutable_kvm()->mutable_options()->set_balloon(false);
  EXPECT_THAT(RecreateReason(l.Find("vm1")->item, now[0]),
              HasSubstr("kvm options"));
  EXPECT_THAT(Errors("items:\n  v: {kind: kvm, image: t, fullvirt: maybe}\n"),
              HasSubstr("fullvirt must be true or false"));
}

TEST(SaveTest, CntMountsAndPrivileged) {
  std::vector<LabError> errors;
  Lab l = ParseLab(
      "items:\n  c1: {kind: cnt, mounts: [\"/srv/a:/mnt/a\", "
      "\"share:/mnt/b:ro\"], privileged: true}\n",
      "/labs/x/lab.yaml", &errors);
  ASSERT_TRUE(errors.empty()) << FormatErrors("f", errors);
  ResolvePaths("/labs/x/lab.yaml", &l);
  const auto& c = l.Find("c1")->item.cnt();
  ASSERT_EQ(c.mounts_size(), 2);
  EXPECT_EQ(c.mounts(0).host_path(), "/srv/a");
  EXPECT_EQ(c.mounts(1).host_path(), "/labs/x/share");  // next to the file
  EXPECT_TRUE(c.mounts(1).readonly());
  EXPECT_TRUE(c.privileged());
  std::vector<v1::Item> now = {l.Find("c1")->item};
  std::string text = SaveLab("n", now);
  EXPECT_THAT(text, HasSubstr("/labs/x/share:/mnt/b:ro"));
  EXPECT_THAT(text, HasSubstr("privileged: true"));
  std::vector<LabError> e2;
  Lab back = Parse(text, &e2);
  ASSERT_TRUE(e2.empty()) << text;
  EXPECT_EQ(MakePlan(back, now).Changes(), 0u);
  now[0].mutable_cnt()->mutable_mounts(0)->set_readonly(true);
  EXPECT_THAT(RecreateReason(l.Find("c1")->item, now[0]), HasSubstr("mounts"));
  now[0].mutable_cnt()->set_privileged(false);
  EXPECT_THAT(RecreateReason(l.Find("c1")->item, now[0]),
              HasSubstr("privileged"));
  EXPECT_THAT(Errors("items:\n  c: {kind: cnt, mounts: [\"/a:/proc/x\"]}\n"),
              HasSubstr("under /proc"));
  EXPECT_THAT(Errors("items:\n  c: {kind: cnt, mounts: [\"/a\"]}\n"),
              HasSubstr("HOST_PATH:GUEST_PATH"));
}

TEST(SaveTest, GuestFiles) {
  std::vector<LabError> errors;
  Lab l = ParseLab(
      "items:\n"
      "  vm1: {kind: kvm, image: tiny, files: [all, /abs/vm1], delete: "
      "/etc/x}\n"
      "  c1: {kind: cnt, files: all, delete: [/a, /b/]}\n",
      "/labs/d/lab.yaml", &errors);
  ASSERT_TRUE(errors.empty()) << FormatErrors("f", errors);
  ResolvePaths("/labs/d/lab.yaml", &l);
  const auto& kf = l.Find("vm1")->item.kvm().files();
  ASSERT_EQ(kf.dirs_size(), 2);
  EXPECT_EQ(kf.dirs(0), "/labs/d/all");  // next to the file
  EXPECT_EQ(kf.dirs(1), "/abs/vm1");
  ASSERT_EQ(kf.delete__size(), 1);
  EXPECT_EQ(kf.delete_(0), "/etc/x");
  EXPECT_EQ(l.Find("c1")->item.cnt().files().delete__size(), 2);
  std::vector<v1::Item> now = {l.Find("vm1")->item, l.Find("c1")->item};
  std::string text = SaveLab("n", now);
  EXPECT_THAT(text, HasSubstr("- /labs/d/all"));
  std::vector<LabError> e2;
  Lab back = Parse(text, &e2);
  ASSERT_TRUE(e2.empty()) << text;
  EXPECT_EQ(MakePlan(back, now).Changes(), 0u);
  now[1].mutable_cnt()->mutable_files()->add_dirs("/more");
  EXPECT_THAT(RecreateReason(l.Find("c1")->item, now[1]), HasSubstr("files"));
  now[0].mutable_kvm()->mutable_files()->clear_delete_();
  EXPECT_THAT(RecreateReason(l.Find("vm1")->item, now[0]), HasSubstr("files"));
  EXPECT_THAT(Errors("items:\n  c: {kind: cnt, delete: [etc/x]}\n"),
              HasSubstr("must be absolute"));
  // Top-level files: and delete: go to every kvm and cnt, first.
  std::vector<LabError> e3;
  Lab all = ParseLab(
      "files: files_to_add_in_all_targets\n"
      "delete: [/etc/motd]\n"
      "items:\n"
      "  vm1: {kind: kvm, image: tiny, files: files_to_add_in_vm1}\n"
      "  c1: {kind: cnt}\n"
      "  n1: {kind: nat}\n",
      "/d/lab.yaml", &e3);
  ASSERT_TRUE(e3.empty()) << FormatErrors("f", e3);
  ResolvePaths("/d/lab.yaml", &all);
  const auto& vf = all.Find("vm1")->item.kvm().files();
  ASSERT_EQ(vf.dirs_size(), 2);
  EXPECT_EQ(vf.dirs(0), "/d/files_to_add_in_all_targets");
  EXPECT_EQ(vf.dirs(1), "/d/files_to_add_in_vm1");
  EXPECT_EQ(vf.delete_(0), "/etc/motd");
  EXPECT_EQ(all.Find("c1")->item.cnt().files().dirs_size(), 1);
  EXPECT_THAT(Errors("delete: [x]\nitems:\n  c: {kind: cnt}\n"),
              HasSubstr("must be absolute"));
  EXPECT_THAT(Errors("items:\n  c: {kind: cnt, delete: /a/../b}\n"),
              HasSubstr("\"..\""));
}

TEST(ClabTest, MapsLinuxNodesBridgesAndHosts) {
  std::vector<LabError> errors;
  Lab l = ParseClab(R"(name: clab1
topology:
  kinds:
    linux: {image: busybox}
  nodes:
    n1: {kind: linux, env: {X: "1"}, exec: ["ip addr add 10.0.0.1/24 dev eth1"]}
    n2: {kind: linux, image: busybox, cmd: "sleep 9"}
    br1: {kind: bridge}
  links:
    - endpoints: ["n1:eth1", "br1:eth1"]
    - endpoints: ["n2:eth1", "br1:eth2"]
    - endpoints: ["n1:eth2", "n2:eth2"]
    - endpoints: ["n2:eth3", "host:clabtap0"]
)",
                    "t.clab.yml", &errors);
  ASSERT_TRUE(errors.empty()) << FormatErrors("t", errors);
  CheckLab(l, "", &errors);
  ASSERT_TRUE(errors.empty()) << FormatErrors("t", errors);
  EXPECT_EQ(l.net, "clab1");
  const LabItem* n1 = l.Find("n1");
  ASSERT_NE(n1, nullptr);
  EXPECT_EQ(n1->item.cnt().image(), "busybox");
  EXPECT_EQ(n1->item.cnt().eth_count(), 3u);  // eth0 (management) uncabled
  EXPECT_EQ(n1->exec.size(), 1u);
  EXPECT_EQ(l.Find("n2")->item.cnt().eth_count(), 4u);
  ASSERT_NE(l.Find("clabtap0"), nullptr);
  EXPECT_EQ(l.Find("clabtap0")->item.kind(), v1::ITEM_KIND_TAP);
  EXPECT_TRUE(l.lans.count("br1"));
  EXPECT_EQ(l.cables.size(), 6u);
}

TEST(ClabTest, NamesWhatDoesNotMap) {
  std::vector<LabError> errors;
  ParseClab(R"(name: c
mgmt: {network: x}
topology:
  nodes:
    r1: {kind: nokia_srlinux, image: srl}
    n1: {kind: linux, image: busybox, binds: ["/a:/b"]}
  links:
    - endpoints: ["n1:e1-1", "r1:e1-1"]
)",
            "t.clab.yml", &errors);
  std::string e = FormatErrors("t.clab.yml", errors);
  EXPECT_THAT(e, HasSubstr("t.clab.yml:2:1: containerlab's \"mgmt\""));
  EXPECT_THAT(e, HasSubstr("kind \"nokia_srlinux\" has no cloonix equivalent"));
  EXPECT_THAT(e, HasSubstr("\"binds\" (node n1) has no cloonix equivalent"));
  EXPECT_THAT(e, HasSubstr("endpoint \"n1:e1-1\""));
  EXPECT_TRUE(LooksLikeClab("name: x\ntopology: {nodes: {}}\n"));
  EXPECT_FALSE(LooksLikeClab(kLab));
}

TEST(GraphTest, MermaidAndDot) {
  std::vector<LabError> errors;
  Lab l = Parse(kLab, &errors);
  std::string m = GraphLab(l, "mermaid");
  EXPECT_THAT(m, HasSubstr("flowchart LR"));
  EXPECT_THAT(m, HasSubstr("n_vm1[\"vm1<br/>kvm\"]"));
  EXPECT_THAT(m, HasSubstr("n_nat1{{\"nat1<br/>nat\"}}"));
  EXPECT_THAT(m, HasSubstr("n_vm1 ---|eth0| n_lan1"));
  std::string d = GraphLab(l, "dot");
  EXPECT_THAT(d, HasSubstr("graph \"demo\" {"));
  EXPECT_THAT(d, HasSubstr("\"ab1\" [shape=diamond"));
  EXPECT_THAT(d, HasSubstr("\"vm2\" -- \"lan2\" [label=\"eth1\"];"));
  // A node placed in the gui is pinned where it is drawn (inches, y up).
  l.layout["vm1"].set_x(144);
  l.layout["vm1"].set_y(72);
  d = GraphLab(l, "dot");
  EXPECT_THAT(d, HasSubstr("label=\"vm1\\nkvm\", pos=\"2.000,-1.000!\""));
  // A running net's positions reach the graph.
  v1::Item it = l.items[0].item;
  it.mutable_position()->set_x(7);
  Lab from = LabFromItems("n", {it});
  EXPECT_EQ(from.layout.at(it.name()).x(), 7);
}

}  // namespace
}  // namespace cloonix::cli::lab
