#!/usr/bin/env bash
# End-to-end: a nat (real DPDK EAL, real libslirp, real OVS) on lan1 with a
# busybox container and a tiny-guest VM: DHCP leases in 172.17.0.0/24 with
# gateway .2 and DNS .3, a file fetched from an HTTP server on the host's
# loopback through the gateway, a name resolved by a DNS server on loopback
# (the nat's resolv.conf is the test's), ping to the gateway, whatip, one nat
# per lan, idle CPU, bad input; then a guest without agent (Debian with only
# its ssh server) added with --natplug and reached with osh/ocp; nothing left
# after delete and net stop.
source "$(dirname "$0")/lib.sh"

build_tiny_guest

# Host services on loopback: HTTP and DNS (on a free port pair).
mkdir -p "$E2E_ROOT/www" && echo "hello from the host $NET" > "$E2E_ROOT/www/hello.txt"
# 8 MB that cross the nat as 64 KB segments (slirp -> super-frames -> guest).
head -c 8388608 /dev/urandom > "$E2E_ROOT/www/big.bin"
BIG_MD5="$(md5sum < "$E2E_ROOT/www/big.bin" | cut -d' ' -f1)"
# Uploads: a host sink on loopback that reads 8 MB per connection and
# answers with their md5 (then closes, so the guest's nc ends).
UP_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 - "$UP_PORT" <<'PY' >/dev/null 2>&1 &
import hashlib, socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(4)
while True:
    c, _ = s.accept()
    h, n = hashlib.md5(), 0
    while n < 8388608:
        d = c.recv(1 << 16)
        if not d:
            break
        h.update(d)
        n += len(d)
    c.sendall((h.hexdigest() + "\n").encode())
    c.close()
PY
UP_PID=$!
HTTP_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$E2E_ROOT/www" && exec python3 -m http.server "$HTTP_PORT" --bind 127.0.0.1) >/dev/null 2>&1 &
HTTP_PID=$!
# The DNS relay reads nameservers only (port 53): a private loopback address.
DNS_IP="127.0.$((RANDOM % 200 + 20)).$((RANDOM % 200 + 20))"
python3 "$RUNFILES/e2e/dns_server.py" "$DNS_IP" 53 "web.$NET.test=172.17.0.2" \
  >"$E2E_ROOT/dns.log" 2>&1 &
DNS_PID=$!
trap 'kill $HTTP_PID $DNS_PID $UP_PID 2>/dev/null; e2e_cleanup' EXIT
printf 'nameserver %s\n' "$DNS_IP" > "$E2E_ROOT/resolv.conf"
sleep 0.5

check "net start (nat relay uses the test's resolv.conf)" \
  cloonix net start --resolv-conf "$E2E_ROOT/resolv.conf"
W="$CLOONIX_WORK_ROOT/$NET"
check "nat worker serves its API (reflection)" bash -c \
  "grpc_probe --socket=$W/nat.sock | grep -qx cloonix.nat.v1.NatWorker"
check "add nat nat1 on lan1" bash -c "cloonix add nat nat1 && cloonix add lan nat1 eth0 lan1"
check "add cnt c1 and kvm vm1 on lan1" bash -c "
  cloonix add cnt c1 busybox eth=1 && cloonix add lan c1 eth0 lan1 &&
  cloonix add kvm vm1 ram=256 cpu=1 eth=1 tiny && cloonix add lan vm1 eth0 lan1"
expect_code "a second nat on lan1 is refused" FAILED_PRECONDITION \
  bash -c "cloonix add nat nat2 && cloonix add lan nat2 eth0 lan1"
check "the refused nat can be deleted" cloonix del nat2
wait_agent vm1

for g in c1 vm1; do
  t0=$(date +%s.%N)
  check "$g: DHCP lease" cloonix ssh $g 'udhcpc -i eth0 -n -q -t 10 >/dev/null 2>&1'
  t1=$(date +%s.%N)
  echo "    $g DHCP: $(echo "$t1 - $t0" | bc) s"
  check "$g: address in 172.17.0.0/24, gateway .2, DNS .3" bash -c "
    out=\$(cloonix ssh $g 'ip -4 addr show eth0; ip route; cat /etc/resolv.conf')
    echo \"\$out\" | grep -q 'inet 172.17.0.[0-9]*/24' &&
    echo \"\$out\" | grep -q 'default via 172.17.0.2' &&
    echo \"\$out\" | grep -q 'nameserver 172.17.0.3'"
  check "$g: HTTP from the host's loopback through the gateway" bash -c \
    "[[ \"\$(cloonix ssh $g wget -q -O - http://172.17.0.2:$HTTP_PORT/hello.txt)\" == 'hello from the host $NET' ]]"
  check "$g: DNS through the relay, then HTTP by name" bash -c \
    "[[ \"\$(cloonix ssh $g wget -q -O - http://web.$NET.test:$HTTP_PORT/hello.txt)\" == 'hello from the host $NET' ]]"
  check "$g: ping to the gateway" cloonix ssh $g ping -c 2 -W 3 172.17.0.2
  check "$g: 8 MB from the host arrive intact (64 KB segments cut to its MSS)" bash -c \
    "[[ \"\$(cloonix ssh $g 'wget -q -O - http://172.17.0.2:$HTTP_PORT/big.bin | md5sum')\" == '$BIG_MD5  -' ]]"
  check "$g: 8 MB to the host arrive intact (TSO super-frames into slirp)" bash -c "
    out=\$(cloonix ssh $g 'head -c 8388608 /dev/urandom > /tmp/up.bin; md5sum < /tmp/up.bin; nc 172.17.0.2 $UP_PORT < /tmp/up.bin; rm /tmp/up.bin')
    [[ \$(echo \"\$out\" | sed -n 1p | cut -d' ' -f1) == \$(echo \"\$out\" | sed -n 2p) ]]"
  check "$g: ping with 3000 bytes (fragments both ways)" cloonix ssh $g ping -c 2 -s 3000 -W 3 172.17.0.2
  check "$g: whatip returns its lease" bash -c "
    ip=\$(cloonix cnf nat nat1 whatip=$g) &&
    cloonix ssh $g ip -4 addr show eth0 | grep -q \"inet \$ip/24\""
done
check "show nat1 lists both leases" bash -c "[[ \$(cloonix show nat1 | grep -c '^lease: ') == 2 ]]"

check "add kvm vm2 (no DHCP client run)" bash -c \
  "cloonix add kvm vm2 ram=256 eth=1 tiny && cloonix add lan vm2 eth0 lan1"
expect_code "whatip for a VM with no lease" NOT_FOUND cloonix cnf nat nat1 whatip=vm2
expect_code "whatip for an unknown item" NOT_FOUND cloonix cnf nat nat1 whatip=nosuch
expect_code "whatip on an unknown nat" NOT_FOUND cloonix cnf nat nosuch whatip=vm1
expect_code "nat on a missing lan (--no-create)" NOT_FOUND \
  bash -c "cloonix add nat nat3 && cloonix add lan nat3 eth0 nolan --no-create"
check "delete nat3" cloonix del nat3
expect_code "whatip syntax" "whatip=" cloonix cnf nat nat1 what=vm1

pid="$(cat "$W/nat.pid")"
a=$(awk '{print $14 + $15}' "/proc/$pid/stat"); sleep 10; b=$(awk '{print $14 + $15}' "/proc/$pid/stat")
cpu=$(echo "scale=2; ($b - $a) * 100 / $(getconf CLK_TCK) / 10" | bc)
echo "    nat idle CPU over 10 s: $cpu %"
check "nat idle CPU under 1% of a core ($cpu %)" bash -c "(( \$(echo \"$cpu < 1\" | bc) ))"

# A guest without agent: Debian with its own ssh server, through --natplug.
IMG_CACHE=/var/cache/cloonix
IMG="$IMG_CACHE/test-debian-noagent.qcow2"
if [[ ! -f "$IMG" || ! -f "$IMG_CACHE/test-debian-noagent.key" ]]; then
  mkdir -p "$IMG_CACHE"
  rm -f "$IMG_CACHE/test-debian-noagent.key" "$IMG_CACHE/test-debian-noagent.key.pub"
  ssh-keygen -q -t ed25519 -N '' -f "$IMG_CACHE/test-debian-noagent.key"
  bash "$RUNFILES/tools/images/build-debian-guest.sh" "$IMG" --no-agent \
    --authorized-key "$IMG_CACHE/test-debian-noagent.key.pub" >"$E2E_ROOT/debian.log" 2>&1 ||
    fail "build the Debian guest without agent" "$(tail -5 "$E2E_ROOT/debian.log")"
fi
cp "$IMG" "$CLOONIX_BULK_DIR/deb.qcow2"
cp "${IMG%.qcow2}.boot" "$CLOONIX_BULK_DIR/deb.boot"
KEY="$E2E_ROOT/key"; cp "$IMG_CACHE/test-debian-noagent.key" "$KEY"; chmod 600 "$KEY"
check "add kvm deb with --natplug=eth0 (no agent)" \
  cloonix add kvm deb ram=512 cpu=1 eth=1 deb.qcow2 --natplug=eth0
check "natplug made nat-deb and lan-deb" bash -c \
  "cloonix show nat-deb | grep -q 'natplug of: deb' && cloonix show lan-deb | grep -q 'deb:eth0'"
ok=""
for _ in $(seq 1 120); do
  cloonix osh -i "$KEY" deb true >/dev/null 2>&1 && { ok=1; break; }
  sleep 1
done
if [[ -n "$ok" ]]; then pass "osh reaches the guest's own sshd"; else fail "osh reaches the guest's own sshd" "$(cloonix osh -i "$KEY" deb true 2>&1)"; fi
check "osh runs a command (hostname)" bash -c "[[ -n \"\$(cloonix osh -i $KEY deb hostname)\" ]]"
check "osh -l root -o ConnectTimeout=20 (login name, ssh options)" bash -c \
  "[[ \$(cloonix osh -i $KEY -l root -o ConnectTimeout=20 deb id -un) == root ]]"
check "osh -l nosuchuser is refused by the guest's sshd" bash -c "! cloonix osh -i $KEY -l nosuchuser deb true"
check "the deb guest has no agent (red)" bash -c "cloonix ls | grep '^deb ' | grep -q 'agent=down'"
echo "ocp payload $NET" > "$E2E_ROOT/ocp.txt"
check "ocp a file in" cloonix ocp -i "$KEY" "$E2E_ROOT/ocp.txt" deb:/tmp/ocp.txt
check "ocp it back out, same content" bash -c "
  cloonix ocp -i $KEY deb:/tmp/ocp.txt $E2E_ROOT/ocp.back && cmp $E2E_ROOT/ocp.txt $E2E_ROOT/ocp.back"
cloonix osh -i "$KEY" deb sleep 4 >/dev/null 2>&1 &
OSH_PID=$!
sleep 2
check "while a tunnel is open, its forward listens on 127.0.0.1 only" bash -c "
  ss -ltnp | grep cloonix-nat | grep -q '127.0.0.1:' &&
  ! ss -ltnp | grep cloonix-nat | grep -v '127.0.0.1:' | grep -q ."
wait "$OSH_PID"
check "no forward left open once the tunnels ended" bash -c \
  "sleep 1; ! ss -ltnp | grep -q cloonix-nat"
# sav (Cloonix's): the running VM's disk as one qcow2 that boots, with a
# file the guest wrote before the save.
check "a file written in deb (and synced)" cloonix osh -i "$KEY" deb "echo saved-$NET > /root/marker; sync"
check "sav deb saved.qcow2 (running: a QEMU backup)" cloonix sav deb saved.qcow2
check "the saved disk stands alone (no backing file)" bash -c "
  ! qemu-img info -U $CLOONIX_BULK_DIR/saved.qcow2 | grep -q backing && [[ -f $CLOONIX_BULK_DIR/saved.boot ]]"
expect_code "sav to an existing file" ALREADY_EXISTS cloonix sav deb saved.qcow2
expect_code "sav of a nat" INVALID_ARGUMENT cloonix sav nat-deb x.qcow2
expect_code "sav to a name without .qcow2" INVALID_ARGUMENT cloonix sav deb x.img
check "add kvm deb2 from the saved disk" \
  cloonix add kvm deb2 ram=512 cpu=1 eth=1 saved.qcow2 --natplug=eth0
ok=""
for _ in $(seq 1 150); do
  cloonix osh -i "$KEY" deb2 true >/dev/null 2>&1 && { ok=1; break; }
  sleep 1
done
if [[ -n "$ok" ]]; then pass "deb2 boots from the saved disk"; else fail "deb2 boots from the saved disk" "no ssh"; fi
check "deb2 has the file written before the save" bash -c "[[ \$(cloonix osh -i $KEY deb2 cat /root/marker) == saved-$NET ]]"
check "delete deb2" cloonix del deb2
check "sav of a stopped VM (qemu-img convert)" bash -c "
  cloonix cnf kvm deb stop && cloonix sav kvm deb $E2E_ROOT/stopped.qcow2 && cloonix cnf kvm deb start &&
  ! qemu-img info $E2E_ROOT/stopped.qcow2 | grep -q backing"

check "delete deb takes nat-deb and lan-deb with it" bash -c "
  cloonix del deb && ! cloonix show nat-deb 2>/dev/null && ! cloonix show lan-deb 2>/dev/null"

check "delete nat1" cloonix del nat1
check "no nat veth left after delete" bash -c "! ip -o link | grep -qE ' cn[0-9a-f]{5}1[@:]'"
check "net stop" cloonix net stop
check_clean "nothing left after net stop (process, veth, DPDK dir, socket)"
e2e_finish
