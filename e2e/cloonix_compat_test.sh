#!/usr/bin/env bash
# End-to-end: a Cloonix user's path. A demo script written from Cloonix's
# documented syntax (cloonix_net, cloonix_cli add kvm/cvm/lan/a2b/nat, cnf
# a2b "dir cmd val", cloonix_ssh wait loops, cloonix_scp, its `OK` checks)
# runs unchanged against this net; Cloonix's names (Cnt1, lan1.0.1); the
# a2b's cmd=rate in Cloonix's unit (kilobytes/s) shapes to what Cloonix's
# would, measured with iperf3; dmp, lst, pid, cnf kvm reboot in Cloonix's
# order, snf 0|1, rma, kil; KO lines and exit codes.
source "$(dirname "$0")/lib.sh"

build_tiny_guest
S="$E2E_ROOT/demo.sh"
# The demo, as a Cloonix user writes it (quickstart/demos style).
cat > "$S" <<'EOF'
#!/bin/bash
NET=$1
ok() { out="$("$@")"; echo "$out"; case "$out" in OK*) ;; *) echo "NOT OK: $*"; exit 1;; esac; }
is_started=$(cloonix_cli $NET pid | grep cloonix_server)
if [ "x$is_started" == "x" ]; then
  cloonix_net $NET || exit 1
else
  ok cloonix_cli $NET rma
fi
PARAMS="ram=256 cpu=1 eth=s"
ok cloonix_cli $NET add kvm vm1 ${PARAMS} tiny --no_qemu_ga
ok cloonix_cli $NET add cvm Cnt1 eth=s busybox
ok cloonix_cli $NET add cvm Cnt2 eth=s busybox
ok cloonix_cli $NET add a2b a2b
ok cloonix_cli $NET add nat nat
ok cloonix_cli $NET add lan vm1 0 lan1.0.1
ok cloonix_cli $NET add lan Cnt1 0 lan1.0.1
ok cloonix_cli $NET add lan a2b 0 lan1.0.1
ok cloonix_cli $NET add lan nat 0 lan1.0.1
ok cloonix_cli $NET add lan a2b 1 lan2
ok cloonix_cli $NET add lan Cnt2 0 lan2
set +e
for i in vm1 Cnt1 Cnt2; do
  n=0
  while ! cloonix_ssh $NET ${i} "echo" 2>/dev/null; do
    echo ${i} not ready yet, waiting 1 sec
    sleep 1
    n=$((n + 1)); [ $n -gt 90 ] && exit 1
  done
done
set -e
cloonix_ssh $NET vm1 "ip addr add dev eth0 10.77.0.1/24"
cloonix_ssh $NET vm1 "ip link set dev eth0 up"
cloonix_ssh $NET Cnt1 "ip addr add dev eth0 10.77.0.2/24"
cloonix_ssh $NET Cnt2 "ip addr add dev eth0 10.77.0.3/24"
cloonix_ssh $NET vm1 "ping -c 1 -W 3 10.77.0.3"
ok cloonix_cli $NET cnf a2b a2b "dir=0 cmd=delay val=20"
ok cloonix_cli $NET cnf a2b a2b "dir=1 cmd=delay val=20"
echo hello-from-host > /tmp/cloonix_demo_$NET.txt
cloonix_scp $NET /tmp/cloonix_demo_$NET.txt vm1:/tmp/hello.txt
cloonix_ssh $NET vm1 "cat /tmp/hello.txt" | grep -q hello-from-host
cloonix_scp $NET vm1:/tmp/hello.txt /tmp/cloonix_demo_$NET.back
grep -q hello-from-host /tmp/cloonix_demo_$NET.back
rm -f /tmp/cloonix_demo_$NET.txt /tmp/cloonix_demo_$NET.back
echo DEMO DONE
EOF
chmod +x "$S"
out="$(timeout 300 "$S" "$NET" 2>&1)"; rc=$?
if [[ $rc -eq 0 && "$out" == *"DEMO DONE"* ]]; then
  pass "the Cloonix demo script runs unchanged ($(grep -c '^OK' <<<"$out") OK lines)"
else
  fail "the Cloonix demo script runs unchanged" "exit $rc: $(tail -20 <<<"$out")"
fi
check "the a2b's cmd=delay val=20 each way adds ~40 ms" bash -c "
  rtt=\$(cloonix_ssh $NET vm1 'ping -c 3 -W 3 10.77.0.3' | sed -n 's/.*min\/avg\/max = [0-9.]*\/\([0-9.]*\)\/.*/\1/p')
  python3 -c \"import sys; sys.exit(0 if 38 <= float('\$rtt') <= 70 else 1)\""

# cmd=rate in Cloonix's unit: val=1250 kilobytes/s = 10 Mbit/s (a reading of
# it as kbit/s would give 1.25 Mbit/s).
check "cnf a2b rate val=1250 both ways" bash -c "
  cloonix_cli $NET cnf a2b a2b 'dir=0 cmd=delay val=0' && cloonix_cli $NET cnf a2b a2b 'dir=1 cmd=delay val=0' &&
  cloonix_cli $NET cnf a2b a2b 'dir=0 cmd=rate val=1250' && cloonix_cli $NET cnf a2b a2b 'dir=1 cmd=rate val=1250'"
ip netns exec "cloonix_${NET}.Cnt2" iperf3 -s -1 -D
sleep 0.3
mbps="$(ip netns exec "cloonix_${NET}.Cnt1" iperf3 -c 10.77.0.3 -t 5 -J |
  python3 -c 'import json,sys; print(round(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e6, 2))')"
echo "    iperf3 through rate=1250 (Cloonix's kB/s): $mbps Mbit/s"
check "iperf3 gets Cloonix's 10 Mbit/s (8 to 10.5), not 1.25 ($mbps)" \
  python3 -c "import sys; sys.exit(0 if 8 <= float('$mbps') <= 10.5 else 1)"
check "cmd=silentms gives a burst of rate x silence (1250 kB/s x 200 ms)" bash -c "
  cloonix_cli $NET cnf a2b a2b 'dir=0 cmd=silentms val=200' | grep -q '^OK' &&
  cloonix show a2b -f json | python3 -c 'import json,sys; d=json.load(sys.stdin)[\"a2b\"][\"dir0\"]; sys.exit(0 if int(d[\"burst_bytes\"]) == 250000 else 1)'"

# Cloonix's other verbs.
check "dmp: 'vm1 vm_id: N ok' (agent up) and the containers" bash -c "
  cloonix_cli $NET dmp | grep -Eq '^vm1 vm_id: [0-9]+ ok\$' && cloonix_cli $NET dmp | grep -q '^Cnt1 cnt_id: [0-9]* ok'"
check "pid: cloonix_server and the guests" bash -c "
  cloonix_cli $NET pid | grep -Eq '^ +cloonix_server +[0-9]+\$' && cloonix_cli $NET pid | grep -q ' vm1 '"
check "lst: the commands that rebuild the net" bash -c "
  l=\$(cloonix_cli $NET lst) && grep -q 'add kvm vm1 ram=256 cpu=1 eth=s tiny' <<<\"\$l\" &&
  grep -q 'add lan Cnt1 0 lan1.0.1' <<<\"\$l\" && grep -q 'cnf a2b a2b \"dir=0 cmd=rate val=1250\"' <<<\"\$l\""
check "cnf kvm reboot vm1 (Cloonix's order)" bash -c "cloonix_cli $NET cnf kvm reboot vm1 | grep -q '^OK'"
check "vm1's agent comes back after the reboot" bash -c "
  for i in \$(seq 1 120); do cloonix_ssh $NET vm1 echo >/dev/null 2>&1 && exit 0; sleep 0.5; done; exit 1"
check "snf Cnt1 0 1 / 0 (Cloonix's capture switch)" bash -c "
  cloonix_cli $NET snf Cnt1 0 1 | grep -q '^OK' && cloonix_cli $NET snf Cnt1 0 0 | grep -q '^OK'"

out="$(cloonix_cli "$NET" add kvm vm1 ram=256 cpu=1 eth=s tiny)"; rc=$?
[[ $rc -eq 255 && "$out" == KO*"already exists"* ]] && pass "a refused add prints KO with the reason, exit 255" \
  || fail "a refused add prints KO, exit 255" "exit $rc: $out"
out="$(cloonix_cli "$NET" cnf lan lan2 rstp)"; rc=$?
[[ $rc -eq 255 && "$out" == KO*"not supported"* ]] && pass "what this net does not have: KO naming it" \
  || fail "cnf lan rstp: KO naming it" "exit $rc: $out"
out="$(cloonix_cli "$NET" add kvm v9 ram=256 cpu=1 eth=s tiny --vwifi=2)"; rc=$?
[[ $rc -eq 255 && "$out" == KO*"--vwifi"* ]] && pass "an unsupported kvm option: KO naming it" \
  || fail "an unsupported kvm option: KO naming it" "exit $rc: $out"
out="$(cloonix_cli "$NET" add kvm v9 ram=256 cpu=1 eth=s tiny --install_cdrom=/nonexistent.iso)"; rc=$?
[[ $rc -eq 255 && "$out" == KO*"install_cdrom"* ]] && pass "--install_cdrom on a kernel set: KO with the reason" \
  || fail "--install_cdrom on a kernel set: KO with the reason" "exit $rc: $out"

check "rma: every item goes, the net runs" bash -c "
  cloonix_cli $NET rma | grep -q '^OK' && [[ -z \$(cloonix ls -f json | python3 -c 'import json,sys; print(\" \".join(i[\"name\"] for i in json.load(sys.stdin).get(\"items\", [])))') ]] &&
  cloonix_cli $NET pid | grep -q cloonix_server"
check "kil: the net stops" bash -c "cloonix_cli $NET kil | grep -q '^OK' && [[ ! -e $CLOONIX_WORK_ROOT/$NET/doorway.sock ]]"
out="$(cloonix_cli "$NET" dmp 2>&1)"; rc=$?
[[ $rc -ne 0 ]] && pass "a net that does not run: dmp fails (exit $rc)" || fail "dmp of a stopped net fails" "$out"
out="$(cloonix_cli "$NET" add lan a 0 b)"; rc=$?
[[ $rc -eq 1 && "$out" == KO* ]] && pass "cloonix_cli to a stopped net: KO, exit 1 (Cloonix's TIMEOUT code)" \
  || fail "cloonix_cli to a stopped net: KO, exit 1" "exit $rc: $out"
check_clean "nothing left after kil"
e2e_finish
