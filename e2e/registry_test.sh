#!/usr/bin/env bash
# End-to-end: cnt images pulled from a registry (Debian's docker-registry on
# the loopback, storage in the test's dir, an image pushed by the test
# through the distribution API). add cnt with a reference pulls it (blobs
# checked by digest) and the container runs; the image stays in the net's
# containerd (a second container needs no registry); an unknown tag is
# NOT_FOUND and a registry that does not answer a clear error, neither
# leaving anything; a lab file names the image too.
source "$(dirname "$0")/lib.sh"

REG="$E2E_ROOT/registry"
mkdir -p "$REG/data"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
printf 'version: 0.1\nlog: {level: warn}\nstorage:\n  filesystem: {rootdirectory: %s}\nhttp:\n  addr: 127.0.0.1:%s\n' \
  "$REG/data" "$PORT" > "$REG/config.yml"
docker-registry serve "$REG/config.yml" >"$REG/log" 2>&1 &
REG_PID=$!
trap 'kill $REG_PID 2>/dev/null; e2e_cleanup' EXIT
for _ in $(seq 1 50); do
  python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$PORT/v2/', timeout=1)" 2>/dev/null && break
  sleep 0.1
done
IMG="127.0.0.1:$PORT/cloonix/busybox:1.0"
check "push busybox to the registry on the loopback" \
  python3 "$RUNFILES/e2e/registry_push.py" "$CLOONIX_BULK_DIR/busybox.tar" "127.0.0.1:$PORT" cloonix/busybox:1.0

check "net start" cloonix net start
check "add cnt with a registry reference pulls it" cloonix add cnt c1 "$IMG"
check "the pulled container runs commands" bash -c "[[ \$(cloonix ssh c1 echo pulled) == pulled ]]"
check "cnt_runner logged the pull with its blobs" grep -q "pulled $IMG: 3 blobs" "$CLOONIX_WORK_ROOT/$NET/log/cnt_runner.log"
check "show names the reference" bash -c "cloonix show c1 | grep -qF '$IMG'"

before="$(cloonix ls -f json)"
expect_code "an unknown tag" NOT_FOUND cloonix add cnt c2 "127.0.0.1:$PORT/cloonix/busybox:nosuch"
expect_code "an unknown repository" NOT_FOUND cloonix add cnt c2 "127.0.0.1:$PORT/nobody/here:1"
expect_code "a bad reference" INVALID_ARGUMENT cloonix add cnt c2 "127.0.0.1:$PORT/Bad/Name:1"
kill "$REG_PID"; wait "$REG_PID" 2>/dev/null
expect_code "a registry that does not answer" "does not answer" cloonix add cnt c2 "127.0.0.1:$PORT/cloonix/busybox:2.0"
check "bad pulls left nothing" bash -c "[[ '$before' == \"\$(cloonix ls -f json)\" ]]"
check "the image stays in the net (second container, registry down)" cloonix add cnt c3 "$IMG"

# A lab file naming the image (the registry is down: the net has it).
printf 'items:\n  c4: {kind: cnt, image: "%s", addresses: {eth0: 10.64.0.4/24}}\n  c5: {kind: cnt, image: "%s", addresses: {eth0: 10.64.0.5/24}}\ncables: [c4:eth0 -- lan1, c5:eth0 -- lan1]\n' \
  "$IMG" "$IMG" > "$E2E_ROOT/lab.yaml"
check "validate passes a registry reference" cloonix validate -f "$E2E_ROOT/lab.yaml"
check "apply a lab file with the pulled image" cloonix apply -f "$E2E_ROOT/lab.yaml" --wait
check "its containers ping each other" cloonix ssh c4 ping -c 1 -W 3 10.64.0.5
check "net stop" cloonix net stop
check_clean "nothing left after stop"
e2e_finish
