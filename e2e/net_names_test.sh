#!/usr/bin/env bash
# End-to-end: host-visible names are unambiguous per net and per item. Net
# "<n>_x" beside container "x" of net "<n>" (which once shared the netns
# cloonix_<n>_x: one net's switch ran inside another net's container): both
# run, each in its own netns, and stopping one leaves the other intact.
# Cloonix's names (uppercase, dots) for items and lans; not dots for nets.
source "$(dirname "$0")/lib.sh"

NET2="${NET}_x"
E2E_EXTRA_NETS+=("$NET2")

check "net start $NET" cloonix net start
check "add cnt x in $NET" cloonix add cnt x busybox eth=1
check "cable x" cloonix add lan x eth0 lan1
check "net start $NET2" env CLOONIX_NET="$NET2" cloonix net start
check "add lan in $NET2" env CLOONIX_NET="$NET2" cloonix add lan lan9
check "add cnt in $NET2" env CLOONIX_NET="$NET2" cloonix add cnt y busybox eth=1
check "cable y in $NET2" env CLOONIX_NET="$NET2" cloonix add lan y eth0 lan9

check "container x and net $NET2 have different netns" bash -c "
  a=\$(stat -L -c %i /run/netns/cloonix_${NET}.x) && b=\$(stat -L -c %i /run/netns/cloonix_${NET2}) && [[ \$a != \$b ]]"
check "x's netns holds only its own eth (no switch of $NET2 inside)" bash -c "
  [[ \$(ip -n cloonix_${NET}.x -o link show | awk -F': ' '{print \$2}' | cut -d@ -f1 | sort | tr '\n' ' ') == 'eth0 lo ' ]]"
check "$NET2's bridge lives in its own netns" bash -c "ip -n cloonix_${NET2} link show | grep -q cxl"
check "ip in x" cloonix ssh x ip addr add 10.91.0.1/24 dev eth0
check "containers of both nets run" bash -c "cloonix ssh x true && CLOONIX_NET=$NET2 cloonix ssh y true"

# Cloonix's names: uppercase and dots, in items and lans (case matters).
check "add cnt Cloon1 and cloon1 (two items)" bash -c "cloonix add cnt Cloon1 busybox eth=1 && cloonix add cnt cloon1 busybox eth=1"
check "add kvm-free lan lan1.0.1 and cable both" bash -c \
  "cloonix add lan Cloon1 eth0 lan1.0.1 && cloonix add lan cloon1 eth0 lan1.0.1"
check "addresses on Cloon1 and cloon1" bash -c \
  "cloonix ssh Cloon1 ip addr add 10.92.0.1/24 dev eth0 && cloonix ssh cloon1 ip addr add 10.92.0.2/24 dev eth0"
check "Cloon1 pings cloon1 over lan1.0.1" cloonix ssh Cloon1 ping -c 1 -W 3 10.92.0.2
check "ls shows both names as given" bash -c "cloonix ls | grep -q Cloon1 && cloonix ls | grep -q 'lan1.0.1'"
check "a2b A.b between lan1.0.1 and lan2" bash -c "cloonix add a2b A.b && cloonix add lan A.b eth0 lan1.0.1 && cloonix add lan A.b eth1 lan2"
expect_code "a net name with a dot is refused" "is invalid" env CLOONIX_NET="$NET.x" cloonix ls
check "del Cloon1 leaves cloon1" bash -c "cloonix del Cloon1 && cloonix ssh cloon1 true"

check "net stop $NET2" env CLOONIX_NET="$NET2" cloonix net stop
check "x still runs in $NET after $NET2 stopped" bash -c "cloonix ssh x ip addr show eth0 | grep -q 10.91.0.1"
check_clean "nothing of $NET2 left" "$NET2"
check "net stop $NET" cloonix net stop
check_clean "nothing left after stop"
e2e_finish
