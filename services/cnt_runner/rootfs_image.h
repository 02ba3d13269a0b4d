// Containers from a root filesystem instead of an OCI image: Cloonix's
// `add cvm <name> eth=.. <dir>` (a rootfs directory) and `add zip <name>
// eth=.. <file.zip>` (a zipped one). The tree becomes a one-layer OCI image
// layout (an uncompressed tar layer, a config whose default process is a
// shell that sleeps until SIGTERM) that containerd imports like any image.
#ifndef CLOONIX_SERVICES_CNT_RUNNER_ROOTFS_IMAGE_H_
#define CLOONIX_SERVICES_CNT_RUNNER_ROOTFS_IMAGE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace cloonix {

// Largest rootfs imported (bytes, unpacked or as a tar), as for OCI images.
inline constexpr uint64_t kMaxRootfsBytes = 16ULL << 30;

// True for a directory that is not an OCI image layout (no index.json) and
// looks like a root filesystem (LooksLikeRoot), or a regular file named
// *.zip.
bool IsRootfsPath(const std::string& path);

// A directory holding etc and one of bin, sbin or usr (directories or
// symlinks): a work directory with a bin/ of its own is no root filesystem.
bool LooksLikeRoot(const std::string& dir);

// The name the image of that rootfs gets: "cloonix-rootfs/<base>:<12 hex>",
// the hex a digest of the tree's paths, sizes, modes and mtimes (of the
// zip's size and mtime), so that a changed tree is imported again and an
// unchanged one is not. NOT_FOUND, INVALID_ARGUMENT.
absl::StatusOr<std::string> RootfsImageName(const std::string& path);

// Writes the OCI layout of `path` (IsRootfsPath) into `out_dir` (made;
// must not exist), annotated with `image_name`. A zip is unpacked with
// unzip first; a zip whose only top-level entry is a directory holding the
// tree is read from that directory. INVALID_ARGUMENT: not a rootfs, a zip
// that does not unpack, more than `max_bytes` once unpacked or tarred.
absl::Status MakeRootfsLayout(const std::string& path,
                              const std::string& image_name,
                              const std::string& out_dir, uint64_t max_bytes);

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_CNT_RUNNER_ROOTFS_IMAGE_H_
