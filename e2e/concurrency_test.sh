#!/usr/bin/env bash
# End-to-end: 20 clients at once, 50 operations each, every client on items
# of its own (a container, lans it creates, cables it plugs and unplugs, a
# lan it deletes). At the end: every client saw only successes, `ls`, the
# OVS bridges and ports, containerd's containers and the netns agree, and no
# daemon restarted.
source "$(dirname "$0")/lib.sh"

CLIENTS=20
OPS=50
check "net start" cloonix net start
check "shared lan0" cloonix add lan lan0

client() {  # client N: exactly $OPS operations, stops at the first error
  local n="$1" ops=0 k=0
  run() { ops=$((ops + 1)); "$@" >/dev/null 2>>"$E2E_ROOT/client$n.err" || { echo "op $ops failed: $*" >>"$E2E_ROOT/client$n.err"; return 1; }; }
  run cloonix add cnt "w$n" busybox eth=2 || return 1
  run cloonix add lan "w$n" eth1 lan0 || return 1
  # 46 ops in cycles of 4 (add lan, cable, uncable, delete lan) + 2 spare.
  while (( ops + 4 <= OPS - 2 )); do
    k=$((k + 1))
    run cloonix add lan "l${n}x$k" || return 1
    run cloonix add lan "w$n" eth0 "l${n}x$k" || return 1
    run cloonix del lan "w$n" eth0 "l${n}x$k" || return 1
    run cloonix del lan "l${n}x$k" || return 1
  done
  while (( ops < OPS - 1 )); do run cloonix show "w$n" || return 1; done
  if (( n % 2 == 0 )); then
    run cloonix del "w$n" || return 1   # half the clients delete their container
  else
    run cloonix ls || return 1
  fi
  echo "$ops" >"$E2E_ROOT/client$n.ops"
}

t0=$(date +%s%N)
pids=()
for n in $(seq 1 $CLIENTS); do client "$n" & pids+=($!); done
for p in "${pids[@]}"; do wait "$p"; done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
total=0 bad=""
for n in $(seq 1 $CLIENTS); do
  o="$(cat "$E2E_ROOT/client$n.ops" 2>/dev/null)"
  if [[ "$o" == "$OPS" ]]; then total=$((total + o)); else bad+=" client$n: $(tail -2 "$E2E_ROOT/client$n.err" 2>/dev/null | tr '\n' ' ')"; fi
done
if [[ -z "$bad" ]]; then pass "$CLIENTS clients x $OPS operations all succeeded ($total in $ms ms)"; else fail "$CLIENTS clients x $OPS operations all succeeded" "$bad"; fi

ovs() { ovs-vsctl --db="unix:$W/ovs/run/db.sock" "$@"; }
W="$CLOONIX_WORK_ROOT/$NET"
check "ls, OVS, containerd and netns agree" python3 - "$(cloonix ls -f json)" \
  "$(for b in $(ovs list-br); do echo "$b $(ovs list-ports "$b" | tr '\n' ' ')"; done)" \
  "$(ip netns list | awk '{print $1}' | grep -E "^cloonix_${NET}\." | sed "s/^cloonix_${NET}\.//" | tr '\n' ' ')" \
  "$CLIENTS" <<'PY'
import json, sys
items = {i["name"]: i for i in json.loads(sys.argv[1]).get("items", [])}
bridges = {}
for line in sys.argv[2].splitlines():
    parts = line.split()
    if parts:
        bridges[parts[0]] = set(parts[1:])
netns = set(sys.argv[3].split())
clients = int(sys.argv[4])
want_cnt = {f"w{n}" for n in range(1, clients + 1) if n % 2 == 1}
cnts = {n for n, i in items.items() if i["kind"] == "ITEM_KIND_CNT"}
lans = {n: i for n, i in items.items() if i["kind"] == "ITEM_KIND_LAN"}
assert cnts == want_cnt, ("containers in ls", cnts ^ want_cnt)
assert netns == want_cnt, ("container netns", netns ^ want_cnt)
assert set(lans) == {"lan0"}, ("lans in ls", set(lans))
# The bridges are the lans' and hold exactly the cabled eths' ports.
want_br = {i["lan"]["bridge"]: i for i in lans.values()}
assert set(bridges) == set(want_br), ("bridges", set(bridges), set(want_br))
ports = {e["port"] for i in items.values() for e in i.get("eths", []) if e.get("lan")}
got = set().union(*bridges.values()) if bridges else set()
assert got == ports, ("ports", got ^ ports)
PY
check "containerd runs exactly the remaining containers" bash -c "
  [[ \$(ls /run/containerd/runc/cloonix-$NET | sort | tr '\n' ' ') == \$(for n in \$(seq 1 2 $CLIENTS); do echo w\$n; done | sort | tr '\n' ' ') ]]"
check "no daemon restarted" bash -c "cloonix net show -f json | python3 -c '
import json, sys
s = json.load(sys.stdin)
assert all(x.get(\"restarts\", 0) == 0 for x in s[\"services\"]), s[\"services\"]
assert s.get(\"orchestrator_restarts\", 0) == 0'"
check "net stop" cloonix net stop
check_clean "nothing left after stop"
e2e_finish
