#!/usr/bin/env bash
# Benchmarks of parallel requests (issue 9), measured side by side in one run
# on this machine (root):
#  - deploy of 50 containers + 10 lans until every container pings the first
#    container of its lan: one client issuing the commands in order vs 8
#    clients at once (each its share of containers; lans made by the first
#    cable, `add lan <item> <eth> <lan>`);
#  - `cloonix ls` latency (p50, p99, max) measured by a 9th client looping
#    during the parallel deploy (includes starting the CLI process);
#  - one VM alone vs 4 VMs added at once (`add kvm` in the background), until
#    every agent is up (tiny guest, TCG).
# Writes the "parallel" section of docs/BENCHMARKS.md.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_setup pbench
trap bench_cleanup EXIT
bench_tiny_guest

CNTS=50
LANS=10

# deploy_share K N: containers i = K, K+N, K+2N, ... (1-based): create, cable,
# address (10.0.<lan>.<i>/16 inside the container's netns).
deploy_share() {
  local k="$1" n="$2" i lan
  for ((i = k; i <= CNTS; i += n)); do
    lan=$(( (i - 1) % LANS ))
    cloonix add cnt "c$i" busybox eth=1 >/dev/null
    cloonix add lan "c$i" eth0 "lan$lan" >/dev/null
    ip -n "cloonix_${NET}.c$i" addr add "10.0.$lan.$i/16" dev eth0
  done
}
# ping_share K N: container i pings the first container of its lan.
ping_share() {
  local k="$1" n="$2" i lan
  for ((i = k; i <= CNTS; i += n)); do
    lan=$(( (i - 1) % LANS ))
    (( i == lan + 1 )) && continue
    until ip netns exec "cloonix_${NET}.c$i" ping -c 1 -W 1 "10.0.$lan.$((lan + 1))" >/dev/null; do :; done
  done
}
deploy() {  # deploy CLIENTS -> "ms until all created and cabled, ms until all ping"
  local clients="$1" t0 k pids=() made
  cloonix net start >/dev/null 2>&1
  t0="$(now)"
  for ((k = 1; k <= clients; k++)); do deploy_share "$k" "$clients" & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p"; done
  made="$(ms_since "$t0")"
  pids=()
  for ((k = 1; k <= clients; k++)); do ping_share "$k" "$clients" & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p"; done
  echo "$made $(ms_since "$t0")"
}

read -r seq_made seq_ms <<<"$(deploy 1)"
cloonix net stop >/dev/null 2>&1
read -r par_made par_ms <<<"$(deploy 8)"
cloonix net stop >/dev/null 2>&1
# The parallel deploy again, with a client timing ls meanwhile (its own
# CPU use slows the deploy: not counted above).
(
  while [[ ! -f "$W/stop_ls" ]]; do
    a="$(now)"; cloonix ls >/dev/null 2>&1 || true; ms_since "$a"
  done > "$W/ls_ms"
) &
lsp=$!
deploy 8 >/dev/null
touch "$W/stop_ls"; wait "$lsp"
ls_stats="$(sort -n "$W/ls_ms" | awk '{a[NR]=$1} END {printf "%d %d %d %d", NR, a[int(NR*0.5+0.5)], a[int(NR*0.99+0.5)], a[NR]}')"
read -r ls_n ls_p50 ls_p99 ls_max <<<"$ls_stats"
items="$(cloonix ls -f json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')"
cloonix net stop >/dev/null 2>&1

agents_up() {
  cloonix ls -f json | python3 -c 'import json,sys; print(sum(1 for i in json.load(sys.stdin).get("items",[]) if i.get("kvm",{}).get("agent_up")))'
}
vms_until_up() {  # vms_until_up N -> ms from the first add to N agents up
  local n="$1" t0 i
  cloonix net start >/dev/null 2>&1
  t0="$(now)"
  for ((i = 1; i <= n; i++)); do cloonix add kvm "vm$i" ram=256 cpu=1 eth=1 tiny >/dev/null & done
  wait
  until [[ "$(agents_up)" -ge "$n" ]]; do sleep 0.1; done
  ms_since "$t0"
  cloonix net stop >/dev/null 2>&1
}
vm1_ms="$(vms_until_up 1)"
vm4_ms="$(vms_until_up 4)"

# CPU cost of one request (all processes: CLI, daemons, containerd, runc,
# OVS), from /proc/stat over 10 in a row.
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '/^cpu /{print int(($2+$3+$4+$7+$8) * 1000 / hz)}' /proc/stat; }
cloonix net start >/dev/null 2>&1
c0="$(cpu_ms)"; for i in $(seq 1 10); do cloonix add cnt "k$i" busybox eth=1 >/dev/null; done
c1="$(cpu_ms)"; for i in $(seq 1 10); do cloonix add lan "k$i" eth0 lank >/dev/null; done
c2="$(cpu_ms)"; for i in $(seq 1 10); do cloonix ls >/dev/null; done
c3="$(cpu_ms)"
cpu_create=$(( (c1 - c0) / 10 )); cpu_cable=$(( (c2 - c1) / 10 )); cpu_ls=$(( (c3 - c2) / 10 ))
cloonix net stop >/dev/null 2>&1

stamp="$(date -u +%Y-%m-%dT%H:%MZ)"
section="$(cat <<MD
## Parallel requests (\`tools/bench/parallel_bench.sh\`, $stamp)

2 cores, one run. Deploy = $CNTS containers (busybox) + $LANS lans, until
every container pings the first container of its lan ($items items).

| | result |
|---|---|
| deploy, 1 client (commands in order): all created and cabled / all ping | $seq_made ms / $seq_ms ms |
| deploy, 8 clients at once: all created and cabled / all ping | $par_made ms ($(echo "scale=2; $seq_made / $par_made" | bc)x) / $par_ms ms ($(echo "scale=2; $seq_ms / $par_ms" | bc)x) |
| \`cloonix ls\` during the 8-client deploy ($ls_n calls) | p50 $ls_p50 ms, p99 $ls_p99 ms, max $ls_max ms |
| 1 VM, \`add kvm\` to agent up | $vm1_ms ms |
| 4 VMs added at once, to all 4 agents up | $vm4_ms ms |
| CPU per request, all processes (\`add cnt\` / \`add lan <item> <eth> <lan>\` / \`ls\`) | $cpu_create / $cpu_cable / $cpu_ls ms |

The deploy is bound by CPU, not by the orchestrator: a container costs
$cpu_create ms of CPU (runc and the containerd shim, \`ip\`, the CLI process)
and a cable $cpu_cable ms (\`ovs-vsctl\`, ovs-vswitchd's userspace datapath),
so $CNTS containers need at least $(( (cpu_create + cpu_cable) * CNTS / 2 )) ms on 2 cores whatever the
number of clients. Parallel clients overlap the requests' waits (no request
waits for another's backend calls), but there is little idle time to fill
here.
MD
)"
echo "$section"
echo "$section" | python3 tools/bench/update_section.py parallel docs/BENCHMARKS.md
