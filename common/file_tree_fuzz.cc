// libFuzzer target: a file-tree stream as a guest or a client sends it
// (entries and data), written into a scratch directory confined by
// TreeWriter's rules. Input: records of [1 byte kind][2 bytes length][bytes],
// kind 0 = an encoded entry, 1 = data.
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

#include "common/file_tree.h"

namespace {

// The scratch dir, in static storage that outlives the exit handlers.
char g_scratch[32];

std::string ScratchDir() {
  if (g_scratch[0] == '\0') {
    std::snprintf(g_scratch, sizeof(g_scratch), "/tmp/cxfuzz.XXXXXX");
    if (mkdtemp(g_scratch) == nullptr) abort();
    atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(g_scratch, ec);
    });
  }
  return g_scratch;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string root = ScratchDir();
  const std::string dest = root + "/out";
  std::error_code ec;
  std::filesystem::remove_all(dest, ec);
  {
    // The destination is confined to `root` as a guest's would be.
    cloonix::TreeWriter w(root, "/", 07777);
    if (!w.Begin("/out").empty()) return 0;
    size_t i = 0;
    while (i + 3 <= size) {
      uint8_t kind = data[i];
      size_t n = (static_cast<size_t>(data[i + 1]) << 8) | data[i + 2];
      i += 3;
      if (n > size - i) n = size - i;
      std::string chunk(reinterpret_cast<const char*>(data) + i, n);
      i += n;
      std::string err;
      if (kind % 2 == 0) {
        cloonix::TreeEntry e;
        if (!cloonix::DecodeEntry(chunk, &e)) continue;
        err = w.Entry(e);
      } else {
        err = w.Data(chunk.data(), chunk.size());
      }
      if (!err.empty()) break;
    }
    w.End();
  }
  return 0;
}
