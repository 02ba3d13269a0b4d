#include "common/file_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "common/agent_wire.h"

namespace cloonix {
namespace {

std::string Errno(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

std::string Absolute(const std::string& home, const std::string& p) {
  if (!p.empty() && p[0] == '/') return p;
  if (p.empty() || p == ".") return home;
  return (home == "/" ? "" : home) + "/" + p;
}

std::string Parent(const std::string& p) {
  size_t s = p.find_last_of('/');
  if (s == std::string::npos) return ".";
  if (s == 0) return "/";
  return p.substr(0, s);
}

std::string Base(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  size_t s = p.find_last_of('/');
  return s == std::string::npos ? p : p.substr(s + 1);
}

bool WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

}  // namespace

std::string EncodeEntry(const TreeEntry& e) {
  wire::WireWriter w;
  w.Str(e.path).U32(e.type).U32(e.mode).U64(e.size).Str(e.link);
  return w.Take();
}

bool DecodeEntry(const std::string& payload, TreeEntry* e) {
  wire::WireReader r(payload);
  e->path = r.Str();
  uint32_t t = r.U32();
  e->mode = r.U32() & 07777;
  e->size = r.U64();
  e->link = r.Str();
  if (!r.ok() || t < TreeEntry::kFile || t > TreeEntry::kSymlink) return false;
  e->type = static_cast<TreeEntry::Type>(t);
  return true;
}

std::string CheckRelativePath(const std::string& rel) {
  if (rel.empty()) return "empty path in a copy";
  if (rel[0] == '/') return "absolute path in a copy: " + rel;
  size_t start = 0;
  while (start <= rel.size()) {
    size_t end = rel.find('/', start);
    if (end == std::string::npos) end = rel.size();
    std::string part = rel.substr(start, end - start);
    if (part.empty() || part == "." || part == "..")
      return "unsafe path in a copy: " + rel;
    start = end + 1;
  }
  return "";
}

TreeWriter::TreeWriter(std::string root, std::string home)
    : root_(std::move(root)), home_(std::move(home)) {}

TreeWriter::~TreeWriter() {
  if (fd_ >= 0) close(fd_);
}

std::string TreeWriter::Begin(const std::string& dest) {
  target_ = Absolute(home_, dest);
  while (target_.size() > 1 && target_.back() == '/') target_.pop_back();
  struct stat st;
  if (stat((root_ + target_).c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    into_ = true;
  } else {
    if (!dest.empty() && dest.back() == '/')
      return "no such directory: " + target_;
    std::string parent = Parent(target_);
    if (stat((root_ + parent).c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      return "no such directory: " + parent;
    into_ = false;
  }
  begun_ = true;
  return "";
}

std::string TreeWriter::CloseFile() {
  if (fd_ < 0) return "";
  int fd = fd_;
  fd_ = -1;
  if (close(fd) != 0) return Errno("cannot write", file_path_);
  if (got_ != expect_) {
    return "short copy of " + file_path_ + ": " + std::to_string(got_) +
           " of " + std::to_string(expect_) + " bytes";
  }
  return "";
}

std::string TreeWriter::Entry(const TreeEntry& e) {
  if (!begun_) return "copy entry before its destination";
  if (std::string err = CloseFile(); !err.empty()) return err;
  if (std::string err = CheckRelativePath(e.path); !err.empty()) return err;
  std::string rel = e.path;
  if (!into_) {
    // The top is renamed to the destination.
    size_t s = rel.find('/');
    rel = s == std::string::npos ? "" : rel.substr(s);
  } else {
    rel = "/" + rel;
  }
  std::string path = target_ + rel;
  if (target_ == "/" && !rel.empty()) path = rel;
  std::string full = root_ + path;
  switch (e.type) {
    case TreeEntry::kDir: {
      struct stat st;
      if (mkdir(full.c_str(), 0700) != 0 &&
          !(errno == EEXIST && stat(full.c_str(), &st) == 0 &&
            S_ISDIR(st.st_mode))) {
        return Errno("cannot create directory", path);
      }
      if (chmod(full.c_str(), e.mode & 07777) != 0)
        return Errno("cannot chmod", path);
      return "";
    }
    case TreeEntry::kSymlink: {
      unlink(full.c_str());
      if (symlink(e.link.c_str(), full.c_str()) != 0)
        return Errno("cannot create symlink", path);
      ++files_;
      return "";
    }
    case TreeEntry::kFile: {
      fd_ = open(full.c_str(),
                 O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (fd_ < 0) return Errno("cannot create", path);
      if (fchmod(fd_, e.mode & 07777) != 0) return Errno("cannot chmod", path);
      file_path_ = path;
      expect_ = e.size;
      got_ = 0;
      ++files_;
      return "";
    }
  }
  return "unknown entry type";
}

std::string TreeWriter::Data(const char* p, size_t n) {
  if (fd_ < 0) return "file data outside a file";
  if (got_ + n > expect_) return "more data than announced for " + file_path_;
  if (!WriteAll(fd_, p, n)) return Errno("cannot write", file_path_);
  got_ += n;
  bytes_ += n;
  return "";
}

std::string TreeWriter::End() { return CloseFile(); }

namespace {

struct Walker {
  const std::function<bool(const TreeEntry&)>& on_entry;
  const std::function<bool(const char*, size_t)>& on_data;
  size_t chunk;
  std::vector<char> buf;

  // "" ok, "cancelled", or an error.
  std::string Emit(const std::string& full, const std::string& rel,
                   const struct stat& st) {
    TreeEntry e;
    e.path = rel;
    e.mode = st.st_mode & 07777;
    if (S_ISLNK(st.st_mode)) {
      char target[4096];
      ssize_t n = readlink(full.c_str(), target, sizeof(target) - 1);
      if (n < 0) return Errno("cannot read link", full);
      e.type = TreeEntry::kSymlink;
      e.link.assign(target, static_cast<size_t>(n));
      return on_entry(e) ? "" : "cancelled";
    }
    if (S_ISDIR(st.st_mode)) {
      e.type = TreeEntry::kDir;
      if (!on_entry(e)) return "cancelled";
      DIR* d = opendir(full.c_str());
      if (d == nullptr) return Errno("cannot read directory", full);
      std::vector<std::string> names;
      while (struct dirent* de = readdir(d)) {
        std::string n = de->d_name;
        if (n != "." && n != "..") names.push_back(n);
      }
      closedir(d);
      std::sort(names.begin(), names.end());
      for (const auto& n : names) {
        struct stat cst;
        std::string child = full + "/" + n;
        if (lstat(child.c_str(), &cst) != 0) continue;  // vanished
        if (!S_ISDIR(cst.st_mode) && !S_ISREG(cst.st_mode) &&
            !S_ISLNK(cst.st_mode))
          continue;
        if (std::string err = Emit(child, rel + "/" + n, cst); !err.empty())
          return err;
      }
      return "";
    }
    if (!S_ISREG(st.st_mode)) return "not a regular file: " + full;
    int fd = open(full.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Errno("cannot open", full);
    e.type = TreeEntry::kFile;
    e.size = static_cast<uint64_t>(st.st_size);
    if (!on_entry(e)) {
      close(fd);
      return "cancelled";
    }
    uint64_t left = e.size;
    while (left > 0) {
      size_t want = std::min<uint64_t>(left, chunk);
      ssize_t n = read(fd, buf.data(), want);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        // The file shrank while being read: pad so the stream stays sound.
        std::string err = n < 0 ? Errno("cannot read", full)
                                : "file shrank while copied: " + full;
        close(fd);
        return err;
      }
      if (!on_data(buf.data(), static_cast<size_t>(n))) {
        close(fd);
        return "cancelled";
      }
      left -= static_cast<uint64_t>(n);
    }
    close(fd);
    return "";
  }
};

}  // namespace

std::string ReadTree(const std::string& root, const std::string& home,
                     const std::string& path,
                     const std::function<bool(const TreeEntry&)>& on_entry,
                     const std::function<bool(const char*, size_t)>& on_data,
                     size_t chunk) {
  std::string abs = Absolute(home, path);
  std::string full = root + abs;
  struct stat st;
  if (stat(full.c_str(), &st) != 0) return Errno("cannot read", abs);
  Walker w{on_entry, on_data, chunk, std::vector<char>(chunk)};
  std::string top = Base(abs);
  if (top.empty() || top == "/") top = "root";
  return w.Emit(full, top, st);
}

}  // namespace cloonix
