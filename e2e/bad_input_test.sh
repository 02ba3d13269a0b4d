#!/usr/bin/env bash
# End-to-end: bad input gets a clear error with the right gRPC code and
# changes nothing (the topology and the switch are the same before and after).
source "$(dirname "$0")/lib.sh"

check "net start" cloonix net start
check "build lab" bash -c "cloonix add cnt cnt1 && cloonix add cnt cnt2 && cloonix add lan cnt1 eth0 lan1"
ovs() { ovs-vsctl --db="unix:$CLOONIX_WORK_ROOT/$NET/ovs/run/db.sock" "$@"; }
snapshot() { cloonix ls -f json; ovs list-br; for b in $(ovs list-br); do ovs list-ports "$b"; done; ip netns list | grep -c "cloonix_${NET}"; }
before="$(snapshot)"

expect_code "invalid item name" INVALID_ARGUMENT cloonix add cnt "Bad/Name"
expect_code "invalid lan name" INVALID_ARGUMENT cloonix add lan cnt2 eth0 "lan 2"
expect_code "unknown lan (no creation)" NOT_FOUND cloonix add lan --no-create cnt2 eth0 lan9
expect_code "eth out of range" INVALID_ARGUMENT cloonix add lan cnt1 eth3 lan1
expect_code "eth already cabled elsewhere" FAILED_PRECONDITION cloonix add lan cnt1 eth0 lan2
expect_code "duplicate name" ALREADY_EXISTS cloonix add cnt cnt1
expect_code "duplicate name across kinds" ALREADY_EXISTS cloonix add lan lan1
expect_code "missing image" NOT_FOUND cloonix add cnt cnt3 nosuchimage
expect_code "zero eths" INVALID_ARGUMENT cloonix add cnt cnt3 eth=0
expect_code "too many eths" INVALID_ARGUMENT cloonix add cnt cnt3 eth=33
expect_code "a c2c to an unknown peer net without its address and credentials" INVALID_ARGUMENT cloonix add c2c c2c1 othernet
expect_code "a phy of a NIC that does not exist" NOT_FOUND cloonix add phy phy1 nosuchnic9
expect_code "kvm without its settings is a usage error" "ram=" cloonix add kvm vm1 tiny
expect_code "uncable an uncabled eth" FAILED_PRECONDITION cloonix del lan cnt2 eth0 lan1
expect_code "delete a missing item" NOT_FOUND cloonix del cnt9
check "delete a missing item with --if-exists" cloonix del --if-exists cnt9
check "--if-exists on a missing item does not claim a deletion" bash -c \
  "out=\$(cloonix del --if-exists cnt9) && [[ \$out != deleted* && \$out == *'nothing deleted'* ]] &&
   [[ \$(cloonix -f json del --if-exists cnt9) == *'\"deleted\":null'* ]]"
check "a negative --natplug is a usage error" bash -c "cloonix add cnt cnt3 --natplug=-3 >/dev/null 2>&1; [[ \$? -eq 2 ]]"
check "a2b qsize past 32 bits is refused, not wrapped" bash -c \
  "out=\$(cloonix add a2b ab9 qsize=4294967296 2>&1); [[ \$? -eq 2 && \$out == *'too large'* ]]"
big="$(head -c 100000 /dev/zero | tr '\0' a)"
out="$(cloonix add lan "$big" 2>&1)"; rc=$?
if [[ $rc -eq 1 && "$out" == *INVALID_ARGUMENT* && ${#out} -lt 400 ]]; then
  pass "a 100 KB name gets a short INVALID_ARGUMENT"
else
  fail "a 100 KB name gets a short INVALID_ARGUMENT" "exit $rc, ${#out} bytes: ${out:0:300}"
fi
check "copying a /proc file out of a container gives its content" bash -c \
  "cloonix scp cnt1:/proc/cpuinfo $E2E_ROOT/cpuinfo >/dev/null && grep -q processor $E2E_ROOT/cpuinfo"
check "--remote messages name the remote, not the local --net" bash -c \
  "out=\$(cloonix --remote 127.0.0.1:1 --creds $E2E_ROOT ls 2>&1); [[ \$out == *'127.0.0.1:1'* && \$out != *'net $NET'* ]]"
check "usage error exits 2" bash -c "cloonix add lan a b >/dev/null 2>&1; [[ \$? -eq 2 ]]"
check "bad eth syntax exits 2" bash -c "cloonix add lan cnt2 ethX lan1 >/dev/null 2>&1; [[ \$? -eq 2 ]]"

# Images that are not regular files are refused at once (no read for ever,
# no lock held): a device, a FIFO.
t0=$(date +%s%N)
expect_code "a device as image" INVALID_ARGUMENT cloonix add cnt cnt3 /dev/urandom
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
if (( ms < 5000 )); then pass "the device is refused in ${ms} ms"; else fail "the device is refused at once" "${ms} ms"; fi
mkfifo "$E2E_ROOT/fifo.tar"
expect_code "a FIFO as image" INVALID_ARGUMENT cloonix add cnt cnt3 "$E2E_ROOT/fifo.tar"
expect_code "a directory that is no OCI layout" INVALID_ARGUMENT cloonix add cnt cnt3 "$E2E_ROOT"
mkdir -p "$E2E_ROOT/layout" && tar -C "$E2E_ROOT/layout" -xf "$CLOONIX_BULK_DIR/busybox.tar"
check "an OCI layout directory as image" cloonix add cnt cnt4 "$E2E_ROOT/layout"
check "delete cnt4" cloonix del cnt4

# A malformed image (a manifest without config): INVALID_ARGUMENT, runner alive.
bad="$E2E_ROOT/badimg"
mkdir -p "$bad/blobs/sha256"
printf '{}' > "$bad/manifest"
d="$(sha256sum "$bad/manifest" | cut -d' ' -f1)"
mv "$bad/manifest" "$bad/blobs/sha256/$d"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":2,"annotations":{"io.containerd.image.name":"broken"}}]}' "$d" > "$bad/index.json"
tar -C "$bad" -cf "$CLOONIX_BULK_DIR/broken.tar" .
runner_pid="$(cat "$CLOONIX_WORK_ROOT/$NET/cnt_runner.pid")"
expect_code "malformed image" INVALID_ARGUMENT cloonix add cnt cnt3 broken
if kill -0 "$runner_pid" 2>/dev/null; then pass "cnt_runner survives a malformed image"; else fail "cnt_runner survives a malformed image" "it died"; fi

after="$(snapshot)"
if [[ "$before" == "$after" ]]; then pass "nothing changed by the bad requests"; else fail "nothing changed by the bad requests" "$(diff <(echo "$before") <(echo "$after"))"; fi
check "no half-created container netns" bash -c "! ip netns list | grep -q cloonix_${NET}.cnt3"

check "delete cnt2" cloonix del cnt2
expect_code "cabling a deleted item" NOT_FOUND cloonix add lan cnt2 eth0 lan1
check "net stop" cloonix net stop
expect_code "a stopped net is reported" "not running" cloonix ls
check_clean "nothing left after stop"
e2e_finish
