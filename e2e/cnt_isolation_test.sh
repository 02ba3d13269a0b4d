#!/usr/bin/env bash
# End-to-end: root inside a lab container cannot change the host. The host's
# global sysctls (/proc/sys/kernel, vm, fs...), /proc/sysrq-trigger and the
# masked /proc files are out of reach; syscalls of the default seccomp profile
# (containers/common's, Docker's rules) are refused. What a lab container is
# for still works: ip addr, ping over a lan, net.* sysctls of its own netns.
# Commands run as a user's would: through `cloonix ssh` (containerd exec).
source "$(dirname "$0")/lib.sh"

check "net start" cloonix net start
check "add cnt c1" cloonix add cnt c1 busybox eth=1
check "add cnt c2" cloonix add cnt c2 busybox eth=1
check "cable c1" cloonix add lan c1 eth0 lan1
check "cable c2" cloonix add lan c2 eth0 lan1

host_core="$(cat /proc/sys/kernel/core_pattern)"
host_fwd="$(cat /proc/sys/net/ipv4/ip_forward)"
host_ttl="$(cat /proc/sys/net/ipv4/ip_default_ttl)"
host_drop="$(cat /proc/sys/vm/overcommit_ratio)"

# Each write must fail inside the container and leave the host's value.
check "kernel.core_pattern is not writable" \
  bash -c "! cloonix ssh c1 sh -c 'echo \"|/tmp/x %p\" > /proc/sys/kernel/core_pattern'"
check "host core_pattern unchanged" bash -c "[[ \"\$(cat /proc/sys/kernel/core_pattern)\" == '$host_core' ]]"
check "sysctl -w kernel.* refused" bash -c "! cloonix ssh c1 sysctl -w kernel.panic=1"
check "vm.* not writable" bash -c "! cloonix ssh c1 sh -c 'echo 77 > /proc/sys/vm/overcommit_ratio'"
check "host vm.overcommit_ratio unchanged" bash -c "[[ \$(cat /proc/sys/vm/overcommit_ratio) == '$host_drop' ]]"
check "fs.* not writable" bash -c "! cloonix ssh c1 sh -c 'echo 1 > /proc/sys/fs/protected_regular'"
check "/proc/sysrq-trigger not writable" bash -c "! cloonix ssh c1 sh -c 'echo h > /proc/sysrq-trigger'"
check "/proc/kcore masked (empty)" bash -c "[[ -z \"\$(cloonix ssh c1 sh -c 'head -c 16 /proc/kcore 2>/dev/null')\" ]]"
check "/proc/keys masked (empty)" bash -c "[[ -z \"\$(cloonix ssh c1 sh -c 'cat /proc/keys 2>/dev/null')\" ]]"
check "/sys is read-only" bash -c "! cloonix ssh c1 sh -c 'echo 1 > /sys/class/net/eth0/mtu'"

# seccomp: the filter is on, and a syscall the profile refuses without
# CAP_SYS_ADMIN (unshare of a user namespace needs no capability) fails.
check "seccomp filter mode on the container's processes" \
  bash -c "cloonix ssh c1 grep -q '^Seccomp:[[:space:]]*2' /proc/self/status"
check "unshare -U refused by seccomp" bash -c "! cloonix ssh c1 unshare -U true"
check "mount refused" bash -c "! cloonix ssh c1 mount -t tmpfs none /mnt"

# What a lab container does still works.
check "ip addr add in c1" cloonix ssh c1 ip addr add 10.77.0.1/24 dev eth0
check "ip addr add in c2" cloonix ssh c2 ip addr add 10.77.0.2/24 dev eth0
check "ip route in c1" cloonix ssh c1 ip route add 10.78.0.0/24 via 10.77.0.2
check "ping c1 -> c2" cloonix ssh c1 ping -c 2 -W 2 10.77.0.2
check "sysctl -w net.ipv4.ip_forward=1 in the container" \
  cloonix ssh c1 sysctl -w net.ipv4.ip_forward=1
check "the container sees ip_forward=1" \
  bash -c "[[ \$(cloonix ssh c1 cat /proc/sys/net/ipv4/ip_forward) == 1 ]]"
check "sysctl -w net.ipv4.ip_default_ttl=99 in the container" \
  cloonix ssh c1 sysctl -w net.ipv4.ip_default_ttl=99
check "host net.* sysctls unchanged (scoped to the container's netns)" \
  bash -c "[[ \$(cat /proc/sys/net/ipv4/ip_forward) == '$host_fwd' && \$(cat /proc/sys/net/ipv4/ip_default_ttl) == '$host_ttl' ]]"
check "c2's netns unchanged" bash -c "[[ \$(cloonix ssh c2 cat /proc/sys/net/ipv4/ip_default_ttl) != 99 ]]"

check "net stop" cloonix net stop
check_clean "nothing left after stop"
e2e_finish
