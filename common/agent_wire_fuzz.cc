// libFuzzer target: the guest channel's frame parser and message decoders,
// fed bytes as a hostile guest (or host) could send them.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/agent_wire.h"
#include "common/file_tree.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cloonix::wire;
  FrameParser parser;
  // Split the input in two feeds to exercise partial frames.
  size_t half = size / 2;
  parser.Feed(reinterpret_cast<const char*>(data), half);
  Frame f;
  std::string error;
  int frames = 0;
  for (int round = 0; round < 2; ++round) {
    while (parser.Next(&f, &error)) {
      ++frames;
      ExecStart e;
      DecodeExecStart(f.payload, &e);
      cloonix::TreeEntry t;
      cloonix::DecodeEntry(f.payload, &t);
      WireReader r(f.payload);
      r.U32();
      r.Str();
      r.U64();
    }
    if (!error.empty()) break;
    if (round == 0) {
      parser.Feed(reinterpret_cast<const char*>(data) + half, size - half);
    }
  }
  return 0;
}
