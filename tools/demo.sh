#!/usr/bin/env bash
# The README's demo: on a fresh Debian 12 machine (as root), installs what is
# missing, builds, then brings up net "nemo" with lan1, two tiny-guest VMs
# (vm1, vm2, QEMU under TCG) and a busybox container cnt1 cabled to it,
# waits for the VMs' agents, sets 10.0.0.1-3 through `cloonix ssh` and shows
# that they ping each other. Re-running it rebuilds the lab.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/tools/install.sh"
export PATH="${PREFIX:-/usr/local}/bin:$PATH"

cloonix net start --may-exist
for item in vm1 vm2 cnt1 cnt2 lan1; do cloonix del --if-exists "$item" >/dev/null; done
cloonix add lan lan1
cloonix add kvm vm1 ram=256 cpu=1 eth=1 tiny
cloonix add kvm vm2 ram=256 cpu=1 eth=1 tiny
cloonix add cnt cnt1 busybox eth=1
for item in vm1 vm2 cnt1; do cloonix add lan "$item" eth0 lan1; done

echo "waiting for the VMs' agents (blue) ..."
for _ in $(seq 1 120); do
  cloonix ssh vm1 true 2>/dev/null && cloonix ssh vm2 true 2>/dev/null && break
  sleep 0.5
done
n=1
for item in vm1 vm2 cnt1; do
  cloonix ssh "$item" "ip addr add 10.0.0.$n/24 dev eth0 && ip link set eth0 up"
  n=$((n + 1))
done
echo
cloonix ls
echo
echo "vm1 -> vm2:"
cloonix ssh vm1 ping -c 3 10.0.0.2
echo "vm2 -> cnt1:"
cloonix ssh vm2 ping -c 3 10.0.0.3
cat <<MSG

The lab runs. Try:
  cloonix ssh vm1               # a root shell in vm1, through its agent
  cloonix scp /etc/hosts vm1:/tmp/
  cloonix ls -f json            # machine-readable topology
  cloonix events                # live event stream (Ctrl-C to stop)
  cloonix gui                   # the live web page: open the URL it prints (Ctrl-C to stop)
  cloonix net stop              # delete everything
MSG
