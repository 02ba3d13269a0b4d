#!/usr/bin/env bash
# End-to-end: capture (Cloonix's snf). cnt1 - lan1 - a2b (delay 30 ms each
# way) - lan2 - cnt2, cnt1 pinging cnt2. Captures of an eth to a file and to
# stdout (read by tshark), a BPF filter, a whole lan (OVS mirror), both ends
# of the a2b in one pcapng (tshark sees the echo request ~30 ms later on end
# 1), a remote capture through the TLS doorway, bad input, and 10 captures
# opened and closed leaving no thread, fd or mirror port behind. Cloonix's
# switch (snf ... on|off) records into the work dir until off or net stop.
source "$(dirname "$0")/lib.sh"

W="$CLOONIX_WORK_ROOT/$NET"
R="$E2E_ROOT/cap"
mkdir -p "$R"
within() { python3 -c "import sys; v,lo,hi=map(float,sys.argv[1:]); sys.exit(0 if lo<=v<=hi else 1)" "$@"; }

check "net start with a TCP listener" cloonix net start --listen 127.0.0.1:0
check "build cnt1 - lan1 - a2b - lan2 - cnt2" bash -c "cloonix add cnt cnt1 && cloonix add cnt cnt2 && \
  cloonix add a2b ab1 delay=30 && cloonix add lan cnt1 eth0 lan1 && cloonix add lan ab1 eth0 lan1 && \
  cloonix add lan ab1 eth1 lan2 && cloonix add lan cnt2 eth0 lan2"
ip -n "cloonix_${NET}.cnt1" addr add 10.41.0.1/24 dev eth0
ip -n "cloonix_${NET}.cnt2" addr add 10.41.0.2/24 dev eth0
check "ping through the a2b" in_cnt cnt1 ping -c 2 -W 2 10.41.0.2
in_cnt cnt1 ping -i 0.1 -W 2 10.41.0.2 >/dev/null 2>&1 &
PING_PID=$!
# A TCP flow too, so that a filter has something to drop.
ip netns exec "cloonix_${NET}.cnt2" iperf3 -s -D >/dev/null 2>&1
ip netns exec "cloonix_${NET}.cnt1" iperf3 -c 10.41.0.2 -t 60 -b 1M >/dev/null 2>&1 &
IPERF_PID=$!
sleep 1

check "snf cnt1 eth0 -w file --count 20: tshark reads 20 frames" bash -c \
  "cloonix snf cnt1 eth0 -w $R/one.pcap --count 20 2>$R/one.err && [[ \$(tshark -r $R/one.pcap 2>/dev/null | wc -l) == 20 ]]"
check "the summary reports received and dropped" grep -q "20 frame(s) captured; cnt1:eth0: .* received, .* dropped" "$R/one.err"
check "snf -w - | tshark -r -: 12 frames, ICMP among them" bash -c \
  "cloonix snf cnt1:eth0 -w - --count 12 2>/dev/null | tshark -r - -T fields -e frame.protocols 2>/dev/null > $R/pipe.txt; [[ \$(wc -l < $R/pipe.txt) == 12 ]] && grep -q icmp $R/pipe.txt"
check "a BPF filter keeps only what it names (icmp: 10 echo frames, no tcp)" bash -c \
  "cloonix snf cnt1:eth0 --filter icmp -w $R/icmp.pcap --count 10 2>/dev/null && [[ \$(tshark -r $R/icmp.pcap -Y icmp 2>/dev/null | wc -l) == 10 ]] && [[ \$(tshark -r $R/icmp.pcap -Y tcp 2>/dev/null | wc -l) == 0 ]]"
check "a filter matching nothing gives no frame in 2 s" bash -c \
  "cloonix snf cnt1:eth0 --filter 'udp port 9' -w $R/none.pcap --duration 2 2>/dev/null && [[ \$(tshark -r $R/none.pcap 2>/dev/null | wc -l) == 0 ]]"
check "--snaplen 64 cuts frames at 64 bytes" bash -c \
  "cloonix snf cnt1:eth0 --filter tcp -w $R/snap.pcap --count 5 --snaplen 64 2>/dev/null && [[ \$(tshark -r $R/snap.pcap -T fields -e frame.cap_len 2>/dev/null | sort -un | tail -1) -le 64 ]]"
check "snf lan1 (a mirror of the whole lan): 10 frames" bash -c \
  "cloonix snf lan1 -w $R/lan.pcap --count 10 2>/dev/null && [[ \$(tshark -r $R/lan.pcap 2>/dev/null | wc -l) == 10 ]]"
check "the lan's mirror port is gone after its capture" bash -c \
  "! ovs-vsctl --db=unix:$W/ovs/run/db.sock list-ports \$(cloonix show lan1 -f json | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"lan\"][\"bridge\"])') | grep -q '^cxm'"

# Both ends of the a2b in one pcapng: echo requests on end 1 ~30 ms after end 0.
check "snf ab1:eth0 ab1:eth1 -w both.pcapng (icmp, 3 s)" \
  cloonix snf ab1:eth0 ab1:eth1 --filter "icmp[icmptype] == icmp-echo" -w "$R/both.pcapng" --duration 3
tshark -r "$R/both.pcapng" -T fields -e frame.interface_id -e frame.time_epoch -e icmp.seq 2>/dev/null > "$R/both.txt"
delay="$(python3 - "$R/both.txt" <<'PY'
import sys, statistics
t = {}
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) == 3:
        t.setdefault(int(f[2]), {})[int(f[0])] = float(f[1])
d = [v[1] - v[0] for v in t.values() if 0 in v and 1 in v]
print(round(statistics.median(d) * 1000, 2) if d else -1)
PY
)"
echo "    echo request end 0 -> end 1: median $delay ms"
check "one pcapng, two interfaces (one per point)" bash -c \
  "[[ \$(cut -f1 $R/both.txt | sort -u | wc -l) == 2 ]]"
if within "$delay" 27 36; then pass "the request on end 1 is ~30 ms after end 0 (median $delay ms)"
else fail "the request on end 1 is ~30 ms after end 0" "median $delay ms"; fi

# Remote: the same through the doorway's TLS listener.
check "export client credentials" cloonix net creds "$E2E_ROOT/creds"
addr="$(cat "$E2E_ROOT/creds/address")"
check "remote snf over mutual TLS: 8 frames" bash -c \
  "cloonix --remote $addr --creds $E2E_ROOT/creds snf cnt2 eth0 -w - --count 8 2>/dev/null | tshark -r - 2>/dev/null | wc -l | grep -qx 8"

# Bad input: clear errors, nothing changes.
# The topology, without the a2b's live counters (the ping runs).
topo() { cloonix ls -f json | python3 -c 'import json,sys; print(sorted((i["name"], i["kind"], i.get("state"), json.dumps(i.get("eths", []), sort_keys=True)) for i in json.load(sys.stdin)["items"]))'; }
before="$(topo)"
expect_code "a filter pcap cannot compile" INVALID_ARGUMENT cloonix snf cnt1 eth0 --filter "not a filter ((" --count 1
expect_code "an unknown item" NOT_FOUND cloonix snf nosuch eth0 --count 1
expect_code "an eth the item does not have" NOT_FOUND cloonix snf cnt1 eth5 --count 1
check "add an empty lan" cloonix add lan lan9
expect_code "a lan with no cabled eth" FAILED_PRECONDITION cloonix snf lan9 --count 1
expect_code "several points to stdout" "one point to stdout" cloonix snf cnt1:eth0 cnt2:eth0 -w - --count 1
check "del the empty lan" cloonix del lan9
after="$(topo)"
if [[ "$before" == "$after" ]]; then pass "bad input changed nothing"; else fail "bad input changed nothing" "$before != $after"; fi

# 10 captures opened and closed (5 ended by the client, 5 by --duration).
LS_PID="$(cat $W/lan_switch.pid)"
fds0="$(ls /proc/$LS_PID/fd | wc -l)"; thr0="$(ls /proc/$LS_PID/task | wc -l)"
for i in 1 2 3 4 5; do
  timeout -s INT 0.5 cloonix snf lan1 >/dev/null 2>&1
  cloonix snf cnt1 eth0 --duration 0.3 >/dev/null 2>&1
done
sleep 1
fds1="$(ls /proc/$LS_PID/fd | wc -l)"; thr1="$(ls /proc/$LS_PID/task | wc -l)"
echo "    lan_switch: fds $fds0 -> $fds1, threads $thr0 -> $thr1"
# fds must come back exactly. gRPC's sync server grows its own thread pool
# under load (14 -> 15 once in CI), so threads get a slack of 2: a capture
# that leaked its thread would add 10.
check "10 captures leave no fd or thread in lan_switch" bash -c "(( $fds1 <= $fds0 && $thr1 <= $thr0 + 2 ))"
check "and no mirror port" bash -c \
  "! ovs-vsctl --db=unix:$W/ovs/run/db.sock show | grep -q 'Port cxm'"

# Cloonix's switch: snf <item> <eth> on|off records into the work dir.
check "snf cnt1 eth0 on (icmp only)" bash -c \
  "cloonix snf cnt1 eth0 on --filter icmp | grep -q 'recording into $W/snf/cnt1.eth0.pcap'"
check "on again: the same recording, still running" bash -c \
  "cloonix snf cnt1:eth0 on -f json | python3 -c 'import json,sys; r=json.load(sys.stdin); assert r[\"active\"] and r[\"file\"].endswith(\"/snf/cnt1.eth0.pcap\"), r'"
check "snf lan2 on" cloonix snf lan2 on
sleep 2
check "snf --list: both recording, frames counted" bash -c \
  "cloonix snf --list -f json | python3 -c 'import json,sys; r={x[\"name\"]: x for x in json.load(sys.stdin)[\"recordings\"]}; assert r[\"cnt1:eth0\"][\"active\"] and int(r[\"cnt1:eth0\"][\"frames\"])>5 and r[\"lan2\"][\"active\"], r'"
check "the file grows while it records (flushed per batch)" bash -c \
  "a=\$(stat -c %s $W/snf/cnt1.eth0.pcap); sleep 1; b=\$(stat -c %s $W/snf/cnt1.eth0.pcap); (( b > a ))"
check "snf cnt1 eth0 off: stopped, with its counts" bash -c \
  "cloonix snf cnt1 eth0 off | grep -q 'recorded into $W/snf/cnt1.eth0.pcap, [0-9]* frame(s).*(stopped)'"
check "tshark reads the recording: ICMP only" bash -c \
  "n=\$(tshark -r $W/snf/cnt1.eth0.pcap 2>/dev/null | wc -l); i=\$(tshark -r $W/snf/cnt1.eth0.pcap -Y icmp 2>/dev/null | wc -l); (( n > 5 && n == i ))"
check "off again: not recording, OK" cloonix snf cnt1 eth0 off
expect_code "on with a filter pcap cannot compile" INVALID_ARGUMENT cloonix snf cnt2 eth0 on --filter "((("
check "and no file is left for it" bash -c "[[ ! -e $W/snf/cnt2.eth0.pcap ]]"
expect_code "on for an eth the item does not have" NOT_FOUND cloonix snf cnt2 eth7 on

kill "$PING_PID" "$IPERF_PID" 2>/dev/null; wait "$PING_PID" "$IPERF_PID" 2>/dev/null
check "net stop" cloonix net stop
check "net stop ended the lan2 recording: a complete pcap" bash -c \
  "tshark -r $W/snf/lan2.pcap >/dev/null 2>&1 && (( \$(tshark -r $W/snf/lan2.pcap 2>/dev/null | wc -l) > 5 ))"
check_clean "nothing left after stop"
e2e_finish
