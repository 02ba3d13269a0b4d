// Whole-file reads and crash-safe writes.
#ifndef CLOONIX_COMMON_ATOMIC_FILE_H_
#define CLOONIX_COMMON_ATOMIC_FILE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cloonix {

// Writes `content` to `<path>.tmp`, fsyncs it, renames it over `path` and
// fsyncs the directory: a reader sees the old or the new file, never a part.
absl::Status WriteFileAtomic(const std::string& path,
                             const std::string& content, int mode = 0600);

// NOT_FOUND if the file does not exist.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// Writes all of `s` to `fd` (retrying short writes and EINTR). False on an
// error (errno says which) or a write of 0.
bool WriteAll(int fd, absl::string_view s);

}  // namespace cloonix

#endif  // CLOONIX_COMMON_ATOMIC_FILE_H_
