// Files placed in a guest's root before its init runs (Cloonix's demo
// directories files_to_add_in_all_targets, files_to_add_in_<NAME> and its
// list of files to delete): host directories whose content is merged into
// the root, in order, then paths removed.
#ifndef CLOONIX_COMMON_GUEST_FILES_H_
#define CLOONIX_COMMON_GUEST_FILES_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace cloonix {

// At most this many directories and delete paths per guest.
inline constexpr size_t kMaxGuestFileDirs = 16;
inline constexpr size_t kMaxGuestFileDeletes = 256;

// The shape: each dir absolute, no "." or ".." component; each delete path
// absolute, no "." or ".." component, not "/", no newline. Whether the dirs
// exist is CheckFileDirs'. INVALID_ARGUMENT naming the bad one.
absl::Status ValidateGuestFiles(const std::vector<std::string>& dirs,
                                const std::vector<std::string>& deletes);

// Each dir exists and is a directory (NOT_FOUND, INVALID_ARGUMENT).
absl::Status CheckFileDirs(const std::vector<std::string>& dirs);

// Copies the content of each dir (in order: a later dir's file replaces an
// earlier one's) into `root` (e.g. /proc/<pid>/root, a container's root as
// its init sees it, or a staging directory): directories merged, files
// replaced, modes and symlinks kept (as links), sockets, fifos and devices
// skipped. Every path is resolved inside `root` (RootedFs: symlinks of the
// guest cannot lead out of it). Then removes each delete path (a file, a
// symlink or an empty directory; a missing one is fine). INVALID_ARGUMENT
// or INTERNAL with the path.
absl::Status PlaceFiles(const std::string& root,
                        const std::vector<std::string>& dirs,
                        const std::vector<std::string>& deletes);

}  // namespace cloonix

#endif  // CLOONIX_COMMON_GUEST_FILES_H_
