// Pulls OCI and Docker v2 images from a registry (the distribution API:
// GET /v2/<repository>/manifests/<tag|digest>, /v2/<repository>/blobs/<digest>)
// with libcurl. Every blob is checked against its sha256 digest before it is
// handed on. An index (or a Docker manifest list) gives its linux/amd64
// manifest. No credentials: a registry that asks for them is refused
// (PERMISSION_DENIED).
//
// Transport: plain HTTP for registries on the loopback (localhost,
// 127.0.0.0/8, [::1]) and those listed in $CLOONIX_INSECURE_REGISTRIES
// (comma-separated host[:port]); HTTPS with the system's CAs otherwise.
#ifndef CLOONIX_SERVICES_CNT_RUNNER_REGISTRY_CLIENT_H_
#define CLOONIX_SERVICES_CNT_RUNNER_REGISTRY_CLIENT_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cloonix {

// "sha256:<hex>" of the bytes (OCI's digest form).
std::string Sha256Digest(const std::string& data);

struct ImageRef {
  std::string registry;    // "127.0.0.1:5000", "registry-1.docker.io"
  std::string repository;  // "cloonix/busybox", "library/alpine"
  std::string reference;   // a tag ("3.19", default "latest") or a digest
  bool insecure = false;   // plain HTTP
  // "127.0.0.1:5000/cloonix/busybox:1.0", "...@sha256:..."
  std::string String() const;
};

// True for what names a registry image rather than a local name or path:
// a '/' or a ':' in it, and no leading '/' or '.'.
bool LooksLikeImageRef(const std::string& s);

// "alpine" -> docker.io's library/alpine:latest; "host:5000/a/b:t";
// "host/a@sha256:<64 hex>". INVALID_ARGUMENT for anything else (upper case
// in the repository, empty parts, a bad digest).
absl::StatusOr<ImageRef> ParseImageRef(const std::string& s);

struct PulledImage {
  std::string media_type;  // of the top manifest or index
  std::string digest;      // "sha256:..."
  uint64_t size = 0;
  uint64_t bytes = 0;  // all blobs fetched
  int blobs = 0;
};

// Fetches the manifest (and, for an index, the linux/amd64 manifest), the
// config and the layers, each verified, and hands each blob to `store`
// (digest "sha256:<hex>", content), manifests included. `progress` gets one
// line per blob. NOT_FOUND (unknown repository, tag or blob),
// UNAVAILABLE (the registry does not answer), PERMISSION_DENIED (it asks for
// credentials), DATA_LOSS (a digest mismatch), INVALID_ARGUMENT (not an
// image manifest, no linux/amd64 image).
absl::StatusOr<PulledImage> PullImage(
    const ImageRef& ref,
    const std::function<absl::Status(const std::string& digest,
                                     const std::string& data)>& store,
    const std::function<void(const std::string&)>& progress);

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_CNT_RUNNER_REGISTRY_CLIENT_H_
