#!/usr/bin/env bash
# End-to-end: a net with lan1 and two busybox containers cabled to it; IPs set,
# ping both ways, iperf3 between them, events streamed, then everything deleted
# and no netns, veth, bridge, containerd object or process of the net left.
source "$(dirname "$0")/lib.sh"

check "net start" cloonix net start
check "reflection lists cloonix.v1 on the orchestrator" \
  bash -c "grpc_probe --socket=$CLOONIX_WORK_ROOT/$NET/orchestrator.sock | grep -qx cloonix.v1.Topology"
for svc in lan_switch:cloonix.lanswitch.v1.LanSwitch cnt_runner:cloonix.cntrunner.v1.CntRunner; do
  check "health and reflection on ${svc%%:*}" \
    bash -c "grpc_probe --socket=$CLOONIX_WORK_ROOT/$NET/${svc%%:*}.sock | grep -qx ${svc#*:}"
done
check "sockets are 0600" bash -c "[[ \$(stat -c %a $CLOONIX_WORK_ROOT/$NET/orchestrator.sock) == 600 ]]"

# Watch events from the start: 5 changes expected (lan1, cnt1, cnt2, 2 cables
# -> lan1 created then updated, cnt1/cnt2 created and updated).
cloonix events -f json --count 7 > "$E2E_ROOT/events.ndjson" 2>&1 &
EVENTS_PID=$!
sleep 0.3

check "add lan lan1" cloonix add lan lan1
check "add cnt cnt1" cloonix add cnt cnt1 busybox eth=1
check "add cnt cnt2" cloonix add cnt cnt2 --eth 1
check "cable cnt1 eth0 to lan1" cloonix add lan cnt1 eth0 lan1
check "cable cnt2 eth0 to lan1" cloonix add lan cnt2 0 lan1

ls_json="$(cloonix ls -f json)"
check "ls shows lan1 with both endpoints" python3 - "$ls_json" <<'PY'
import json, sys
items = {i["name"]: i for i in json.loads(sys.argv[1])["items"]}
assert set(items) == {"lan1", "cnt1", "cnt2"}, items.keys()
eps = {(e["item"], e.get("eth", 0)) for e in items["lan1"]["lan"]["endpoints"]}
assert eps == {("cnt1", 0), ("cnt2", 0)}, eps
for c in ("cnt1", "cnt2"):
    assert items[c]["state"] == "ITEM_STATE_RUNNING", items[c]
    assert items[c]["eths"][0]["lan"] == "lan1"
PY
cloonix ls

check "set IP in cnt1" in_cnt cnt1 ip addr add 10.10.0.1/24 dev eth0
check "set IP in cnt2" in_cnt cnt2 ip addr add 10.10.0.2/24 dev eth0
check "ping cnt1 -> cnt2 (busybox in the container)" in_cnt cnt1 ping -c 3 -W 2 10.10.0.2
check "ping cnt2 -> cnt1 (busybox in the container)" in_cnt cnt2 ping -c 3 -W 2 10.10.0.1

# iperf3 (the host's binary) in the containers' network namespaces.
ip netns exec "cloonix_${NET}.cnt2" iperf3 -s -1 -D --logfile "$E2E_ROOT/iperf-s.log"
sleep 0.5
if out="$(ip netns exec "cloonix_${NET}.cnt1" iperf3 -c 10.10.0.2 -t 3 -f m 2>&1)"; then
  echo "$out" | tail -4
  rate="$(echo "$out" | awk '/receiver/ {print $(NF-2), $(NF-1)}')"
  echo "iperf3 cnt1 -> cnt2 through the OVS lan: $rate"
  pass "iperf3 cnt1 -> cnt2 ($rate)"
else
  fail "iperf3 cnt1 -> cnt2" "$out"
fi

wait "$EVENTS_PID"
check "events: NDJSON with the initial sync then 7 changes" python3 - "$E2E_ROOT/events.ndjson" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
types = [l["type"] for l in lines]
assert types[0] == "EVENT_TYPE_SYNCED", types
changes = [(l["type"], l["item"]["name"]) for l in lines[1:]]
assert len(changes) == 7, changes
assert ("EVENT_TYPE_CREATED", "lan1") in changes and ("EVENT_TYPE_CREATED", "cnt2") in changes, changes
PY

check "uncable cnt2" cloonix del lan cnt2 eth0 lan1
check "ping fails once uncabled" bash -c "! in_cnt(){ nsenter -t \$(ip netns pids cloonix_${NET}.cnt1 | head -1) -m -p -n \"\$@\"; }; ! in_cnt ping -c 2 -W 1 10.10.0.2 >/dev/null"
# A container whose command exits: deletable, and its name reusable.
check "add a container whose command exits" cloonix add cnt quick --cmd "exit 0"
sleep 1
check "delete the exited container" cloonix del quick
check "reuse the exited container's name" cloonix add cnt quick
check "delete it again" cloonix del quick
check "delete cnt1" cloonix del cnt1
check "delete cnt2" cloonix del sat cnt2
check "delete lan1" cloonix del lan lan1
check "ls is empty" bash -c "cloonix ls -f json | python3 -c 'import json,sys; assert json.load(sys.stdin).get(\"items\", []) == []'"
cloonix events > "$E2E_ROOT/events2.txt" 2>&1 &
WATCH_PID=$!
sleep 0.3
check "net stop" cloonix net stop
ok=0
for _ in $(seq 1 50); do kill -0 "$WATCH_PID" 2>/dev/null || { ok=1; break; }; sleep 0.1; done
if [[ $ok -eq 1 ]] && wait "$WATCH_PID"; then pass "events stream ends cleanly when the net stops"; else fail "events stream ends cleanly when the net stops" "$(cat "$E2E_ROOT/events2.txt")"; kill "$WATCH_PID" 2>/dev/null; fi
check_clean "nothing left after stop"
check "no containerd shim of the net" bash -c "! pgrep -a containerd-shim | grep -F -- '$CLOONIX_WORK_ROOT/$NET'"
e2e_finish
