// The libvirt domain XML of a cloonix VM (pure; see domain_xml_test).
// q35; PCI devices sit on the root bus pcie.0 (one slot each, from 0x01)
// when they fit in its 30 free slots, else libvirt adds a pcie-root-port
// per device.
#ifndef CLOONIX_SERVICES_VM_RUNNER_DOMAIN_XML_H_
#define CLOONIX_SERVICES_VM_RUNNER_DOMAIN_XML_H_

#include <cstdint>
#include <string>
#include <vector>

namespace cloonix {

struct VmTap {
  std::string host_name;  // tap name libvirt creates in the host netns
  std::string mac;
};

struct VmDef {
  std::string domain_name;  // cloonix.<net>.<item>
  std::string domain_type;  // "qemu" (TCG) or "kvm"
  uint32_t ram_mb = 256;
  uint32_t cpu = 1;
  std::string disk;    // qcow2 path, "" for none
  std::string kernel;  // direct kernel boot when set
  std::string initrd;
  std::string cmdline;
  std::vector<VmTap> taps;
  std::string agent_socket;  // virtio-serial port org.cloonix.agent.0
  std::string console_log;   // serial console log file
  // Agent delivery as Cloonix does it (agent_delivery.h): a read-only raw
  // disk holding the agent (serial "cloonix-cfg": in the guest
  // /dev/disk/by-id/virtio-cloonix-cfg) and a virtio console (the guest's
  // hvc0) on a unix socket QEMU listens on. "" for none.
  std::string agent_disk;
  std::string hvc_socket;
  // --cloud-init: the NoCloud seed (ISO 9660, label cidata), a read-only
  // virtio disk with serial "cloonix-seed". "" for none.
  std::string seed_disk;
  // add kvm --files: read-only virtio disk vdx, serial "cloonix-files".
  std::string files_disk;
  // Cloonix's add kvm options (cloonix.v1.KvmOptions), paths resolved.
  std::string install_cdrom;  // booted first
  std::string added_cdrom;
  std::string added_disk;
  std::string added_disk_format = "raw";  // or "qcow2"
  bool with_pxe = false;                  // network boot first
  bool no_reboot = false;                 // a guest reboot ends QEMU
  bool fullvirt = false;                  // e1000 NICs, SATA disks
  bool balloon = false;                   // virtio memballoon
  std::string emulator = "/usr/bin/qemu-system-x86_64";
  // Firmware ROM for a direct kernel boot (QEMU's -bios), e.g. qboot: ""
  // keeps the machine's default (SeaBIOS). Only used with `kernel` and
  // without `fullvirt`.
  std::string firmware;
};

std::string XmlEscape(const std::string& s);
std::string DomainXml(const VmDef& d);

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_VM_RUNNER_DOMAIN_XML_H_
