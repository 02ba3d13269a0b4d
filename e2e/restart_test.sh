#!/usr/bin/env bash
# End-to-end: the lab survives crashes. kill -9 the orchestrator while cnt1 and
# cnt2 run: a new one adopts the services, shows the same topology, and the
# ping still works. kill -9 lan_switch and cnt_runner: the orchestrator
# restarts them and reconciles, the lab keeps working.
source "$(dirname "$0")/lib.sh"

check "net start" cloonix net start
check "build lab" bash -c "cloonix add cnt cnt1 && cloonix add cnt cnt2 && \
  cloonix add lan cnt1 eth0 lan1 && cloonix add lan cnt2 eth0 lan1"
check "set IPs" bash -c "nsenter -t \$(ip netns pids cloonix_${NET}.cnt1 | head -1) -n ip addr add 10.20.0.1/24 dev eth0 && \
  nsenter -t \$(ip netns pids cloonix_${NET}.cnt2 | head -1) -n ip addr add 10.20.0.2/24 dev eth0"
check "ping before the crash" in_cnt cnt1 ping -c 2 -W 2 10.20.0.2
before="$(cloonix ls -f json)"
pid1="$(cnt_pid cnt1)"

opid="$(cloonix net show -f json | python3 -c 'import json,sys; print(json.load(sys.stdin)["orchestrator_pid"])')"
kill -9 "$opid"
sleep 0.3
expect_code "a dead orchestrator is reported (exit 3)" "orchestrator is not reachable" cloonix ls
rc=0; cloonix ls >/dev/null 2>&1 || rc=$?
if [[ $rc -eq 3 ]]; then pass "exit code 3 when the net does not answer"; else fail "exit code 3 when the net does not answer" "got $rc"; fi
check "containers still run without the orchestrator" in_cnt cnt1 ping -c 1 -W 2 10.20.0.2
check "net start again" cloonix net start
after="$(cloonix ls -f json)"
if [[ "$before" == "$after" ]]; then pass "same topology after the restart"; else fail "same topology after the restart" "$before != $after"; fi
check "services adopted, not restarted" bash -c "grep -q 'adopting running cnt_runner' $CLOONIX_WORK_ROOT/$NET/log/orchestrator.log"
if [[ "$(cnt_pid cnt1)" == "$pid1" ]]; then pass "cnt1 kept its process"; else fail "cnt1 kept its process" "pid changed"; fi
check "ping after the orchestrator restart" in_cnt cnt1 ping -c 3 -W 2 10.20.0.2

kill -9 "$(cat "$CLOONIX_WORK_ROOT/$NET/cnt_runner.pid")" "$(cat "$CLOONIX_WORK_ROOT/$NET/lan_switch.pid")"
ok=0
for _ in $(seq 1 100); do
  if cloonix net show -f json | python3 -c '
import json, sys
s = json.load(sys.stdin)["services"]
k = [x for x in s if x["name"] in ("lan_switch", "cnt_runner")]
sys.exit(0 if len(k) == 2 and all(x.get("healthy") and x.get("restarts", 0) >= 1 for x in k) else 1)'; then ok=1; break; fi
  sleep 0.1
done
if [[ $ok -eq 1 ]]; then pass "lan_switch and cnt_runner restarted by the supervisor"; else fail "lan_switch and cnt_runner restarted by the supervisor" "$(cloonix net show)"; fi
check "ping after the services' restart" in_cnt cnt2 ping -c 3 -W 2 10.20.0.1
check "topology unchanged after the services' restart" bash -c "[[ \"\$(cloonix ls -f json)\" == '$after' ]]"

check "net stop" cloonix net stop
left="$(leftovers)"
if [[ -z "$left" ]]; then pass "nothing left after stop"; else fail "nothing left after stop" "$left"; fi
e2e_finish
