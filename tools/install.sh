#!/usr/bin/env bash
# Builds cloonix and installs its binaries in $PREFIX/bin (default /usr/local)
# and the busybox OCI image in the bulk dir. No suid bit anywhere: the daemons
# run as root because they create network namespaces, OVS and containers.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX="${PREFIX:-/usr/local}"
BULK="${CLOONIX_BULK_DIR:-/var/lib/cloonix/bulk}"
cd "$ROOT"
bash tools/install-deps.sh
echo "install: building (bazel, first build takes a few minutes on 2 cores) ..." >&2
bazel build //cli:cloonix //services/orchestrator:cloonix-orchestrator \
  //services/lan_switch:cloonix-lan-switch //services/cnt_runner:cloonix-cnt-runner \
  //services/a2b:cloonix-a2b //services/vm_runner:cloonix-vm-runner \
  //services/doorway:cloonix-doorway //services/nat:cloonix-nat //services/c2c:cloonix-c2c \
  //guest_agent:cloonix-agent \
  //tools/images:busybox_oci
install -d "$PREFIX/bin" "$BULK"
for b in cli/cloonix services/orchestrator/cloonix-orchestrator \
         services/lan_switch/cloonix-lan-switch services/cnt_runner/cloonix-cnt-runner \
         services/a2b/cloonix-a2b services/vm_runner/cloonix-vm-runner \
         services/doorway/cloonix-doorway services/nat/cloonix-nat services/c2c/cloonix-c2c; do
  install -m 0755 "bazel-bin/$b" "$PREFIX/bin/"
done
# Cloonix's commands: names of the cloonix binary (links, no suid).
for t in cloonix_net cloonix_cli cloonix_ssh cloonix_scp cloonix_osh cloonix_ocp \
         cloonix_shk cloonix_shc cloonix_wsk cloonix_gui; do
  ln -sf cloonix "$PREFIX/bin/$t"
done
install -m 0644 bazel-bin/tools/images/busybox.tar "$BULK/busybox.tar"
# The static guest agent, for images built later (build-debian-guest.sh) and
# for vm_runner's config disks (<prefix>/share/cloonix/cloonix-agent).
install -d "$PREFIX/share/cloonix"
install -m 0755 bazel-bin/guest_agent/cloonix-agent "$PREFIX/share/cloonix/"
# vm_runner puts it on every VM's config disk (delivered through hvc0).
# The tiny VM guest (kernel from Debian's linux-image, cached; ~10 s).
echo "install: building the tiny VM guest into $BULK ..." >&2
bash tools/images/build-tiny-guest.sh "$BULK" --agent bazel-bin/guest_agent/cloonix-agent >/dev/null
echo "install: cloonix installed in $PREFIX/bin; busybox and tiny images in $BULK" >&2
