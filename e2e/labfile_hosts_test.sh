#!/usr/bin/env bash
# End-to-end: a lab file over two hosts (hosts:). Two nets on the loopback
# stand for two hosts: B runs with a TLS listener and its client credentials
# are named by the file (a path relative to the file). apply starts A with
# its listen:, makes B's items on B, joins each lan with eths on both nets by
# a c2c (a point-to-point cable too) and cables the far ends on B; pings
# cross the c2cs; a second apply changes nothing on either net; validate
# names hosts errors; destroy stops A and empties B, which keeps running.
# No traffic leaves the machine.
source "$(dirname "$0")/lib.sh"

NETB="${NET}b"
E2E_EXTRA_NETS+=("$NETB")
B() { CLOONIX_NET="$NETB" "$@"; }
S="10.$((RANDOM % 200 + 20)).$((RANDOM % 250))"   # lan1 (both nets)
W="10.$((RANDOM % 200 + 20)).$((RANDOM % 250))"   # lanw (B only)
P="10.$((RANDOM % 200 + 20)).$((RANDOM % 250))"   # p2p c1 -- c3 (across)
reaches() {  # reaches NET ITEM IP: a ping answers within 30 s
  local net="$1" item="$2" ip="$3" i
  for i in $(seq 1 60); do
    CLOONIX_NET="$net" cloonix ssh "$item" ping -c 1 -W 1 "$ip" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  return 1
}
names() { CLOONIX_NET="$1" cloonix ls -f json | python3 -c '
import json, sys
print(" ".join(sorted(i["name"] for i in json.load(sys.stdin).get("items", []))))'; }
export -f names B
export NETB

check "net B starts with a TLS listener on the loopback" B cloonix net start --listen 127.0.0.1:0
check "B's client credentials" B cloonix net creds "$E2E_ROOT/credsB"

L="$E2E_ROOT/hosts.yaml"
cat > "$L" <<EOF
listen: 127.0.0.1:0
hosts:
  hb: {creds: credsB}          # relative to this file
items:
  c1:
    kind: cnt
    eths: 2
    addresses: {eth0: $S.1/24, eth1: $P.1/24}
    depends_on: [c3]           # an item of the host
  c2: {kind: cnt, host: hb, eths: 2, addresses: {eth0: $S.2/24, eth1: $W.2/24}}
  c3: {kind: cnt, host: hb, eths: 2, addresses: {eth0: $W.3/24, eth1: $P.3/24}}
cables:
  - c1:eth0 -- lan1
  - c2:eth0 -- lan1
  - c2:eth1 -- lanw
  - c3:eth0 -- lanw
  - c1:eth1 -- c3:eth1
EOF
P2P=p2p-c1-1-c3-1   # the point-to-point lan of c1:eth1 -- c3:eth1
check "validate a file with hosts" cloonix validate -f "$L"
out="$(cloonix --net "$NET" apply -f "$L" --wait --timeout 180 2>&1)"; rc=$?
[[ $rc -eq 0 ]] && pass "apply --wait over both hosts (A started)" || fail "apply --wait over both hosts" "exit $rc: $out"
echo "$out" | grep -E '^plan|c2c' | sed 's/^/    /'
check "B holds its items, its lans and the far c2c ends" bash -c "
  [[ \"\$(names $NETB)\" == 'c2 c2c-lan1-hb c2c-$P2P-hb c3 lan1 lanw $P2P' ]]"
check "A: c1, both c2cs and their lans, nothing of B's" bash -c "
  [[ \"\$(names $NET)\" == 'c1 c2c-lan1-hb c2c-$P2P-hb lan1 $P2P' ]]"
check "the far ends are cabled on B" bash -c "
  B cloonix show c2c-lan1-hb -f json | grep -q '\"lan\": *\"lan1\"'"
check "c1 (A) reaches c2 (B) across lan1's c2c" reaches "$NET" c1 "$S.2"
check "c1 (A) reaches c3 (B) across the point-to-point cable's c2c" reaches "$NET" c1 "$P.3"
check "c2 reaches c3 on B's own lan" reaches "$NETB" c2 "$W.3"

out="$(cloonix --net "$NET" apply -f "$L" 2>&1)"; rc=$?
if [[ $rc -eq 0 && "$out" == *"no changes: net $NETB"* && "$out" == *"no changes: net $NET "* && "$out" != *"changes in"* ]]; then
  pass "a second apply changes nothing on either net"
else
  fail "a second apply changes nothing on either net" "exit $rc: $out"
fi

# hosts errors: each named with its line, nothing touched.
BAD="$E2E_ROOT/bad.yaml"
cat > "$BAD" <<EOF
hosts:
  hx: {creds: /nonexistent/creds}
  hy: {creds: credsB, address: nowhere}
items:
  c9: {kind: cnt, host: mars}
EOF
out="$(cloonix validate -f "$BAD" 2>&1)"; rc=$?
[[ $rc -eq 1 && "$out" == *"3:"*"address \"nowhere\" is not HOST:PORT"* ]] && pass "validate: a bad host address" || fail "validate: a bad host address" "exit $rc: $out"
cat > "$BAD" <<EOF
hosts:
  hx: {creds: /nonexistent/creds}
items:
  c9: {kind: cnt, host: mars}
  c8: {kind: cnt, host: hx, depends_on: [c7]}
  c7: {kind: cnt}
EOF
out="$(cloonix validate -f "$BAD" 2>&1)"; rc=$?
[[ $rc -eq 1 && "$out" == *":2:3: host hx: no ca.pem in /nonexistent/creds"* && "$out" == *"c9: no host mars"* && "$out" == *"c8 (on host hx) depends_on c7 on this net"* ]] \
  && pass "validate: creds, unknown host, depends_on across nets" || fail "validate: hosts errors" "exit $rc: $out"
before="$(names "$NET") / $(names "$NETB")"
cloonix --net "$NET" apply -f "$BAD" >/dev/null 2>&1; rc=$?
[[ $rc -eq 2 ]] && pass "apply of a bad file exits 2" || fail "apply of a bad file exits 2" "exit $rc"
check "and both nets are untouched" bash -c "[[ \"\$(names $NET) / \$(names $NETB)\" == '$before' ]]"

out="$(cloonix --net "$NET" destroy -f "$L" 2>&1)"; rc=$?
[[ $rc -eq 0 ]] && pass "destroy -f over both hosts" || fail "destroy -f over both hosts" "exit $rc: $out"
check "A is stopped" bash -c "[[ ! -e '$CLOONIX_WORK_ROOT/$NET/doorway.sock' ]]"
check "B runs, empty" bash -c "[[ -z \"\$(names $NETB)\" ]]"
e2e_finish
