#!/usr/bin/env bash
# Builds a Debian bookworm guest disk (qcow2, whole-disk ext4, no partition
# table, no kernel or bootloader inside): debootstrap minbase + systemd, udev,
# iproute2, ping, procps, kmod, openssh-server, isc-dhcp-client; the cloonix
# agent at /usr/local/sbin/cloonix-agent run by cloonix-agent.service
# (Restart=always); hostname "debian"; root password empty and locked;
# classic interface names (eth0...); the kernel modules of the kernel that
# build-tiny-guest.sh unpacked in its cache. The filesystem is made with
# `mkfs.ext4 -d` from a directory (no loop mount) and converted to qcow2.
#
# Boot it with build-tiny-guest.sh's kernel and initrd, which switch_root to it:
#   qemu-system-x86_64 -M q35 -accel tcg -cpu max -m 256 -nographic \
#     -kernel tiny-vmlinux -initrd tiny-initrd.img \
#     -append 'console=ttyS0 root=/dev/vda cloonix_name=NAME' \
#     -drive file=OUT.qcow2,if=virtio ...
# (per VM: qemu-img create -f qcow2 -b OUT.qcow2 -F qcow2 vmN.qcow2).
# Needs root (debootstrap, chroot) and network access to the mirror
# (apt's Acquire::http::Proxy is honoured when http_proxy is not set).
#
# usage: build-debian-guest.sh OUT.qcow2 --agent PATH [--mirror URL] [--size 2G]
#                              [--cache DIR] [--kver KERNEL_VERSION]
#   --mirror  default http://deb.debian.org/debian
#   --size    size of the ext4 filesystem (virtual disk size), default 2G
#   --cache   build-tiny-guest.sh's kernel cache, default /var/cache/cloonix/kernel
#   --kver    kernel whose modules to copy (default: newest unpacked in the cache)
set -euo pipefail

usage() { sed -n '/^# usage:/,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

out="" agent="" mirror="http://deb.debian.org/debian" size="2G"
cache="/var/cache/cloonix/kernel" kver=""
SUITE=bookworm
INCLUDE=systemd-sysv,udev,iproute2,iputils-ping,procps,kmod,openssh-server,isc-dhcp-client
while [[ $# -gt 0 ]]; do
  case "$1" in
    --agent)  agent="${2:?--agent needs a path}"; shift 2 ;;
    --mirror) mirror="${2:?--mirror needs a URL}"; shift 2 ;;
    --size)   size="${2:?--size needs a size}"; shift 2 ;;
    --cache)  cache="${2:?--cache needs a directory}"; shift 2 ;;
    --kver)   kver="${2:?--kver needs a kernel version}"; shift 2 ;;
    -h|--help) usage ;;
    -*) echo "unknown option $1" >&2; usage ;;
    *) [[ -z "$out" ]] || usage; out="$1"; shift ;;
  esac
done
[[ -n "$out" && -n "$agent" ]] || usage
[[ -f "$agent" ]] || { echo "agent $agent: not a file" >&2; exit 1; }
[[ "$(id -u)" == 0 ]] || { echo "must run as root (debootstrap)" >&2; exit 1; }
for tool in debootstrap mkfs.ext4 qemu-img depmod chroot; do
  command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done

# Kernel modules: the tree build-tiny-guest.sh unpacked (and depmod'ed).
moddir=""
for d in $(ls -1d "$cache"/linux-image-*/lib/modules/* 2>/dev/null | sort -V); do
  [[ -e "${d%/lib/modules/*}/.unpacked" ]] || continue
  if [[ -z "$kver" || "$(basename "$d")" == "$kver" ]]; then moddir="$d"; fi
done
[[ -n "$moddir" ]] || { echo "no unpacked kernel${kver:+ $kver} in $cache: run build-tiny-guest.sh first" >&2; exit 1; }
kver="$(basename "$moddir")"

if [[ -z "${http_proxy:-}" ]]; then
  proxy="$(apt-config dump 2>/dev/null | awk '$1=="Acquire::http::Proxy"{gsub(/[";]/,"",$2); print $2}')"
  if [[ -n "$proxy" && "$proxy" != DIRECT && "$proxy" != false ]]; then
    export http_proxy="$proxy"
  fi
fi

umask 022
start=$SECONDS
tmp="$(mktemp -d)"
cleanup() {
  # debootstrap can leave proc/sys mounted in the target when it fails.
  awk -v p="$tmp/" 'index($2, p) == 1 {print $2}' /proc/mounts | sort -r \
    | while read -r m; do umount -l "$m" || true; done
  rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT
rootfs="$tmp/rootfs"

echo "debootstrap $SUITE from $mirror${http_proxy:+ (proxy $http_proxy)}" >&2
debootstrap --variant=minbase --include="$INCLUDE" \
  --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
  "$SUITE" "$rootfs" "$mirror" >&2

# --- configuration -----------------------------------------------------------
echo debian > "$rootfs/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 debian\n::1 localhost ip6-localhost ip6-loopback\n' > "$rootfs/etc/hosts"
: > "$rootfs/etc/resolv.conf"
printf '/dev/vda / ext4 rw,errors=remount-ro 0 0\n' > "$rootfs/etc/fstab"
# Root password: empty and locked ("!"): no password login; use the agent.
sed -i 's/^root:[^:]*:/root:!:/' "$rootfs/etc/shadow"
# eth0, eth1... in the order of the virtio-net devices (as in the tiny guest).
mkdir -p "$rootfs/etc/systemd/network"
ln -sf /dev/null "$rootfs/etc/systemd/network/99-default.link"
# Each clone gets its own machine-id at first boot; no interactive firstboot.
: > "$rootfs/etc/machine-id"
rm -f "$rootfs/var/lib/dbus/machine-id"
ln -sf /dev/null "$rootfs/etc/systemd/system/systemd-firstboot.service"
# Each clone gets its own ssh host keys at first boot: ed25519 and ecdsa only
# (an RSA key takes minutes to generate under TCG).
rm -f "$rootfs"/etc/ssh/ssh_host_*
printf 'HostKey /etc/ssh/ssh_host_ed25519_key\nHostKey /etc/ssh/ssh_host_ecdsa_key\n' \
  > "$rootfs/etc/ssh/sshd_config.d/cloonix-hostkeys.conf"
cat > "$rootfs/etc/systemd/system/cloonix-ssh-hostkeys.service" <<'EOF2'
[Unit]
Description=Generate missing ssh host keys (ed25519, ecdsa)
Before=ssh.service
ConditionPathExists=|!/etc/ssh/ssh_host_ed25519_key
ConditionPathExists=|!/etc/ssh/ssh_host_ecdsa_key

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'for t in ed25519 ecdsa; do f=/etc/ssh/ssh_host_$${t}_key; [ -e $$f ] || ssh-keygen -q -t $$t -N "" -f $$f; done'

[Install]
WantedBy=multi-user.target
EOF2

install -D -m 0755 "$agent" "$rootfs/usr/local/sbin/cloonix-agent"
cat > "$rootfs/etc/systemd/system/cloonix-agent.service" <<'EOF'
[Unit]
Description=cloonix guest agent
After=local-fs.target
StartLimitIntervalSec=0

[Service]
ExecStart=/usr/local/sbin/cloonix-agent
Restart=always
RestartSec=1

[Install]
WantedBy=multi-user.target
EOF
mkdir -p "$rootfs/etc/systemd/system/multi-user.target.wants"
for unit in cloonix-agent.service cloonix-ssh-hostkeys.service; do
  ln -sf "/etc/systemd/system/$unit" "$rootfs/etc/systemd/system/multi-user.target.wants/$unit"
done

# Kernel modules (the initrd loads virtio/ext4; udev loads the rest from here).
mkdir -p "$rootfs/lib/modules"
cp -a "$moddir" "$rootfs/lib/modules/"
depmod -b "$rootfs" "$kver"

# Smaller image: no package caches or lists (apt-get update restores them).
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin \
       "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log "$rootfs"/tmp/*
mkdir -p "$rootfs/var/lib/apt/lists/partial"

# --- disk ----------------------------------------------------------------------
raw="$tmp/disk.raw"
truncate -s "$size" "$raw"
mkfs.ext4 -q -F -L cloonix-root -d "$rootfs" "$raw"
qemu-img convert -f raw -O qcow2 "$raw" "$out.tmp"
mv -f "$out.tmp" "$out"
echo "built $out ($(stat -c %s "$out") bytes, virtual $size, kernel modules $kver) in $((SECONDS - start)) s" >&2
