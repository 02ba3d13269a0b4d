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
  //services/a2b:cloonix-a2b \
  //tools/images:busybox_oci
install -d "$PREFIX/bin" "$BULK"
for b in cli/cloonix services/orchestrator/cloonix-orchestrator \
         services/lan_switch/cloonix-lan-switch services/cnt_runner/cloonix-cnt-runner \
         services/a2b/cloonix-a2b; do
  install -m 0755 "bazel-bin/$b" "$PREFIX/bin/"
done
install -m 0644 bazel-bin/tools/images/busybox.tar "$BULK/busybox.tar"
echo "install: cloonix installed in $PREFIX/bin, busybox image in $BULK" >&2
