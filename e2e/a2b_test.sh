#!/usr/bin/env bash
# End-to-end: cnt1 - lan1 - a2b - lan2 - cnt2 on real OVS, the a2b worker
# (AF_PACKET ports with virtio-net headers) and containers. Delay, loss,
# rate, TSO super-frames kept whole on a clean direction and cut into frames
# where an impairment acts on frames, a live rate change under traffic,
# reset to a clean link, bad input, idle CPU, and nothing left after stop.
source "$(dirname "$0")/lib.sh"

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# ping_median N INTERVAL: median RTT (ms) of N pings cnt1 -> cnt2.
ping_median() {
  ip netns exec "cloonix_${NET}.cnt1" ping -n -c "$1" -i "$2" -W 2 10.40.0.2 |
    sed -n 's/.*time=\([0-9.]*\) ms/\1/p' | median
}
# iperf_mbps SECONDS: TCP goodput cnt1 -> cnt2 measured by the receiver.
iperf_mbps() {
  ip netns exec "cloonix_${NET}.cnt2" iperf3 -s -1 -D
  sleep 0.3
  ip netns exec "cloonix_${NET}.cnt1" iperf3 -c 10.40.0.2 -t "$1" -J |
    python3 -c 'import json,sys; print(round(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e6, 2))'
}
within() { python3 -c "import sys; v,lo,hi=map(float,sys.argv[1:]); sys.exit(0 if lo<=v<=hi else 1)" "$@"; }
cnf() { cloonix cnf a2b ab1 "$@" >/dev/null; }
# counter DIR FIELD: one counter of the a2b.
counter() {
  cloonix show ab1 -f json | python3 -c 'import json,sys; print(json.load(sys.stdin)["a2b"]["counters'"$1"'"].get("'"$2"'", 0))'
}
# tso END: "on" or "off", TCP/IPv4 segmentation offload (tx-tcp-segmentation)
# of the a2b's port end END (the veth OVS holds) in the net's netns.
tso() {
  local port
  port="$(cloonix show ab1 -f json | python3 -c 'import json,sys; print(json.load(sys.stdin)["eths"]['"$1"']["port"])')"
  ip netns exec "cloonix_${NET}" ethtool -k "$port" | sed -n 's/^\ttx-tcp-segmentation: \([a-z]*\).*/\1/p'
}

check "net start" cloonix net start
check "reflection on the a2b worker" \
  bash -c "grpc_probe --socket=$CLOONIX_WORK_ROOT/$NET/a2b.sock | grep -qx cloonix.a2b.v1.A2bWorker"
check "build cnt1 - lan1 - a2b - lan2 - cnt2" bash -c "cloonix add cnt cnt1 && cloonix add cnt cnt2 && \
  cloonix add a2b ab1 && cloonix add lan cnt1 eth0 lan1 && cloonix add lan ab1 eth0 lan1 && \
  cloonix add lan ab1 eth1 lan2 && cloonix add lan cnt2 eth0 lan2"
ip -n "cloonix_${NET}.cnt1" addr add 10.40.0.1/24 dev eth0
ip -n "cloonix_${NET}.cnt2" addr add 10.40.0.2/24 dev eth0
check "ping through a clean a2b" in_cnt cnt1 ping -c 3 -W 2 10.40.0.2

base="$(ping_median 100 0.05)"
p0="$(counter 0 rx_packets)"; b0="$(counter 0 rx_bytes)"
base_rate="$(iperf_mbps 4)"
echo "baseline: RTT median $base ms, TCP $base_rate Mbit/s"
per="$(( ($(counter 0 rx_bytes) - b0) / ($(counter 0 rx_packets) - p0) ))"
if [[ "$(tso 0)" == on && "$(tso 1)" == on && "$per" -gt 3000 ]]; then
  pass "a clean a2b keeps TSO on and forwards TCP super-frames whole ($per bytes per packet)"
else fail "a clean a2b forwards TCP super-frames whole" "tso $(tso 0)/$(tso 1), $per bytes per packet"; fi

cnf dir=0 delay=20
cnf dir=1 delay=20
rtt="$(ping_median 100 0.05)"
added="$(python3 -c "print(round($rtt - $base, 3))")"
echo "delay 20 ms each way: RTT median $rtt ms (baseline $base ms, added $added ms)"
if within "$added" 39 41; then pass "delay 20+20 ms adds 40 +- 1 ms to the RTT (median of 100: $rtt ms, +$added)"
else fail "delay 20+20 ms adds 40 +- 1 ms to the RTT" "median $rtt, baseline $base"; fi

cnf dir=0 delay=0
cnf dir=1 delay=0 loss=10
loss="$(ip netns exec "cloonix_${NET}.cnt1" ping -n -q -c 2000 -i 0.002 -W 1 10.40.0.2 |
  sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p')"
echo "loss 10% on dir1: 2000 paced pings lost $loss%"
if [[ "$(tso 1)" == off && "$(tso 0)" == on ]]; then pass "loss on dir1 turns segmentation off where dir1 enters (port 1) only"
else fail "loss on dir1 turns segmentation off at port 1 only" "port0 $(tso 0), port1 $(tso 1)"; fi
if within "$loss" 8 12; then pass "loss 10% on one direction: $loss% of 2000 pings lost"
else fail "loss 10% on one direction" "$loss%"; fi
drops="$(cloonix show ab1 -f json | python3 -c 'import json,sys; print(json.load(sys.stdin)["a2b"]["counters1"].get("drop_loss", 0))')"
if [[ "$drops" -gt 100 ]]; then pass "drop_loss counter of dir1 counts ($drops)"; else fail "drop_loss counter" "$drops"; fi

cnf dir=1 loss=0
cnf dir=0 rate=10000
cnf dir=1 rate=10000
p0="$(counter 0 rx_packets)"; b0="$(counter 0 rx_bytes)"
rate="$(iperf_mbps 8)"
echo "rate 10000 kbit/s: iperf3 TCP $rate Mbit/s"
per="$(( ($(counter 0 rx_bytes) - b0) / ($(counter 0 rx_packets) - p0) ))"
if [[ "$per" -le 1514 ]]; then pass "a rated direction is shaped frame by frame ($per bytes per packet)"
else fail "a rated direction is shaped frame by frame" "$per bytes per packet"; fi
# The ceiling is tight (never above the rate); the floor leaves room for a
# loaded machine (9.0 seen while the other core compiled).
if within "$rate" 8.5 10.2; then pass "rate 10000 kbit/s: TCP goodput $rate Mbit/s"
else fail "rate 10000 kbit/s" "$rate Mbit/s"; fi

# Live change under traffic: 10 -> 50 Mbit/s after 3 s of a 7 s run.
ip netns exec "cloonix_${NET}.cnt2" iperf3 -s -1 -D
sleep 0.3
ip netns exec "cloonix_${NET}.cnt1" iperf3 -c 10.40.0.2 -t 7 -i 0.5 -J > "$E2E_ROOT/live.json" &
IPERF=$!
sleep 3.2
cnf dir=0 rate=50000
wait "$IPERF"
check "iperf3 kept running and followed 10 -> 50 Mbit/s within a second" python3 - "$E2E_ROOT/live.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
iv = [(i["sum"]["start"], i["sum"]["bits_per_second"] / 1e6) for i in d["intervals"]]
print(" ".join("%.1f:%.1f" % x for x in iv))
before = [r for t, r in iv if 1.0 <= t < 3.0]
after = [r for t, r in iv if t >= 4.5]
# 0.5 s intervals alias with TCP's bursts (8.3/12.5 pairs seen at 10 Mbit/s):
# the mean holds the rate, a single interval may show a burst (or, at 50
# Mbit/s, a dip: 45.9 45.9 45.8 38.6 seen, the last one the run's end).
# From 1.3 s after the change on, every interval but one is over 40.
assert before and sum(before) / len(before) < 11 and max(before) < 15, before
slow = [r for r in after if r <= 40]
assert after and len(slow) <= 1 and min(after) > 30, after
# The change reaches the worker at about 3.1 s of iperf's clock (3.2 s after
# launch, less its connect). From the interval that holds it on, no stall.
# Before it, a 10 Mbit/s direction with its default 1.5 MB queue (1.2 s) lets
# cubic overflow the queue and wait out a recovery of more than one 0.5 s
# interval (0.0 seen at 2.5 s in CI): TCP's own behaviour, not the change's.
assert all(r > 1 for t, r in iv if t >= 3.0), "a stall after the change"
PY

cnf dir=0 rate=0 delay=0 loss=0 jitter=0
cnf dir=1 rate=0 delay=0 loss=0 jitter=0
rtt0="$(ping_median 100 0.05)"
rate0="$(iperf_mbps 4)"
echo "after reset: RTT median $rtt0 ms (baseline $base), TCP $rate0 Mbit/s (baseline $base_rate)"
# Within 1 ms of the baseline: the delays set before added 40 ms; wake-up
# latency of the idle worker varies by a few tenths of a ms on a busy host.
if within "$rtt0" 0 "$(python3 -c "print($base + 1.0)")"; then pass "reset restores the baseline RTT ($rtt0 ms vs $base)"
else fail "reset restores the baseline RTT" "$rtt0 vs $base"; fi
if within "$rate0" "$(python3 -c "print($base_rate * 0.6)")" 100000; then pass "reset restores the throughput ($rate0 vs $base_rate Mbit/s)"
else fail "reset restores the throughput" "$rate0 vs $base_rate"; fi
if [[ "$(tso 0)" == on && "$(tso 1)" == on ]]; then pass "reset turns segmentation back on at both ports"
else fail "reset turns segmentation back on" "$(tso 0)/$(tso 1)"; fi

before="$(cloonix show ab1 -f json | python3 -c 'import json,sys; d=json.load(sys.stdin)["a2b"]; print(d.get("dir0"), d.get("dir1"))')"
expect_code "negative delay" INVALID_ARGUMENT cloonix cnf a2b ab1 dir=0 delay=-5
expect_code "loss over 100" INVALID_ARGUMENT cloonix cnf a2b ab1 dir=1 loss=150
expect_code "unknown direction" "dir is 0" cloonix cnf a2b ab1 dir=2 delay=1
expect_code "unknown a2b" NOT_FOUND cloonix cnf a2b nosuch dir=0 delay=1
expect_code "cnf a2b on a container" INVALID_ARGUMENT cloonix cnf a2b cnt1 dir=0 delay=1
expect_code "bad initial settings" INVALID_ARGUMENT cloonix add a2b ab2 loss=200
after="$(cloonix show ab1 -f json | python3 -c 'import json,sys; d=json.load(sys.stdin)["a2b"]; print(d.get("dir0"), d.get("dir1"))')"
if [[ "$before" == "$after" ]]; then pass "settings unchanged by bad input"; else fail "settings unchanged by bad input" "$before -> $after"; fi

pid="$(cat "$CLOONIX_WORK_ROOT/$NET/a2b.pid")"
t0="$(awk '{print $14+$15}' "/proc/$pid/stat")"
sleep 10
t1="$(awk '{print $14+$15}' "/proc/$pid/stat")"
hz="$(getconf CLK_TCK)"
cpu="$(python3 -c "print(round(($t1-$t0)*100.0/$hz/10, 2))")"
echo "idle a2b worker: $cpu% of a core over 10 s"
if within "$cpu" 0 1; then pass "idle a2b under 1% of a core ($cpu%)"; else fail "idle a2b under 1% of a core" "$cpu%"; fi

check "net stop" cloonix net stop
left="$(leftovers; ip netns exec cloonix_${NET} ip -o link 2>/dev/null; ls -d /var/run/dpdk/cxa2b-$NET 2>/dev/null)"
if [[ -z "$left" ]]; then pass "nothing left after stop (veths, netns, DPDK runtime dir)"; else fail "nothing left after stop" "$left"; fi
e2e_finish
