#!/usr/bin/env bash
# End-to-end: Cloonix's container forms. `add cvm` from a rootfs directory
# and `add zip` from a zipped rootfs (no OCI image: the runner makes a
# one-layer image of the tree, once per content), --vmount of a host
# directory (read-write, and :ro), --privileged (the isolation lifted, only
# for that container), --startup_env; bad mounts refused with nothing left.
source "$(dirname "$0")/lib.sh"

# A rootfs as Cloonix users keep them: a directory tree (busybox inside).
ROOT="$E2E_ROOT/Rootfs.1"
mkdir -p "$ROOT"/{bin,etc,mnt,tmp,proc,sys,dev,root}
cp /bin/busybox "$ROOT/bin/busybox"
for a in sh sleep cat echo ls mount id grep touch ip head; do ln -s busybox "$ROOT/bin/$a"; done
echo "from a rootfs dir" > "$ROOT/etc/motd"
# The same tree zipped, as a directory inside the zip (zip -y keeps symlinks),
# in the bulk dir, named as Cloonix's demos name theirs.
(cd "$E2E_ROOT" && cp -a Rootfs.1 zipfrr && echo "from a zip" > zipfrr/etc/motd &&
  zip -qry "$CLOONIX_BULK_DIR/zipfrr.zip" zipfrr && rm -rf zipfrr)
SHARE="$E2E_ROOT/share"
mkdir -p "$SHARE"
echo "host file" > "$SHARE/hello"

check "net start" cloonix net start
check "cloonix_cli add cvm from a rootfs directory, with --startup_env" \
  bash -c "[[ \$(cloonix_cli $NET add cvm Dir1 eth=s $ROOT '--startup_env=GREETING=hi LAB=x') == OK* ]]"
check "it runs from the tree" bash -c "[[ \$(cloonix ssh Dir1 cat /etc/motd) == 'from a rootfs dir' ]]"
check "with the startup env" bash -c "[[ \$(cloonix ssh Dir1 'echo \$GREETING-\$LAB') == hi-x ]]"
check "cloonix_cli add zip from <bulk>/zipfrr.zip (a directory inside the zip)" \
  bash -c "[[ \$(cloonix_cli $NET add zip Zip1 eth=ss zipfrr.zip) == OK* ]]"
check "it runs from the zip's tree, 2 eths" bash -c "
  [[ \$(cloonix ssh Zip1 cat /etc/motd) == 'from a zip' ]] && cloonix ssh Zip1 ip link show eth1 >/dev/null"
check "a second container of the same tree imports nothing again" bash -c "
  cloonix add cnt Dir2 $ROOT eth=1 && [[ \$(grep -c 'importing rootfs $ROOT ' $CLOONIX_WORK_ROOT/$NET/log/cnt_runner.log) == 1 ]]"
echo "changed" > "$ROOT/etc/motd"
check "a changed tree is imported again" bash -c "
  cloonix add cnt Dir3 $ROOT eth=1 && [[ \$(cloonix ssh Dir3 cat /etc/motd) == changed ]] &&
  [[ \$(cloonix ssh Dir1 cat /etc/motd) == 'from a rootfs dir' ]]"

check "add cvm --vmount (Cloonix's form) and :ro (ours)" bash -c "
  [[ \$(cloonix_cli $NET add cvm Mnt1 eth=s $ROOT --vmount=$SHARE:/mnt/share) == OK* ]] &&
  cloonix add cnt Mnt2 $ROOT --vmount $SHARE:/mnt/ro:ro"
check "the container reads the host's file" bash -c "[[ \$(cloonix ssh Mnt1 cat /mnt/share/hello) == 'host file' ]]"
check "and writes into the host's directory" bash -c "
  cloonix ssh Mnt1 'echo from-guest > /mnt/share/back' && [[ \$(cat $SHARE/back) == from-guest ]]"
check "a read-only mount refuses writes" bash -c "
  [[ \$(cloonix ssh Mnt2 cat /mnt/ro/hello) == 'host file' ]] && ! cloonix ssh Mnt2 touch /mnt/ro/x && [[ ! -e $SHARE/x ]]"
check "show lists the mounts" bash -c "cloonix show Mnt2 | grep -q 'mount: $SHARE -> /mnt/ro (read-only)'"
check "save writes them" bash -c "cloonix save | grep -q -- '- $SHARE:/mnt/share'"

check "the isolation stays without --privileged" bash -c "! cloonix ssh Dir1 mount -t tmpfs none /mnt"
check "add zip --privileged" bash -c "out=\$(cloonix_cli $NET add zip Priv1 eth=s zipfrr.zip --privileged 2>&1); echo \"\$out\"; [[ \$out == OK* ]]"
check "a privileged container mounts, has every capability the host holds, no seccomp" bash -c "
  cloonix ssh Priv1 mount -t tmpfs none /mnt &&
  [[ \$(cloonix ssh Priv1 grep CapEff /proc/self/status | awk '{print \$2}') == \$(grep CapBnd /proc/self/status | awk '{print \$2}') ]] &&
  cloonix ssh Priv1 grep -q '^Seccomp:[[:space:]]*0' /proc/self/status"
check "show says privileged" bash -c "cloonix show Priv1 | grep -q '^privileged: yes'"

before="$(ip netns list | grep -c "^cloonix_${NET}\.")"
expect_code "a missing host path is refused" NOT_FOUND cloonix add cnt Bad1 $ROOT --vmount /nonexistent/dir:/mnt
expect_code "a mount over /proc is refused" INVALID_ARGUMENT cloonix add cnt Bad2 $ROOT --vmount $SHARE:/proc/x
expect_code "an escaping host path is refused" INVALID_ARGUMENT cloonix add cnt Bad3 $ROOT --vmount $SHARE/../..:/mnt
expect_code "a missing rootfs is refused" NOT_FOUND cloonix add cnt Bad4 nosuchrootfs
echo "not a zip" > "$CLOONIX_BULK_DIR/broken.zip"
expect_code "a broken zip is refused" INVALID_ARGUMENT cloonix add cnt Bad5 broken.zip
check "the refused ones left no item and no netns" bash -c "
  ! cloonix list | grep -q '^Bad' && [[ \$(ip netns list | grep -c '^cloonix_${NET}\.') == $before ]] &&
  [[ ! -e $CLOONIX_WORK_ROOT/$NET/rootfs-import ]]"

check "net stop" cloonix net stop
check "the host's directory is intact" bash -c "[[ \$(cat $SHARE/hello) == 'host file' ]]"
check_clean "nothing left after stop"
e2e_finish
