#!/usr/bin/env python3
"""Same-run baseline of vm_bench.sh: QEMU alone (no libvirt, no cloonix)
boots the tiny guest with the command line and devices vm_runner gives it
(q35, TCG, qboot, cryptomgr.notests, virtio-serial on pcie.0) and this
prints the seconds from QEMU's exec to the agent's first bytes on its
virtio-serial port (its hello), median of N runs.

usage: qemu_alone.py BULK_DIR [N]
"""
import os
import select
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def one(bulk, tmp):
    sock = os.path.join(tmp, "agent.sock")
    if os.path.exists(sock):
        os.unlink(sock)
    fw = "/usr/share/qemu/qboot.rom"
    cmd = ["qemu-system-x86_64", "-machine", "q35", "-accel", "tcg",
           "-cpu", "max", "-m", "256", "-smp", "1", "-nodefaults",
           "-no-user-config", "-display", "none", "-serial", "null",
           "-kernel", os.path.join(bulk, "tiny-vmlinux"),
           "-initrd", os.path.join(bulk, "tiny-initrd.img"),
           "-append", "console=ttyS0 panic=-1 loglevel=4 mitigations=off "
           "init_on_alloc=0 no5lvl cryptomgr.notests cloonix_name=alone",
           "-device", "virtio-serial-pci,id=vs0,bus=pcie.0,addr=0x2",
           "-chardev", "socket,id=ch0,path=%s,server=on,wait=off" % sock,
           "-device", "virtserialport,bus=vs0.0,chardev=ch0,"
           "name=org.cloonix.agent.0"]
    if os.path.exists(fw):
        cmd[1:1] = ["-bios", fw]
    t0 = time.monotonic()
    q = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
    try:
        s = None
        while s is None:
            if q.poll() is not None:
                raise RuntimeError("qemu exited with %d" % q.returncode)
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(sock)
            except OSError:
                s.close()
                s = None
                time.sleep(0.005)
        r, _, _ = select.select([s], [], [], 60)
        if not r or not s.recv(64):
            raise RuntimeError("no hello within 60 s")
        return time.monotonic() - t0
    finally:
        q.kill()
        q.wait()


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    with tempfile.TemporaryDirectory(prefix="cxqa.") as tmp:
        runs = [one(sys.argv[1], tmp) for _ in range(n)]
    print(" ".join("%.2f" % r for r in runs), "%.2f" % statistics.median(runs))


if __name__ == "__main__":
    main()
