#include "common/guest_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file_tree.h"

namespace cloonix {
namespace {

absl::Status CheckPath(const std::string& p, const char* what) {
  auto bad = [&](const char* why) {
    return absl::InvalidArgumentError(absl::StrCat(what, " \"", p, "\" ", why));
  };
  if (p.empty() || p[0] != '/') return bad("must be absolute");
  if (p.size() > 1024) return bad("is longer than 1024 bytes");
  for (char c : p) {
    if (static_cast<unsigned char>(c) < 0x20) {
      return bad("has a control character");
    }
  }
  for (absl::string_view part : absl::StrSplit(p, '/')) {
    if (part == "." || part == "..") {
      return bad("must not have a \".\" or \"..\" component");
    }
  }
  return absl::OkStatus();
}

std::vector<std::string> Children(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") out.push_back(n);
    }
    closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

absl::Status ValidateGuestFiles(const std::vector<std::string>& dirs,
                                const std::vector<std::string>& deletes) {
  if (dirs.size() > kMaxGuestFileDirs) {
    return absl::InvalidArgumentError(absl::StrCat(
        dirs.size(), " file directories; at most ", kMaxGuestFileDirs));
  }
  if (deletes.size() > kMaxGuestFileDeletes) {
    return absl::InvalidArgumentError(absl::StrCat(
        deletes.size(), " paths to delete; at most ", kMaxGuestFileDeletes));
  }
  for (const auto& d : dirs) {
    if (absl::Status s = CheckPath(d, "files directory"); !s.ok()) return s;
  }
  for (const auto& p : deletes) {
    if (absl::Status s = CheckPath(p, "path to delete"); !s.ok()) return s;
    if (p.find_first_not_of('/') == std::string::npos) {
      return absl::InvalidArgumentError("the guest's root cannot be deleted");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckFileDirs(const std::vector<std::string>& dirs) {
  for (const auto& d : dirs) {
    struct stat st;
    if (stat(d.c_str(), &st) != 0) {
      return absl::NotFoundError(
          absl::StrCat("files directory ", d, ": ", std::strerror(errno)));
    }
    if (!S_ISDIR(st.st_mode)) {
      return absl::InvalidArgumentError(
          absl::StrCat("files directory ", d, " is not a directory"));
    }
  }
  return absl::OkStatus();
}

absl::Status PlaceFiles(const std::string& root,
                        const std::vector<std::string>& dirs,
                        const std::vector<std::string>& deletes) {
  if (absl::Status s = ValidateGuestFiles(dirs, deletes); !s.ok()) return s;
  if (absl::Status s = CheckFileDirs(dirs); !s.ok()) return s;
  for (const auto& dir : dirs) {
    // One stream per top-level entry: each is merged into the root's "/".
    for (const auto& child : Children(dir)) {
      TreeWriter w(root, "/");
      std::string err = w.Begin("/");
      if (err.empty()) {
        std::string werr;
        err = ReadTree(
            "", "/", dir + "/" + child,
            [&](const TreeEntry& e) {
              werr = w.Entry(e);
              return werr.empty();
            },
            [&](const char* p, size_t n) {
              werr = w.Data(p, n);
              return werr.empty();
            });
        if (!werr.empty()) err = werr;
        if (err.empty()) err = w.End();
      }
      if (!err.empty()) {
        return absl::InternalError(
            absl::StrCat("placing ", dir, "/", child, ": ", err));
      }
    }
  }
  RootedFs fs(root);
  if (!fs.error().empty()) return absl::InternalError(fs.error());
  for (std::string p : deletes) {
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    struct stat st;
    if (fs.Stat(p, &st, false) != 0) continue;  // nothing there
    int rc = S_ISDIR(st.st_mode) ? -2 : fs.Unlink(p);
    if (rc == -2) {
      // An empty directory: rmdir through its parent, inside the root.
      std::string parent = p.substr(0, p.find_last_of('/'));
      if (parent.empty()) parent = "/";
      int pfd = fs.Open(parent, O_RDONLY | O_DIRECTORY);
      rc = pfd < 0 ? -1
                   : unlinkat(pfd, p.substr(p.find_last_of('/') + 1).c_str(),
                              AT_REMOVEDIR);
      if (pfd >= 0) close(pfd);
    }
    if (rc != 0 && errno != ENOENT) {
      return absl::InternalError(
          absl::StrCat("deleting ", p, ": ", std::strerror(errno)));
    }
  }
  return absl::OkStatus();
}

}  // namespace cloonix
