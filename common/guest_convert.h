// Conversions between the gRPC Guest API's FileEntry and the file-tree
// stream's TreeEntry (common/file_tree.h).
#ifndef CLOONIX_COMMON_GUEST_CONVERT_H_
#define CLOONIX_COMMON_GUEST_CONVERT_H_

#include "cloonix/v1/guest.pb.h"
#include "common/file_tree.h"

namespace cloonix {

inline TreeEntry FromProto(const cloonix::v1::FileEntry& p) {
  TreeEntry e;
  e.path = p.path();
  e.type = p.type() == cloonix::v1::FILE_TYPE_DIR       ? TreeEntry::kDir
           : p.type() == cloonix::v1::FILE_TYPE_SYMLINK ? TreeEntry::kSymlink
                                                        : TreeEntry::kFile;
  e.mode = p.mode() & 07777;
  e.size = p.size();
  e.link = p.link_target();
  return e;
}

inline cloonix::v1::FileEntry ToProto(const TreeEntry& e) {
  cloonix::v1::FileEntry p;
  p.set_path(e.path);
  p.set_type(e.type == TreeEntry::kDir       ? cloonix::v1::FILE_TYPE_DIR
             : e.type == TreeEntry::kSymlink ? cloonix::v1::FILE_TYPE_SYMLINK
                                             : cloonix::v1::FILE_TYPE_FILE);
  p.set_mode(e.mode);
  p.set_size(e.size);
  p.set_link_target(e.link);
  return p;
}

}  // namespace cloonix

#endif  // CLOONIX_COMMON_GUEST_CONVERT_H_
