#!/usr/bin/env bash
# End-to-end: cloonix gui (issue 15). A real net, the page in Debian's
# headless chromium (puppeteer-core, e2e/gui_test.js): a lab of 2 kvm, 1 cnt
# and 1 a2b applied while the page is open shows up, the kvm turn from red
# to blue when their agents come up, a lan added with the CLI appears
# without reload, a dragged node keeps its place after a reload (stored in
# the net), the in-page terminal of the cnt runs hostname, the right-click
# menu adds a lan. Then the HTTP side with curl: no token or session -> 401
# and nothing changes, a token works once, the Host check, the JSON API's
# errors, a pcap download; cloonix graph --format svg draws the stored
# places. Screenshots go to the test's undeclared outputs.
source "$(dirname "$0")/lib.sh"

SRC_ROOT="$(dirname "$(dirname "$(readlink -f "$RUNFILES/e2e/lib.sh")")")"
export NODE_PATH="$SRC_ROOT/cli/gui/web/node_modules"
OUT="${TEST_UNDECLARED_OUTPUTS_DIR:-$E2E_ROOT/out}"
mkdir -p "$OUT"
G="$E2E_ROOT/gui"
mkdir -p "$G"

build_tiny_guest
check "net start (with a TLS listener)" cloonix net start --listen 127.0.0.1:0

cat > "$G/lab.yaml" <<'LAB'
items:
  vm1: {kind: kvm, image: tiny, ram: 256}
  vm2: {kind: kvm, image: tiny, ram: 256}
  c1: {kind: cnt, image: busybox, addresses: {eth0: 10.77.0.1/24}}
  ab1: {kind: a2b, dir0: {delay: 10}}
cables:
  - vm1:eth0 -- lan1
  - c1:eth0 -- lan1
  - ab1:eth0 -- lan1
  - ab1:eth1 -- lan2
  - vm2:eth0 -- lan2
LAB

# The server, on a free loopback port; the first line is the URL.
cloonix gui --print-url > "$G/url" 2> "$G/gui.err" &
GUI_PID=$!
for _ in $(seq 1 50); do [[ -s "$G/url" ]] && break; sleep 0.1; done
URL="$(head -1 "$G/url")"
PORT="$(echo "$URL" | sed -E 's#http://127.0.0.1:([0-9]+)/.*#\1#')"
BASE="http://127.0.0.1:$PORT"
check "cloonix gui --print-url prints a URL with a token" bash -c "[[ '$URL' =~ ^http://127\.0\.0\.1:[0-9]+/\?token=[0-9a-f]{64}$ ]]"

# Without the token nothing is served and nothing changes.
check "GET / without a token: 401" bash -c "[[ \$(curl -s -o /dev/null -w '%{http_code}' $BASE/) == 401 ]]"
check "a wrong token: 401" bash -c "[[ \$(curl -s -o /dev/null -w '%{http_code}' '$BASE/?token=$(printf '0%.0s' $(seq 1 64))') == 401 ]]"
check "POST CreateItem without a session: 401, no item made" bash -c \
  "[[ \$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'X-Cloonix-Gui: 1' -d '{\"item\":{\"name\":\"intruder\",\"lan\":{}}}' $BASE/api/rpc/CreateItem) == 401 ]] && ! cloonix ls | grep -q intruder"
check "a WebSocket without a session is refused" bash -c \
  "! curl -s -f -m 3 -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' -H 'Origin: $BASE' $BASE/ws/events -o /dev/null"

# The browser: the first use of the token.
thr0="$(ls /proc/$GUI_PID/task | wc -l)"; fds0="$(ls /proc/$GUI_PID/fd | wc -l)"
if node "$RUNFILES/e2e/gui_test.js" "$URL" "$G/lab.yaml" "$OUT" > "$G/browser.log" 2>&1; then :; fi
while IFS= read -r line; do
  case "$line" in
    PASS:*) pass "${line#PASS: }" ;;
    FAIL:*) rest="${line#FAIL: }"; fail "${rest%%: *}" "${rest#*: }" ;;
  esac
done < "$G/browser.log"
grep -qE '^(PASS|FAIL):' "$G/browser.log" || fail "the browser test ran" "$(tail -5 "$G/browser.log")"
sleep 2
thr1="$(ls /proc/$GUI_PID/task | wc -l)"; fds1="$(ls /proc/$GUI_PID/fd | wc -l)"
echo "    cloonix gui: threads $thr0 -> $thr1, fds $fds0 -> $fds1 (browser gone)"
# Each open WebSocket holds a pump thread and a stream; gRPC's own pool may
# keep a couple more.
check "the browser gone, its sockets' threads and fds are gone too" bash -c \
  "(( $thr1 <= $thr0 + 3 && $fds1 <= $fds0 + 3 ))"
check "the token works once" bash -c "[[ \$(curl -s -o /dev/null -w '%{http_code}' '$URL') == 401 ]]"

# A second server for curl's own session (its token is its own).
cloonix gui --listen 127.0.0.1:0 -f json > "$G/url2" 2>/dev/null &
GUI2_PID=$!
for _ in $(seq 1 50); do [[ -s "$G/url2" ]] && break; sleep 0.1; done
URL2="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$G/url2")"
B2="${URL2%%/?token=*}"
J="$G/jar"
check "-f json: the URL and port" bash -c "[[ '$URL2' == http://127.0.0.1:*/?token=* ]]"
check "the token gives a session cookie (HttpOnly, SameSite=Strict) and 303 to /" bash -c \
  "curl -s -D $G/h -o /dev/null -c $J '$URL2' && grep -q '^HTTP/1.1 303' $G/h && grep -qi 'Set-Cookie: cloonix_gui=[0-9a-f]\{64\}; Path=/; HttpOnly; SameSite=Strict' $G/h"
api() { curl -s -b "$J" -H 'X-Cloonix-Gui: 1' -w '\n%{http_code}' -X POST -d "$2" "$B2/api/rpc/$1"; }
export J B2
export -f api
check "with the session: GET / serves the page" bash -c "curl -s -b $J $B2/ | grep -q 'cloonix gui'"
check "another Host header (DNS rebinding): 403" bash -c \
  "[[ \$(curl -s -o /dev/null -w '%{http_code}' -b $J -H 'Host: evil.example:80' $B2/) == 403 ]]"
check "POST without X-Cloonix-Gui: 403, nothing made" bash -c \
  "[[ \$(curl -s -o /dev/null -w '%{http_code}' -b $J -X POST -d '{\"item\":{\"name\":\"csrf\",\"lan\":{}}}' $B2/api/rpc/CreateItem) == 403 ]] && ! cloonix ls | grep -q csrf"
check "CreateItem through the API: 200 and the item" bash -c \
  "api CreateItem '{\"item\":{\"name\":\"lanapi\",\"lan\":{},\"position\":{\"x\":40,\"y\":50}}}' | tail -1 | grep -qx 200 && cloonix ls | grep -q lanapi"
check "bad JSON: 400 INVALID_ARGUMENT" bash -c "api CreateItem '{\"item\":{\"nom\":1}}' > $G/bad; tail -1 $G/bad | grep -qx 400 && grep -q INVALID_ARGUMENT $G/bad"
check "delete of a missing item: 404 NOT_FOUND with the net's message" bash -c \
  "api DeleteItem '{\"name\":\"nosuch\"}' > $G/nf; tail -1 $G/nf | grep -qx 404 && grep -q 'nosuch' $G/nf"
check "an unknown method: 404" bash -c "api StopNet '{}' | tail -1 | grep -qx 404"
check "SetLayout out of range: 400, nothing moved" bash -c \
  "api SetLayout '{\"positions\":{\"lanapi\":{\"x\":5e7}}}' | tail -1 | grep -qx 400 && cloonix ls -f json | python3 -c 'import json,sys; i=[x for x in json.load(sys.stdin)[\"items\"] if x[\"name\"]==\"lanapi\"][0]; assert i[\"position\"]==dict(x=40,y=50), i'"

# A capture download: c1 asks for 10.77.0.2 (ARP on lan1) meanwhile.
in_cnt c1 ping -c 4 -W 1 10.77.0.2 >/dev/null 2>&1 &
check "GET /api/capture of lan1 (3 s): a pcap tshark reads, ARP in it" bash -c \
  "curl -s -f -b $J -o $G/lan1.pcap '$B2/api/capture?lan=lan1&seconds=3' && tshark -r $G/lan1.pcap -Y arp 2>/dev/null | grep -q '10.77.0.2'"
check "a capture of an eth the item lacks: 404" bash -c \
  "[[ \$(curl -s -o /dev/null -w '%{http_code}' -b $J '$B2/api/capture?item=c1&eth=9&seconds=1') == 404 ]]"
check "seconds out of range: 400" bash -c \
  "[[ \$(curl -s -o /dev/null -w '%{http_code}' -b $J '$B2/api/capture?item=c1&eth=0&seconds=0') == 400 ]]"

# A net on another host: the gui runs locally and reaches the net through
# the doorway's TLS listener with the exported client credentials.
check "export client credentials" cloonix net creds "$E2E_ROOT/creds"
ADDR="$(cat "$E2E_ROOT/creds/address")"
cloonix --remote "$ADDR" --creds "$E2E_ROOT/creds" gui --print-url > "$G/url3" 2>"$G/gui3.err" &
GUI3_PID=$!
for _ in $(seq 1 50); do [[ -s "$G/url3" ]] && break; sleep 0.1; done
URL3="$(head -1 "$G/url3")"
B3="${URL3%%/?token=*}"
check "--remote: the page's calls go over mutual TLS (GetNet, ListItems)" bash -c \
  "curl -s -o /dev/null -c $G/jar3 '$URL3' && curl -s -b $G/jar3 -H 'X-Cloonix-Gui: 1' -X POST -d '{}' $B3/api/rpc/ListItems | grep -q '\"name\":\"c1\"'"
check "--remote without a session: 401" bash -c "[[ \$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'X-Cloonix-Gui: 1' -d '{}' $B3/api/rpc/ListItems) == 401 ]]"
expect_code "--remote with credentials of no net: refused before serving" "cloonix:" \
  cloonix --remote "$ADDR" --creds "$G" gui --print-url

# The stored places in the documentation drawing and in save.
check "cloonix graph --format svg draws every node" bash -c \
  "cloonix graph --format svg -o $G/net.svg && for n in vm1 vm2 c1 ab1 lan1 lan2; do grep -q \"<title>\$n</title>\" $G/net.svg || exit 1; done"
cp "$G/net.svg" "$OUT/graph.svg" 2>/dev/null
check "cloonix save writes the layout" bash -c "cloonix save -f $G/saved.yaml && grep -q '^layout:' $G/saved.yaml && grep -q 'c1: \[' $G/saved.yaml"
pos_of() { cloonix ls -f json | python3 -c 'import json,sys; i=[x for x in json.load(sys.stdin)["items"] if x["name"]==sys.argv[1]][0]; p=i.get("position",{}); print(p.get("x",0), p.get("y",0))' "$1"; }
before="$(pos_of c1)"
OPID="$(cloonix net show -f json | python3 -c 'import json,sys; print(json.load(sys.stdin)["orchestrator_pid"])')"
kill -9 "$OPID"
if wait_orchestrator_back "$OPID" && [[ "$(pos_of c1)" == "$before" ]]; then
  pass "positions survive kill -9 of the orchestrator ($before)"
else
  fail "positions survive kill -9 of the orchestrator" "before $before, after $(pos_of c1 2>&1)"
fi
python3 - "$G/saved.yaml" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
t = re.sub(r"(?m)^  c1: \[.*\]$", "  c1: [321.5, -45]", t)
open(sys.argv[1], "w").write(t)
PY
others_pos() { cloonix ls -f json | python3 -c 'import json,sys; print(sorted((x["name"], json.dumps(x.get("position"))) for x in json.load(sys.stdin)["items"] if x["name"]!="c1"))'; }
others="$(others_pos)"
if cloonix apply -f "$G/saved.yaml" > "$G/apply.out" 2>&1 && [[ "$(pos_of c1)" == "321.5 -45" ]] &&
   [[ "$(others_pos)" == "$others" ]]; then
  pass "apply of a lab file whose layout moved c1: c1 moves, nothing else"
else
  fail "apply of a lab file whose layout moved c1: c1 moves, nothing else" "c1 at $(pos_of c1); $(tail -3 "$G/apply.out")"
fi

kill -INT "$GUI_PID"; kill "$GUI2_PID" "$GUI3_PID" 2>/dev/null
wait "$GUI_PID" "$GUI2_PID" "$GUI3_PID" 2>/dev/null
check "Ctrl-C (SIGINT/TERM) ends cloonix gui" bash -c "! kill -0 $GUI_PID 2>/dev/null && ! kill -0 $GUI2_PID 2>/dev/null && ! kill -0 $GUI3_PID 2>/dev/null"
check "no secret in the gui's stderr" bash -c "! grep -q '$(echo "$URL" | sed 's/.*token=//')' $G/gui.err"
check "net stop" cloonix net stop
check_clean "nothing left after stop"
e2e_finish
