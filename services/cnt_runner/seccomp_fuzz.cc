// libFuzzer target: a seccomp profile in Docker's format (cnt_runner's
// --seccomp_profile) turned into an OCI linux.seccomp object; what it
// accepts must be JSON the runtime spec embeds.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "nlohmann/json.hpp"
#include "services/cnt_runner/oci_spec.h"
#include "services/cnt_runner/seccomp.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string profile(reinterpret_cast<const char*>(data), size);
  cloonix::SeccompTarget t{"amd64", cloonix::ContainerCapabilities(), "6.1.0"};
  auto out = cloonix::OciSeccompFromProfile(profile, t);
  if (!out.ok()) return 0;
  auto j = nlohmann::json::parse(*out, nullptr, false);
  if (j.is_discarded() || !j.contains("defaultAction")) abort();
  cloonix::OciSpecParams p;
  p.args = {"/bin/sh"};
  p.netns_path = "/run/netns/x";
  p.seccomp_json = *out;
  if (nlohmann::json::parse(cloonix::OciSpecJson(p), nullptr, false)
          .is_discarded()) {
    abort();
  }
  return 0;
}
