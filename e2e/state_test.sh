#!/usr/bin/env bash
# End-to-end: a lost or damaged state.json never costs the running lab.
# - truncated state.json: the orchestrator uses state.json.prev (the state
#   before the last change) and the containers keep running (same pids);
# - state.json and .prev both gone while guests run: net start refuses with a
#   message naming `net start --reset` and `net stop`, and changes nothing;
# - net stop cleans everything up without a working orchestrator;
# - net start --adopt takes running containers back with their cables;
# - net start --reset deletes the guests the state does not hold.
source "$(dirname "$0")/lib.sh"

W="$CLOONIX_WORK_ROOT/$NET"
orch_pid() { cat "$W/orchestrator.pid" 2>/dev/null; }
# kill -9 of the keeper, then of the orchestrator: the control plane stays
# down (as after a host crash) while the test damages the state.
kill_orchestrator() {
  local k p; k="$(cat "$W/keeper.pid" 2>/dev/null)"; p="$(orch_pid)"
  kill -9 $k $p 2>/dev/null
  for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
}
build_lab() {
  cloonix add cnt c1 busybox eth=1 && cloonix add cnt c2 busybox eth=1 &&
    cloonix add lan c1 eth0 lan1 && cloonix add lan c2 eth0 lan1
}

check "net start" cloonix net start
check "build the lab" build_lab
check "state.json.prev kept beside state.json" test -s "$W/state.json.prev"
pid1="$(cnt_pid c1)"; pid2="$(cnt_pid c2)"

# 1. A truncated state.json.
kill_orchestrator
python3 - "$W/state.json" <<'PY'
import os, sys
p = sys.argv[1]
data = open(p, "rb").read()
open(p, "wb").write(data[: len(data) // 2])
PY
check "net start with a truncated state.json" cloonix net start
check "the log says state.json.prev was used" grep -q "loaded .* from .*state.json.prev" "$W/log/orchestrator.log"
check "ls shows both containers" bash -c "cloonix ls -f json | python3 -c '
import json, sys
names = {i[\"name\"] for i in json.load(sys.stdin)[\"items\"]}
assert {\"c1\", \"c2\", \"lan1\"} <= names, names'"
if [[ "$(cnt_pid c1)" == "$pid1" && "$(cnt_pid c2)" == "$pid2" ]]; then
  pass "containers kept their processes"
else
  fail "containers kept their processes" "c1 $pid1 -> $(cnt_pid c1), c2 $pid2 -> $(cnt_pid c2)"
fi

# 2. No state at all while guests run: refuse, change nothing.
kill_orchestrator
rm -f "$W/state.json" "$W/state.json.prev"
out="$(cloonix net start 2>&1)"; rc=$?
echo "    -> $out" | tail -5
if [[ $rc -ne 0 && "$out" == *"--reset"* && "$out" == *"net stop"* && "$out" == *"c1"* ]]; then
  pass "net start refuses a lost state, naming the choices"
else
  fail "net start refuses a lost state, naming the choices" "exit $rc: $out"
fi
if [[ "$(cnt_pid c1)" == "$pid1" && "$(cnt_pid c2)" == "$pid2" ]]; then
  pass "the refused start left the containers running"
else
  fail "the refused start left the containers running" "c1 $(cnt_pid c1), c2 $(cnt_pid c2)"
fi
check "no orchestrator or keeper left by the refused start" bash -c "! pgrep -f -- '[c]loonix-orchestrator (--keeper )?--net=$NET ' >/dev/null"

# 3. net stop without a working orchestrator, with a damaged state.
echo '{"net": "trunc' > "$W/state.json"
check "net stop without an orchestrator and with a damaged state" cloonix net stop
check_clean "nothing left after the offline stop"

# 4. net start --adopt: the running containers come back into the net with
#    their eths and cables; their processes are untouched.
check "net start again" cloonix net start
check "build the lab again" build_lab
check "ping c1 -> c2" bash -c "cloonix ssh c1 ip addr add 10.61.0.1/24 dev eth0 && cloonix ssh c2 ip addr add 10.61.0.2/24 dev eth0 && cloonix ssh c1 ping -c 1 -W 2 10.61.0.2"
pid1="$(cnt_pid c1)"; pid2="$(cnt_pid c2)"
kill_orchestrator
rm -f "$W/state.json" "$W/state.json.prev"
check "net start --adopt" cloonix net start --adopt
check "ls holds both containers, cabled to one lan" bash -c "cloonix ls -f json | python3 -c '
import json, sys
items = {i[\"name\"]: i for i in json.load(sys.stdin)[\"items\"]}
assert {\"c1\", \"c2\"} <= set(items), items.keys()
lans = {items[c][\"eths\"][0].get(\"lan\") for c in (\"c1\", \"c2\")}
assert len(lans) == 1 and None not in lans and list(lans)[0] in items, lans'"
if [[ "$(cnt_pid c1)" == "$pid1" && "$(cnt_pid c2)" == "$pid2" ]]; then
  pass "adopted containers kept their processes"
else
  fail "adopted containers kept their processes" "c1 $pid1 -> $(cnt_pid c1), c2 $pid2 -> $(cnt_pid c2)"
fi
check "ping c1 -> c2 after the adoption" cloonix ssh c1 ping -c 2 -W 2 10.61.0.2
check "adopted containers can be deleted" bash -c "cloonix del c1 && cloonix del c2"
check "net stop" cloonix net stop

# 5. net start --reset: guests the state does not hold are deleted.
check "net start again" cloonix net start
check "build the lab again" build_lab
kill_orchestrator
rm -f "$W/state.json" "$W/state.json.prev"
check "net start --reset" cloonix net start --reset
check "ls is empty after --reset" bash -c "cloonix ls -f json | python3 -c 'import json,sys; assert json.load(sys.stdin).get(\"items\", []) == []'"
check "the containers were deleted" bash -c "! ip netns list | grep -qE '^cloonix_${NET}\.c[12]( |$)'"
check "net stop" cloonix net stop
check_clean "nothing left after stop"
e2e_finish
