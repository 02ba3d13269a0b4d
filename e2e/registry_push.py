#!/usr/bin/env python3
"""Pushes an OCI image layout tarball to a registry on the loopback through
the distribution API (no docker, no skopeo): each blob by a monolithic upload
(POST then PUT ?digest=), then the manifest under the tag.

usage: registry_push.py IMAGE.tar HOST:PORT REPOSITORY:TAG
"""
import json
import sys
import tarfile
import urllib.request


def request(method, url, data=None, headers=None):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, r.headers


def main():
    tar_path, registry, target = sys.argv[1:4]
    repo, tag = target.rsplit(":", 1)
    base = "http://%s/v2/%s" % (registry, repo)
    with tarfile.open(tar_path) as t:
        members = {m.name[2:] if m.name.startswith("./") else m.name: m
                   for m in t.getmembers()}

        def read(name):
            return t.extractfile(members[name]).read()

        index = json.loads(read("index.json"))
        desc = index["manifests"][0]

        def blob(digest):
            return read("blobs/sha256/" + digest.split(":", 1)[1])

        manifest = blob(desc["digest"])
        m = json.loads(manifest)
        for d in [m["config"]["digest"]] + [l["digest"] for l in m["layers"]]:
            _, h = request("POST", base + "/blobs/uploads/", data=b"")
            loc = h["Location"]
            if loc.startswith("/"):
                loc = "http://%s%s" % (registry, loc)
            sep = "&" if "?" in loc else "?"
            request("PUT", loc + sep + "digest=" + d, data=blob(d),
                    headers={"Content-Type": "application/octet-stream"})
        request("PUT", "%s/manifests/%s" % (base, tag), data=manifest,
                headers={"Content-Type": desc["mediaType"]})
    print("pushed %s/%s:%s (%s)" % (registry, repo, tag, desc["digest"]))


if __name__ == "__main__":
    main()
