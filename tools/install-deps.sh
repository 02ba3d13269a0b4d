#!/usr/bin/env bash
# Installs every Debian package cloonix needs to build, test and run a demo lab.
# Idempotent: packages already present are skipped; safe to run repeatedly.
# Also extracts containerd's .proto files from golang-github-containerd-containerd-dev
# (apt-get download + dpkg -x: avoids pulling ~100 Go build dependencies) into
# third_party/containerd/api (gitignored).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

PACKAGES=(
  # build
  bazel-bootstrap pkgconf g++ protobuf-compiler protobuf-compiler-grpc
  libgrpc++-dev libprotobuf-dev libabsl-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev nlohmann-json3-dev libcli11-dev libvirt-dev
  libslirp-dev libssl-dev libpcap-dev libyaml-cpp-dev
  libcurl4-openssl-dev
  # data plane and runtimes
  openvswitch-switch containerd runc busybox-static libdpdk-dev dpdk
  unzip zip  # Cloonix's zipped rootfs images (add zip); zip for the tests
  # VMs: libvirtd + virtlogd (started by vm_runner), QEMU (TCG), images
  libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86
  qemu-utils cpio xz-utils kmod debootstrap openssl
  genisoimage  # the NoCloud seed of kvm --cloud-init
  # fuzzing (libFuzzer) and sanitizer runs
  clang libclang-rt-14-dev
  # tools used by the lab and the tests
  iproute2 iputils-ping iperf3 ethtool procps psmisc util-linux bc python3
  python3-yaml python3-jsonschema docker-registry
  xvfb xauth x11-utils  # ssh -X: the display and the client's cookie
  tshark
  libcivetweb-dev  # cloonix gui's HTTP + WebSocket server
  chromium  # the gui's headless-browser test
  graphviz  # cloonix graph --format svg|png
)

need=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    need+=("$p")
  fi
done

if ((${#need[@]})); then
  echo "install-deps: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null || apt-get update
  apt-get install -y -q --no-install-recommends "${need[@]}"
fi

# libvirtd resolves its compiled-in QEMU user before reading qemu.conf (where
# cloonix runs QEMU as root): create it as libvirt-daemon-system's maintainer
# scripts would (that package pulls polkit and firewalld, not wanted here).
getent group kvm >/dev/null || groupadd --system kvm
getent group libvirt-qemu >/dev/null || groupadd --system libvirt-qemu
getent passwd libvirt-qemu >/dev/null ||
  useradd --system --gid kvm --no-create-home --home-dir /var/lib/libvirt \
    --shell /usr/sbin/nologin libvirt-qemu

CPROTO="$ROOT/third_party/containerd/api"
if [[ ! -f "$CPROTO/.done" ]]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  if ! (cd "$tmp" && apt-get download -q golang-github-containerd-containerd-dev >/dev/null 2>&1); then
    apt-get update -q >/dev/null
    (cd "$tmp" && apt-get download -q golang-github-containerd-containerd-dev >/dev/null)
  fi
  dpkg -x "$tmp"/golang-github-containerd-containerd-dev_*.deb "$tmp/x"
  src="$(find "$tmp/x" -type d -path '*/github.com/containerd/containerd/api' | head -1)"
  [[ -n "$src" ]] || { echo "install-deps: containerd api protos not found" >&2; exit 1; }
  rm -rf "$CPROTO"; mkdir -p "$CPROTO"
  (cd "$src" && find . -name '*.proto' -print0 | xargs -0 cp --parents -t "$CPROTO")
  touch "$CPROTO/.done"
fi
# Docker's default seccomp profile (moby profiles/seccomp/default.json), from
# Debian's golang-github-docker-docker-dev, extracted without its ~100 Go
# dependencies. The cnt_runner build embeds it (third_party/seccomp,
# gitignored).
SECCOMP="$ROOT/third_party/seccomp/seccomp.json"
if [[ ! -s "$SECCOMP" ]]; then
  tmp2="$(mktemp -d)"
  if ! (cd "$tmp2" && apt-get download -q golang-github-docker-docker-dev >/dev/null 2>&1); then
    apt-get update -q >/dev/null
    (cd "$tmp2" && apt-get download -q golang-github-docker-docker-dev >/dev/null)
  fi
  dpkg -x "$tmp2"/golang-github-docker-docker-dev_*.deb "$tmp2/x"
  src2="$(find "$tmp2/x" -path '*/docker/docker/profiles/seccomp/default.json' | head -1)"
  [[ -s "$src2" ]] ||
    { echo "install-deps: profiles/seccomp/default.json not found in golang-github-docker-docker-dev" >&2; exit 1; }
  cp "$src2" "$SECCOMP.tmp"
  mv "$SECCOMP.tmp" "$SECCOMP"
  rm -rf "$tmp2"
fi

# The gui's browser libraries (npm ci from the lockfile, then offline):
# node and npm from Debian unless the machine has them.
if ! command -v npm >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends nodejs npm
fi
bash "$ROOT/tools/gui-bundle.sh"

echo "install-deps: ok" >&2
