// Copying files and directory trees as a stream of entries, the shape shared
// by the guest channel (agent_wire), the gRPC Guest API and the CLI: for each
// file or directory an entry {path relative to the copy's top, type, mode,
// size}, then, for a regular file, exactly `size` bytes of data in chunks.
// The first entry is the top itself (its basename); children follow their
// parent. Standard C++ and POSIX only (linked into the static agent).
#ifndef CLOONIX_COMMON_FILE_TREE_H_
#define CLOONIX_COMMON_FILE_TREE_H_

#include <cstdint>
#include <functional>
#include <string>

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

// Writes a received tree. Every method returns "" on success or a message
// for a person ("no such directory: /x").
class TreeWriter {
 public:
  // `root` is prefixed to every path touched (e.g. "/proc/42/root" to write
  // into a container), "" for none; relative destinations resolve against
  // `home`.
  explicit TreeWriter(std::string root = "", std::string home = "/");
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
  std::string root_, home_;
  std::string target_;  // resolved destination of the top (without root_)
  bool into_ = false;   // dest is a directory that receives the top
  bool begun_ = false;
  int fd_ = -1;
  std::string file_path_;
  uint64_t expect_ = 0, got_ = 0;
  uint64_t bytes_ = 0;
  uint32_t files_ = 0;
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
