// libFuzzer target: the CLI's a2b setting words ("delay=20 loss=1.5",
// Cloonix's "dir=0 cmd=rate val=N"), split on NUL bytes into argv tokens.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "cli/a2b_args.h"
#include "common/a2b_settings.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> tokens(1);
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0) {
      tokens.emplace_back();
    } else {
      tokens.back().push_back(static_cast<char>(data[i]));
    }
  }
  auto a = cloonix::cli::ParseA2bArgs(tokens);
  if (a.ok()) {
    cloonix::v1::A2bSettings s;
    cloonix::ApplyA2bPatch(a->patch, &s);
    cloonix::ValidateA2bSettings(s).IgnoreError();
  }
  return 0;
}
