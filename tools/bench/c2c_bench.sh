#!/usr/bin/env bash
# Benchmark of c2c, side by side in one run on this machine (root). Two nets
# stand for two hosts: each runs with --host-netns in a netns of its own,
# the two joined by a veth (MTU 1500, so the c2c's inner MTU is 1450).
# - same lan: cnt1 -> cnt3, both in net A on one lan (MTU 1450 too, for a
#   fair comparison);
# - across: cnt1 (net A) -> lan -> c2c -> VXLAN over the veth -> c2c -> lan
#   -> cnt2 (net B).
# TCP throughput (iperf3, RUNS x SECS s, median), RTT (ping, 20 x 0.1 s,
# mean), and the c2c workers' CPU while idle (10 s). Writes the "c2c"
# section of docs/BENCHMARKS.md.
set -euo pipefail
RUNS="${RUNS:-3}"
SECS="${SECS:-5}"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_setup c2cb
HA="cxbha$$"; HB="cxbhb$$"
NETB="${NET}b"
cleanup() {
  CLOONIX_NET="$NETB" cloonix net stop >/dev/null 2>&1 || true
  bench_cleanup
  ip netns del "$HA" 2>/dev/null || true
  ip netns del "$HB" 2>/dev/null || true
}
trap cleanup EXIT
B() { CLOONIX_NET="$NETB" "$@"; }

ip netns add "$HA"; ip netns add "$HB"
ip -n "$HA" link add wa type veth peer name wb netns "$HB"
ip -n "$HA" addr add 10.250.0.1/24 dev wa; ip -n "$HB" addr add 10.250.0.2/24 dev wb
for n in "$HA" "$HB"; do ip -n "$n" link set lo up; done
ip -n "$HA" link set wa up; ip -n "$HB" link set wb up

cloonix net start --host-netns "$HA" --listen 10.250.0.1:0 >/dev/null
B cloonix net start --host-netns "$HB" --listen 10.250.0.2:0 >/dev/null
B cloonix net creds "$W/credsB" >/dev/null
cloonix add cnt cnt1 >/dev/null && cloonix add cnt cnt3 >/dev/null
B cloonix add cnt cnt2 >/dev/null
cloonix add c2c cx "$NETB" --peer "$(cat "$W/credsB/address")" --creds "$W/credsB" >/dev/null
for c in cnt1 cnt3 cx; do cloonix add lan "$c" eth0 lan1 >/dev/null; done
for c in cnt2 cx; do B cloonix add lan "$c" eth0 lanb >/dev/null; done
mtu="$(cloonix show cx -f json | python3 -c 'import json,sys; print(json.load(sys.stdin)["c2c"]["inner_mtu"])')"
ip -n "cloonix_${NET}.cnt1" addr add 10.32.0.1/24 dev eth0
ip -n "cloonix_${NET}.cnt3" addr add 10.32.0.3/24 dev eth0
ip -n "cloonix_${NETB}.cnt2" addr add 10.32.0.2/24 dev eth0
for ns in "cloonix_${NET}.cnt1" "cloonix_${NET}.cnt3" "cloonix_${NETB}.cnt2"; do
  ip -n "$ns" link set dev eth0 mtu "$mtu"
done
sleep 2

iperf_runs() {  # iperf_runs SERVER_NETNS IP
  for _ in $(seq "$RUNS"); do
    ip netns exec "$1" iperf3 -s -1 -D
    sleep 0.3
    ip netns exec "cloonix_${NET}.cnt1" iperf3 -c "$2" -t "$SECS" -J |
      python3 -c 'import json,sys; e=json.load(sys.stdin)["end"]; print(round(e["sum_received"]["bits_per_second"]/1e9, 2), e["sum_sent"].get("retransmits", 0))'
  done | sort -g | awk '{a[NR]=$0} END {print a[int((NR+1)/2)]}'
}
rtt() {
  ip netns exec "cloonix_${NET}.cnt1" ping -c 20 -i 0.1 "$1" |
    awk -F/ '/min\/avg/ {print $5}'
}
read -r lan_g lan_r <<<"$(iperf_runs "cloonix_${NET}.cnt3" 10.32.0.3)"
read -r c2c_g c2c_r <<<"$(iperf_runs "cloonix_${NETB}.cnt2" 10.32.0.2)"
lan_rtt="$(rtt 10.32.0.3)"
c2c_rtt="$(rtt 10.32.0.2)"
echo "same lan: $lan_g Gbit/s ($lan_r retransmits), RTT $lan_rtt ms"
echo "across the c2c: $c2c_g Gbit/s ($c2c_r retransmits), RTT $c2c_rtt ms"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
pa="$(cat "$CLOONIX_WORK_ROOT/$NET/c2c.pid")"
pb="$(cat "$CLOONIX_WORK_ROOT/$NETB/c2c.pid")"
a0="$(cpu_ticks "$pa")"; b0="$(cpu_ticks "$pb")"
sleep 10
a1="$(cpu_ticks "$pa")"; b1="$(cpu_ticks "$pb")"
hz="$(getconf CLK_TCK)"
idle_a="$(python3 -c "print(round(100*($a1-$a0)/$hz/10, 2))")"
idle_b="$(python3 -c "print(round(100*($b1-$b0)/$hz/10, 2))")"
echo "idle CPU of the c2c workers: A $idle_a %, B $idle_b % of a core"

stamp="$(date -u +%Y-%m-%dT%H:%MZ)"
section="$(cat <<MD
## c2c (\`tools/bench/c2c_bench.sh\`, $stamp)

2 cores, one run. Two nets on this machine stand for two hosts (each with
--host-netns, joined by a veth of MTU 1500: inner MTU $mtu, set on the
containers of both paths). iperf3 TCP from cnt1, median of $RUNS x $SECS s;
ping 20 x 0.1 s.

| path | throughput | TCP retransmits | RTT (mean) |
|---|---|---|---|
| cnt1 -> cnt3, one lan (net A) | $lan_g Gbit/s | $lan_r | $lan_rtt ms |
| cnt1 -> lan -> c2c -> VXLAN/UDP -> c2c -> lan -> cnt2 (net B) | $c2c_g Gbit/s | $c2c_r | $c2c_rtt ms |

Idle CPU of the c2c workers over 10 s: net A $idle_a %, net B $idle_b % of a
core (they sleep in ppoll when no frame moves).
MD
)"
echo "$section"
echo "$section" | python3 tools/bench/update_section.py c2c docs/BENCHMARKS.md
