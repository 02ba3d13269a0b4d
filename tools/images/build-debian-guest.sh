#!/usr/bin/env bash
# Builds a Debian bookworm guest disk (qcow2, whole-disk ext4, no partition
# table, no kernel or bootloader inside): debootstrap minbase + systemd, udev,
# iproute2, ping, procps, kmod, openssh-server, dbus, systemd-resolved; the
# cloonix agent at /usr/local/sbin/cloonix-agent run by cloonix-agent.service
# (Restart=always), or with --no-agent no agent at all; hostname "debian";
# root password empty and locked (no password login: sshd takes keys only,
# root included, PermitRootLogin prohibit-password); classic interface names
# (eth0...), each eth* configured by DHCPv4 at boot by systemd-networkd
# (/etc/systemd/network/20-eth.network), DNS from the lease via
# systemd-resolved (/etc/resolv.conf -> /run/systemd/resolve/resolv.conf,
# the upstream servers, not the 127.0.0.53 stub); the kernel modules of the
# kernel that build-tiny-guest.sh unpacked in its cache. The filesystem is
# made with `mkfs.ext4 -d` from a directory (no loop mount) and converted to
# qcow2. Next to OUT.qcow2 it writes OUT.boot, the sidecar vm_runner reads:
#   kernel=tiny-vmlinux
#   initrd=tiny-initrd.img
#   cmdline=root=/dev/vda              (+ " cloonix_noagent=1" with --no-agent)
#
# Boot it with build-tiny-guest.sh's kernel and initrd, which switch_root to it:
#   qemu-system-x86_64 -M q35 -accel tcg -cpu max -m 256 -nographic \
#     -kernel tiny-vmlinux -initrd tiny-initrd.img \
#     -append 'console=ttyS0 root=/dev/vda cloonix_name=NAME' \
#     -drive file=OUT.qcow2,if=virtio ...
# (per VM: qemu-img create -f qcow2 -b OUT.qcow2 -F qcow2 vmN.qcow2). A
# --no-agent image must be booted with cloonix_noagent=1, else the initrd
# copies its own agent into the root filesystem (the unit is absent, so it
# would not run, but the image would no longer be agent-free).
# The debootstrap result is cached as <cache>/../debootstrap-<suite>-<key>.tar
# (key: suite, mirror, package list, debootstrap version): later images of
# the same suite are unpacked from it (about 9 s instead of 85 s).
# Needs root (debootstrap, chroot) and network access to the mirror
# (apt's Acquire::http::Proxy is honoured when http_proxy is not set).
#
# usage: build-debian-guest.sh OUT.qcow2 (--agent PATH | --no-agent)
#                              [--hvc0-autologin] [--cloud-init]
#                              [--packages PKG,PKG...]
#                              [--authorized-key FILE]... [--mirror URL]
#                              [--size 2G] [--cache DIR] [--kver KERNEL_VERSION]
#   --agent   the static cloonix agent to install (exactly one of --agent and
#             --no-agent)
#   --no-agent  no agent binary, no unit: a guest reached through its sshd
#   --hvc0-autologin  a root shell on the virtio console hvc0 (agetty -a
#             root), as every Cloonix image has: vm_runner delivers the
#             agent through it from its config disk (nothing of cloonix in
#             the image)
#   --cloud-init  Debian's cloud-init, limited to the NoCloud datasource
#             (as a cloud image): `add kvm --cloud-init` starts the agent
#             through its seed; without a seed cloud-init stays disabled
#   --packages  more Debian packages, installed with apt in the chroot
#             (e.g. x11-utils for `cloonix ssh -X vm xdpyinfo`)
#   --authorized-key  an ssh public key file for root
#             (/root/.ssh/authorized_keys, 0600 in a 0700 dir); repeatable,
#             the files are concatenated
#   --mirror  default http://deb.debian.org/debian
#   --size    size of the ext4 filesystem (virtual disk size), default 2G
#   --cache   build-tiny-guest.sh's kernel cache, default /var/cache/cloonix/kernel
#   --kver    kernel whose modules to copy (default: newest unpacked in the cache)
set -euo pipefail

usage() { sed -n '/^# usage:/,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

out="" agent="" noagent="" hvc0="" cloudinit="" extra="" mirror="http://deb.debian.org/debian" size="2G"
cache="/var/cache/cloonix/kernel" kver=""
keys=()
SUITE=bookworm
# dbus explicitly: debootstrap does not resolve systemd-resolved's dependency
# on the virtual default-dbus-system-bus.
INCLUDE=systemd-sysv,udev,iproute2,iputils-ping,procps,kmod,openssh-server,dbus,systemd-resolved
while [[ $# -gt 0 ]]; do
  case "$1" in
    --agent)  agent="${2:?--agent needs a path}"; shift 2 ;;
    --no-agent) noagent=1; shift ;;
    --hvc0-autologin) hvc0=1; shift ;;
    --cloud-init) cloudinit=1; shift ;;
    --packages) extra="${2:?--packages needs a list}"; shift 2 ;;
    --authorized-key) keys+=("${2:?--authorized-key needs a file}"); shift 2 ;;
    --mirror) mirror="${2:?--mirror needs a URL}"; shift 2 ;;
    --size)   size="${2:?--size needs a size}"; shift 2 ;;
    --cache)  cache="${2:?--cache needs a directory}"; shift 2 ;;
    --kver)   kver="${2:?--kver needs a kernel version}"; shift 2 ;;
    -h|--help) usage ;;
    -*) echo "unknown option $1" >&2; usage ;;
    *) [[ -z "$out" ]] || usage; out="$1"; shift ;;
  esac
done
[[ -n "$out" ]] || usage
apt_pkgs=()
[[ -z "$cloudinit" ]] || apt_pkgs+=(cloud-init)
if [[ -n "$extra" ]]; then
  IFS=, read -r -a more <<<"$extra"
  for p in "${more[@]}"; do
    [[ "$p" =~ ^[a-z0-9][a-z0-9.+-]*$ ]] || { echo "--packages: \"$p\" is not a package name" >&2; exit 2; }
  done
  apt_pkgs+=("${more[@]}")
fi
if [[ -n "$agent" && -n "$noagent" ]] || [[ -z "$agent" && -z "$noagent" ]]; then
  echo "exactly one of --agent PATH and --no-agent is required" >&2; usage
fi
[[ "$out" == *.qcow2 ]] || { echo "$out: the image name must end in .qcow2" >&2; exit 1; }
[[ -z "$agent" || -f "$agent" ]] || { echo "agent $agent: not a file" >&2; exit 1; }
for k in "${keys[@]}"; do
  [[ -f "$k" ]] || { echo "authorized key $k: not a file" >&2; exit 1; }
  grep -qE '^(ssh-|ecdsa-|sk-)' "$k" || { echo "authorized key $k: not an ssh public key" >&2; exit 1; }
done
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

# The debootstrap result is the same for every image of a suite, mirror and
# package list: kept as a tarball in the cache dir and unpacked next time
# (tests build several images; each debootstrap takes about a minute).
bs_key="$(printf '%s|%s|%s|%s' "$SUITE" "$mirror" "$INCLUDE" "$(debootstrap --version 2>/dev/null)" | sha256sum | cut -c1-16)"
bs_tar="$(dirname "$cache")/debootstrap-$SUITE-$bs_key.tar"
if [[ -s "$bs_tar" ]]; then
  echo "debootstrap $SUITE: from $bs_tar" >&2
  mkdir -p "$rootfs"
  tar --numeric-owner --xattrs -xpf "$bs_tar" -C "$rootfs"
else
  echo "debootstrap $SUITE from $mirror${http_proxy:+ (proxy $http_proxy)}" >&2
  debootstrap --variant=minbase --include="$INCLUDE" \
    --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
    "$SUITE" "$rootfs" "$mirror" >&2
  mkdir -p "$(dirname "$bs_tar")"
  if tar --numeric-owner --xattrs -cpf "$bs_tar.tmp.$$" -C "$rootfs" .; then
    mv -f "$bs_tar.tmp.$$" "$bs_tar"
  else
    rm -f "$bs_tar.tmp.$$"
  fi
fi

if ((${#apt_pkgs[@]})); then
  # apt in the chroot (debootstrap's --include does not order cloud-init's
  # python dependencies), with the host's DNS for the mirror meanwhile.
  echo "apt-get install ${apt_pkgs[*]}" >&2
  rm -f "$rootfs/etc/resolv.conf"
  cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
  mount -t proc proc "$rootfs/proc"
  chroot "$rootfs" apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive chroot "$rootfs" apt-get install -y -q \
    --no-install-recommends "${apt_pkgs[@]}" >&2
  umount "$rootfs/proc"
fi

# --- configuration -----------------------------------------------------------
echo debian > "$rootfs/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 debian\n::1 localhost ip6-localhost ip6-loopback\n' > "$rootfs/etc/hosts"
# DNS: systemd-resolved takes the servers from networkd's DHCP leases and
# lists them in /run/systemd/resolve/resolv.conf (rm first: the package's
# postinst may have made resolv.conf an absolute symlink, which a write here
# would follow out of the chroot).
rm -f "$rootfs/etc/resolv.conf"
ln -s ../run/systemd/resolve/resolv.conf "$rootfs/etc/resolv.conf"
printf '/dev/vda / ext4 rw,errors=remount-ro 0 0\n' > "$rootfs/etc/fstab"
# Root password: empty and locked ("!"): no password login; use the agent
# or an ssh key (sshd has UsePAM yes: no locked-account check for keys).
sed -i 's/^root:[^:]*:/root:!:/' "$rootfs/etc/shadow"
# eth0, eth1... in the order of the virtio-net devices (as in the tiny guest).
mkdir -p "$rootfs/etc/systemd/network"
ln -sf /dev/null "$rootfs/etc/systemd/network/99-default.link"
# DHCPv4 on every eth* (systemd-networkd, no agent needed).
cat > "$rootfs/etc/systemd/network/20-eth.network" <<'EOF'
[Match]
Name=eth*

[Network]
DHCP=ipv4
EOF
# Each clone gets its own machine-id at first boot; no interactive firstboot.
: > "$rootfs/etc/machine-id"
rm -f "$rootfs/var/lib/dbus/machine-id"
ln -sf /dev/null "$rootfs/etc/systemd/system/systemd-firstboot.service"
# sshd: keys only (drop-ins come first in Debian's sshd_config, first value
# wins); root by key (prohibit-password, Debian's default, stated here).
cat > "$rootfs/etc/ssh/sshd_config.d/cloonix-auth.conf" <<'EOF'
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitEmptyPasswords no
EOF
if [[ ${#keys[@]} -gt 0 ]]; then
  install -d -m 0700 "$rootfs/root/.ssh"
  for k in "${keys[@]}"; do sed -e '$a\' "$k"; done > "$rootfs/root/.ssh/authorized_keys"
  chmod 0600 "$rootfs/root/.ssh/authorized_keys"
fi
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

units=(cloonix-ssh-hostkeys.service)
if [[ -n "$agent" ]]; then
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
units+=(cloonix-agent.service)
fi
mkdir -p "$rootfs/etc/systemd/system/multi-user.target.wants" \
         "$rootfs/etc/systemd/system/sockets.target.wants"
if [[ -n "$cloudinit" ]]; then
  # NoCloud (the seed of add kvm --cloud-init) and ConfigDrive, both found
  # by a filesystem label: without a seed ds-identify finds neither and
  # cloud-init stays off. (With "None" listed it would run at every boot,
  # and a list of one datasource is taken as found: 35 to 90 s more under
  # TCG.)
  mkdir -p "$rootfs/etc/cloud/cloud.cfg.d"
  printf 'datasource_list: [ NoCloud, ConfigDrive ]\n' > "$rootfs/etc/cloud/cloud.cfg.d/99-cloonix.cfg"
fi
if [[ -n "$hvc0" ]]; then
  # Root logged in on hvc0 at boot, as Cloonix's images (agetty -a root).
  mkdir -p "$rootfs/etc/systemd/system/serial-getty@hvc0.service.d" \
           "$rootfs/etc/systemd/system/getty.target.wants"
  cat > "$rootfs/etc/systemd/system/serial-getty@hvc0.service.d/autologin.conf" <<'EOF'
[Service]
ExecStart=
ExecStart=-/sbin/agetty --autologin root --noclear --keep-baud 115200,38400,9600 %I $TERM
EOF
  ln -sf /lib/systemd/system/serial-getty@.service \
    "$rootfs/etc/systemd/system/getty.target.wants/serial-getty@hvc0.service"
fi
for unit in "${units[@]}"; do
  ln -sf "/etc/systemd/system/$unit" "$rootfs/etc/systemd/system/multi-user.target.wants/$unit"
done
# What `systemctl enable systemd-networkd systemd-resolved` links (without
# systemd-networkd-wait-online: nothing here waits for network-online).
ln -sf /lib/systemd/system/systemd-networkd.service \
  "$rootfs/etc/systemd/system/multi-user.target.wants/systemd-networkd.service"
ln -sf /lib/systemd/system/systemd-networkd.socket \
  "$rootfs/etc/systemd/system/sockets.target.wants/systemd-networkd.socket"
ln -sf /lib/systemd/system/systemd-networkd.service \
  "$rootfs/etc/systemd/system/dbus-org.freedesktop.network1.service"
ln -sf /lib/systemd/system/systemd-resolved.service \
  "$rootfs/etc/systemd/system/multi-user.target.wants/systemd-resolved.service"
ln -sf /lib/systemd/system/systemd-resolved.service \
  "$rootfs/etc/systemd/system/dbus-org.freedesktop.resolve1.service"

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
# The sidecar: kernel and initrd are looked up next to the image at use time.
boot="${out%.qcow2}.boot"
printf 'kernel=tiny-vmlinux\ninitrd=tiny-initrd.img\ncmdline=root=/dev/vda%s\n' \
  "${noagent:+ cloonix_noagent=1}" > "$boot.tmp"
mv -f "$out.tmp" "$out"
mv -f "$boot.tmp" "$boot"
bytes="$(stat -c %s "$out")"
echo "built $out: $bytes bytes ($(numfmt --to=iec "$bytes")), virtual $size," \
     "$([[ -n "$agent" ]] && echo "agent $agent" || echo "no agent"),${hvc0:+ hvc0 autologin,}${cloudinit:+ cloud-init,}${extra:+ packages $extra,} ${#keys[@]} authorized key(s)," \
     "kernel modules $kver, sidecar $boot, in $((SECONDS - start)) s" >&2
