#include "services/vm_runner/domain_xml.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "common/agent_wire.h"

namespace cloonix {

std::string XmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '\'':
        out += "&apos;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

namespace {

// q35's root bus pcie.0 has slots 0x01-0x1e free (0x00 is the host bridge,
// 0x1f the ICH9 functions). Devices plugged there directly (integrated
// endpoints) spare the guest the pcie-root-port per device that libvirt
// adds otherwise: under TCG, enumerating and setting up those ports costs
// ~0.15 s of boot (issue 16). Not hot-unpluggable, and cloonix hot-plugs
// nothing. A VM with more PCI devices than slots keeps libvirt's layout.
constexpr uint32_t kFirstRootSlot = 0x01;
constexpr uint32_t kLastRootSlot = 0x1e;

// The domain XML; with `flat`, each PCI device gets the next slot of pcie.0
// (*slots: how many were handed out), else no <address> (libvirt places it).
std::string BuildXml(const VmDef& d, bool flat, uint32_t* slots) {
  *slots = 0;
  auto pci = [&]() -> std::string {
    const uint32_t slot = kFirstRootSlot + (*slots)++;
    if (!flat) return "";
    char buf[96];
    std::snprintf(buf, sizeof(buf),
                  "      <address type='pci' domain='0x0000' bus='0x00' "
                  "slot='0x%02x' function='0x0'/>\n",
                  slot);
    return buf;
  };
  std::string x = absl::StrCat(
      "<domain type='", d.domain_type, "'>\n  <name>", XmlEscape(d.domain_name),
      "</name>\n  <memory unit='MiB'>", d.ram_mb, "</memory>\n  <vcpu>", d.cpu,
      "</vcpu>\n  <os>\n    <type arch='x86_64' machine='q35'>hvm</type>\n");
  if (!d.kernel.empty()) {
    absl::StrAppend(&x, "    <kernel>", XmlEscape(d.kernel), "</kernel>\n");
    if (!d.initrd.empty())
      absl::StrAppend(&x, "    <initrd>", XmlEscape(d.initrd), "</initrd>\n");
    absl::StrAppend(&x, "    <cmdline>", XmlEscape(d.cmdline), "</cmdline>\n");
    // Not with --fullvirt: qboot hangs before the kernel with an e1000 on
    // pcie.0 (seen with QEMU 7.2), and SeaBIOS is what fullvirt emulates.
    if (!d.firmware.empty() && !d.fullvirt) {
      absl::StrAppend(&x, "    <loader readonly='yes' type='rom'>",
                      XmlEscape(d.firmware), "</loader>\n");
    }
  } else {
    if (d.with_pxe) absl::StrAppend(&x, "    <boot dev='network'/>\n");
    if (!d.install_cdrom.empty())
      absl::StrAppend(&x, "    <boot dev='cdrom'/>\n");
    absl::StrAppend(&x, "    <boot dev='hd'/>\n");
  }
  // TCG: 'maximum' (custom+max is refused); KVM: the host's CPU.
  absl::StrAppend(&x, "  </os>\n  <features><acpi/></features>\n",
                  d.domain_type == "kvm" ? "  <cpu mode='host-passthrough'/>\n"
                                         : "  <cpu mode='maximum'/>\n",
                  "  <on_poweroff>destroy</on_poweroff>\n"
                  "  <on_reboot>",
                  d.no_reboot ? "destroy" : "restart",
                  "</on_reboot>\n"
                  "  <on_crash>destroy</on_crash>\n  <devices>\n    <emulator>",
                  XmlEscape(d.emulator), "</emulator>\n");
  // Disks: virtio (vdX), or SATA (sdX) with fullvirt.
  const std::string bus = d.fullvirt ? "sata" : "virtio";
  const char* pre = d.fullvirt ? "sd" : "vd";
  auto disk = [&](const std::string& file, const std::string& type,
                  const char* letter) {
    absl::StrAppend(&x,
                    "    <disk type='file' device='disk'>\n"
                    "      <driver name='qemu' type='",
                    type, "' cache='unsafe'/>\n      <source file='",
                    XmlEscape(file), "'/>\n      <target dev='", pre, letter,
                    "' bus='", bus, "'/>\n", d.fullvirt ? "" : pci(),
                    "    </disk>\n");
  };
  if (!d.disk.empty()) disk(d.disk, "qcow2", "a");
  if (!d.added_disk.empty()) disk(d.added_disk, d.added_disk_format, "b");
  auto cdrom = [&](const std::string& file, const char* dev) {
    absl::StrAppend(&x,
                    "    <disk type='file' device='cdrom'>\n"
                    "      <driver name='qemu' type='raw'/>\n"
                    "      <source file='",
                    XmlEscape(file), "'/>\n      <target dev='", dev,
                    "' bus='sata'/>\n      <readonly/>\n    </disk>\n");
  };
  if (!d.install_cdrom.empty()) cdrom(d.install_cdrom, "sdx");
  if (!d.added_cdrom.empty()) cdrom(d.added_cdrom, "sdy");
  auto ro_disk = [&](const std::string& file, const char* dev,
                     const char* serial) {
    absl::StrAppend(&x,
                    "    <disk type='file' device='disk'>\n"
                    "      <driver name='qemu' type='raw'/>\n"
                    "      <source file='",
                    XmlEscape(file), "'/>\n      <target dev='", dev,
                    "' bus='virtio'/>\n      <readonly/>\n      <serial>",
                    serial, "</serial>\n", pci(), "    </disk>\n");
  };
  if (!d.agent_disk.empty()) ro_disk(d.agent_disk, "vdz", "cloonix-cfg");
  if (!d.seed_disk.empty()) ro_disk(d.seed_disk, "vdy", "cloonix-seed");
  if (!d.files_disk.empty()) ro_disk(d.files_disk, "vdx", "cloonix-files");
  for (const auto& t : d.taps) {
    absl::StrAppend(&x, "    <interface type='ethernet'>\n      <mac address='",
                    XmlEscape(t.mac), "'/>\n      <target dev='",
                    XmlEscape(t.host_name),
                    "' managed='yes'/>\n      <model type='",
                    d.fullvirt ? "e1000" : "virtio", "'/>\n",
                    // No option ROM (iPXE) unless the VM boots from the
                    // network: SeaBIOS skips running it (issue 16).
                    d.with_pxe ? "" : "      <rom enabled='no'/>\n", pci(),
                    "    </interface>\n");
  }
  // No USB controller: nothing uses it, and SeaBIOS waits on its ports.
  absl::StrAppend(&x, "    <controller type='usb' model='none'/>\n");
  absl::StrAppend(&x, "    <controller type='virtio-serial' index='0'>\n",
                  pci(), "    </controller>\n");
  absl::StrAppend(
      &x, "    <serial type='pty'>\n      <log file='",
      XmlEscape(d.console_log),
      "' append='on'/>\n      <target port='0'/>\n    </serial>\n"
      "    <console type='pty'><target type='serial' port='0'/></console>\n");
  if (!d.hvc_socket.empty()) {
    absl::StrAppend(&x,
                    "    <console type='unix'>\n      <source mode='bind' "
                    "path='",
                    XmlEscape(d.hvc_socket),
                    "'/>\n      <target type='virtio' port='1'/>\n"
                    "    </console>\n");
  }
  absl::StrAppend(
      &x, "    <channel type='unix'>\n      <source mode='bind' path='",
      XmlEscape(d.agent_socket), "'/>\n      <target type='virtio' name='",
      wire::kAgentPortName, "'/>\n    </channel>\n");
  if (d.balloon) {
    absl::StrAppend(&x, "    <memballoon model='virtio'>\n", pci(),
                    "    </memballoon>\n");
  } else {
    absl::StrAppend(&x, "    <memballoon model='none'/>\n");
  }
  absl::StrAppend(&x, "  </devices>\n</domain>\n");
  return x;
}

}  // namespace

std::string DomainXml(const VmDef& d) {
  uint32_t slots = 0;
  std::string x = BuildXml(d, /*flat=*/true, &slots);
  if (slots <= kLastRootSlot - kFirstRootSlot + 1) return x;
  return BuildXml(d, /*flat=*/false, &slots);
}

}  // namespace cloonix
