#include "services/vm_runner/domain_xml.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cloonix {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(DomainXmlTest, TinyGuestBootsItsKernelWithTapsAndAgentChannel) {
  VmDef d;
  d.domain_name = "cloonix.nemo.vm1";
  d.domain_type = "qemu";
  d.ram_mb = 192;
  d.cpu = 2;
  d.kernel = "/b/tiny-vmlinux";
  d.initrd = "/b/tiny-initrd.img";
  d.cmdline = "console=ttyS0 cloonix_name=vm1";
  d.taps = {{"ct1a2b33e0", "2a:00:00:00:00:01"},
            {"ct1a2b33e1", "2a:00:00:00:00:02"}};
  d.agent_socket = "/w/vm/vm1/agent.sock";
  d.console_log = "/w/vm/vm1/console.log";
  std::string x = DomainXml(d);
  EXPECT_THAT(x, HasSubstr("<domain type='qemu'>"));
  EXPECT_THAT(x, HasSubstr("<memory unit='MiB'>192</memory>"));
  EXPECT_THAT(x, HasSubstr("<vcpu>2</vcpu>"));
  EXPECT_THAT(x, HasSubstr("machine='q35'"));
  EXPECT_THAT(x, HasSubstr("<kernel>/b/tiny-vmlinux</kernel>"));
  EXPECT_THAT(x, HasSubstr("<cpu mode='maximum'/>"));
  EXPECT_THAT(x, HasSubstr("<target dev='ct1a2b33e1' managed='yes'/>"));
  EXPECT_THAT(x, HasSubstr("<mac address='2a:00:00:00:00:02'/>"));
  EXPECT_THAT(x, HasSubstr("name='org.cloonix.agent.0'"));
  EXPECT_THAT(x, HasSubstr("<log file='/w/vm/vm1/console.log' append='on'/>"));
  EXPECT_THAT(x, Not(HasSubstr("<disk")));
  // No iPXE ROM and no USB controller unless asked for (boot time).
  EXPECT_THAT(x, HasSubstr("<rom enabled='no'/>"));
  EXPECT_THAT(x, HasSubstr("<controller type='usb' model='none'/>"));
  d.with_pxe = true;
  EXPECT_THAT(DomainXml(d), Not(HasSubstr("<rom enabled='no'/>")));
}

TEST(DomainXmlTest, AgentDiskAndHvc0) {
  VmDef d;
  d.domain_name = "cloonix.nemo.vm1";
  d.domain_type = "qemu";
  d.disk = "/w/vm/vm1/disk.qcow2";
  std::string plain = DomainXml(d);
  EXPECT_THAT(plain, Not(HasSubstr("cloonix-cfg")));
  EXPECT_THAT(plain, Not(HasSubstr("type='virtio' port='1'")));
  d.agent_disk = "/w/vm/agent-cfg.img";
  d.hvc_socket = "/w/vm/vm1/hvc0.sock";
  std::string x = DomainXml(d);
  EXPECT_THAT(x, HasSubstr("<source file='/w/vm/agent-cfg.img'/>"));
  EXPECT_THAT(x, HasSubstr("<readonly/>"));
  EXPECT_THAT(x, HasSubstr("<serial>cloonix-cfg</serial>"));
  // The root disk stays vda; the config disk comes after it.
  EXPECT_LT(x.find("disk.qcow2"), x.find("agent-cfg.img"));
  EXPECT_THAT(x, HasSubstr("<source mode='bind' path='/w/vm/vm1/hvc0.sock'/>"
                           "\n      <target type='virtio' port='1'/>"));
  EXPECT_THAT(x, Not(HasSubstr("cloonix-seed")));
  // --cloud-init: the seed, read-only, after the config disk; no hvc0.
  d.hvc_socket.clear();
  d.seed_disk = "/w/vm/vm1/seed.iso";
  x = DomainXml(d);
  EXPECT_THAT(x, HasSubstr("<source file='/w/vm/vm1/seed.iso'/>\n      "
                           "<target dev='vdy' bus='virtio'/>\n      "
                           "<readonly/>\n      <serial>cloonix-seed</serial>"));
  EXPECT_THAT(x, Not(HasSubstr("hvc0.sock")));
}

TEST(DomainXmlTest, DiskGuestAndEscaping) {
  VmDef d;
  d.domain_name = "cloonix.nemo.vm1";
  d.domain_type = "kvm";
  d.disk = "/w/a'b&c.qcow2";
  std::string x = DomainXml(d);
  EXPECT_THAT(x, HasSubstr("<source file='/w/a&apos;b&amp;c.qcow2'/>"));
  EXPECT_THAT(x, HasSubstr("<boot dev='hd'/>"));
  EXPECT_THAT(x, HasSubstr("host-passthrough"));
}

}  // namespace
}  // namespace cloonix
