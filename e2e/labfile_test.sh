#!/usr/bin/env bash
# End-to-end: lab files (cloonix apply / validate / save / destroy / graph).
# A lab of 2 VMs, 3 containers, a nat and an a2b between two lans, with
# addresses: apply --wait brings it up and every guest pings its neighbours;
# a second apply is a no-op; an edited file changes only the difference (same
# pids for the rest); save -> destroy -> apply(saved) gives the same net;
# validate catches each class of error with file:line and bad files never
# touch the net; two copies of one file under two net names at once, each
# on its own; a containerlab file with linux nodes and a bridge pings.
source "$(dirname "$0")/lib.sh"

build_tiny_guest
L="$E2E_ROOT/lab.yaml"
cat > "$L" <<EOF
net: labnet-not-used   # --net wins
defaults:
  kvm: {image: tiny, ram: 192}
items:
  vm1: {kind: kvm, addresses: {eth0: 10.61.0.11/24}}
  vm2: {kind: kvm, addresses: {eth0: 10.61.0.12/24}}
  c1: {kind: cnt, addresses: {eth0: 10.61.0.1/24}}
  c2:
    kind: cnt
    addresses: {eth0: 10.61.0.2/24}
    exec: ["echo made > /tmp/exec-ran"]
    depends_on: [c1]
  c3: {kind: cnt, eths: 2, addresses: {eth0: 10.61.0.3/24}}
  ab1: {kind: a2b, dir0: {delay: 10}, dir1: {delay: 10}}
  nat1: {kind: nat}
cables:
  - vm1:eth0 -- lan1
  - c1:eth0 -- lan1
  - c2:eth0 -- lan1
  - ab1:eth0 -- lan1
  - ab1:eth1 -- lan2
  - vm2:eth0 -- lan2
  - c3:eth0 -- lan2
  - nat1:eth0 -- lan2
EOF
ADDRS="10.61.0.11 10.61.0.12 10.61.0.1 10.61.0.2 10.61.0.3"

check "validate a good file" cloonix validate -f "$L"
check "graph of the file (mermaid)" bash -c "cloonix graph -f '$L' | grep -q 'n_vm1 ---|eth0| n_lan1'"
check "graph of the file (dot)" bash -c "cloonix graph -f '$L' --format dot | grep -q '\"ab1\" \\[shape=diamond'"
check "apply --dry-run on a net that does not run changes nothing" bash -c "
  cloonix --net $NET apply -f '$L' --dry-run | grep -q '+ kvm vm1' && [[ ! -e '$CLOONIX_WORK_ROOT/$NET/doorway.sock' ]]"

t0=$(date +%s.%N)
if out="$(cloonix --net "$NET" apply -f "$L" --wait --timeout 240 2>&1)"; then
  pass "apply --wait brings the lab up (net started) in $(echo "$(date +%s.%N) - $t0" | bc | cut -c1-5) s"
else
  fail "apply --wait brings the lab up" "$out"
fi
echo "$out" | tail -5 | sed 's/^/    /'

pings_ok() {
  local g a bad=""
  for g in vm1 vm2 c1 c2 c3; do
    for a in $ADDRS; do
      cloonix ssh "$g" ping -c 1 -W 3 "$a" >/dev/null 2>&1 || bad+=" $g->$a"
    done
  done
  [[ -z "$bad" ]] || { echo "no answer:$bad"; return 1; }
}
check "every guest pings its neighbours (through ab1 too)" pings_ok
check "exec ran in c2 (after c1, its depends_on)" bash -c "[[ \$(cloonix ssh c2 cat /tmp/exec-ran) == made ]]"
check "ab1 has its delay" bash -c "cloonix show ab1 | grep -q 'delay 10'"

# The net without what moves on its own (pids, lease ages, counters).
shape() {
  cloonix ls -f json | python3 -c '
import json, sys
out = []
for i in json.load(sys.stdin)["items"]:
    spec = {k: v for k, v in i.items() if k in ("kvm", "cnt", "a2b", "nat", "lan", "tap", "phy", "c2c")}
    for s in spec.values():
        for k in ("pid", "agent_up", "domain_type", "console_log", "netns", "macs", "counters0",
                  "counters1", "leases", "bridge", "endpoints"):
            s.pop(k, None)
    out.append((i["name"], i["kind"], sorted((e.get("index", 0), e.get("lan", "")) for e in i.get("eths", [])),
                json.dumps(spec, sort_keys=True)))
print(sorted(out))'
}
pids() {  # name:pid of every guest
  cloonix ls -f json | python3 -c '
import json, sys
for i in json.load(sys.stdin)["items"]:
    s = i.get("kvm") or i.get("cnt")
    if s: print("%s:%s" % (i["name"], s.get("pid", 0)))' | sort
}
before_ls="$(shape)"
before_pids="$(pids)"
out="$(cloonix --net "$NET" apply -f "$L" --wait 2>&1)"; rc=$?
if [[ $rc -eq 0 && "$out" == *"no changes"* && "$(shape)" == "$before_ls" && "$(pids)" == "$before_pids" ]]; then
  pass "a second apply is a no-op"
else
  fail "a second apply is a no-op" "exit $rc: $out"
fi

# Edited: c2 removed, ab1's delay changed, c3 moved to lan1.
L2="$E2E_ROOT/lab2.yaml"
cat > "$L2" <<EOF
net: labnet-not-used
defaults:
  kvm: {image: tiny, ram: 192}
items:
  vm1: {kind: kvm, addresses: {eth0: 10.61.0.11/24}}
  vm2: {kind: kvm, addresses: {eth0: 10.61.0.12/24}}
  c1: {kind: cnt, addresses: {eth0: 10.61.0.1/24}}
  c3: {kind: cnt, eths: 2, addresses: {eth0: 10.61.0.3/24}}
  ab1: {kind: a2b, dir0: {delay: 40}, dir1: {delay: 10}}
  nat1: {kind: nat}
cables:
  - vm1:eth0 -- lan1
  - c1:eth0 -- lan1
  - ab1:eth0 -- lan1
  - ab1:eth1 -- lan2
  - vm2:eth0 -- lan2
  - c3:eth0 -- lan1
  - nat1:eth0 -- lan2
EOF
check "the edited file is valid" cloonix validate -f "$L2"
out="$(cloonix --net "$NET" apply -f "$L2" 2>&1)"; rc=$?
plan="$(echo "$out" | sed -n '/^plan/,/^  [-+~!] .* s$/p' | grep -E '^  [-+~!] ' | grep -vE ' s$' | sort)"
want="$(printf '  + cable c3:eth0 -- lan1\n  - cable c3:eth0 -- lan2\n  - cnt c2\n  ~ a2b ab1 dir0: delay 10 ms -> delay 40 ms\n' | sort)"
if [[ $rc -eq 0 && "$plan" == "$want" ]]; then
  pass "the edited file applies only the difference"
else
  fail "the edited file applies only the difference" "exit $rc; plan:
$plan
want:
$want
$out"
fi
after_pids="$(pids)"
check "the other guests are untouched (same pids)" bash -c "
  [[ '$(echo "$before_pids" | grep -v '^c2:')' == '$after_pids' ]]"
check "c2 is gone, c3 is on lan1, ab1 dir0 is 40 ms" bash -c "
  ! cloonix show c2 >/dev/null 2>&1 &&
  cloonix show c3 | grep -q 'lan1' && cloonix show ab1 | grep -q 'delay 40'"
check "c3 reaches c1 on lan1 now" cloonix ssh c3 ping -c 1 -W 3 10.61.0.1

# save -> destroy -> apply(saved): the same net, ids aside.
S="$E2E_ROOT/saved.yaml"
before_shape="$(shape)"
check "save -f" cloonix save -f "$S"
check "the saved file is valid" cloonix validate -f "$S"
check "destroy -f (the saved file names the net)" cloonix destroy -f "$S"
check_clean "nothing left after destroy"
check "destroy again: nothing to do, exit 0" cloonix destroy -f "$S"
check "apply of the saved file (no --net: its net:)" cloonix apply -f "$S" --wait --timeout 240
after_shape="$(shape)"
if [[ "$before_shape" == *vm1* && "$before_shape" == "$after_shape" ]]; then pass "same net after save, destroy, apply"
else fail "same net after save, destroy, apply" "before: $before_shape
after:  $after_shape"; fi

# validate: each class of error, with file:line; apply of a bad file changes
# nothing.
bad() {  # bad NAME WANT: the file on stdin must fail validate with WANT
  local f="$E2E_ROOT/bad.yaml" out rc
  cat > "$f"
  out="$(cloonix validate -f "$f" 2>&1)"; rc=$?
  if [[ $rc -eq 1 && "$out" == *"bad.yaml$2"* ]]; then pass "validate: $1"; echo "    -> $(echo "$out" | head -1)"
  else fail "validate: $1" "exit $rc: $out"; fi
}
bad "an unknown key" ':4:19: unknown key "colour"' <<'EOF'
net: x
items:
  c1: {kind: cnt}
  c2: {kind: cnt, colour: red}
EOF
bad "a bad name" ':2:3: item name "1Bad" is invalid' <<'EOF'
items:
  1Bad: {kind: cnt}
EOF
bad "an unknown eth" ':5:5: c1 has no eth2' <<'EOF'
items:
  c1: {kind: cnt, eths: 2}
cables:
  - c1:eth0 -- lan1
  - c1:eth2 -- lan1
EOF
bad "an eth cabled twice" ':5:5: c1:eth0 is cabled twice' <<'EOF'
items:
  c1: {kind: cnt}
cables:
  - c1:eth0 -- lan1
  - c1:eth0 -- lan2
EOF
bad "two nats on a lan" ':4:27: lan lan1 has two nats' <<'EOF'
items:
  n1: {kind: nat}
  n2: {kind: nat}
cables: [n1:eth0 -- lan1, n2:eth0 -- lan1]
EOF
bad "a depends_on cycle" ':2:30: depends_on cycle: a -> b -> a' <<'EOF'
items:
  a: {kind: cnt, depends_on: b}
  b: {kind: cnt, depends_on: a}
EOF
bad "a missing image" ':2:26: cnt c1: image nosuchimage not found' <<'EOF'
items:
  c1: {kind: cnt, image: nosuchimage}
EOF
bad "an unknown item in a cable" ':2:10: cable: no item ghost' <<'EOF'
items: {}
cables: [ghost:eth0 -- lan1]
EOF
bad "YAML syntax" ':3:1: end of map flow not found' <<'EOF'
items:
  c1: {kind: cnt
EOF
# Untouched: same items, settings and cables, same guest processes (a kvm's
# live agent_up is not compared: under load it may flap between two calls).
before_ls="$(shape; pids)"
cat > "$E2E_ROOT/bad.yaml" <<'EOF'
items:
  c1: {kind: cnt}
  zz: {kind: cnt, image: nosuchimage}
EOF
out="$(cloonix apply -f "$E2E_ROOT/bad.yaml" 2>&1)"; rc=$?
after_ls="$(shape; pids)"
if [[ $rc -eq 2 && "$out" == *"image nosuchimage not found"* && "$after_ls" == "$before_ls" ]]; then
  pass "apply of a bad file: exit 2, the net untouched"
else
  fail "apply of a bad file: exit 2, the net untouched" "exit $rc: $out
before: $before_ls
after:  $after_ls"
fi
check "graph of the running net" bash -c "cloonix graph | grep -q 'n_c3 ---|eth0| n_lan1'"
check "destroy" cloonix destroy
check_clean "nothing left of the lab"

# Two copies of one file at once under two net names (the CI case).
P="$E2E_ROOT/pair.yaml"
cat > "$P" <<'EOF'
items:
  c1: {kind: cnt, addresses: {eth0: 10.62.0.1/24}}
  c2: {kind: cnt, addresses: {eth0: 10.62.0.2/24}}
cables: [c1:eth0 -- lan1, c2:eth0 -- lan1]
EOF
NA="${NET}a" NB="${NET}b"
E2E_EXTRA_NETS+=("$NA" "$NB")
cloonix --net "$NA" apply -f "$P" --wait >"$E2E_ROOT/a.log" 2>&1 &
PA=$!
cloonix --net "$NB" apply -f "$P" --wait >"$E2E_ROOT/b.log" 2>&1 &
PB=$!
wait $PA; ra=$?; wait $PB; rb=$?
if [[ $ra -eq 0 && $rb -eq 0 ]]; then pass "two copies applied at once both come up"
else fail "two copies applied at once both come up" "$ra $rb: $(tail -3 "$E2E_ROOT/a.log") $(tail -3 "$E2E_ROOT/b.log")"; fi
mac_of() { cloonix --net "$1" ls -f json | python3 -c "
import json, sys
print([e['mac'] for i in json.load(sys.stdin)['items'] if i['name'] == 'c2' for e in i['eths']][0])"; }
for n in "$NA" "$NB"; do
  check "net $n: c1 reaches its own c2 (MAC of $n's c2)" bash -c "
    cloonix --net $n ssh c1 ping -c 1 -W 3 10.62.0.2 >/dev/null &&
    cloonix --net $n ssh c1 ip neigh show 10.62.0.2 | grep -qi '$(mac_of "$n")'"
done
for n in "$NA" "$NB"; do
  check "destroy $n" cloonix --net "$n" destroy
  check_clean "nothing left of $n" "$n"
done

# A containerlab file: linux nodes and a bridge.
C="$E2E_ROOT/srl.clab.yml"
cat > "$C" <<EOF
name: $NET
topology:
  kinds:
    linux: {image: busybox}
  nodes:
    n1:
      kind: linux
      exec: ["ip addr add 10.63.0.1/24 dev eth1", "ip link set eth1 up"]
    n2:
      kind: linux
      env: {ROLE: "two"}
      exec: ["ip addr add 10.63.0.2/24 dev eth1", "ip link set eth1 up"]
    br1: {kind: bridge}
  links:
    - endpoints: ["n1:eth1", "br1:eth1"]
    - endpoints: ["n2:eth1", "br1:eth2"]
EOF
check "containerlab file: validate" cloonix validate -f "$C"
check "containerlab file: apply --wait" cloonix apply -f "$C" --wait
check "containerlab file: n1 pings n2 over br1" cloonix ssh n1 ping -c 1 -W 3 10.63.0.2
check "containerlab file: env reaches the node" bash -c "cloonix ssh n2 env | grep -q ROLE=two"
check "containerlab file: destroy" cloonix destroy -f "$C"
check_clean "nothing left after the containerlab lab"
e2e_finish
