#!/usr/bin/env bash
# End-to-end: VMs (real libvirtd, real QEMU under TCG, tiny guest with the
# real cloonix-agent) and a container on lan1, all reached through the
# doorway: IPs set with `cloonix ssh`, ping VM<->VM and VM<->container, ssh
# still works with the guest's eth0 down, a 20 MB scp both ways (sha256),
# exit codes, restarts of vm_runner and of the orchestrator (VMs adopted,
# agents reconnect), bad input, remote use over mutual TLS, and nothing left
# after delete and net stop.
source "$(dirname "$0")/lib.sh"

# The tiny guest, built from the kernel cache with this build's agent.
build_tiny_guest

check "net start with a TCP listener" cloonix net start --listen 127.0.0.1:0
W="$CLOONIX_WORK_ROOT/$NET"
check "doorway serves Topology, Net and Guest (reflection)" bash -c \
  "grpc_probe --socket=$W/doorway.sock | grep -qx cloonix.v1.Guest"
check "vm_runner serves its API (reflection)" bash -c \
  "grpc_probe --socket=$W/vm_runner.sock | grep -qx cloonix.vmrunner.v1.VmRunner"
check "doorway and vm_runner sockets are 0600" bash -c \
  "[[ \$(stat -c %a $W/doorway.sock) == 600 && \$(stat -c %a $W/vm_runner.sock) == 600 ]]"

t0=$(date +%s.%N)
check "add kvm vm1" cloonix add kvm vm1 ram=256 cpu=1 eth=1 tiny
check "add kvm vm2 (Cloonix eth letters)" cloonix add kvm vm2 ram=256 cpu=1 eth=s tiny
check "add cnt c1" cloonix add cnt c1 busybox eth=1
for i in vm1 vm2 c1; do check "cable $i eth0 to lan1" cloonix add lan $i eth0 lan1; done

up=""
for i in $(seq 1 120); do
  n=$(cloonix ls -f json | python3 -c 'import json,sys; print(sum(1 for i in json.load(sys.stdin)["items"] if i.get("kvm",{}).get("agent_up")))')
  [[ "$n" == 2 ]] && { up=1; break; }
  sleep 0.5
done
t1=$(date +%s.%N)
if [[ -n "$up" ]]; then pass "both agents up (blue)"; else fail "both agents up (blue)" "$(cloonix ls)"; fi
echo "    add kvm -> both agents up: $(echo "$t1 - $t0" | bc) s"

check "set IPs through ssh" bash -c "
  cloonix ssh vm1 'ip addr add 10.30.0.1/24 dev eth0 && ip link set eth0 up' &&
  cloonix ssh vm2 'ip addr add 10.30.0.2/24 dev eth0 && ip link set eth0 up' &&
  cloonix ssh c1 'ip addr add 10.30.0.3/24 dev eth0 && ip link set eth0 up'"
check "ping vm1 -> vm2" cloonix ssh vm1 ping -c 3 -W 3 10.30.0.2
check "ping vm2 -> c1 (VM to container)" cloonix ssh vm2 ping -c 3 -W 3 10.30.0.3
check "ping c1 -> vm1 (container to VM)" cloonix ssh c1 ping -c 3 -W 3 10.30.0.1

check "ssh vm1 false exits 1" bash -c 'cloonix ssh vm1 false; [[ $? == 1 ]]'
check "ssh exit code 7 comes back" bash -c "cloonix ssh vm1 'exit 7'; [[ \$? == 7 ]]"
check "ssh c1 false exits 1" bash -c 'cloonix ssh c1 false; [[ $? == 1 ]]'
check "stdin reaches the command" bash -c '[[ "$(echo hi | cloonix ssh vm2 cat)" == hi ]]'
check "stdout and stderr stay apart" bash -c \
  '[[ "$(cloonix ssh vm1 "echo out; echo err >&2" 2>/dev/null)" == out ]]'
check "a pty when asked (-t)" bash -c '[[ "$(cloonix ssh -t vm1 tty)" == /dev/pts/* ]]'

check "guest network down" cloonix ssh vm1 ip link set eth0 down
check "ssh still works with eth0 down" bash -c \
  "cloonix ssh vm1 ip link show eth0 | grep -qv 'state UP'"
check "and the guest is really cut off" bash -c "! cloonix ssh vm1 ping -c 1 -W 1 10.30.0.2"

head -c 20000000 /dev/urandom > "$E2E_ROOT/r20"
want="$(sha256sum < "$E2E_ROOT/r20" | cut -d' ' -f1)"
t0=$(date +%s.%N)
check "scp 20 MB into vm1" cloonix scp "$E2E_ROOT/r20" vm1:/tmp/
t1=$(date +%s.%N)
echo "    scp 20 MB in: $(echo "scale=1; 20 / ($t1 - $t0)" | bc) MB/s"
check "sha256 in the guest matches" bash -c \
  "[[ \"\$(cloonix ssh vm1 sha256sum /tmp/r20 | cut -d' ' -f1)\" == $want ]]"
check "scp 20 MB out of vm1" cloonix scp vm1:/tmp/r20 "$E2E_ROOT/r20.back"
check "sha256 back home matches" bash -c \
  "[[ \"\$(sha256sum < $E2E_ROOT/r20.back | cut -d' ' -f1)\" == $want ]]"
# A copy out streams between the agent's other work: a command still runs.
cloonix ssh vm1 'cat /tmp/r20 /tmp/r20 > /tmp/r60'
cloonix scp -q vm1:/tmp/r60 "$E2E_ROOT/r60" &
SCP_PID=$!
sleep 0.3
check "ssh answers while a 40 MB copy out runs" timeout 10 cloonix ssh vm1 true
wait "$SCP_PID"
check "and the 40 MB copy completes intact" bash -c \
  "[[ \$(stat -c %s $E2E_ROOT/r60) == 40000000 ]]"
mkdir -p "$E2E_ROOT/tree/sub" && echo a > "$E2E_ROOT/tree/sub/a" && chmod 0751 "$E2E_ROOT/tree/sub/a"
check "scp -r a tree into c1 keeps modes" bash -c "
  cloonix scp -r $E2E_ROOT/tree c1:/tmp/ &&
  [[ \"\$(cloonix ssh c1 stat -c %a /tmp/tree/sub/a)\" == 751 ]]"

# The serial console, attached through the doorway.
cloonix console vm2 --for 5 > "$E2E_ROOT/console.out" 2>&1 < /dev/null &
CON_PID=$!
sleep 1.5
cloonix ssh vm2 "echo console-check-$NET > /dev/console"
wait "$CON_PID"
check "console shows what the guest writes to its serial port" \
  grep -q "console-check-$NET" "$E2E_ROOT/console.out"
expect_code "a container has no serial console" FAILED_PRECONDITION cloonix console c1 --for 1

# Streams end with their client: a killed `ssh` kills its command in the
# guest (the runners' reactors see the cancel), for a VM and a container.
for g in vm1 c1; do
  cloonix ssh "$g" sleep 4242 < /dev/null > /dev/null 2>&1 &
  SSH_PID=$!
  for i in $(seq 1 40); do
    cloonix ssh "$g" ps < /dev/null 2>/dev/null | grep -q "[s]leep 4242" && break
    sleep 0.25
  done
  kill -9 "$SSH_PID"; wait "$SSH_PID" 2>/dev/null
  gone=""
  for i in $(seq 1 40); do
    cloonix ssh "$g" ps < /dev/null 2>/dev/null | grep -q "[s]leep 4242" || { gone=1; break; }
    sleep 0.25
  done
  if [[ -n "$gone" ]]; then pass "$g: a killed ssh client kills its command in the guest"
  else fail "$g: a killed ssh client kills its command" "$(cloonix ssh "$g" ps < /dev/null)"; fi
done
check "stdin reaches a container's command, then its end (wc -l)" bash -c \
  "[[ \$(printf 'a\nb\nc\n' | cloonix ssh c1 wc -l) == 3 ]]"
check "stdout and stderr of a container's command stay apart" bash -c \
  "[[ \$(cloonix ssh c1 'echo out; echo err >&2' 2>/dev/null) == out ]]"
check "20 MB through a container's stdin and stdout intact" bash -c \
  "[[ \$(cloonix ssh c1 'cat > /tmp/r20; cat /tmp/r20' < $E2E_ROOT/r20 | sha256sum | cut -d' ' -f1) == $want ]]"
# Execs at once (a reaction that blocked on containerd starved gRPC's
# threads: a start hung until its 30 s deadline).
check "20 rounds of 3 execs at once into c1 all end within 10 s" bash -c '
  for r in $(seq 1 20); do
    timeout 10 cloonix ssh c1 true & a=$!
    timeout 10 cloonix ssh c1 echo x >/dev/null & b=$!
    timeout 10 cloonix ssh c1 true; c=$?
    wait $a || exit 1; wait $b || exit 1; [[ $c -eq 0 ]] || exit 1
  done'
# An exec's FIFOs go once containerd deleted it, just after its stream ended
# (a killed client's exec after the kill took: seconds on a loaded machine).
check "no exec FIFOs left behind" bash -c \
  "for i in \$(seq 1 300); do [[ -z \$(ls -A $W/cnt/exec 2>/dev/null) ]] && exit 0; sleep 0.1; done; ls -A $W/cnt/exec; exit 1"

# Bad input: clear errors, nothing changes.
before="$(cloonix ls -f json)"
expect_code "missing image" NOT_FOUND cloonix add kvm bad1 ram=256 eth=1 nosuchimage
expect_code "ram=0" INVALID_ARGUMENT cloonix add kvm bad2 ram=0 eth=1 tiny
expect_code "ssh to an unknown VM" NOT_FOUND cloonix ssh nosuchvm true
expect_code "scp to a missing dir" "no such directory" cloonix scp "$E2E_ROOT/r20" vm1:/nope/dir/
expect_code "ssh into a lan" FAILED_PRECONDITION cloonix ssh lan1 true
expect_code "sav of a tiny guest (no disk)" "has no overlay disk" cloonix sav vm1 vm1.qcow2
check "bad input changed nothing" bash -c "[[ '$before' == \"\$(cloonix ls -f json)\" ]]"
check "no domain, overlay or dir for the refused VMs" bash -c \
  "! virsh -c qemu:///system list --all --name | grep -q 'cloonix.$NET.bad' && [[ ! -e $W/vm/bad1 && ! -e $W/vm/bad2 ]]"

# Restarts: VMs keep running and are adopted, agents reconnect.
qpid="$(cloonix show vm2 -f json | python3 -c 'import json,sys; print(json.load(sys.stdin)["kvm"]["pid"])')"
pkill -9 -f "cloonix-vm-runner --net=$NET" 
back=""
for i in $(seq 1 60); do cloonix ssh vm2 true 2>/dev/null && { back=1; break; }; sleep 0.5; done
if [[ -n "$back" ]]; then pass "vm_runner killed: restarted, agent reconnects"; else fail "vm_runner killed: restarted, agent reconnects" "$(tail -5 $W/log/vm_runner.log)"; fi
opid="$(cloonix net show -f json | python3 -c 'import json,sys; print(json.load(sys.stdin)["orchestrator_pid"])')"
kill -9 "$opid"
check "orchestrator restarted by its keeper (adopts the services)" wait_orchestrator_back "$opid"
check "same QEMU process after both restarts" bash -c \
  "[[ \"\$(cloonix show vm2 -f json | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"kvm\"][\"pid\"])')\" == $qpid ]]"
check "ping vm2 -> c1 after the restarts" cloonix ssh vm2 ping -c 2 -W 3 10.30.0.3

# Reboot, stop and start (Cloonix: cnf kvm <name> reboot).
check "cnf kvm vm1 reboot" cloonix cnf kvm vm1 reboot
check "vm1's agent comes back after the reboot" wait_agent vm1
check "the reboot really happened (fresh uptime)" bash -c \
  "(( \$(cloonix ssh vm1 cut -d. -f1 /proc/uptime) < 60 ))"
check "cnf kvm vm2 stop" cloonix cnf kvm vm2 stop
check "vm2 is stopped: no QEMU, state stopped" bash -c "
  cloonix ls | grep '^vm2 ' | grep -q stopped &&
  ! virsh -c qemu:///system list --name | grep -qx 'cloonix.$NET.vm2'"
expect_code "ssh to a stopped VM" "not running" cloonix ssh vm2 true
expect_code "reboot a stopped VM" FAILED_PRECONDITION cloonix cnf kvm vm2 reboot
check "cnf kvm vm2 start" cloonix cnf kvm vm2 start
check "vm2's agent is back" wait_agent vm2
check "vm2 is cabled again: ping c1" bash -c "
  cloonix ssh vm2 'ip addr add 10.30.0.2/24 dev eth0; ip link set eth0 up' &&
  cloonix ssh vm2 ping -c 2 -W 3 10.30.0.3"

# QEMU killed behind cloonix's back: shown as stopped with the reason, not
# restarted; start brings it back.
qpid2="$(cloonix show vm2 -f json | python3 -c 'import json,sys; print(json.load(sys.stdin)["kvm"]["pid"])')"
kill -9 "$qpid2"
gone=""
for _ in $(seq 1 30); do
  cloonix ls | grep '^vm2 ' | grep -q 'stopped: QEMU exited' && { gone=1; break; }
  sleep 0.2
done
if [[ -n "$gone" ]]; then pass "a killed QEMU shows as stopped, with the reason"; else fail "a killed QEMU shows as stopped" "$(cloonix ls)"; fi
check "start it again" cloonix cnf kvm vm2 start
check "and its agent is back" wait_agent vm2

# Remote use: the exported credentials drive the net over TCP (loopback).
check "export client credentials" cloonix net creds "$E2E_ROOT/creds"
addr="$(cat "$E2E_ROOT/creds/address")"
check "remote ls over mutual TLS" bash -c \
  "cloonix --remote $addr --creds $E2E_ROOT/creds ls | grep -q vm1"
check "remote ssh" bash -c \
  "[[ \"\$(cloonix --remote $addr --creds $E2E_ROOT/creds ssh vm2 hostname)\" == vm2 ]]"
check "remote add lan and delete" bash -c \
  "cloonix --remote $addr --creds $E2E_ROOT/creds add lan lanr && cloonix --remote $addr --creds $E2E_ROOT/creds del lanr"
# A client with a certificate from another CA is refused.
mkdir -p "$E2E_ROOT/evil"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=evil \
  -keyout "$E2E_ROOT/evil/client.key" -out "$E2E_ROOT/evil/client.pem" -days 1 >/dev/null 2>&1
cp "$E2E_ROOT/creds/ca.pem" "$E2E_ROOT/evil/ca.pem"
expect_code "a client with a foreign certificate is refused" "does not answer" \
  cloonix --remote "$addr" --creds "$E2E_ROOT/evil" ls
mkdir -p "$E2E_ROOT/none" && cp "$E2E_ROOT/creds/ca.pem" "$E2E_ROOT/none/"
expect_code "a client without certificate is refused" "does not answer" \
  cloonix --remote "$addr" --creds "$E2E_ROOT/none" ls

# Cloonix's add kvm options.
qemu-img create -q -f qcow2 "$CLOONIX_BULK_DIR/extra.qcow2" 10M
head -c 1048576 /dev/zero > "$CLOONIX_BULK_DIR/extra.iso"   # stands for an ISO
qemu-img create -q -f qcow2 "$CLOONIX_BULK_DIR/bare.qcow2" 10M   # boots by itself (it would)
dumpxml() { virsh -c qemu:///system dumpxml "cloonix.$NET.$1"; }
check "add kvm vmo --added_disk --added_cdrom --balloon --no_reboot" cloonix add kvm vmo ram=192 cpu=1 eth=1 tiny \
  --added_disk=extra.qcow2 --added_cdrom=extra.iso --balloon --no_reboot
check "vmo's domain: the extra disk (qcow2), a CD-ROM, a virtio balloon, on_reboot destroy" bash -c "
  x=\$(virsh -c qemu:///system dumpxml cloonix.$NET.vmo) &&
  grep -q \"extra.qcow2\" <<<\"\$x\" && grep -q \"type='qcow2'\" <<<\"\$x\" &&
  grep -q \"device='cdrom'\" <<<\"\$x\" && grep -q \"<memballoon model='virtio'\" <<<\"\$x\" &&
  grep -q '<on_reboot>destroy</on_reboot>' <<<\"\$x\""
check "vmo's agent is up" wait_agent vmo
check "the guest sees the 10 MiB extra disk" bash -c "cloonix ssh vmo 'cat /sys/block/vd*/size' | grep -qx 20480"
cloonix ssh vmo 'reboot -f' >/dev/null 2>&1 &
check "--no_reboot: a reboot inside ends QEMU, vmo shows stopped" bash -c "
  for i in \$(seq 1 60); do cloonix show vmo -f json | grep -q ITEM_STATE_STOPPED && exit 0; sleep 0.5; done; exit 1"
wait
check "add kvm vmf --fullvirt: e1000 NICs, the agent still up" bash -c "
  cloonix add kvm vmf ram=192 cpu=1 eth=1 tiny --fullvirt &&
  virsh -c qemu:///system dumpxml cloonix.$NET.vmf | grep -q \"<model type='e1000'/>\""
check "vmf's agent is up (virtio-serial stays)" wait_agent vmf
check "add kvm vmp --with_pxe (an image that boots by itself): network first" bash -c "
  cloonix add kvm vmp ram=192 cpu=1 eth=1 bare.qcow2 --with_pxe &&
  virsh -c qemu:///system dumpxml cloonix.$NET.vmp | grep -A1 \"<boot dev='network'/>\" | grep -q \"<boot dev='hd'/>\""
expect_code "--install_cdrom on a kernel set is refused" INVALID_ARGUMENT \
  cloonix add kvm bad3 ram=192 cpu=1 eth=1 tiny --install_cdrom=extra.iso
expect_code "--added_disk of a missing file is refused" INVALID_ARGUMENT \
  cloonix add kvm bad4 ram=192 cpu=1 eth=1 tiny --added_disk=nosuch.qcow2
expect_code "--added_disk outside the bulk dir by a relative path is refused" INVALID_ARGUMENT \
  cloonix add kvm bad5 ram=192 cpu=1 eth=1 tiny --added_disk=../x.qcow2
check "nothing left of the refused ones" bash -c "
  ! virsh -c qemu:///system list --all --name | grep -q 'cloonix.$NET.bad' && [[ ! -e $W/vm/bad3 && ! -e $W/vm/bad4 && ! -e $W/vm/bad5 ]] &&
  ! cloonix show bad3 >/dev/null 2>&1"
check "delete vmo, vmf, vmp" bash -c "cloonix del vmo && cloonix del vmf && cloonix del vmp"

# Delete and stop: nothing left.
check "delete vm1" cloonix del vm1
check "vm1: no domain, overlay dir, socket or tap left" bash -c \
  "! virsh -c qemu:///system list --all --name | grep -qx 'cloonix.$NET.vm1' &&
   [[ ! -e $W/vm/vm1 ]] && ! ip netns exec cloonix_$NET ip link show cx1e0 2>/dev/null"
check "net stop" cloonix net stop
check_clean "nothing left after net stop"

e2e_finish
