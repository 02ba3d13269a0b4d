// Runs a libFuzzer target's LLVMFuzzerTestOneInput over every file of its
// corpus directories (arguments), as a plain test with the default compiler:
// the corpus is a regression suite in every build, the coverage-guided
// search runs with clang (tools/fuzz/run.sh). Exit 0 unless the target
// crashes (a crash kills the process, which fails the test).
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  size_t n = 0;
  for (int i = 1; i < argc; ++i) {
    std::error_code ec;
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::recursive_directory_iterator(
             argv[i],
             std::filesystem::directory_options::follow_directory_symlink,
             ec)) {
      if (e.is_regular_file()) files.push_back(e.path());
    }
    if (ec) {
      std::fprintf(stderr, "cannot read corpus %s: %s\n", argv[i],
                   ec.message().c_str());
      return 1;
    }
    for (const auto& f : files) {
      std::ifstream in(f, std::ios::binary);
      std::string data((std::istreambuf_iterator<char>(in)),
                       std::istreambuf_iterator<char>());
      LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(data.data()),
                             data.size());
      ++n;
    }
  }
  // The empty input, always.
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(""), 0);
  std::printf("replayed %zu corpus inputs\n", n);
  if (n == 0) {
    std::fprintf(stderr, "no corpus input found\n");
    return 1;
  }
  return 0;
}
