#!/usr/bin/env bash
# End-to-end: VMs and parallel requests (issue 9). `ls` answers while a VM is
# being created and shows it `creating`; the Cloonix script pattern (`add kvm`
# x3 in the background, then `add lan` of each at once, before the VMs
# exist) succeeds, all three agents come up and the VMs ping each other.
source "$(dirname "$0")/lib.sh"

build_tiny_guest
check "net start" cloonix net start

# ls during a VM create: each ls is timed; one must see v0 creating.
cloonix add kvm v0 ram=256 cpu=1 eth=1 tiny >"$E2E_ROOT/v0.out" 2>&1 &
create=$!
seen="" worst=0 n=0
while kill -0 "$create" 2>/dev/null; do
  t0=$(date +%s%N)
  line="$(cloonix ls 2>/dev/null | grep '^v0 ')"
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  (( ms > worst )) && worst=$ms
  n=$((n + 1))
  # The create still runs after this ls answered: it did not wait for it.
  [[ "$line" == *creating* ]] && kill -0 "$create" 2>/dev/null && seen=1
done
wait "$create"; rc=$?
if [[ -n "$seen" ]]; then pass "ls answers during the VM create and shows it creating ($n ls, slowest $worst ms)"
else fail "ls answers during the VM create and shows it creating" "$n ls, none saw creating; $(cat "$E2E_ROOT/v0.out")"; fi
if [[ $rc -eq 0 ]]; then pass "the create succeeded"; else fail "the create succeeded" "$(cat "$E2E_ROOT/v0.out")"; fi
check "v0 is running after the create" bash -c "cloonix ls | grep '^v0 ' | grep -q running"
check "delete v0" cloonix del v0

# The Cloonix script pattern.
t0=$(date +%s%N)
pids=()
for v in vm1 vm2 vm3; do
  cloonix add kvm "$v" ram=256 cpu=1 eth=1 tiny >"$E2E_ROOT/add-$v.out" 2>&1 & pids+=($!)
done
for v in vm1 vm2 vm3; do
  cloonix add lan "$v" eth0 lan1 >"$E2E_ROOT/lan-$v.out" 2>&1 & pids+=($!)
done
bad=""
for p in "${pids[@]}"; do wait "$p" || bad+=" pid $p"; done
if [[ -z "$bad" ]]; then pass "add kvm x3 in the background, then add lan of each at once: all succeed"
else fail "add kvm x3 in the background, then add lan of each at once: all succeed" "$(cat "$E2E_ROOT"/add-*.out "$E2E_ROOT"/lan-*.out)"; fi
up=1
for v in vm1 vm2 vm3; do wait_agent "$v" || up=""; done
s=$(( ($(date +%s%N) - t0) / 1000000 ))
if [[ -n "$up" ]]; then pass "all three agents came up (${s} ms from the first add)"
else fail "all three agents came up" "$(cloonix ls)"; fi
check "lan1 has the three VMs" bash -c "cloonix show lan1 | grep -q vm1:eth0 && cloonix show lan1 | grep -q vm2:eth0 && cloonix show lan1 | grep -q vm3:eth0"
check "addresses" bash -c "
  cloonix ssh vm1 'ip addr add 10.31.0.1/24 dev eth0 && ip link set eth0 up' &&
  cloonix ssh vm2 'ip addr add 10.31.0.2/24 dev eth0 && ip link set eth0 up' &&
  cloonix ssh vm3 'ip addr add 10.31.0.3/24 dev eth0 && ip link set eth0 up'"
check "ping vm1 -> vm3" cloonix ssh vm1 ping -c 2 -W 3 10.31.0.3
check "ping vm2 -> vm1" cloonix ssh vm2 ping -c 2 -W 3 10.31.0.1
check_agree "ls, OVS and libvirt agree"
check "delete the three at once" bash -c "
  for v in vm1 vm2 vm3; do cloonix del \$v & done; wait
  ! cloonix ls | grep -q '^vm'"
check "net stop" cloonix net stop
check_clean "nothing left after stop"
e2e_finish
