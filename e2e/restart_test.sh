#!/usr/bin/env bash
# End-to-end: the lab survives crashes. kill -9 the orchestrator while cnt1 and
# cnt2 run: its keeper starts a new one by itself, which adopts the services,
# shows the same topology, and the ping still works. kill -9 lan_switch and
# cnt_runner: the orchestrator restarts them and reconciles, the lab keeps
# working. A killed keeper is started again; SIGTERM is not a crash.
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
check "containers still run while the orchestrator is down" in_cnt cnt1 ping -c 1 -W 2 10.20.0.2
t0=$(date +%s%N)
check "the keeper restarts the orchestrator by itself" wait_orchestrator_back "$opid"
echo "    control plane back in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
check "orchestrator restart counted" bash -c "[[ \$(cloonix net show -f json | python3 -c 'import json,sys; print(json.load(sys.stdin).get(\"orchestrator_restarts\", 0))') == 1 ]]"
check "net list shows the net" bash -c "cloonix net list | grep -q '$NET'"
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

# A killed keeper is started again by the orchestrator, and still works.
kpid="$(cat "$CLOONIX_WORK_ROOT/$NET/keeper.pid")"
kill -9 "$kpid"
ok=0
for _ in $(seq 1 50); do
  k="$(cat "$CLOONIX_WORK_ROOT/$NET/keeper.pid" 2>/dev/null)"
  if [[ -n "$k" && "$k" != "$kpid" ]] && kill -0 "$k" 2>/dev/null; then ok=1; break; fi
  sleep 0.1
done
if [[ $ok -eq 1 ]]; then pass "a killed keeper is started again"; else fail "a killed keeper is started again" "keeper.pid: $(cat "$CLOONIX_WORK_ROOT/$NET/keeper.pid" 2>&1)"; fi
opid="$(cloonix net show -f json | python3 -c 'import json,sys; print(json.load(sys.stdin)["orchestrator_pid"])')"
kill -9 "$opid"
check "the new keeper restarts the orchestrator" wait_orchestrator_back "$opid"
check "two orchestrator restarts counted" bash -c "[[ \$(cloonix net show -f json | python3 -c 'import json,sys; print(json.load(sys.stdin).get(\"orchestrator_restarts\", 0))') == 2 ]]"
# SIGTERM is a deliberate exit: the keeper does not bring it back.
opid="$(cloonix net show -f json | python3 -c 'import json,sys; print(json.load(sys.stdin)["orchestrator_pid"])')"
kill -TERM "$opid"
sleep 2
# (a zombie is gone too: the reaper of a dead keeper's child may be late)
check "SIGTERM: not restarted, keeper gone" bash -c "! grep -qsv '^State:.*Z' <(grep ^State: /proc/$opid/status 2>/dev/null) && ! pgrep -f -- '[c]loonix-orchestrator --keeper --net=$NET ' >/dev/null"
check "net start after SIGTERM adopts the lab" cloonix net start
check "ping after the SIGTERM and start" in_cnt cnt1 ping -c 2 -W 2 10.20.0.2
check "topology unchanged after the services' restart" bash -c "[[ \"\$(cloonix ls -f json)\" == '$after' ]]"

# A doorway killed -9 is restarted by the orchestrator in about a second; a
# command given meanwhile waits for it (up to 5 s) instead of failing.
dpid="$(cat "$CLOONIX_WORK_ROOT/$NET/doorway.pid" 2>/dev/null)"
if [[ -n "$dpid" ]] && kill -9 "$dpid"; then
  t0=$(date +%s%N)
  check "a command right after a doorway kill -9 waits for the new one" bash -c "[[ \"\$(cloonix ls -f json)\" == '$after' ]]"
  echo "    answered after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
else
  fail "a command right after a doorway kill -9 waits for the new one" "no doorway pid in $CLOONIX_WORK_ROOT/$NET/doorway.pid"
fi

check "net stop" cloonix net stop
check_clean "nothing left after stop"
e2e_finish
