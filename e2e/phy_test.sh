#!/usr/bin/env bash
# End-to-end: Cloonix's phy. A veth stands in for a host NIC: one end in the
# host's netns (the "NIC", with an address, an MTU, and a route through it),
# its peer in a netns the test makes (the far side of the wire).
# - absorb: the NIC leaves the host; a container on the lan reaches the far
#   side (ping, an HTTP transfer checked by md5); after `del`, after `net
#   stop`, and after kill -9 of every daemon of the net plus `net stop`, the
#   NIC is back in the host's netns with its address, MTU, state and route.
# - macvlan: the NIC never leaves the host, which keeps reaching the far side
#   while the container does too (the macvlan takes the container's MAC).
# - bad input: a missing NIC, lo, a NIC another phy (of this net or of
#   another net) holds, a NIC holding its netns' default route without
#   --force: clear errors, nothing changed.
# Addresses: a random 10.x.y.0/24 on the test's veth and netns only.
source "$(dirname "$0")/lib.sh"

R="$(tr -dc a-z0-9 </dev/urandom | head -c 6)"
NIC="xn$R"
FAR="cxfar$R"
DRNS="cxdr$R"
SUB="10.$((RANDOM % 200 + 20)).$((RANDOM % 250))"
ROUTE="10.$((RANDOM % 200 + 20)).$((RANDOM % 250)).0/24"

phy_cleanup() {
  e2e_cleanup
  ip link del "$NIC" 2>/dev/null
  ip netns del "$FAR" 2>/dev/null
  ip netns del "$DRNS" 2>/dev/null
}
trap phy_cleanup EXIT

ip netns add "$FAR"
ip link add "$NIC" type veth peer name far0 netns "$FAR"
ip link set dev "$NIC" mtu 1450 up
ip addr add "$SUB.1/24" dev "$NIC"
ip route add "$ROUTE" via "$SUB.2" dev "$NIC"
ip -n "$FAR" link set dev far0 mtu 1450 up
ip -n "$FAR" link set dev lo up
ip -n "$FAR" addr add "$SUB.2/24" dev far0

# The NIC as the host had it: address, MTU, UP, route.
nic_back_now() {
  ip -o addr show dev "$NIC" 2>/dev/null | grep -q "inet $SUB.1/24" &&
    ip -o link show dev "$NIC" | grep -q "mtu 1450" &&
    ip -o link show dev "$NIC" | grep -q ",UP" &&
    ip route show "$ROUTE" | grep -q "via $SUB.2 dev $NIC" &&
    ! ip -o link show dev "$NIC" | grep -q "alias cloonix" &&
    ping -c 1 -W 2 "$SUB.2" >/dev/null
}
# The NIC back as it was, within 5 s (a NIC moved back from another netns
# comes up with its carrier a moment after the move); else what differs.
nic_is_back() {
  local i
  for i in $(seq 1 10); do nic_back_now && return 0; sleep 0.5; done
  ip -o addr show dev "$NIC"; ip -o link show dev "$NIC"; ip route show "$ROUTE"
  return 1
}
c1_reaches_far() {
  for i in $(seq 1 20); do
    cloonix ssh c1 ping -c 1 -W 1 "$SUB.2" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  return 1
}

check "net start" cloonix net start
check "add cnt c1" cloonix add cnt c1 busybox eth=1
check "cable c1" cloonix add lan c1 eth0 lan1
check "c1 address" cloonix ssh c1 ip addr add "$SUB.5/24" dev eth0

# absorb
check "add phy p1 $NIC (absorb)" cloonix add phy p1 "$NIC"
check "the NIC left the host" bash -c "! ip link show dev $NIC 2>/dev/null"
check "show p1: running, absorb, its NIC" bash -c \
  "cloonix show p1 -f json | python3 -c 'import json,sys; i=json.load(sys.stdin); p=i[\"phy\"]; assert i[\"state\"]==\"ITEM_STATE_RUNNING\" and p[\"host_ifname\"]==\"$NIC\" and p.get(\"mode\",\"PHY_MODE_ABSORB\") in (\"PHY_MODE_ABSORB\",\"PHY_MODE_UNSPECIFIED\") and len(p[\"mac\"])==17, i'"
check "cable p1" cloonix add lan p1 eth0 lan1
check "c1 pings the far side through the absorbed NIC" c1_reaches_far

mkdir -p "$E2E_ROOT/www"
head -c 3000000 /dev/urandom > "$E2E_ROOT/www/blob"
want="$(md5sum < "$E2E_ROOT/www/blob" | cut -d' ' -f1)"
PORT=$((20000 + RANDOM % 20000))
ip netns exec "$FAR" python3 -m http.server "$PORT" --bind "$SUB.2" \
  --directory "$E2E_ROOT/www" >/dev/null 2>&1 &
HTTP_PID=$!
sleep 1
check "c1 gets 3 MB over TCP from the far side, intact" bash -c \
  "[[ \$(cloonix ssh c1 wget -q -O - http://$SUB.2:$PORT/blob | md5sum | cut -d' ' -f1) == $want ]]"
kill "$HTTP_PID" 2>/dev/null; wait "$HTTP_PID" 2>/dev/null

# Restarts keep it: lan_switch reloads its records, the port stays.
kill -9 "$(cat "$CLOONIX_WORK_ROOT/$NET/lan_switch.pid")"
sleep 2
check "after kill -9 of lan_switch: c1 still reaches the far side" c1_reaches_far
opid="$(cloonix net show -f json | python3 -c 'import json,sys; print(json.load(sys.stdin)["orchestrator_pid"])')"
kill -9 "$opid"
wait_orchestrator_back "$opid"
check "after kill -9 of the orchestrator: c1 still reaches the far side" c1_reaches_far
check_agree "ls, OVS and the host agree"

# Another phy on the same NIC, here and from another net: refused.
expect_code "a second phy on the absorbed NIC" FAILED_PRECONDITION cloonix add phy p2 "$NIC"
NET2="${NET}b"
E2E_EXTRA_NETS+=("$NET2")
check "start a second net" env CLOONIX_NET="$NET2" cloonix net start
expect_code "another net cannot take the NIC" FAILED_PRECONDITION \
  env CLOONIX_NET="$NET2" cloonix add phy q1 "$NIC"
check "the refusal names the phy and net" bash -c \
  "CLOONIX_NET=$NET2 cloonix add phy q1 $NIC 2>&1 | grep -q 'phy p1 of net $NET'"
check "stop the second net" env CLOONIX_NET="$NET2" cloonix net stop

check "del p1" cloonix del p1
check "after del: the NIC is back with its address, MTU, state and route" nic_is_back

# net stop gives it back.
check "add phy p1 again" cloonix add phy p1 "$NIC"
check "cable it" cloonix add lan p1 eth0 lan1
check "c1 reaches the far side again" c1_reaches_far
check "net stop" cloonix net stop
check "after net stop: the NIC is back" nic_is_back
check_clean "nothing of the net left after stop"

# kill -9 of every daemon, then net stop: the records file gives it back.
check "net start again" cloonix net start
check "add cnt c1 again" cloonix add cnt c1 busybox eth=1
check "add phy p1, cabled with c1" bash -c \
  "cloonix add phy p1 $NIC && cloonix add lan p1 eth0 lan1 && cloonix add lan c1 eth0 lan1"
check "c1 address again" cloonix ssh c1 ip addr add "$SUB.5/24" dev eth0
check "c1 reaches the far side" c1_reaches_far
pkill -9 -f -- "$CLOONIX_WORK_ROOT/$NET(/| |$)"
sleep 1
check "every daemon of the net is dead" bash -c \
  "! pgrep -f -- '$CLOONIX_WORK_ROOT/$NET(/| |$)' >/dev/null"
check "the NIC is still the net's" bash -c "! ip link show dev $NIC 2>/dev/null"
check "net stop after kill -9 of everything" cloonix net stop
check "after kill -9 + net stop: the NIC is back" nic_is_back
check_clean "nothing of the net left"

# macvlan: the host keeps the NIC.
check "net start (macvlan)" cloonix net start
check "add cnt c1 (macvlan)" cloonix add cnt c1 busybox eth=1
check "add phy m1 $NIC --mode macvlan" cloonix add phy m1 "$NIC" --mode macvlan
check "cable m1 and c1" bash -c \
  "cloonix add lan m1 eth0 lan1 && cloonix add lan c1 eth0 lan1"
check "c1 address (macvlan)" cloonix ssh c1 ip addr add "$SUB.6/24" dev eth0
check "the NIC stays the host's, with its address" bash -c \
  "ip -o addr show dev $NIC | grep -q 'inet $SUB.1/24'"
c1mac="$(cloonix show c1 -f json | python3 -c 'import json,sys; print(json.load(sys.stdin)["eths"][0]["mac"])')"
check "the macvlan takes c1's MAC" bash -c \
  "for i in \$(seq 1 20); do cloonix show m1 -f json | grep -qi '\"mac\": *\"$c1mac\"' && exit 0; sleep 0.5; done; exit 1"
check "c1 pings the far side through the macvlan" c1_reaches_far
check "the host pings the far side meanwhile" ping -c 2 -W 2 "$SUB.2"
check "del m1" cloonix del m1
check "after del: the NIC is as it was" nic_is_back

# Bad input: clear errors, nothing changes.
ip netns add "$DRNS"
ip -n "$DRNS" link add drnic type veth peer name drpeer
ip -n "$DRNS" link set dev drnic up
ip -n "$DRNS" link set dev drpeer up
ip -n "$DRNS" addr add 192.168.77.1/24 dev drnic
ip -n "$DRNS" route add default via 192.168.77.254
before="$(cloonix ls -f json)"
drbefore="$(ip -n "$DRNS" -o addr show dev drnic)"
expect_code "a NIC that does not exist" NOT_FOUND cloonix add phy p9 nosuchnic0
expect_code "lo" INVALID_ARGUMENT cloonix add phy p9 lo
expect_code "the NIC of the default route, absorb, no --force" FAILED_PRECONDITION \
  cloonix add phy p9 drnic --netns "$DRNS"
check "the refusal says --force" bash -c \
  "cloonix add phy p9 drnic --netns $DRNS 2>&1 | grep -q -- '--force'"
check "that NIC untouched" bash -c \
  "[[ \"\$(ip -n $DRNS -o addr show dev drnic)\" == '$drbefore' ]] && ip -n $DRNS route | grep -q 'default via 192.168.77.254'"
expect_code "a netns that does not exist" NOT_FOUND cloonix add phy p9 eth0 --netns "cxnone$R"
check "a bad mode is a usage error" bash -c "! cloonix add phy p9 $NIC --mode bridge"
check "bad input changed nothing" bash -c "[[ '$before' == \"\$(cloonix ls -f json)\" ]]"
check "with --force (in that netns) it is absorbed, and given back with its default route" bash -c \
  "cloonix add phy p9 drnic --netns $DRNS --force && ! ip -n $DRNS link show dev drnic 2>/dev/null && cloonix del p9 && ip -n $DRNS route | grep -q 'default via 192.168.77.254 dev drnic' && [[ \"\$(ip -n $DRNS -o addr show dev drnic)\" == '$drbefore' ]]"

check "net stop (macvlan)" cloonix net stop
check "the NIC is as it was at the end" nic_is_back
check_clean "nothing left after stop"
e2e_finish
