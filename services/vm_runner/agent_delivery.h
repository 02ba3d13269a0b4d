// The agent delivered as Cloonix delivers it, so that an image with nothing
// of cloonix inside turns blue: every VM gets a read-only config disk with
// the static cloonix-agent (serial "cloonix-cfg", one image shared by the
// net's VMs) and a virtio console, the guest's hvc0, on a unix socket. An
// image with root logged in on hvc0 (agetty -a root, as every Cloonix image
// has) gets the agent started through it: until the agent answers, the
// runner types into hvc0 the line that mounts the disk and starts the agent
// (DeliveryCommand), again after each reboot. A console that asks for a
// login (no autologin) is left alone; an image with its own agent answers
// before anything is typed, and the typed line does nothing when an agent
// already runs.
#ifndef CLOONIX_SERVICES_VM_RUNNER_AGENT_DELIVERY_H_
#define CLOONIX_SERVICES_VM_RUNNER_AGENT_DELIVERY_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace cloonix {

// Writes `out`: a small ext4 image (mkfs.ext4 -d, no mount) holding
// `agent` as /cloonix-agent (0755), unless `out` is already newer than
// `agent`. INTERNAL with mkfs's error.
absl::Status MakeAgentDisk(const std::string& agent, const std::string& out);

// The shell line typed into hvc0 (and cloud-init's bootcmd): copies the
// files disk (serial cloonix-files) into "/" and removes its delete list,
// once per boot, unless the initramfs did (/run/cloonix-files.done); then
// mounts the config disk read-only on /run/cloonix-cfg and starts the agent
// from it (setsid, in the background) unless a cloonix-agent runs.
std::string DeliveryCommand();

// The files disk of add kvm --files: `out`, an ext4 image (label
// cloonix-files, made with mkfs.ext4 -d, sized to its content) holding
// /tree, the dirs merged in order (PlaceFiles), and /delete, the paths to
// remove, one per line. The guest copies /tree into its root: the kernel
// sets' initramfs before init, else the delivery line.
absl::Status MakeFilesDisk(const std::string& out,
                           const std::vector<std::string>& dirs,
                           const std::vector<std::string>& deletes);

// The NoCloud seed of --cloud-init: `out` (an ISO 9660 image, volume id
// "cidata", made with genisoimage) holding meta-data (instance-id
// `instance_id`, local-hostname `hostname`) and user-data, a #cloud-config
// whose bootcmd runs DeliveryCommand() at every boot. Characters other than
// [A-Za-z0-9.-] in the id and hostname become '-'. INTERNAL with
// genisoimage's error.
absl::Status MakeCloudInitSeed(const std::string& out,
                               const std::string& instance_id,
                               const std::string& hostname);

// The user-data of that seed.
std::string CloudInitUserData();

// One delivery attempt on the hvc0 socket: a carriage return, up to
// `settle` to see what the console shows, then the command (unless it asks
// for a login: FAILED_PRECONDITION), then what follows for `settle`. What
// the console showed is appended to *seen. UNAVAILABLE when the socket does
// not answer (QEMU not up yet).
absl::Status TypeIntoHvc0(const std::string& socket, absl::Duration settle,
                          std::string* seen);

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_VM_RUNNER_AGENT_DELIVERY_H_
