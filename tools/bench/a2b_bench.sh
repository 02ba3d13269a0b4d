#!/usr/bin/env bash
# Benchmarks of the a2b worker, measured in one run on this machine (root):
#  - accuracy, set vs measured: one-way delay {1, 10, 100} ms (median RTT
#    minus the clean-link median RTT), loss {1, 10, 50} % (2000 paced pings),
#    rate {1, 10, 100} Mbit/s (iperf3 TCP goodput, both directions limited);
#  - forwarding ceiling with no impairment (iperf3 TCP through
#    lan1 -> a2b -> lan2) next to the direct path between two containers on
#    one lan, same run.
# Writes the "a2b" section of docs/BENCHMARKS.md.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_setup abench
trap bench_cleanup EXIT

cloonix net start >/dev/null 2>&1
for c in cnt1 cnt2 cnt3; do cloonix add cnt "$c" >/dev/null; done
cloonix add a2b ab1 >/dev/null
cloonix add lan cnt1 eth0 lan1 >/dev/null; cloonix add lan cnt3 eth0 lan1 >/dev/null
cloonix add lan ab1 eth0 lan1 >/dev/null; cloonix add lan ab1 eth1 lan2 >/dev/null
cloonix add lan cnt2 eth0 lan2 >/dev/null
ip -n "cloonix_${NET}.cnt1" addr add 10.60.0.1/24 dev eth0
ip -n "cloonix_${NET}.cnt2" addr add 10.60.0.2/24 dev eth0
ip -n "cloonix_${NET}.cnt3" addr add 10.60.0.3/24 dev eth0
sleep 1

rtt() { ip netns exec "cloonix_${NET}.cnt1" ping -n -c "$1" -i 0.05 -W 2 10.60.0.2 |
        sed -n 's/.*time=\([0-9.]*\) ms/\1/p' | median; }
lossp() { ip netns exec "cloonix_${NET}.cnt1" ping -n -q -c 2000 -i 0.002 -W 1 10.60.0.2 |
          sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p'; }
tput_r() {  # tput_r DST_CNT DST_IP SECONDS -> "Mbit/s retransmits"
  ip netns exec "cloonix_${NET}.$1" iperf3 -s -1 -D; sleep 0.3
  ip netns exec "cloonix_${NET}.cnt1" iperf3 -c "$2" -t "$3" -J |
    python3 -c 'import json,sys; e=json.load(sys.stdin)["end"]; print(round(e["sum_received"]["bits_per_second"]/1e6, 1), e["sum_sent"].get("retransmits", 0))'
}
tput() { tput_r "$@" | cut -d' ' -f1; }  # -> Mbit/s
cnf() { cloonix cnf a2b ab1 "$@" >/dev/null; }
clean() { cnf dir=0 delay=0 loss=0 rate=0; cnf dir=1 delay=0 loss=0 rate=0; }

base="$(rtt 50)"
rows=""
for d in 1 10 100; do
  clean; cnf dir=0 delay="$d"
  m="$(rtt 50)"
  got="$(python3 -c "print(round($m - $base, 3))")"
  echo "delay $d ms: $got ms"
  rows+="| delay (one way) | $d ms | $got ms | median RTT $m ms - clean median $base ms, 50 pings |"$'\n'
done
for p in 1 10 50; do
  clean; cnf dir=0 loss="$p"
  got="$(lossp)"
  echo "loss $p%: $got%"
  rows+="| loss (one way) | $p % | $got % | 2000 pings every 2 ms |"$'\n'
done
for r in 1 10 100; do
  clean; cnf dir=0 rate=$((r * 1000)); cnf dir=1 rate=$((r * 1000))
  got="$(tput cnt2 10.60.0.2 6)"
  echo "rate $r Mbit/s: $got Mbit/s"
  rows+="| rate (both ways) | $r Mbit/s | $got Mbit/s | iperf3 TCP goodput, 6 s (ceiling ~96.5% of the L3 rate) |"$'\n'
done
clean
runs_a2b=""; runs_lan=""; rtx_a2b=""; rtx_lan=""
for _ in 1 2 3; do
  read -r m r < <(tput_r cnt2 10.60.0.2 5); runs_a2b+="$m "; rtx_a2b+="$r "
  read -r m r < <(tput_r cnt3 10.60.0.3 5); runs_lan+="$m "; rtx_lan+="$r "
done
med_a2b="$(echo $runs_a2b | tr ' ' '\n' | median)"
med_lan="$(echo $runs_lan | tr ' ' '\n' | median)"
ratio="$(python3 -c "print(round($med_a2b / $med_lan, 2))")"
echo "ceiling via a2b: $runs_a2b-> $med_a2b (retransmits $rtx_a2b); same lan: $runs_lan-> $med_lan (retransmits $rtx_lan); ratio $ratio"
pid="$(cat "$CLOONIX_WORK_ROOT/$NET/a2b.pid")"
t0="$(awk '{print $14+$15}' "/proc/$pid/stat")"; sleep 10; t1="$(awk '{print $14+$15}' "/proc/$pid/stat")"
idle="$(python3 -c "print(round(($t1-$t0)*100.0/$(getconf CLK_TCK)/10, 2))")"
rss="$(ps -o rss= -p "$pid" | awk '{printf "%.0f", $1/1024}')"
echo "idle: $idle% of a core, RSS $rss MiB"

python3 tools/bench/update_section.py a2b docs/BENCHMARKS.md <<MD
## a2b impairment (\`tools/bench/a2b_bench.sh\`, $(date -u +%Y-%m-%dT%H:%MZ))

Path: cnt1 -> lan1 (OVS) -> a2b (AF_PACKET sockets with virtio-net headers
on veths: TSO/GSO super-frames cross whole on a direction without loss,
jitter or rate; MTU frames otherwise) -> lan2 (OVS) -> cnt2. Clean-link
median RTT: $base ms.

| setting | set | measured | how |
|---|---|---|---|
${rows}
| path, no impairment (iperf3 TCP, 3 x 5 s) | runs (Mbit/s) | median (Mbit/s) | TCP retransmits per run |
|---|---|---|---|
| cnt1 -> lan1 -> a2b -> lan2 -> cnt2 | $runs_a2b | $med_a2b | $rtx_a2b |
| cnt1 -> lan1 -> cnt3 (direct, same lan, same run) | $runs_lan | $med_lan | $rtx_lan |

a2b / same lan: **$ratio** (issue 16's target: at least 0.5, with no more
retransmits than the same lan; before issue 16, on DPDK's net_af_packet
with offloads off, the 2026-11-21 run gave 593.7 against 7773.6 Mbit/s,
0.08, and 2026-12-02 runs 532-609 Mbit/s with 26k-50k retransmits per
5 s run). OVS's userspace datapath (one thread for all "system" ports)
crosses twice per packet on this path and once on the same-lan path, so
where OVS is the busiest thread, as on this 2-core machine, ~0.5 is the
ceiling; the same-lan retransmits come from OVS's socket buffers too.
Profiles before and after: docs/profiles/.

Idle worker (one a2b, no traffic, 10 s): $idle% of a core; RSS $rss MiB
(DPDK EAL, used for its RCU, with 128 MiB of --no-huge memory).
MD
echo "wrote the a2b section of docs/BENCHMARKS.md"
