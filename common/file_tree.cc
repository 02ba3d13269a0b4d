#include "common/file_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

RootedFs::RootedFs(const std::string& root) {
  if (root.empty()) return;
  root_fd_ = open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd_ < 0) error_ = Errno("cannot open root", root);
}

RootedFs::~RootedFs() {
  if (root_fd_ >= 0) close(root_fd_);
}

int RootedFs::Open(const std::string& path, int flags, unsigned mode) const {
  if (root_fd_ < 0) return open(path.c_str(), flags | O_CLOEXEC, mode);
  struct open_how how = {};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.mode = (flags & O_CREAT) ? mode : 0;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  return static_cast<int>(
      syscall(__NR_openat2, root_fd_, path.c_str(), &how, sizeof(how)));
}

int RootedFs::Parent(const std::string& path, std::string* base) const {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  size_t s = p.find_last_of('/');
  *base = s == std::string::npos ? p : p.substr(s + 1);
  std::string parent =
      s == std::string::npos ? "." : (s == 0 ? "/" : p.substr(0, s));
  return Open(parent, O_PATH | O_DIRECTORY);
}

int RootedFs::Mkdir(const std::string& path, unsigned mode) const {
  if (root_fd_ < 0) return mkdir(path.c_str(), mode);
  std::string base;
  int pfd = Parent(path, &base);
  if (pfd < 0) return -1;
  int r = mkdirat(pfd, base.c_str(), mode);
  int saved = errno;
  close(pfd);
  errno = saved;
  return r;
}

int RootedFs::Symlink(const std::string& target,
                      const std::string& path) const {
  if (root_fd_ < 0) return symlink(target.c_str(), path.c_str());
  std::string base;
  int pfd = Parent(path, &base);
  if (pfd < 0) return -1;
  int r = symlinkat(target.c_str(), pfd, base.c_str());
  int saved = errno;
  close(pfd);
  errno = saved;
  return r;
}

int RootedFs::Unlink(const std::string& path) const {
  if (root_fd_ < 0) return unlink(path.c_str());
  std::string base;
  int pfd = Parent(path, &base);
  if (pfd < 0) return -1;
  int r = unlinkat(pfd, base.c_str(), 0);
  int saved = errno;
  close(pfd);
  errno = saved;
  return r;
}

int RootedFs::Stat(const std::string& path, struct stat* st,
                   bool follow) const {
  if (root_fd_ < 0) {
    return follow ? stat(path.c_str(), st) : lstat(path.c_str(), st);
  }
  if (follow) {
    int fd = Open(path, O_PATH);
    if (fd < 0) return -1;
    int r = fstat(fd, st);
    close(fd);
    return r;
  }
  std::string base;
  int pfd = Parent(path, &base);
  if (pfd < 0) return -1;
  int r = fstatat(pfd, base.c_str(), st, AT_SYMLINK_NOFOLLOW);
  int saved = errno;
  close(pfd);
  errno = saved;
  return r;
}

long RootedFs::Readlink(const std::string& path, char* buf, size_t n) const {
  if (root_fd_ < 0) return readlink(path.c_str(), buf, n);
  std::string base;
  int pfd = Parent(path, &base);
  if (pfd < 0) return -1;
  long r = readlinkat(pfd, base.c_str(), buf, n);
  int saved = errno;
  close(pfd);
  errno = saved;
  return r;
}

TreeWriter::TreeWriter(std::string root, std::string home, uint32_t mode_mask)
    : fs_(root), home_(std::move(home)), mode_mask_(mode_mask) {}

TreeWriter::~TreeWriter() {
  if (fd_ >= 0) close(fd_);
}

std::string TreeWriter::Begin(const std::string& dest) {
  if (!fs_.error().empty()) return fs_.error();
  target_ = Absolute(home_, dest);
  while (target_.size() > 1 && target_.back() == '/') target_.pop_back();
  struct stat st;
  if (fs_.Stat(target_, &st, true) == 0 && S_ISDIR(st.st_mode)) {
    into_ = true;
  } else {
    if (!dest.empty() && dest.back() == '/')
      return "no such directory: " + target_;
    std::string parent = Parent(target_);
    if (fs_.Stat(parent, &st, true) != 0 || !S_ISDIR(st.st_mode))
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
  // The stream must stay below its top and never go through a symlink it
  // made (a hostile sender could otherwise write anywhere).
  std::string first = e.path.substr(0, e.path.find('/'));
  if (top_.empty()) {
    top_ = first;
  } else if (first != top_) {
    return "entry outside the copy: " + e.path;
  }
  for (const auto& l : symlinks_) {
    if (e.path.size() > l.size() && e.path.compare(0, l.size(), l) == 0 &&
        e.path[l.size()] == '/') {
      return "entry below a symlink of the copy: " + e.path;
    }
  }
  const uint32_t mode = e.mode & mode_mask_;
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
  switch (e.type) {
    case TreeEntry::kDir: {
      struct stat st;
      if (fs_.Mkdir(path, 0700) != 0 &&
          !(errno == EEXIST && fs_.Stat(path, &st, false) == 0 &&
            S_ISDIR(st.st_mode))) {
        return Errno("cannot create directory", path);
      }
      int dfd = fs_.Open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      if (dfd < 0 || fchmod(dfd, mode) != 0) {
        std::string err = Errno("cannot chmod", path);
        if (dfd >= 0) close(dfd);
        return err;
      }
      close(dfd);
      return "";
    }
    case TreeEntry::kSymlink: {
      fs_.Unlink(path);
      if (fs_.Symlink(e.link, path) != 0)
        return Errno("cannot create symlink", path);
      symlinks_.push_back(e.path);
      ++files_;
      return "";
    }
    case TreeEntry::kFile: {
      fd_ = fs_.Open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0600);
      if (fd_ < 0) return Errno("cannot create", path);
      if (fchmod(fd_, mode) != 0) return Errno("cannot chmod", path);
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

TreeReader::TreeReader(const std::string& root, const std::string& home,
                       const std::string& path, size_t chunk)
    : fs_(root), chunk_(chunk) {
  error_ = fs_.error();
  std::string abs = Absolute(home, path);
  std::string top = Base(abs);
  if (top.empty() || top == "/") top = "root";
  stack_.push_back({abs, top, true});
}

TreeReader::~TreeReader() {
  if (fd_ >= 0) close(fd_);
}

std::string TreeReader::Next(Step* step, TreeEntry* e, std::string* data) {
  if (!error_.empty()) return error_;
  if (buffered_off_ < buffered_.size()) {
    size_t n = std::min(chunk_, buffered_.size() - buffered_off_);
    data->assign(buffered_, buffered_off_, n);
    buffered_off_ += n;
    if (buffered_off_ == buffered_.size()) {
      buffered_.clear();
      buffered_off_ = 0;
    }
    *step = Step::kData;
    return "";
  }
  if (fd_ >= 0) {
    data->resize(std::min<uint64_t>(left_, chunk_));
    ssize_t n;
    do {
      n = read(fd_, data->data(), data->size());
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
      // The receiver sees a short file and fails the copy.
      error_ = n < 0 ? Errno("cannot read", file_path_)
                     : "file shrank while copied: " + file_path_;
      return error_;
    }
    data->resize(static_cast<size_t>(n));
    left_ -= static_cast<uint64_t>(n);
    if (left_ == 0) {
      close(fd_);
      fd_ = -1;
    }
    *step = Step::kData;
    return "";
  }
  while (!stack_.empty()) {
    Pending p = std::move(stack_.back());
    stack_.pop_back();
    struct stat st;
    if (fs_.Stat(p.path, &st, p.top) != 0) {
      if (p.top) return error_ = Errno("cannot read", p.path);
      continue;  // vanished
    }
    *e = TreeEntry();
    e->path = p.rel;
    e->mode = st.st_mode & 07777;
    const int nofollow = p.top ? 0 : O_NOFOLLOW;
    if (S_ISLNK(st.st_mode)) {
      char target[4096];
      long n = fs_.Readlink(p.path, target, sizeof(target) - 1);
      if (n < 0) return error_ = Errno("cannot read link", p.path);
      e->type = TreeEntry::kSymlink;
      e->link.assign(target, static_cast<size_t>(n));
    } else if (S_ISDIR(st.st_mode)) {
      int dfd = fs_.Open(p.path, O_RDONLY | O_DIRECTORY | nofollow);
      DIR* d = dfd < 0 ? nullptr : fdopendir(dfd);
      if (d == nullptr) {
        error_ = Errno("cannot read directory", p.path);
        if (dfd >= 0) close(dfd);
        return error_;
      }
      std::vector<std::string> names;
      while (struct dirent* de = readdir(d)) {
        std::string n = de->d_name;
        if (n == "." || n == "..") continue;
        if (de->d_type != DT_UNKNOWN && de->d_type != DT_DIR &&
            de->d_type != DT_REG && de->d_type != DT_LNK)
          continue;  // sockets, fifos, devices
        names.push_back(n);
      }
      closedir(d);
      std::sort(names.rbegin(), names.rend());  // popped in order
      std::string base = p.path == "/" ? "" : p.path;
      for (const auto& n : names)
        stack_.push_back({base + "/" + n, p.rel + "/" + n, false});
      e->type = TreeEntry::kDir;
    } else if (S_ISREG(st.st_mode)) {
      fd_ = fs_.Open(p.path, O_RDONLY | nofollow);
      if (fd_ < 0) return error_ = Errno("cannot open", p.path);
      e->type = TreeEntry::kFile;
      e->size = static_cast<uint64_t>(st.st_size);
      left_ = e->size;
      file_path_ = p.path;
      if (left_ == 0) {
        // Pseudo files stat as empty but have content: read it now.
        buffered_.clear();
        buffered_off_ = 0;
        char buf[65536];
        for (;;) {
          ssize_t n = read(fd_, buf, sizeof(buf));
          if (n < 0 && errno == EINTR) continue;
          if (n < 0) {
            error_ = Errno("cannot read", p.path);
            close(fd_);
            fd_ = -1;
            return error_;
          }
          if (n == 0) break;
          buffered_.append(buf, static_cast<size_t>(n));
          if (buffered_.size() > kMaxUnsizedFile) {
            error_ = "file without a size grows past 16 MiB: " + p.path;
            close(fd_);
            fd_ = -1;
            return error_;
          }
        }
        close(fd_);
        fd_ = -1;
        e->size = buffered_.size();
      }
    } else {
      if (p.top) return error_ = "not a regular file: " + p.path;
      continue;
    }
    *step = Step::kEntry;
    return "";
  }
  *step = Step::kDone;
  return "";
}

std::string ReadTree(const std::string& root, const std::string& home,
                     const std::string& path,
                     const std::function<bool(const TreeEntry&)>& on_entry,
                     const std::function<bool(const char*, size_t)>& on_data,
                     size_t chunk) {
  TreeReader r(root, home, path, chunk);
  TreeEntry e;
  std::string data;
  for (;;) {
    TreeReader::Step step = TreeReader::Step::kDone;
    if (std::string err = r.Next(&step, &e, &data); !err.empty()) return err;
    if (step == TreeReader::Step::kDone) return "";
    bool go = step == TreeReader::Step::kEntry
                  ? on_entry(e)
                  : on_data(data.data(), data.size());
    if (!go) return "cancelled";
  }
}

}  // namespace cloonix
