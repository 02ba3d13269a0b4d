#!/usr/bin/env bash
# The README's demo: on a fresh Debian 12 machine (as root), installs what is
# missing, builds, then brings up net "nemo" with lan1 and two busybox
# containers cnt1 and cnt2 cabled to it, gives them 10.0.0.1 and 10.0.0.2 and
# shows that they ping each other. Re-running it rebuilds the lab.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/tools/install.sh"
export PATH="${PREFIX:-/usr/local}/bin:$PATH"
NET="${CLOONIX_NET:-nemo}"

cloonix net start --may-exist
for item in cnt1 cnt2 lan1; do cloonix del --if-exists "$item" >/dev/null; done
cloonix add lan lan1
cloonix add cnt cnt1 busybox eth=1
cloonix add cnt cnt2 busybox eth=1
cloonix add lan cnt1 eth0 lan1
cloonix add lan cnt2 eth0 lan1

in_cnt() { local c="$1"; shift; nsenter -t "$(ip netns pids "cloonix_${NET}_$c" | head -1)" -m -p -n "$@"; }
in_cnt cnt1 ip addr add 10.0.0.1/24 dev eth0
in_cnt cnt2 ip addr add 10.0.0.2/24 dev eth0
echo
cloonix ls
echo
echo "cnt1 -> cnt2:"
in_cnt cnt1 ping -c 3 10.0.0.2
echo "cnt2 -> cnt1:"
in_cnt cnt2 ping -c 3 10.0.0.1
cat <<MSG

The lab runs. Try:
  cloonix ls -f json            # machine-readable topology
  cloonix events                # live event stream (Ctrl-C to stop)
  nsenter -t \$(ip netns pids cloonix_${NET}_cnt1 | head -1) -m -p -n sh   # a shell in cnt1
  cloonix net stop              # delete everything
MSG
