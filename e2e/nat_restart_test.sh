#!/usr/bin/env bash
# End-to-end: a nat keeps its DHCP leases across a kill -9 of the nat worker
# (whatip still answers, the next guest never gets an address in use, a
# renewal keeps the address), and it ignores unicast frames addressed to other
# hosts (a lan floods unknown unicast to every port, the nat's included).
source "$(dirname "$0")/lib.sh"

lease() { cloonix ssh "$1" 'udhcpc -i eth0 -n -q -t 10 >/dev/null 2>&1'; }
addr() { cloonix ssh "$1" ip -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1 | head -1; }

check "net start" cloonix net start
check "nat1 on lan1" bash -c "cloonix add nat nat1 && cloonix add lan nat1 eth0 lan1"
check "c1, c2, c3 on lan1" bash -c "for c in c1 c2 c3; do cloonix add cnt \$c busybox eth=1 && cloonix add lan \$c eth0 lan1 || exit 1; done"
check "c1: DHCP lease" lease c1
ip1="$(addr c1)"
check "c1: whatip is its address ($ip1)" bash -c "[[ -n '$ip1' && \$(cloonix cnf nat nat1 whatip=c1) == *'$ip1'* ]]"

nat_restarts() {
  cloonix net show -f json | python3 -c '
import json, sys
s = [x for x in json.load(sys.stdin)["services"] if x["name"] == "nat"]
print(s[0].get("restarts", 0) if s and s[0].get("healthy") else -1)'
}
old="$(cat "$CLOONIX_WORK_ROOT/$NET/nat.pid")"
kill -9 "$old"
ok=0
for _ in $(seq 1 150); do
  if [[ "$(nat_restarts 2>/dev/null)" -ge 1 ]] && cloonix cnf nat nat1 whatip=c1 >/dev/null 2>&1; then ok=1; break; fi
  sleep 0.1
done
if [[ $ok -eq 1 ]]; then pass "nat worker restarted and nat1 recreated"; else fail "nat worker restarted and nat1 recreated" "$(cloonix net show 2>&1 | tail -3)"; fi
check "after the restart whatip c1 still answers $ip1" bash -c "[[ \$(cloonix cnf nat nat1 whatip=c1) == *'$ip1'* ]]"
check "c2: DHCP lease after the restart" lease c2
ip2="$(addr c2)"
check "c2 got an address not in use ($ip2 != $ip1)" bash -c "[[ -n '$ip2' && '$ip2' != '$ip1' ]]"
check "c1 renews and keeps $ip1" bash -c "cloonix ssh c1 ip addr flush dev eth0 && cloonix ssh c1 'udhcpc -i eth0 -n -q -t 10 >/dev/null 2>&1' && [[ \$(cloonix ssh c1 ip -4 -o addr show eth0) == *'$ip1/'* ]]"
check "c1 reaches the gateway after the restart" cloonix ssh c1 ping -c 2 -W 3 172.17.0.2

# c3 sends to the gateway's address but another host's MAC: the switch
# floods the unknown unicast, the nat must not answer.
check "c3: static address" cloonix ssh c3 ip addr add 172.17.0.77/24 dev eth0
check "c3 reaches the gateway with its real MAC" cloonix ssh c3 ping -c 1 -W 3 172.17.0.2
check "c3: gateway pinned to a foreign MAC" ip -n "cloonix_${NET}.c3" neigh replace 172.17.0.2 lladdr 02:00:00:00:99:99 dev eth0 nud permanent
check "frames for another MAC get no answer from the nat" bash -c "! cloonix ssh c3 ping -c 2 -W 2 172.17.0.2 >/dev/null"

check "delete nat1 removes its lease file" bash -c "cloonix del nat1 && ! ls $CLOONIX_WORK_ROOT/$NET/nat/nat1.leases.json 2>/dev/null"
check "net stop" cloonix net stop
check_clean "nothing left after stop"
e2e_finish
