#!/usr/bin/env bash
# Profile of the a2b path with no impairment (root, perf from linux-perf):
# cnt1 -> lan1 -> a2b -> lan2 -> cnt2, one iperf3 TCP run of 5 s while
# `perf record -a -g` samples the whole machine (the path crosses the
# kernel, OVS and the a2b worker, so a profile of one process would hide
# where the time goes). Writes docs/profiles/a2b-<label>.txt: throughput,
# retransmits, CPU per process, frames per point, and perf's top symbols.
# usage: tools/bench/a2b_profile.sh <label>
set -euo pipefail
label="${1:?usage: a2b_profile.sh <label>}"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_setup aprof
trap bench_cleanup EXIT

cloonix net start >/dev/null 2>&1
for c in cnt1 cnt2; do cloonix add cnt "$c" >/dev/null; done
cloonix add a2b ab1 >/dev/null
cloonix add lan cnt1 eth0 lan1 >/dev/null; cloonix add lan ab1 eth0 lan1 >/dev/null
cloonix add lan ab1 eth1 lan2 >/dev/null; cloonix add lan cnt2 eth0 lan2 >/dev/null
ns1="cloonix_${NET}.cnt1"; ns2="cloonix_${NET}.cnt2"
ip -n "$ns1" addr add 10.61.0.1/24 dev eth0
ip -n "$ns2" addr add 10.61.0.2/24 dev eth0
ip netns exec "$ns1" ping -c 3 -i 0.2 -W 2 10.61.0.2 >/dev/null
ip netns exec "$ns2" iperf3 -s -1 -D; sleep 0.3

a2b_pid="$(cat "$CLOONIX_WORK_ROOT/$NET/a2b.pid")"
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
ovs_pid="$(pgrep -f "ovs-vswitchd.*$NET" | head -1 || true)"
rx0="$(ip -n "$ns2" -s -j link show eth0 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["rx"]["packets"])')"
a0="$(ticks "$a2b_pid")"; o0="$( [ -n "$ovs_pid" ] && ticks "$ovs_pid" || echo 0)"
perf record -a -g -o "$W/perf.data" -- sleep 6 >/dev/null 2>&1 &
perf_pid=$!
sleep 0.5
read -r mbit rtx < <(ip netns exec "$ns1" iperf3 -c 10.61.0.2 -t 5 -J |
  python3 -c 'import json,sys; e=json.load(sys.stdin)["end"]; print(round(e["sum_received"]["bits_per_second"]/1e6, 1), e["sum_sent"].get("retransmits", 0))')
wait "$perf_pid" || true
a1="$(ticks "$a2b_pid")"; o1="$( [ -n "$ovs_pid" ] && ticks "$ovs_pid" || echo 0)"
rx1="$(ip -n "$ns2" -s -j link show eth0 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["rx"]["packets"])')"
hz="$(getconf CLK_TCK)"
out="docs/profiles/a2b-${label}.txt"
set +o pipefail  # head closes perf's pipe early
mkdir -p docs/profiles
{
  echo "a2b path profile ($label), $(date -u +%Y-%m-%dT%H:%MZ), tools/bench/a2b_profile.sh"
  echo "cnt1 -> lan1 (OVS) -> a2b -> lan2 (OVS) -> cnt2, iperf3 TCP 5 s, no impairment"
  echo "throughput: $mbit Mbit/s, TCP retransmits: $rtx"
  echo "packets received by cnt2's eth0: $((rx1 - rx0))"
  echo "CPU over the 6 s record: a2b worker $(python3 -c "print(round(($a1-$a0)*100.0/$hz/6, 1))")% of a core, ovs-vswitchd $(python3 -c "print(round(($o1-$o0)*100.0/$hz/6, 1))")% of a core"
  echo
  echo "== perf report --sort comm (share of all samples, 2 cores) =="
  perf report -i "$W/perf.data" --stdio --no-children -g none --sort comm 2>/dev/null |
    grep -v '^#' | grep -v '^$' | head -12
  echo
  echo "== perf report --sort comm,sym, top 40 (no call graphs) =="
  perf report -i "$W/perf.data" --stdio --no-children -g none --sort comm,sym 2>/dev/null |
    grep -v '^#' | grep -v '^$' | head -40
} > "$out"
cat "$out"
