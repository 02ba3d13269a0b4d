# Shared set-up of the benchmark scripts (bash, root): builds the binaries,
# copies them into a private dir under /tmp with the busybox image, exports
# CLOONIX_* for a net named "<prefix><pid>" and sets W (the private dir), NET.
# The caller adds its own EXIT trap with bench_cleanup.
# usage: source tools/bench/lib.sh; bench_setup <net prefix>
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BENCH_BINS=(cli/cloonix services/orchestrator/cloonix-orchestrator
            services/lan_switch/cloonix-lan-switch services/cnt_runner/cloonix-cnt-runner
            services/a2b/cloonix-a2b services/vm_runner/cloonix-vm-runner
            services/doorway/cloonix-doorway services/nat/cloonix-nat services/c2c/cloonix-c2c)

bench_setup() {
  cd "$ROOT"
  local targets=()
  for b in "${BENCH_BINS[@]}"; do targets+=("//${b%/*}:${b##*/}"); done
  bazel build "${targets[@]}" //tools/images:busybox_oci >/dev/null 2>&1
  W="$(mktemp -d /tmp/cxb.XXXXXX)"
  mkdir -p "$W/bin" "$W/bulk" "$W/nets"
  for b in "${BENCH_BINS[@]}"; do cp -L "bazel-bin/$b" "$W/bin/"; done
  cp -L bazel-bin/tools/images/busybox.tar "$W/bulk/"
  export PATH="$W/bin:$PATH" CLOONIX_WORK_ROOT="$W/nets" CLOONIX_BULK_DIR="$W/bulk"
  export CLOONIX_NET="$1$$"
  NET="$CLOONIX_NET"
}

bench_cleanup() {
  cloonix net stop >/dev/null 2>&1 || true
  pkill -9 -f -- "$W" 2>/dev/null || true
  rm -rf "$W"
}

# The tiny guest (kernel + initrd, this build's agent) in the bench's bulk dir.
bench_tiny_guest() {
  bazel build //guest_agent:cloonix-agent >/dev/null 2>&1
  bash tools/images/build-tiny-guest.sh "$W/bulk" --agent bazel-bin/guest_agent/cloonix-agent >/dev/null
}

now() { date +%s.%N; }
ms_since() { echo "($(now) - $1) * 1000 / 1" | bc; }

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
