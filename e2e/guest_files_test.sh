#!/usr/bin/env bash
# End-to-end: files placed in guests before their init runs (Cloonix's demo
# directories files_to_add_in_all_targets, files_to_add_in_<NAME>, and a
# list to delete). A VM (tiny guest: its initramfs copies the files disk into
# the root, then busybox init runs the placed /etc/init.d/rcS) and a
# container (files copied into its root before its process starts; the
# process is the placed script) come up with the addresses their scripts
# set and ping each other: nothing configured through ssh. Modes, symlinks
# and the order of the directories are kept; bad input is refused with
# nothing left.
source "$(dirname "$0")/lib.sh"

build_tiny_guest
D="$E2E_ROOT/demo"
mkdir -p "$D/files_to_add_in_all_targets/etc/lab" "$D/files_to_add_in_vm1/etc/init.d" \
  "$D/files_to_add_in_vm1/etc/lab" "$D/files_to_add_in_c1/etc/lab"
echo "lab=demo" > "$D/files_to_add_in_all_targets/etc/lab/lab.conf"
echo "role=unset" > "$D/files_to_add_in_all_targets/etc/lab/role"
echo "role=router" > "$D/files_to_add_in_vm1/etc/lab/role"
cat > "$D/files_to_add_in_vm1/etc/init.d/rcS" <<'EOF'
#!/bin/sh
ip link set eth0 up
ip addr add 10.77.9.1/24 dev eth0
echo configured > /run/lab-rcs
EOF
chmod 0750 "$D/files_to_add_in_vm1/etc/init.d/rcS"
cat > "$D/files_to_add_in_c1/etc/lab/start.sh" <<'EOF'
#!/bin/sh
ip link set eth0 up
ip addr add 10.77.9.2/24 dev eth0
trap 'exit 0' TERM
while :; do sleep 3600 & wait $!; done
EOF
chmod 0750 "$D/files_to_add_in_c1/etc/lab/start.sh"
ln -s lab/start.sh "$D/files_to_add_in_c1/etc/start"

check "net start" cloonix net start
check "add kvm vm1 --files all --files vm1 --delete /etc/cloonix-tiny-kernel" \
  cloonix add kvm vm1 ram=192 cpu=1 eth=1 tiny --files "$D/files_to_add_in_all_targets" \
    --files "$D/files_to_add_in_vm1" --delete /etc/cloonix-tiny-kernel
check "add cnt c1 --files all --files c1 --delete /etc/hosts, its process the placed script" \
  cloonix add cnt c1 busybox eth=1 --files "$D/files_to_add_in_all_targets" \
    --files "$D/files_to_add_in_c1" --delete /etc/hosts --cmd "exec /etc/start"
check "cable both on lan1" bash -c "cloonix add lan vm1 eth0 lan1 && cloonix add lan c1 eth0 lan1"
check "vm1 answers" wait_agent vm1
check "the VM's placed rcS ran before its init's services (addresses set)" bash -c "
  [[ \$(cloonix ssh vm1 cat /run/lab-rcs) == configured ]] && cloonix ssh vm1 ip addr show eth0 | grep -q 10.77.9.1/24"
check "the container's placed script is its process (address set)" bash -c "
  cloonix ssh c1 ip addr show eth0 | grep -q 10.77.9.2/24"
check "c1 pings vm1, vm1 pings c1 (nothing configured through ssh)" bash -c "
  cloonix ssh c1 ping -c 2 -W 3 10.77.9.1 && cloonix ssh vm1 ping -c 2 -W 3 10.77.9.2"
check "the common file is in both" bash -c "
  [[ \$(cloonix ssh vm1 cat /etc/lab/lab.conf) == lab=demo ]] && [[ \$(cloonix ssh c1 cat /etc/lab/lab.conf) == lab=demo ]]"
check "the later directory wins (vm1's role, the container keeps the common one)" bash -c "
  [[ \$(cloonix ssh vm1 cat /etc/lab/role) == role=router ]] && [[ \$(cloonix ssh c1 cat /etc/lab/role) == role=unset ]]"
check "modes and symlinks kept" bash -c "
  [[ \$(cloonix ssh c1 stat -c %a /etc/lab/start.sh) == 750 ]] && [[ \$(cloonix ssh c1 readlink /etc/start) == lab/start.sh ]] &&
  [[ \$(cloonix ssh vm1 stat -c %a /etc/init.d/rcS) == 750 ]]"
check "the delete lists were applied" bash -c "
  ! cloonix ssh vm1 test -e /etc/cloonix-tiny-kernel && ! cloonix ssh c1 test -e /etc/hosts"
check "the host's directories are untouched" bash -c "
  [[ \$(cat $D/files_to_add_in_all_targets/etc/lab/role) == role=unset ]] && [[ ! -e $D/files_to_add_in_all_targets/etc/hosts ]]"
check "show and save carry the files" bash -c "
  cloonix show c1 | grep -q 'files: $D/files_to_add_in_c1' && cloonix save | grep -q -- '- /etc/cloonix-tiny-kernel'"

expect_code "a missing files directory is refused (cnt)" NOT_FOUND cloonix add cnt bad1 busybox --files "$D/nosuch"
expect_code "a missing files directory is refused (kvm)" NOT_FOUND cloonix add kvm bad2 ram=192 cpu=1 eth=1 tiny --files "$D/nosuch"
expect_code "a relative delete path is refused" INVALID_ARGUMENT cloonix add cnt bad3 busybox --delete etc/hosts
expect_code "an escaping delete path is refused" INVALID_ARGUMENT cloonix add kvm bad4 ram=192 cpu=1 eth=1 tiny --delete /etc/../../x
check "the refused ones left nothing" bash -c "
  ! cloonix list | grep -q '^bad' && [[ ! -e $CLOONIX_WORK_ROOT/$NET/vm/bad2 ]] && ! ip netns list | grep -q '^cloonix_${NET}\.bad'"

check "net stop" cloonix net stop
check_clean "nothing left after stop"
e2e_finish
