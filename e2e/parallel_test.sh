#!/usr/bin/env bash
# End-to-end: parallel requests (issue 9). 16 clients at once, each creating,
# cabling and deleting its own containers and lans for 10 rounds: all
# succeed, and at the end `ls`, the OVS bridges and ports, containerd's
# containers and the netns agree, no daemon restarted. Then kill -9 of the
# orchestrator in the middle of a parallel deploy: after its keeper restarts
# it, each item is fully there or absent, nothing left creating, and nothing
# is left after `net stop`.
source "$(dirname "$0")/lib.sh"

CLIENTS=16
ROUNDS=10
check "net start" cloonix net start

client() {  # client N: ROUNDS rounds; the last one leaves cN a cabled to lN
  local n="$1" r
  run() { "$@" >/dev/null 2>>"$E2E_ROOT/client$n.err" || { echo "round $r failed: $*" >>"$E2E_ROOT/client$n.err"; return 1; }; }
  for r in $(seq 1 $ROUNDS); do
    run cloonix add cnt "c${n}a" busybox eth=1 || return 1
    run cloonix add cnt "c${n}b" busybox eth=1 || return 1
    run cloonix add lan "c${n}a" eth0 "l$n" || return 1
    run cloonix add lan "c${n}b" eth0 "l$n" || return 1
    run cloonix del "c${n}b" || return 1
    if (( r < ROUNDS )); then
      run cloonix del "c${n}a" || return 1
      run cloonix del "l$n" || return 1
    fi
  done
  echo ok >"$E2E_ROOT/client$n.done"
}

t0=$(date +%s%N)
pids=()
for n in $(seq 1 $CLIENTS); do client "$n" & pids+=($!); done
for p in "${pids[@]}"; do wait "$p"; done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
bad=""
for n in $(seq 1 $CLIENTS); do
  [[ -f "$E2E_ROOT/client$n.done" ]] || bad+=" client$n: $(tail -3 "$E2E_ROOT/client$n.err" 2>/dev/null | tr '\n' ' ')"
done
ops=$((CLIENTS * (ROUNDS * 7 - 2)))
if [[ -z "$bad" ]]; then pass "$CLIENTS clients x $ROUNDS rounds all succeeded ($ops operations in $ms ms)"
else fail "$CLIENTS clients x $ROUNDS rounds all succeeded" "$bad"; fi
check "16 containers and 16 lans remain" bash -c "
  [[ \$(cloonix ls -f json | python3 -c 'import json,sys; it=json.load(sys.stdin)[\"items\"]; print(sum(i[\"kind\"]==\"ITEM_KIND_CNT\" for i in it), sum(i[\"kind\"]==\"ITEM_KIND_LAN\" for i in it))') == '$CLIENTS $CLIENTS' ]]"
check_agree "ls, OVS, containerd and netns agree after the clients"
check "no daemon restarted" bash -c "cloonix net show -f json | python3 -c '
import json, sys
s = json.load(sys.stdin)
assert all(x.get(\"restarts\", 0) == 0 for x in s[\"services\"]), s[\"services\"]
assert s.get(\"orchestrator_restarts\", 0) == 0'"
check "delete them all at once" bash -c "
  for n in \$(seq 1 $CLIENTS); do (cloonix del c\${n}a && cloonix del l\$n) & done; wait
  [[ \$(cloonix ls -f json | python3 -c 'import json,sys; print(len(json.load(sys.stdin).get(\"items\", [])))') == 0 ]]"

# kill -9 of the orchestrator while 8 clients deploy.
deploy() {  # deploy N: 4 containers cabled to lan dN, stops at the first error
  local n="$1" k
  for k in 1 2 3 4; do
    cloonix add cnt "d${n}x$k" busybox eth=1 >/dev/null 2>&1 || return
    cloonix add lan "d${n}x$k" eth0 "d$n" >/dev/null 2>&1 || return
  done
}
old="$(cloonix net show -f json | python3 -c 'import json,sys; print(json.load(sys.stdin)["orchestrator_pid"])')"
pids=()
for n in $(seq 1 8); do deploy "$n" & pids+=($!); done
# Kill once some items run and others are still being made.
for _ in $(seq 1 200); do
  c=$(cloonix ls -f json 2>/dev/null | python3 -c 'import json,sys; print(sum(i.get("state") == "ITEM_STATE_RUNNING" for i in json.load(sys.stdin).get("items", [])))' 2>/dev/null)
  [[ "${c:-0}" -ge 4 ]] && break
done
kill -9 "$old"
for p in "${pids[@]}"; do wait "$p"; done
if wait_orchestrator_back "$old"; then pass "the keeper restarted the killed orchestrator"
else fail "the keeper restarted the killed orchestrator" "$(tail -5 "$CLOONIX_WORK_ROOT/$NET/log/orchestrator.log")"; fi
check "what ran before the kill is still there" bash -c "
  [[ \$(cloonix ls -f json | python3 -c 'import json,sys; print(sum(i.get(\"state\") == \"ITEM_STATE_RUNNING\" for i in json.load(sys.stdin).get(\"items\", [])))') -ge 4 ]]"
check_agree "after the kill: each item fully there or absent, nothing creating"
check "cabling works after the restart" bash -c "
  cloonix add cnt after busybox eth=1 && cloonix add lan after eth0 lafter"
check_agree "still agree after new work"
check "net stop" cloonix net stop
check_clean "nothing left after stop"
e2e_finish
