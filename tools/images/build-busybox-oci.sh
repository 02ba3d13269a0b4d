#!/usr/bin/env bash
# Builds a reproducible OCI image layout tarball from Debian's busybox-static:
# one gzip layer (busybox + applet symlinks + /etc/passwd, group, hosts),
# config with rootfs.diff_ids, manifest, index.json annotated with the image
# name (io.containerd.image.name). Same input → same digests.
#
# usage: build-busybox-oci.sh OUT.tar [IMAGE_NAME]   (default name: busybox)
set -euo pipefail
out="$1"
name="${2:-busybox}"
BUSYBOX="${BUSYBOX:-/bin/busybox}"
[[ -x "$BUSYBOX" ]] || { echo "missing $BUSYBOX: apt-get install busybox-static" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
root="$tmp/rootfs"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root,var/run}
chmod 1777 "$root/tmp"
cp "$BUSYBOX" "$root/bin/busybox"
for applet in $("$BUSYBOX" --list-full); do
  [[ "$applet" == "bin/busybox" ]] && continue
  mkdir -p "$root/$(dirname "$applet")"
  rel="$(realpath -m --relative-to="$root/$(dirname "$applet")" "$root/bin/busybox")"
  ln -sf "$rel" "$root/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
printf '127.0.0.1 localhost\n' > "$root/etc/hosts"
# udhcpc's event script (as in the tiny VM guest), so that `udhcpc -i eth0`
# configures the address, routes and DNS a nat hands out.
mkdir -p "$root/usr/share/udhcpc" "$root/etc/udhcpc"
install -m 0755 "$(dirname "$0")/udhcpc.script" "$root/usr/share/udhcpc/default.script"
ln -s ../../usr/share/udhcpc/default.script "$root/etc/udhcpc/default.script"

blobs="$tmp/oci/blobs/sha256"
mkdir -p "$blobs"
tar -C "$root" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
  -cf "$tmp/layer.tar" .
diff_id="sha256:$(sha256sum "$tmp/layer.tar" | cut -d' ' -f1)"
gzip -n -9 -c "$tmp/layer.tar" > "$tmp/layer.tar.gz"
layer_digest="$(sha256sum "$tmp/layer.tar.gz" | cut -d' ' -f1)"
layer_size="$(stat -c %s "$tmp/layer.tar.gz")"
mv "$tmp/layer.tar.gz" "$blobs/$layer_digest"

# Default process: a shell that sleeps until SIGTERM (PID 1 needs the trap).
cat > "$tmp/config.json" <<JSON
{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["/bin/sh","-c","trap 'exit 0' TERM; while :; do sleep 3600 & wait \$!; done"],"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["$diff_id"]}}
JSON
config_digest="$(sha256sum "$tmp/config.json" | cut -d' ' -f1)"
config_size="$(stat -c %s "$tmp/config.json")"
mv "$tmp/config.json" "$blobs/$config_digest"

cat > "$tmp/manifest.json" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:$config_digest","size":$config_size},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:$layer_digest","size":$layer_size}]}
JSON
manifest_digest="$(sha256sum "$tmp/manifest.json" | cut -d' ' -f1)"
manifest_size="$(stat -c %s "$tmp/manifest.json")"
mv "$tmp/manifest.json" "$blobs/$manifest_digest"

printf '{"imageLayoutVersion":"1.0.0"}' > "$tmp/oci/oci-layout"
cat > "$tmp/oci/index.json" <<JSON
{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:$manifest_digest","size":$manifest_size,"annotations":{"io.containerd.image.name":"$name","org.opencontainers.image.ref.name":"latest"}}]}
JSON
tar -C "$tmp/oci" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
  -cf "$tmp/out.tar" .
mv "$tmp/out.tar" "$out"
