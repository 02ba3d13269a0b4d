# Shared helpers of cloonix's end-to-end tests (bash). Real daemons, real OVS,
# real containerd; needs root. Each test gets a short private work root under
# /tmp (unix socket paths are limited to 107 bytes), a unique net name, its
# own copy of the binaries, and a cleanup trap that runs even on failure.
# Every check is recorded as a JUnit test case in $XML_OUTPUT_FILE.
set -uo pipefail

RUNFILES="${TEST_SRCDIR:-$(pwd)}/cloonix"
E2E_ROOT="$(mktemp -d /tmp/cxe.XXXXXX)"
E2E_BIN="$E2E_ROOT/bin"
export CLOONIX_WORK_ROOT="$E2E_ROOT/nets"
export CLOONIX_BULK_DIR="$E2E_ROOT/bulk"
export CLOONIX_NET="${E2E_NET_PREFIX:-e2e}$(tr -dc a-z0-9 </dev/urandom | head -c 6)"
NET="$CLOONIX_NET"
# common/names.cc NetTag: 5 hex digits of the FNV-1a hash of a net's name,
# in the names of the host interfaces the net makes.
net_tag() {
  python3 -c '
import sys
h = 2166136261
for c in sys.argv[1].encode():
    h = ((h ^ c) * 16777619) & 0xffffffff
print("%05x" % (h & 0xfffff))' "$1"
}
mkdir -p "$E2E_BIN" "$CLOONIX_WORK_ROOT" "$CLOONIX_BULK_DIR"
for b in cli/cloonix services/orchestrator/cloonix-orchestrator \
         services/lan_switch/cloonix-lan-switch services/cnt_runner/cloonix-cnt-runner \
         services/a2b/cloonix-a2b services/vm_runner/cloonix-vm-runner \
         services/doorway/cloonix-doorway services/nat/cloonix-nat services/c2c/cloonix-c2c e2e/grpc_probe; do
  cp -L "$RUNFILES/$b" "$E2E_BIN/"
done
# The agent beside vm_runner: every VM gets it on its config disk (delivered
# through hvc0 to images with root autologin there, as Cloonix's).
cp -L "$RUNFILES/guest_agent/cloonix-agent" "$E2E_BIN/"
cp -L "$RUNFILES/tools/images/busybox.tar" "$CLOONIX_BULK_DIR/busybox.tar"
# Cloonix's commands are names of the cloonix binary (cli/cloonix_compat.h).
for t in cloonix_net cloonix_cli cloonix_ssh cloonix_scp cloonix_osh cloonix_ocp \
         cloonix_shk cloonix_shc cloonix_wsk cloonix_gui; do
  ln -s cloonix "$E2E_BIN/$t"
done
export PATH="$E2E_BIN:$PATH"

E2E_PASSED=0
E2E_FAILED=0
E2E_CASES=""
E2E_SUITE="$(basename "$0" .sh)"

_xml_escape() { sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' -e 's/"/\&quot;/g'; }

# pass NAME / fail NAME MESSAGE: record one check.
pass() {
  E2E_PASSED=$((E2E_PASSED + 1))
  echo "PASS: $1"
  E2E_CASES+="<testcase classname=\"$E2E_SUITE\" name=\"$(echo "$1" | _xml_escape)\"/>"
}
fail() {
  E2E_FAILED=$((E2E_FAILED + 1))
  echo "FAIL: $1: ${2:-}" >&2
  E2E_CASES+="<testcase classname=\"$E2E_SUITE\" name=\"$(echo "$1" | _xml_escape)\"><failure message=\"$(echo "${2:-}" | head -c 2000 | _xml_escape)\"/></testcase>"
}
# check NAME CMD...: pass if CMD succeeds.
check() {
  local name="$1"; shift
  local out
  if out="$("$@" 2>&1)"; then pass "$name"; else fail "$name" "$out"; fi
}
# expect_code NAME CODE CMD...: CMD must fail, with CODE (a gRPC code name) on stderr.
expect_code() {
  local name="$1" code="$2"; shift 2
  local out rc
  out="$("$@" 2>&1)"; rc=$?
  if [[ $rc -ne 0 && "$out" == *"$code"* ]]; then
    pass "$name"
    echo "    -> $out"
  else
    fail "$name" "exit $rc, want $code: $out"
  fi
}

# wait_agent NAME: until `cloonix ssh NAME true` works (60 s at most).
wait_agent() {
  for _ in $(seq 1 120); do cloonix ssh "$1" true 2>/dev/null && return 0; sleep 0.5; done
  return 1
}

# wait_orchestrator_back OLD_PID: until the net answers with another
# orchestrator (the keeper restarts a killed one), 30 s at most.
wait_orchestrator_back() {
  for _ in $(seq 1 300); do
    local p
    p="$(cloonix net show -f json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["orchestrator_pid"])' 2>/dev/null)"
    [[ -n "$p" && "$p" != "$1" ]] && return 0
    sleep 0.1
  done
  return 1
}

# The pid of a container's init, to run the container's own binaries.
cnt_pid() { ip netns pids "cloonix_${NET}.$1" | head -1; }
# Run a command inside a container (its mount, pid and net namespaces).
in_cnt() { local c="$1"; shift; nsenter -t "$(cnt_pid "$c")" -m -p -n "$@"; }

# Everything a net (default: the test's) leaves behind, one line per object;
# empty when clean. Only what is named for that net: other nets may run on the
# machine beside the test.
leftovers() {
  local net="${1:-$NET}" tag
  tag="$(net_tag "$net")"
  ip netns list | grep -E "^cloonix_${net}(\.| |$)" | sed 's/^/netns /'
  pgrep -af -- "$CLOONIX_WORK_ROOT/$net(/| |$)" | grep -v pgrep | awk '$2 !~ /defunct/' | sed 's/^/process /'
  # Host interfaces of the net: VM taps before they move, nat veth ends.
  ip -o link show | grep -E " (ct${tag}[0-9]+e[0-9]+|cn${tag}[0-9]+|cc${tag}[0-9]+)[@:]" | sed 's/^/link /'
  # The net's taps: host interfaces marked with its alias.
  ip -o link show | grep -F "alias cloonix:${net}:tap" | sed 's/^/tap /'
  virsh -c qemu:///system list --all --name 2>/dev/null | grep -F "cloonix.$net." | sed 's/^/domain /'
  ls -d /var/run/dpdk/cx*-"$net" 2>/dev/null | sed 's/^/dpdk /'
  mount | grep -F "$CLOONIX_WORK_ROOT/$net/" | sed 's/^/mount /'
  # cgroups runc made for the net, container logs.
  ls -d /sys/fs/cgroup/*/cloonix/"$net" 2>/dev/null | sed 's/^/cgroup /'
  find "$CLOONIX_WORK_ROOT/$net/cnt" -name '*.log' 2>/dev/null | sed 's/^/file /'
  # runc state of the net's containerd namespace.
  ls -A "/run/containerd/runc/cloonix-$net" 2>/dev/null | sed 's/^/runc /'
  find "$CLOONIX_WORK_ROOT/$net" \( -name '*.sock' -o -name '*.pid' -o -name 'state.json*' \
    -o -name containerd -o -name ovs -o -name '*.qcow2' -o -name doorway.addr -o -name phys.json \) 2>/dev/null | sed 's/^/file /'
}

# Stops a net (default: the test's) and removes what a failed stop left.
e2e_cleanup_net() {
  local net="${1:-$NET}"
  CLOONIX_NET="$net" cloonix net stop >/dev/null 2>&1 || true
  for d in $(virsh -c qemu:///system list --name 2>/dev/null | grep -F "cloonix.$net."); do
    virsh -c qemu:///system destroy "$d" >/dev/null 2>&1 || true
  done
  pkill -9 -f -- "$CLOONIX_WORK_ROOT/$net(/| |$)" 2>/dev/null || true
  for ns in $(ip netns list | awk '{print $1}' | grep -E "^cloonix_${net}(\.|$)"); do
    ip netns delete "$ns" 2>/dev/null || true
  done
  for t in $(ip -o link show | grep -F "alias cloonix:${net}:tap" | awk -F': ' '{print $2}' | cut -d@ -f1); do
    ip link delete "$t" 2>/dev/null || true
  done
}

# Extra nets a test starts (their cleanup runs with the test's own).
E2E_EXTRA_NETS=()

# keep_logs: when a check failed, the nets' daemon logs (and the kernel's
# segfault lines) go to Bazel's undeclared outputs
# (bazel-testlogs/<test>/test.outputs/outputs.zip) before the work root goes.
keep_logs() {
  [[ $E2E_FAILED -gt 0 && -n "${TEST_UNDECLARED_OUTPUTS_DIR:-}" ]] || return 0
  local d
  for d in "$CLOONIX_WORK_ROOT"/*/log; do
    [[ -d "$d" ]] && cp -r "$d" "$TEST_UNDECLARED_OUTPUTS_DIR/$(basename "$(dirname "$d")")-log" 2>/dev/null
  done
  for d in "$CLOONIX_WORK_ROOT"/*/vm/*/hvc0.log; do
    [[ -f "$d" ]] && cp "$d" "$TEST_UNDECLARED_OUTPUTS_DIR/$(basename "$(dirname "$d")")-hvc0.log" 2>/dev/null
  done
  dmesg 2>/dev/null | grep -iE 'segfault|general protection|cloonix' | tail -50 \
    > "$TEST_UNDECLARED_OUTPUTS_DIR/dmesg.txt" 2>/dev/null
  return 0
}

e2e_cleanup() {
  local n
  for n in "${E2E_EXTRA_NETS[@]}" "$NET"; do e2e_cleanup_net "$n"; done
  keep_logs
  # Belt and braces if the stop failed: kill what runs under our work root.
  pkill -9 -f -- "$E2E_ROOT" 2>/dev/null || true
  for m in $(mount | awk '{print $3}' | grep -F "$E2E_ROOT" | sort -r); do umount -l "$m" 2>/dev/null; done
  rm -rf "$E2E_ROOT"
}

# check_clean NAME [NET]: pass NAME if nothing of NET (default: the test's)
# is left, else fail it with the list.
check_clean() {
  local left
  left="$(leftovers "${2:-$NET}")"
  if [[ -z "$left" ]]; then pass "$1"; else fail "$1" "$left"; fi
}

# build_tiny_guest: the tiny guest in the bulk dir, built from the kernel
# cache with this build's agent; on failure the test ends.
build_tiny_guest() {
  if ! bash "$RUNFILES/tools/images/build-tiny-guest.sh" "$CLOONIX_BULK_DIR" \
      --agent "$RUNFILES/guest_agent/cloonix-agent" >"$E2E_ROOT/image.log" 2>&1; then
    fail "build the tiny guest" "$(tail -5 "$E2E_ROOT/image.log")"
    e2e_finish; exit 1
  fi
  pass "build the tiny guest"
}

# check_agree NAME: pass NAME if the net's topology (ls) and what runs (OVS
# bridges and ports, container netns, containerd, libvirt) agree, with no
# item left creating or deleting (e2e/agree.py).
check_agree() {
  check "$1" python3 "$RUNFILES/e2e/agree.py" "$NET" "$CLOONIX_WORK_ROOT/$NET"
}

e2e_finish() {
  local total=$((E2E_PASSED + E2E_FAILED))
  if [[ -n "${XML_OUTPUT_FILE:-}" ]]; then
    printf '<?xml version="1.0" encoding="UTF-8"?>\n<testsuites><testsuite name="%s" tests="%d" failures="%d">%s</testsuite></testsuites>\n' \
      "$E2E_SUITE" "$total" "$E2E_FAILED" "$E2E_CASES" > "$XML_OUTPUT_FILE"
  fi
  echo "$E2E_SUITE: $E2E_PASSED passed, $E2E_FAILED failed"
  [[ $E2E_FAILED -eq 0 && $total -gt 0 ]]
}

trap 'e2e_cleanup' EXIT

if [[ $(id -u) -ne 0 ]]; then
  echo "e2e tests need root (network namespaces, OVS, containerd)" >&2
  exit 1
fi
