#!/usr/bin/env bash
# Benchmarks of the nat worker (DPDK net_af_packet + libslirp), one run on
# this machine (root):
#  - TCP throughput guest -> host loopback through the nat: iperf3 client in
#    a container's netns to 172.17.0.2 (the gateway = the host's 127.0.0.1),
#    3 runs x 5 s, median; also host -> guest (-R);
#  - DHCP time to lease: `udhcpc` in a container, 5 runs, median (the
#    `cloonix ssh c1 true` round trip measured alone is subtracted);
#  - idle CPU of the nat process over 10 s, and its RSS.
# Writes the "nat" section of docs/BENCHMARKS.md.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_setup nbench
trap 'kill $IPERF_PID 2>/dev/null || true; bench_cleanup' EXIT
IPERF_PID=""

now() { date +%s.%N; }
cloonix net start >/dev/null 2>&1
cloonix add nat nat1 >/dev/null; cloonix add lan nat1 eth0 lan1 >/dev/null
cloonix add cnt c1 busybox eth=1 >/dev/null; cloonix add lan c1 eth0 lan1 >/dev/null

base=()
for _ in 1 2 3 4 5; do a=$(now); cloonix ssh c1 true; b=$(now); base+=("$(echo "$b - $a" | bc)"); done
base_med="$(printf '%s\n' "${base[@]}" | median)"
dhcp=()
for _ in 1 2 3 4 5; do
  cloonix ssh c1 'ip addr flush dev eth0' >/dev/null
  a=$(now); cloonix ssh c1 'udhcpc -i eth0 -n -q -t 10 >/dev/null 2>&1'; b=$(now)
  dhcp+=("$(echo "($b - $a - $base_med) * 1000" | bc | xargs printf '%.0f')")
done
dhcp_med="$(printf '%s\n' "${dhcp[@]}" | median)"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
iperf3 -s -B 127.0.0.1 -p "$PORT" >/dev/null 2>&1 &
IPERF_PID=$!
sleep 0.5
tput() {  # tput [-R] -> Mbit/s
  ip netns exec "cloonix_${NET}.c1" iperf3 -c 172.17.0.2 -p "$PORT" -t 5 -J "$@" |
    python3 -c 'import json,sys; print(round(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e6, 1))'
}
up=""; down=""
for _ in 1 2 3; do up+="$(tput) "; down+="$(tput -R) "; done
# The machine's speed in this run: the host's own loopback, no nat.
loop="$(iperf3 -c 127.0.0.1 -p "$PORT" -t 5 -J |
  python3 -c 'import json,sys; print(round(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e6, 1))')"
med() { tr ' ' '\n' | grep -v '^$' | median; }
kill "$IPERF_PID"; IPERF_PID=""

pid="$(cat "$CLOONIX_WORK_ROOT/$NET/nat.pid")"
sleep 2
a=$(awk '{print $14 + $15}' "/proc/$pid/stat"); sleep 10; b=$(awk '{print $14 + $15}' "/proc/$pid/stat")
idle="$(printf '%.2f' "$(echo "scale=3; ($b - $a) * 100 / $(getconf CLK_TCK) / 10" | bc)")"
rss="$(awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$pid/status")"

section="$(cat <<MD
## nat (\`tools/bench/nat_bench.sh\`, $(date -u +%Y-%m-%dT%H:%MZ))

Path: container c1 (its netns) -> lan1 (OVS) -> nat1 (AF_PACKET with
virtio-net headers on a veth; libslirp 4.7 with a 64 KB MTU: the guest's
TCP super-frames reach slirp whole, slirp's 64 KB segments go to the guest
as super-frames at its MSS, services/nat/big_segments.h) -> host sockets.
iperf3 server on 127.0.0.1, reached as 172.17.0.2. Before issue 16
(2026-11-21, DPDK net_af_packet, offloads off, -O0): 617.9 Mbit/s up,
773.9 Mbit/s down; 2026-12-02 at -O2 before the port change: 458.8 up,
746.4 down; with super-frames up only: 3307.0 up, 1044.6 down. Issue 16's
target: 2 Gbit/s each way.

| measure | runs | median |
|---|---|---|
| TCP guest -> host loopback (iperf3, 5 s) | $up Mbit/s | **$(echo "$up" | med) Mbit/s** |
| TCP host loopback -> guest (iperf3 -R, 5 s) | $down Mbit/s | **$(echo "$down" | med) Mbit/s** |
| DHCP: udhcpc discover -> lease configured | ${dhcp[*]} ms | **$dhcp_med ms** |
| reference: host loopback alone, no nat (iperf3, 5 s, same run) | $loop Mbit/s | |

This shared machine's speed varies through the day by up to 2x (the same
binary gave 3.3-3.8 Gbit/s up at 11:00Z and 2.0-2.7 at 12:40Z): read the
nat's figures against the loopback reference of the same run.

Idle nat process (one nat, no traffic, 10 s): $idle % of a core; RSS $rss MiB
(DPDK EAL with 128 MiB of --no-huge memory, no longer carrying frames).
MD
)"
echo "$section"
echo "$section" | python3 tools/bench/update_section.py nat docs/BENCHMARKS.md
