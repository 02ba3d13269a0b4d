#!/usr/bin/env bash
# End-to-end: kill -9 of every daemon of the net, one after the other, twice,
# while traffic flows: c1 -> c2 on lan1, c1 -> c3 through an a2b, and a nat
# lease. After each kill the net recovers without any manual action: the
# daemon is back (the keeper restarts the orchestrator, the orchestrator the
# others), the topology is unchanged, both paths carry pings again and whatip
# still answers.
source "$(dirname "$0")/lib.sh"

W="$CLOONIX_WORK_ROOT/$NET"
check "net start" cloonix net start
check "build the lab" bash -c "
  cloonix add cnt c1 busybox eth=2 && cloonix add cnt c2 && cloonix add cnt c3 &&
  cloonix add lan c1 eth0 lan1 && cloonix add lan c2 eth0 lan1 &&
  cloonix add a2b ab1 delay=1 && cloonix add lan ab1 eth0 lan1 && cloonix add lan ab1 eth1 lan2 &&
  cloonix add lan c3 eth0 lan2 &&
  cloonix add nat nat1 && cloonix add lan nat1 eth0 lan3 && cloonix add lan c1 eth1 lan3"
check "addresses" bash -c "
  cloonix ssh c1 ip addr add 10.50.0.1/24 dev eth0 && cloonix ssh c2 ip addr add 10.50.0.2/24 dev eth0 &&
  cloonix ssh c3 ip addr add 10.50.0.3/24 dev eth0"
check "c1: DHCP lease from nat1" cloonix ssh c1 'udhcpc -i eth1 -n -q -t 10 >/dev/null 2>&1'
topo="$(cloonix ls -f json | python3 -c '
import json, sys
print(sorted((i["name"], i["kind"], tuple(e.get("lan", "") for e in i.get("eths", []))) for i in json.load(sys.stdin)["items"]))')"
lease="$(cloonix cnf nat nat1 whatip=c1)"

# Traffic all along: c1 pings c2 (lan) and c3 (a2b) 5 times a second.
in_cnt c1 ping -i 0.2 -W 1 10.50.0.2 >"$E2E_ROOT/ping2.log" 2>&1 &
P2=$!
in_cnt c1 ping -i 0.2 -W 1 10.50.0.3 >"$E2E_ROOT/ping3.log" 2>&1 &
P3=$!

daemon_pid() {
  if [[ "$1" == orchestrator ]]; then cat "$W/orchestrator.pid"; else cat "$W/$1.pid"; fi 2>/dev/null
}
healthy() {
  cloonix net show -f json 2>/dev/null | python3 -c '
import json, sys
s = json.load(sys.stdin)
sys.exit(0 if s["services"] and all(x.get("healthy") for x in s["services"]) else 1)'
}
recovered() {  # all daemons healthy, same topology, both paths and the lease work
  healthy || { WHY="not every service healthy"; return 1; }
  local now
  now="$(cloonix ls -f json 2>/dev/null | python3 -c '
import json, sys
print(sorted((i["name"], i["kind"], tuple(e.get("lan", "") for e in i.get("eths", []))) for i in json.load(sys.stdin)["items"]))' 2>/dev/null)"
  [[ "$now" == "$topo" ]] || { WHY="topology differs: $now"; return 1; }
  in_cnt c1 ping -c 1 -W 1 10.50.0.2 >/dev/null 2>&1 || { WHY="c1 -> c2 (lan1) does not answer"; return 1; }
  in_cnt c1 ping -c 1 -W 1 10.50.0.3 >/dev/null 2>&1 || { WHY="c1 -> c3 (through ab1) does not answer"; return 1; }
  now="$(cloonix cnf nat nat1 whatip=c1 2>&1)"
  [[ "$now" == "$lease" ]] || { WHY="whatip=c1 gives '$now', not '$lease'"; return 1; }
}

for round in 1 2; do
  for d in orchestrator lan_switch cnt_runner a2b nat vm_runner doorway; do
    pid="$(daemon_pid $d)"
    if [[ -z "$pid" ]]; then fail "round $round: $d has a pid" "no pid file"; continue; fi
    t0=$(date +%s%N)
    kill -9 "$pid"
    ok=0 WHY="no new pid"
    # Bounded in time (not in tries): a path that stays broken fails this
    # kill with the reason and the test goes on.
    end=$(( $(date +%s) + 45 ))
    while (( $(date +%s) < end )); do
      np="$(daemon_pid $d)"
      if [[ -n "$np" && "$np" != "$pid" ]]; then
        if recovered; then ok=1; break; fi
      else
        WHY="no new pid"
      fi
      sleep 0.1
    done
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    if [[ $ok -eq 1 ]]; then
      pass "round $round: kill -9 $d, recovered in $ms ms"
    else
      fail "round $round: kill -9 $d, recovered" "after $ms ms: $WHY; $(cloonix net show 2>&1 | tail -9)"
    fi
  done
done
kill "$P2" "$P3" 2>/dev/null; wait "$P2" "$P3" 2>/dev/null
for f in ping2 ping3; do
  echo "    $f: $(tail -2 "$E2E_ROOT/$f.log" | head -1)"
done
check "orchestrator restarts counted (2)" bash -c "[[ \$(cloonix net show -f json | python3 -c 'import json,sys; print(json.load(sys.stdin).get(\"orchestrator_restarts\", 0))') == 2 ]]"
check "net stop" cloonix net stop
check_clean "nothing left after stop"
e2e_finish
