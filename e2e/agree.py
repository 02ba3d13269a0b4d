#!/usr/bin/env python3
"""Checks that a net's topology and what really runs agree.

usage: agree.py NET WORK_DIR [--allow-transient]

Reads `cloonix ls -f json` (the topology), OVS (bridges and their ports),
the container netns, containerd's runc state and libvirt's domains, and
exits 1 with what differs: every cnt has its netns and runc container and no
other does, every kvm its domain, the bridges are exactly the lans', each
bridge holds exactly the ports of the eths cabled to its lan, and no item is
left creating or deleting.
"""
import json
import os
import subprocess
import sys


def run(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout


def main():
    net, work = sys.argv[1], sys.argv[2]
    allow_transient = "--allow-transient" in sys.argv
    items = {i["name"]: i for i in json.loads(run("cloonix", "ls", "-f", "json")).get("items", [])}
    problems = []
    if not allow_transient:
        for n, i in items.items():
            if i.get("state") in ("ITEM_STATE_CREATING", "ITEM_STATE_DELETING"):
                problems.append(f"{n} is left {i['state']}")
    kind = lambda k: {n for n, i in items.items() if i["kind"] == k}
    cnts, kvms, lans = kind("ITEM_KIND_CNT"), kind("ITEM_KIND_KVM"), kind("ITEM_KIND_LAN")
    prefix = f"cloonix_{net}."
    netns = {l.split()[0][len(prefix):] for l in run("ip", "netns", "list").splitlines()
             if l.startswith(prefix)}
    if netns != cnts:
        problems.append(f"container netns {sorted(netns)} != cnt items {sorted(cnts)}")
    runc_dir = f"/run/containerd/runc/cloonix-{net}"
    runc = set(os.listdir(runc_dir)) if os.path.isdir(runc_dir) else set()
    if runc != cnts:
        problems.append(f"containerd's containers {sorted(runc)} != cnt items {sorted(cnts)}")
    dom_prefix = f"cloonix.{net}."
    doms = {d[len(dom_prefix):] for d in run("virsh", "-c", "qemu:///system", "list", "--name").split()
            if d.startswith(dom_prefix)}
    if doms != kvms:
        problems.append(f"libvirt domains {sorted(doms)} != kvm items {sorted(kvms)}")
    db = f"unix:{work}/ovs/run/db.sock"
    bridges = {b: set(run("ovs-vsctl", f"--db={db}", "list-ports", b).split())
               for b in run("ovs-vsctl", f"--db={db}", "list-br").split()}
    want_br = {items[l]["lan"]["bridge"]: l for l in lans}
    if set(bridges) != set(want_br):
        problems.append(f"bridges {sorted(bridges)} != lans' {sorted(want_br)}")
    for b, lan in want_br.items():
        want = {e["port"] for i in items.values() for e in i.get("eths", []) if e.get("lan") == lan}
        got = bridges.get(b, set())
        if got != want:
            problems.append(f"lan {lan} ({b}): ports {sorted(got)} != cabled eths {sorted(want)}")
    taps = kind("ITEM_KIND_TAP")
    host_taps = set()
    for line in run("ip", "-o", "link", "show").splitlines():
        if f"alias cloonix:{net}:tap" in line:
            host_taps.add(line.split(": ")[1].split("@")[0])
    if host_taps != taps:
        problems.append(f"host taps {sorted(host_taps)} != tap items {sorted(taps)}")
    if problems:
        print("\n".join(problems))
        return 1
    print(f"agree: {len(cnts)} cnt, {len(kvms)} kvm, {len(taps)} tap, {len(lans)} lans, "
          f"{sum(len(p) for p in bridges.values())} ports")
    return 0


if __name__ == "__main__":
    sys.exit(main())
