#!/usr/bin/env bash
# End-to-end: Cloonix's tap. `add tap` makes a host interface whose other end
# is a port on a lan; the host, given an address on it, reaches a container
# on that lan (ping, an HTTP transfer checked by md5). The tap survives kill
# -9 of lan_switch and of the orchestrator; `del` and `net stop` remove it; a
# name the host already uses, or one too long for an interface, is refused
# and nothing changes. Addresses: a random 10.x.y.0/24 on the tap only.
source "$(dirname "$0")/lib.sh"

TAP="tp$(tr -dc a-z0-9 </dev/urandom | head -c 6)"
SUB="10.$((RANDOM % 200 + 20)).$((RANDOM % 250))"
W="$CLOONIX_WORK_ROOT/$NET"

check "net start" cloonix net start
check "add cnt c1" cloonix add cnt c1 busybox eth=1
check "add tap $TAP" cloonix add tap "$TAP"
check "the host has interface $TAP, up" bash -c "ip -o link show dev $TAP | grep -q 'state UP\|,UP'"
check "cable c1" cloonix add lan c1 eth0 lan1
check "cable the tap" cloonix add lan "$TAP" eth0 lan1
check "ls shows the tap running on lan1" bash -c \
  "cloonix show $TAP -f json | python3 -c 'import json,sys; i=json.load(sys.stdin); assert i[\"state\"]==\"ITEM_STATE_RUNNING\" and i[\"eths\"][0][\"lan\"]==\"lan1\", i'"
check "host address on the tap" ip addr add "$SUB.1/24" dev "$TAP"
check "c1 address" cloonix ssh c1 ip addr add "$SUB.2/24" dev eth0
check "host pings c1 through the tap" ping -c 3 -W 2 -I "$TAP" "$SUB.2"

# TCP: c1 fetches 5 MB from an HTTP server the test runs on the tap's address.
mkdir -p "$E2E_ROOT/www"
head -c 5000000 /dev/urandom > "$E2E_ROOT/www/blob"
want="$(md5sum < "$E2E_ROOT/www/blob" | cut -d' ' -f1)"
PORT=$((20000 + RANDOM % 20000))
python3 -m http.server "$PORT" --bind "$SUB.1" --directory "$E2E_ROOT/www" >/dev/null 2>&1 &
HTTP_PID=$!
sleep 1
check "c1 gets 5 MB from the host over TCP through the tap, intact" bash -c \
  "[[ \$(cloonix ssh c1 wget -q -O - http://$SUB.1:$PORT/blob | md5sum | cut -d' ' -f1) == $want ]]"
kill "$HTTP_PID" 2>/dev/null; wait "$HTTP_PID" 2>/dev/null

# Restarts keep it working.
pkill -9 -f "cloonix-lan-switch --net=$NET"
sleep 3
check "after kill -9 of lan_switch: the host still pings c1" \
  bash -c "for i in \$(seq 1 20); do ping -c 1 -W 1 -I $TAP $SUB.2 >/dev/null && exit 0; sleep 0.5; done; exit 1"
opid="$(cloonix net show -f json | python3 -c 'import json,sys; print(json.load(sys.stdin)["orchestrator_pid"])')"
kill -9 "$opid"
wait_orchestrator_back "$opid"
check "after kill -9 of the orchestrator: the host still pings c1" \
  bash -c "for i in \$(seq 1 20); do ping -c 1 -W 1 -I $TAP $SUB.2 >/dev/null && exit 0; sleep 0.5; done; exit 1"
check_agree "ls, OVS and the host agree"

# Removed behind cloonix's back, then a restart: the reconcile loop makes it
# again and cables it back (a new interface: the host sets its address again).
ip link del "$TAP"
opid="$(cloonix net show -f json | python3 -c 'import json,sys; print(json.load(sys.stdin)["orchestrator_pid"])')"
kill -9 "$opid"
wait_orchestrator_back "$opid"
check "a tap deleted by hand is made again by the reconcile after a restart" \
  bash -c "for i in \$(seq 1 40); do ip -o link show dev $TAP 2>/dev/null | grep -q 'alias cloonix:$NET:tap' && exit 0; sleep 0.25; done; exit 1"
ip addr add "$SUB.1/24" dev "$TAP" 2>/dev/null
check "and cabled back: the host pings c1 again" \
  bash -c "for i in \$(seq 1 20); do ping -c 1 -W 1 -I $TAP $SUB.2 >/dev/null && exit 0; sleep 0.5; done; exit 1"
check_agree "ls, OVS and the host agree after the reconcile"

# Bad input: clear errors, nothing changes.
before="$(cloonix ls -f json)"
lo_before="$(ip -o addr show dev lo)"
expect_code "a name the host already uses (lo)" ALREADY_EXISTS cloonix add tap lo
check "lo untouched" bash -c "[[ \"\$(ip -o addr show dev lo)\" == '$lo_before' ]] && ip -o link show dev lo | grep -q UP"
expect_code "a second tap of the same name" ALREADY_EXISTS cloonix add tap "$TAP"
expect_code "a name too long for an interface" INVALID_ARGUMENT cloonix add tap abcdefghijklmnop
check "bad input changed nothing" bash -c "[[ '$before' == \"\$(cloonix ls -f json)\" ]]"

check "del the tap" cloonix del "$TAP"
check "its host interface is gone" bash -c "! ip link show dev $TAP 2>/dev/null"
check "add it again" cloonix add tap "$TAP"
check "net stop" cloonix net stop
check "the tap is gone after net stop" bash -c "! ip link show dev $TAP 2>/dev/null"
check_clean "nothing left after stop"
e2e_finish
