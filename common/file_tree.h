// Copying files and directory trees as a stream of entries, the shape shared
// by the guest channel (agent_wire), the gRPC Guest API and the CLI: for each
// file or directory an entry {path relative to the copy's top, type, mode,
// size}, then, for a regular file, exactly `size` bytes of data in chunks.
// The first entry is the top itself (its basename); children follow their
// parent. Standard C++ and POSIX only (linked into the static agent).
#ifndef CLOONIX_COMMON_FILE_TREE_H_
#define CLOONIX_COMMON_FILE_TREE_H_

#include <sys/stat.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace cloonix {

struct TreeEntry {
  enum Type : uint32_t { kFile = 1, kDir = 2, kSymlink = 3 };
  std::string path;  // relative, '/'-separated, no "." or ".." parts
  Type type = kFile;
  uint32_t mode = 0644;  // permission bits (07777)
  uint64_t size = 0;     // bytes of data that follow (files only)
  std::string link;      // symlink target
};

std::string EncodeEntry(const TreeEntry& e);
bool DecodeEntry(const std::string& payload, TreeEntry* e);
// "" when `rel` is a safe relative path, else why not.
std::string CheckRelativePath(const std::string& rel);

// Paths under a root directory (e.g. "/proc/42/root", a container's root as
// its init sees it), resolved by the kernel inside that root (openat2 with
// RESOLVE_IN_ROOT: symlinks and ".." cannot leave it). With an empty root,
// plain system calls (no openat2 needed: the guest agent runs on any kernel).
class RootedFs {
 public:
  explicit RootedFs(const std::string& root);
  ~RootedFs();
  RootedFs(const RootedFs&) = delete;
  RootedFs& operator=(const RootedFs&) = delete;
  // "" or why the root cannot be used.
  const std::string& error() const { return error_; }
  // Like open(2) / mkdir(2) / ...; -1 with errno on failure. `path` is
  // absolute within the root (relative to the cwd without root).
  int Open(const std::string& path, int flags, unsigned mode = 0) const;
  int Mkdir(const std::string& path, unsigned mode) const;
  int Symlink(const std::string& target, const std::string& path) const;
  int Unlink(const std::string& path) const;
  int Stat(const std::string& path, struct stat* st, bool follow) const;
  long Readlink(const std::string& path, char* buf, size_t n) const;

 private:
  // A directory fd of `path`'s parent and its last component.
  int Parent(const std::string& path, std::string* base) const;
  int root_fd_ = -1;
  std::string error_;
};

// Writes a received tree. Every method returns "" on success or a message
// for a person ("no such directory: /x"). The stream is checked: every entry
// must be below the copy's top, never below a symlink the stream created,
// and modes are masked with `mode_mask`.
class TreeWriter {
 public:
  // `root` confines every path (see RootedFs), "" for none; relative
  // destinations resolve against `home`. A receiver that is not the guest
  // (the CLI) passes mode_mask 0777: no setuid/setgid/sticky from a guest.
  explicit TreeWriter(std::string root = "", std::string home = "/",
                      uint32_t mode_mask = 07777);
  ~TreeWriter();
  TreeWriter(const TreeWriter&) = delete;
  TreeWriter& operator=(const TreeWriter&) = delete;

  // Like cp/scp: an existing directory receives the top inside it; otherwise
  // the top is created as `dest`, whose parent must be an existing directory.
  std::string Begin(const std::string& dest);
  std::string Entry(const TreeEntry& e);
  std::string Data(const char* p, size_t n);
  // Checks the last file got all its bytes and closes it.
  std::string End();
  uint64_t bytes() const { return bytes_; }
  uint32_t files() const { return files_; }

 private:
  std::string CloseFile();
  RootedFs fs_;
  std::string home_;
  uint32_t mode_mask_;
  std::string top_;                    // first component of the stream
  std::vector<std::string> symlinks_;  // relative paths created as links
  std::string target_;  // resolved destination of the top (without root_)
  bool into_ = false;   // dest is a directory that receives the top
  bool begun_ = false;
  int fd_ = -1;
  std::string file_path_;
  uint64_t expect_ = 0, got_ = 0;
  uint64_t bytes_ = 0;
  uint32_t files_ = 0;
};

// Reads the tree at `path` (under `root`, relative to `home`) one step at a
// time, for single-threaded loops (the agent): each Next() gives the next
// entry or data chunk. Symlinks below the top are sent as links; sockets,
// fifos and devices are skipped; entries that vanish meanwhile too. A
// regular file that stats as empty (procfs, sysfs: /proc/cpuinfo) is read
// whole first, up to kMaxUnsizedFile bytes, and sent with the size read.
class TreeReader {
 public:
  enum class Step { kEntry, kData, kDone };
  static constexpr uint64_t kMaxUnsizedFile = 16 << 20;
  TreeReader(const std::string& root, const std::string& home,
             const std::string& path, size_t chunk = 64 * 1024);
  ~TreeReader();
  TreeReader(const TreeReader&) = delete;
  TreeReader& operator=(const TreeReader&) = delete;
  // "" and *step set, or an error message (the stream is then over).
  std::string Next(Step* step, TreeEntry* entry, std::string* data);

 private:
  struct Pending {
    std::string path;  // within the root
    std::string rel;   // in the stream
    bool top;
  };
  RootedFs fs_;
  size_t chunk_;
  std::string error_;
  std::vector<Pending> stack_;
  int fd_ = -1;
  uint64_t left_ = 0;
  std::string file_path_;
  // The content of a file whose size was not known from stat.
  std::string buffered_;
  size_t buffered_off_ = 0;
};

// Reads the tree at `path` (under `root`, relative to `home`) and emits it.
// A callback returning false stops the walk (the reader's result is then
// "cancelled"). Symlinks below the top are sent as links; sockets, fifos and
// devices are skipped. Returns "" or an error message.
std::string ReadTree(const std::string& root, const std::string& home,
                     const std::string& path,
                     const std::function<bool(const TreeEntry&)>& on_entry,
                     const std::function<bool(const char*, size_t)>& on_data,
                     size_t chunk = 64 * 1024);

}  // namespace cloonix

#endif  // CLOONIX_COMMON_FILE_TREE_H_
