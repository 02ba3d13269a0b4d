#include "services/vm_runner/domain_xml.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cloonix {
namespace {

using ::testing::ElementsAre;
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

// Every PCI address in `x`, as "slot.function" strings, in document order.
std::vector<std::string> PciSlots(const std::string& x) {
  std::vector<std::string> out;
  const std::string key = "<address type='pci' domain='0x0000' bus='0x00' ";
  for (size_t at = x.find(key); at != std::string::npos;
       at = x.find(key, at + 1)) {
    size_t s = x.find("slot='", at) + 6;
    size_t f = x.find("function='", at) + 10;
    out.push_back(x.substr(s, 4) + "." + x.substr(f, 3));
  }
  return out;
}

TEST(DomainXmlTest, PciDevicesSitOnTheRootBusOneSlotEach) {
  VmDef d;
  d.domain_name = "cloonix.nemo.vm1";
  d.domain_type = "qemu";
  d.disk = "/w/disk.qcow2";
  d.agent_disk = "/w/agent-cfg.img";
  d.taps = {{"t0", "2a:00:00:00:00:01"}, {"t1", "2a:00:00:00:00:02"}};
  d.balloon = true;
  std::string x = DomainXml(d);
  // disk, config disk, 2 NICs, the virtio-serial controller, the balloon:
  // consecutive slots from 0x01, never 0x1f (ICH9), all on bus 0.
  EXPECT_THAT(PciSlots(x), ElementsAre("0x01.0x0", "0x02.0x0", "0x03.0x0",
                                       "0x04.0x0", "0x05.0x0", "0x06.0x0"));
  EXPECT_THAT(x, HasSubstr("<controller type='virtio-serial' index='0'>"));
  EXPECT_THAT(x, HasSubstr("<memballoon model='virtio'>"));
  // NICs in eth order: eth0 gets the lower slot (the guest probes by slot).
  EXPECT_LT(x.find("2a:00:00:00:00:01"), x.find("2a:00:00:00:00:02"));
  EXPECT_THAT(x, Not(HasSubstr("pcie-root-port")));

  // SATA disks and e1000 NICs (fullvirt): the disks take no PCI slot.
  d.fullvirt = true;
  d.balloon = false;
  EXPECT_THAT(PciSlots(DomainXml(d)),
              ElementsAre("0x01.0x0", "0x02.0x0", "0x03.0x0", "0x04.0x0"));

  // More devices than the root bus's 30 free slots: libvirt's own layout
  // (a pcie-root-port each), no address given at all.
  d.fullvirt = false;
  d.taps.clear();
  for (int i = 0; i < 29; ++i)
    d.taps.push_back({absl::StrCat("t", i), "2a:00:00:00:00:01"});
  EXPECT_EQ(PciSlots(DomainXml(d)).size(), 0u);  // 29 + 2 disks + serial
  d.taps.pop_back();
  d.taps.pop_back();
  EXPECT_EQ(PciSlots(DomainXml(d)).size(), 30u);  // 27 + 2 + 1: fits
  EXPECT_EQ(PciSlots(DomainXml(d)).back(), "0x1e.0x0");
}

TEST(DomainXmlTest, FirmwareRomOnlyForAKernelBoot) {
  VmDef d;
  d.domain_name = "cloonix.nemo.vm1";
  d.domain_type = "qemu";
  d.firmware = "/usr/share/qemu/qboot.rom";
  d.disk = "/w/disk.qcow2";
  // A disk boot needs SeaBIOS (qboot boots kernels only).
  EXPECT_THAT(DomainXml(d), Not(HasSubstr("<loader")));
  d.disk.clear();
  d.kernel = "/b/tiny-vmlinux";
  std::string x = DomainXml(d);
  EXPECT_THAT(x, HasSubstr("<loader readonly='yes' type='rom'>"
                           "/usr/share/qemu/qboot.rom</loader>"));
  // Inside <os>, after the kernel.
  EXPECT_LT(x.find("<kernel>"), x.find("<loader"));
  EXPECT_LT(x.find("<loader"), x.find("</os>"));
  // --fullvirt (e1000 NICs) keeps SeaBIOS: qboot hangs with an e1000.
  d.fullvirt = true;
  EXPECT_THAT(DomainXml(d), Not(HasSubstr("<loader")));
  d.fullvirt = false;
  d.firmware.clear();
  EXPECT_THAT(DomainXml(d), Not(HasSubstr("<loader")));
}

}  // namespace
}  // namespace cloonix
