#!/usr/bin/env bash
# Benchmark of capture (snf), side by side in one run on this machine (root):
# TCP throughput (iperf3, RUNS x SECS s, median) between two containers on
# one lan without a capture, with `cloonix snf cnt1 eth0 -w FILE` running
# (whole frames, written to a file), and with a lan capture (OVS mirror);
# the capture's own figures: frames written, pcap's received and dropped.
# Writes the "capture" section of docs/BENCHMARKS.md.
set -euo pipefail
RUNS="${RUNS:-3}"
SECS="${SECS:-5}"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_setup capb
trap bench_cleanup EXIT

iperf_runs() {
  for _ in $(seq "$RUNS"); do
    ip netns exec "cloonix_${NET}.cnt2" iperf3 -s -1 -D
    sleep 0.3
    ip netns exec "cloonix_${NET}.cnt1" iperf3 -c 10.31.0.2 -t "$SECS" -J |
      python3 -c 'import json,sys; print(round(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9, 2))'
  done | median
}

cloonix net start >/dev/null 2>&1
cloonix add cnt cnt1 >/dev/null && cloonix add cnt cnt2 >/dev/null
cloonix add lan cnt1 eth0 lan1 >/dev/null && cloonix add lan cnt2 eth0 lan1 >/dev/null
ip -n "cloonix_${NET}.cnt1" addr add 10.31.0.1/24 dev eth0
ip -n "cloonix_${NET}.cnt2" addr add 10.31.0.2/24 dev eth0

echo "== no capture"
base="$(iperf_runs)"
echo "lan: $base Gbit/s"

# capture_during POINT: throughput while `snf POINT -w file --duration D`
# runs (D covers the iperf runs), and the capture's summary line.
capture_during() {
  local d=$((RUNS * (SECS + 2) + 3))
  cloonix snf "$1" -w "$W/cap.pcap" --duration "$d" 2>"$W/cap.err" &
  local pid=$!
  sleep 1
  local g
  g="$(iperf_runs)"
  wait "$pid" || true
  local size
  size="$(stat -c %s "$W/cap.pcap" 2>/dev/null || echo 0)"
  echo "$g|$(tr '\n' ' ' < "$W/cap.err")|$((size / 1000000))"
  rm -f "$W/cap.pcap"
}
echo "== capture of cnt1:eth0"
IFS='|' read -r eth_g eth_sum eth_mb <<<"$(capture_during cnt1:eth0)"
echo "with snf cnt1:eth0: $eth_g Gbit/s; $eth_sum; $eth_mb MB written"
echo "== capture of lan1 (mirror)"
IFS='|' read -r lan_g lan_sum lan_mb <<<"$(capture_during lan1)"
echo "with snf lan1: $lan_g Gbit/s; $lan_sum; $lan_mb MB written"
cloonix net stop >/dev/null 2>&1

stamp="$(date -u +%Y-%m-%dT%H:%MZ)"
section="$(cat <<MD
## Capture (\`tools/bench/capture_bench.sh\`, $stamp)

2 cores, one run; iperf3 TCP cnt1 -> cnt2 on one lan, median of $RUNS x $SECS s.
The capture writes whole frames to a pcap file through the doorway.

| | lan throughput | the capture |
|---|---|---|
| no capture | $base Gbit/s | — |
| \`snf cnt1:eth0 -w file\` running | $eth_g Gbit/s | $eth_sum; $eth_mb MB written |
| \`snf lan1 -w file\` (OVS mirror) running | $lan_g Gbit/s | $lan_sum; $lan_mb MB written |

"dropped" is pcap's count of frames the capture ring (8 MB) could not hold
while the client was slower than the link: what the capture cannot keep is
counted, not silently lost. On 2 cores the capture competes with the lan for
CPU (lan_switch reading the ring, the orchestrator and the doorway relaying,
the CLI writing the file): that, not back-pressure, is the throughput lost
while it runs.
MD
)"
echo "$section"
echo "$section" | python3 tools/bench/update_section.py capture docs/BENCHMARKS.md
