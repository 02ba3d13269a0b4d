#!/usr/bin/env bash
# Builds the "tiny" QEMU guest: Debian's amd64 kernel as an uncompressed ELF
# vmlinux (PVH entry, boots ~2.5 s faster under TCG than the compressed
# vmlinuz) and a busybox-static initramfs carrying the virtio/ext4 modules,
# the cloonix agent and an /init that either
#   - runs busybox init (PID 1, reaps zombies) with the agent respawned from
#     /etc/inittab, or
#   - with root=DEV on the kernel command line, mounts DEV (ext4 unless
#     rootfstype=), installs the agent at /usr/local/sbin/cloonix-agent if
#     missing (and not cloonix_noagent=1) and switch_roots to its /sbin/init
#     (see build-debian-guest.sh).
# Kernel command line: cloonix_name=NAME (hostname, default "guest"),
# root=/dev/vda|LABEL=..|UUID=.., rootfstype=, rootflags=, ro|rw,
# cloonix_shell=1 (adds a root shell on the console, debugging only),
# cloonix_noagent=1 (no agent at all: not respawned by busybox init; with
# root=, not copied into the root filesystem and cloonix-agent.service masked
# for that boot via /run/systemd/system; for guests reached by their own sshd).
# /init prints "cloonix-tiny: up" on the console once the modules are loaded.
#
# The kernel is the package linux-image-amd64 depends on, fetched with
# `apt-get download` into the cache and unpacked with dpkg-deb (never
# installed). Output is reproducible for a given kernel .deb, busybox and agent.
#
# usage: build-tiny-guest.sh OUT_DIR --agent PATH_TO_STATIC_AGENT [--cache DIR]
#   OUT_DIR gets tiny-vmlinux, tiny-initrd.img (uncompressed newc cpio), tiny.manifest.
#   --cache  default /var/cache/cloonix/kernel (kernel .deb + unpacked tree,
#            reused when present; build-debian-guest.sh reads the modules there).
#   env KERNEL_PKG overrides the kernel package (e.g. linux-image-6.1.0-56-amd64).
set -euo pipefail

usage() { sed -n '/^# usage:/,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

out="" agent="" cache="/var/cache/cloonix/kernel"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --agent) agent="${2:?--agent needs a path}"; shift 2 ;;
    --cache) cache="${2:?--cache needs a directory}"; shift 2 ;;
    -h|--help) usage ;;
    -*) echo "unknown option $1" >&2; usage ;;
    *) [[ -z "$out" ]] || usage; out="$1"; shift ;;
  esac
done
[[ -n "$out" && -n "$agent" ]] || usage
[[ -f "$agent" ]] || { echo "agent $agent: not a file" >&2; exit 1; }
BUSYBOX="${BUSYBOX:-/bin/busybox}"
[[ -x "$BUSYBOX" ]] || { echo "missing $BUSYBOX: apt-get install busybox-static" >&2; exit 1; }
if ! file -L "$BUSYBOX" | grep -q 'statically linked'; then
  echo "$BUSYBOX is not statically linked: apt-get install busybox-static" >&2; exit 1
fi
for tool in dpkg-deb modprobe depmod xz cpio gzip file sha256sum; do
  command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done

# Modules insmod'ed by /init, dependencies added (modprobe --show-depends):
# always, and for a disk (root= or the files disk) only: the ext4 set is
# most of the modules' bytes and of their load time (issue 16).
MODULES=(virtio virtio_ring virtio_pci virtio_pci_legacy_dev virtio_pci_modern_dev
         failover net_failover virtio_net virtio_console virtio_blk)
DISK_MODULES=(crc16 crc32c_generic libcrc32c mbcache jbd2 ext4)

umask 022
mkdir -p "$out" "$cache"
cache="$(realpath "$cache")"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# --- kernel package: download (once) and unpack (once) ---------------------
pkg="${KERNEL_PKG:-}"
if [[ -z "$pkg" ]]; then
  pkg="$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/{print $2;exit}')" || true
fi
if [[ -z "$pkg" ]]; then
  # No apt lists: fall back to a kernel already in the cache.
  deb="$(ls -1 "$cache"/linux-image-*-amd64_*.deb 2>/dev/null | grep -v -- '-dbg' | sort -V | tail -n1 || true)"
  [[ -n "$deb" ]] || { echo "cannot resolve linux-image-amd64 (run apt-get update) and $cache has no kernel .deb" >&2; exit 1; }
  pkg="$(dpkg-deb -f "$deb" Package)"
fi
deb="$(ls -1 "$cache/${pkg}"_*.deb 2>/dev/null | sort -V | tail -n1 || true)"
if [[ -z "$deb" ]]; then
  echo "downloading $pkg into $cache" >&2
  (cd "$tmp" && apt-get download -q "$pkg" >&2)
  mv "$tmp/${pkg}"_*.deb "$cache/"
  deb="$(ls -1 "$cache/${pkg}"_*.deb | sort -V | tail -n1)"
fi
deb_version="$(dpkg-deb -f "$deb" Version)"
kroot="$cache/${pkg}_${deb_version}"
if [[ ! -e "$kroot/.unpacked" ]]; then
  echo "unpacking $(basename "$deb")" >&2
  staging="$(mktemp -d "$cache/.unpack.XXXXXX")"
  dpkg-deb -x "$deb" "$staging"
  kver_u="$(ls -1 "$staging/lib/modules")"
  [[ "$(wc -l <<<"$kver_u")" == 1 ]] || { echo "expected one lib/modules/<kver> in $deb" >&2; exit 1; }
  depmod -b "$staging" "$kver_u"   # the .deb ships no modules.dep (postinst runs depmod)
  touch "$staging/.unpacked"
  rm -rf "$kroot"
  mv -T "$staging" "$kroot"
fi
kver="$(ls -1 "$kroot/lib/modules")"
vmlinuz="$kroot/boot/vmlinuz-$kver"
[[ -f "$vmlinuz" ]] || { echo "missing $vmlinuz" >&2; exit 1; }

# --- vmlinux: the XZ stream inside vmlinuz decompresses to the ELF kernel ---
found=""
for off in $(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$vmlinuz" | cut -d: -f1); do
  # xz complains about the data after the stream (trailing garbage): ignore it.
  tail -c "+$((off + 1))" "$vmlinuz" | xz -dc > "$tmp/vmlinux" 2>/dev/null || true
  if [[ "$(head -c 4 "$tmp/vmlinux" | od -An -tx1 | tr -d ' \n')" == "7f454c46" ]]; then
    found="$off"; break
  fi
done
[[ -n "$found" ]] || { echo "no XZ-compressed ELF found in $vmlinuz" >&2; exit 1; }
file "$tmp/vmlinux" | grep -q 'ELF 64-bit LSB executable, x86-64' \
  || { echo "unexpected vmlinux: $(file "$tmp/vmlinux")" >&2; exit 1; }
# XEN_ELFNOTE_PHYS32_ENTRY (0x12) is what QEMU's -kernel needs for PVH boot.
if command -v readelf >/dev/null; then
  notes="$(readelf -n "$tmp/vmlinux")"
  grep -q 'Xen.*0x00000012' <<<"$notes" \
    || { echo "vmlinux has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)" >&2; exit 1; }
fi

# --- initramfs tree ----------------------------------------------------------
root="$tmp/root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,usr/share/udhcpc,etc,proc,sys,dev,tmp,run,root,newroot,var,lib/modules}
chmod 1777 "$root/tmp"
chmod 0700 "$root/root"
ln -s ../run "$root/var/run"
cp "$BUSYBOX" "$root/bin/busybox"
for applet in $("$BUSYBOX" --list-full); do
  [[ "$applet" == "bin/busybox" ]] && continue
  mkdir -p "$root/$(dirname "$applet")"
  rel="$(realpath -m --relative-to="$root/$(dirname "$applet")" "$root/bin/busybox")"
  ln -sf "$rel" "$root/$applet"
done
rm -f "$root/init"   # not an applet we want: /init is ours
# No /sbin/modprobe: the kernel runs it (usermode helper) for every module it
# looks for at boot (crypto algorithms at least), each a fork+exec under TCG
# that finds nothing here (the modules are flat, without modules.dep): 87 ->
# 19 ms in crypto_kdf108_init alone (issue 16). /init uses insmod.
rm -f "$root/sbin/modprobe"
install -m 0755 "$agent" "$root/sbin/cloonix-agent"

# Modules in dependency order, de-duplicated, stored flat and uncompressed;
# load-order always, load-order.disk after it when the guest has a disk.
: > "$tmp/order"
for m in "${MODULES[@]}"; do
  modprobe -d "$kroot" -S "$kver" --show-depends "$m" | awk '$1=="insmod"{print $2}' >> "$tmp/order"
done
: > "$tmp/order.disk"
for m in "${DISK_MODULES[@]}"; do
  modprobe -d "$kroot" -S "$kver" --show-depends "$m" | awk '$1=="insmod"{print $2}' >> "$tmp/order.disk"
done
awk '!seen[$0]++' "$tmp/order" > "$tmp/order.uniq"
awk 'NR==FNR{seen[$0]=1; next} !seen[$0]++' "$tmp/order.uniq" "$tmp/order.disk" > "$tmp/order.disk.uniq"
: > "$root/lib/modules/load-order"
: > "$root/lib/modules/load-order.disk"
while read -r list ko; do
  [[ "$ko" == "$kroot"/* ]] || ko="$kroot/$ko"
  base="$(basename "$ko")"
  case "$base" in
    *.ko)     cp "$ko" "$root/lib/modules/$base" ;;
    *.ko.xz)  base="${base%.xz}";  xz -dc "$ko" > "$root/lib/modules/$base" ;;
    *.ko.gz)  base="${base%.gz}";  gzip -dc "$ko" > "$root/lib/modules/$base" ;;
    *.ko.zst) base="${base%.zst}"; zstd -qdc "$ko" > "$root/lib/modules/$base" ;;
    *) echo "unexpected module file $ko" >&2; exit 1 ;;
  esac
  chmod 0644 "$root/lib/modules/$base"
  echo "$base" >> "$root/lib/modules/$list"
done < <(sed 's/^/load-order /' "$tmp/order.uniq"; sed 's/^/load-order.disk /' "$tmp/order.disk.uniq")

printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$root/etc/passwd"
printf 'root::0:0:99999:7:::\nnobody:*:0:0:99999:7:::\n' > "$root/etc/shadow"
chmod 0600 "$root/etc/shadow"
printf 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n' > "$root/etc/group"
printf '127.0.0.1 localhost\n::1 localhost\n' > "$root/etc/hosts"
printf 'guest\n' > "$root/etc/hostname"
: > "$root/etc/resolv.conf"
printf '%s\n' "$kver" > "$root/etc/cloonix-tiny-kernel"

cat > "$root/etc/inittab" <<'EOF'
# busybox init (only used without root=): PID 1, reaps zombies, respawns.
::respawn:/etc/cloonix-agent.run
::ctrlaltdel:/sbin/reboot
::shutdown:/bin/umount -a -r
EOF
cat > "$root/etc/cloonix-agent.run" <<'EOF'
#!/bin/sh
# Started (and restarted when it exits) by busybox init from /etc/inittab.
/sbin/cloonix-agent </dev/null
sleep 1
EOF
chmod 0755 "$root/etc/cloonix-agent.run"

install -m 0755 "$(dirname "$0")/udhcpc.script" "$root/usr/share/udhcpc/default.script"
chmod 0755 "$root/usr/share/udhcpc/default.script"
# Debian's busybox looks for /etc/udhcpc/default.script.
mkdir -p "$root/etc/udhcpc"
ln -s ../../usr/share/udhcpc/default.script "$root/etc/udhcpc/default.script"

cat > "$root/init" <<'EOF'
#!/bin/sh
# cloonix tiny initramfs /init (PID 1): see tools/images/build-tiny-guest.sh.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin HOME=/root
mount -t devtmpfs -o mode=0755,nosuid devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mkdir -p /dev/pts /dev/shm
mount -t proc -o nosuid,nodev,noexec proc /proc
mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
mount -t devpts -o gid=5,mode=0620,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run

name=guest root= rootfstype=ext4 rootflags= mode=rw shell= noagent= files=
for w in $(cat /proc/cmdline); do
  case "$w" in
    cloonix_name=?*) name="${w#cloonix_name=}" ;;
    cloonix_shell=1) shell=1 ;;
    cloonix_noagent=1) noagent=1 ;;
    cloonix_files=1) files=1 ;;
    root=?*) root="${w#root=}" ;;
    rootfstype=?*) rootfstype="${w#rootfstype=}" ;;
    rootflags=?*) rootflags="${w#rootflags=}" ;;
    ro|rw) mode="$w" ;;
  esac
done

# The ext4 set only for a disk (root= or the files disk).
orders=/lib/modules/load-order
[ -n "$root$files" ] && orders="$orders /lib/modules/load-order.disk"
for order in $orders; do
  while read -r m; do
    insmod "/lib/modules/$m" || echo "cloonix-tiny: insmod $m failed"
  done < "$order"
done
hostname "$name"
echo "$name" > /etc/hostname
ip link set lo up

# udev-style names for the virtio-serial ports: /dev/virtio-ports/<name>.
for p in /sys/class/virtio-ports/vport*; do
  [ -r "$p/name" ] || continue
  n="$(cat "$p/name")"
  [ -n "$n" ] || continue
  mkdir -p /dev/virtio-ports
  ln -sf "../${p##*/}" "/dev/virtio-ports/$n"
done

echo "cloonix-tiny: up" > /dev/console

# add kvm --files: the disk with serial cloonix-files holds /tree (copied
# into the root before init) and /delete (paths removed, one per line).
place_files() {  # place_files TARGET_ROOT ("" for the initramfs)
  [ -n "$files" ] || return 0
  dev= i=0
  while [ -z "$dev" ] && [ $i -lt 50 ]; do
    for b in /sys/block/vd*; do
      [ "$(cat "$b/serial" 2>/dev/null)" = cloonix-files ] && dev="/dev/${b##*/}"
    done
    [ -n "$dev" ] || { sleep 0.1; i=$((i + 1)); }
  done
  mkdir -p /run/cloonix-files
  if [ -n "$dev" ] && mount -t ext4 -o ro "$dev" /run/cloonix-files; then
    cp -a /run/cloonix-files/tree/. "$1/"
    while read -r p; do
      rm -f "$1$p" 2>/dev/null || rmdir "$1$p" 2>/dev/null
    done < /run/cloonix-files/delete
    umount /run/cloonix-files
    : > /run/cloonix-files.done
    echo "cloonix-tiny: files placed"
  else
    echo "cloonix-tiny: no files disk"
  fi
}

if [ -n "$root" ]; then
  case "$root" in
    LABEL=*|UUID=*)
      i=0; dev=
      while [ $i -lt 100 ]; do dev="$(findfs "$root" 2>/dev/null)" && break; sleep 0.1; i=$((i + 1)); done ;;
    *)
      dev="$root"; i=0
      while [ ! -b "$dev" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done ;;
  esac
  if [ -n "$dev" ] && mount -t "$rootfstype" -o "$mode${rootflags:+,$rootflags}" "$dev" /newroot; then
    if [ -n "$noagent" ]; then
      # /run moves into the new root: a runtime mask systemd honours.
      mkdir -p /run/systemd/system
      ln -sf /dev/null /run/systemd/system/cloonix-agent.service
    fi
    if [ -n "$files" ]; then
      [ "$mode" = ro ] && mount -o remount,rw /newroot
      place_files /newroot
      [ "$mode" = ro ] && mount -o remount,ro /newroot
    fi
    if [ -n "$noagent" ]; then
      :
    elif [ ! -e /newroot/usr/local/sbin/cloonix-agent ]; then
      [ "$mode" = ro ] && mount -o remount,rw /newroot
      mkdir -p /newroot/usr/local/sbin
      cp /sbin/cloonix-agent /newroot/usr/local/sbin/cloonix-agent
      chmod 0755 /newroot/usr/local/sbin/cloonix-agent
      [ "$mode" = ro ] && mount -o remount,ro /newroot
    fi
    if [ -e /newroot/sbin/init ] || [ -L /newroot/sbin/init ]; then
      umount /tmp
      for d in run sys proc dev; do
        if [ -d "/newroot/$d" ]; then mount --move "/$d" "/newroot/$d"; else umount -l "/$d"; fi
      done
      exec switch_root /newroot /sbin/init "$@"
    fi
    echo "cloonix-tiny: $root has no /sbin/init, staying in the initramfs"
    umount /newroot
  else
    echo "cloonix-tiny: cannot mount root=$root ($rootfstype), staying in the initramfs"
  fi
fi

place_files ""
# A startup script among the files runs first (busybox init's sysinit).
[ -x /etc/init.d/rcS ] && sed -i '1i ::sysinit:/etc/init.d/rcS' /etc/inittab
[ -n "$noagent" ] && sed -i '/cloonix-agent\.run/d' /etc/inittab
[ -n "$shell" ] && echo '::respawn:-/bin/cttyhack /bin/sh' >> /etc/inittab
exec /sbin/init
EOF
chmod 0755 "$root/init"

# --- reproducible archive ----------------------------------------------------
find "$root" -exec touch -h -d @0 {} +
# A newc entry for /dev/console (char 5:1) appended as a second archive, so
# the kernel has a console for /init without mknod (no root needed).
newc_chardev() { # name mode major minor
  local name="$1" namesize=$(( ${#1} + 1 ))
  printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
    1 "$2" 0 0 1 0 0 0 0 "$3" "$4" "$namesize" 0
  printf '%s\0' "$name"
  local pad=$(( (4 - (110 + namesize) % 4) % 4 ))
  head -c "$pad" /dev/zero
}
{
  (cd "$root" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort \
     | cpio -o -H newc --reproducible -R 0:0 --quiet)
  newc_chardev dev/console $((8#020600)) 5 1
  printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' 0 0 0 0 1 0 0 0 0 0 0 11 0
  printf 'TRAILER!!!\0\0\0\0'   # 110 + 11 = 121, pad to 124
} > "$tmp/initrd.cpio"
# Uncompressed: QEMU copies it in on the host, while a gzip'd one would be
# inflated by the emulated CPU (TCG) at every boot.
cp "$tmp/initrd.cpio" "$tmp/tiny-initrd.img"

cp --sparse=always "$tmp/vmlinux" "$out/tiny-vmlinux.tmp"
mv -f "$out/tiny-vmlinux.tmp" "$out/tiny-vmlinux"
mv -f "$tmp/tiny-initrd.img" "$out/tiny-initrd.img"
bb_version="$(dpkg-query -W -f '${Version}' busybox-static 2>/dev/null || "$BUSYBOX" | head -n1)"
cat > "$out/tiny.manifest" <<EOF
kernel_package=$pkg
kernel_package_version=$deb_version
kernel_version=$kver
busybox_version=$bb_version
modules=$(cat "$root/lib/modules/load-order" "$root/lib/modules/load-order.disk" | tr '\n' ' ' | sed 's/ $//')
agent_sha256=$(sha256sum "$agent" | cut -d' ' -f1)
tiny-vmlinux_sha256=$(sha256sum "$out/tiny-vmlinux" | cut -d' ' -f1)
tiny-initrd.img_sha256=$(sha256sum "$out/tiny-initrd.img" | cut -d' ' -f1)
EOF
echo "built $out/tiny-vmlinux ($(stat -c %s "$out/tiny-vmlinux") bytes)," \
     "$out/tiny-initrd.img ($(stat -c %s "$out/tiny-initrd.img") bytes), kernel $kver" >&2
