#include "services/cnt_runner/seccomp.h"

#include <sys/utsname.h>

#include <algorithm>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace cloonix {
namespace {

using nlohmann::json;

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::vector<std::string> Strings(const json& j, const char* key) {
  std::vector<std::string> out;
  if (!j.is_object() || !j.contains(key) || !j[key].is_array()) return out;
  for (const auto& s : j[key]) {
    if (s.is_string()) out.push_back(s.get<std::string>());
  }
  return out;
}

// Field `key` of object `j` when it has the wanted type, else `dflt`
// (nlohmann's value() throws on a type mismatch: profiles are user input).
std::string Str(const json& j, const char* key, const std::string& dflt = "") {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : dflt;
}
uint64_t U64(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

// libseccomp's name of a Go architecture, as moby maps them.
std::string ScmpArch(const std::string& go_arch) {
  static const std::pair<const char*, const char*> kMap[] = {
      {"386", "SCMP_ARCH_X86"},         {"amd64", "SCMP_ARCH_X86_64"},
      {"arm", "SCMP_ARCH_ARM"},         {"arm64", "SCMP_ARCH_AARCH64"},
      {"mips64", "SCMP_ARCH_MIPS64"},   {"mips64le", "SCMP_ARCH_MIPSEL64"},
      {"ppc64le", "SCMP_ARCH_PPC64LE"}, {"riscv64", "SCMP_ARCH_RISCV64"},
      {"s390x", "SCMP_ARCH_S390X"},
  };
  for (const auto& [go, scmp] : kMap) {
    if (go_arch == go) return scmp;
  }
  return "";
}

// "major.minor" of a kernel release; {0, 0} when unreadable.
std::pair<int, int> KernelVersion(const std::string& release) {
  int major = 0, minor = 0;
  if (std::sscanf(release.c_str(), "%d.%d", &major, &minor) < 1) return {0, 0};
  return {major, minor};
}

// Whether rule `r` applies to `t` (moby's include/exclude test).
bool Applies(const json& r, const SeccompTarget& t) {
  const json none = json::object();
  const json& inc = r.contains("includes") && r["includes"].is_object()
                        ? r["includes"]
                        : none;
  const json& exc = r.contains("excludes") && r["excludes"].is_object()
                        ? r["excludes"]
                        : none;
  auto inc_arches = Strings(inc, "arches");
  if (!inc_arches.empty() && !Contains(inc_arches, t.arch)) return false;
  if (Contains(Strings(exc, "arches"), t.arch)) return false;
  for (const auto& c : Strings(inc, "caps")) {
    if (!Contains(t.caps, c)) return false;
  }
  for (const auto& c : Strings(exc, "caps")) {
    if (Contains(t.caps, c)) return false;
  }
  if (inc.contains("minKernel") && inc["minKernel"].is_string()) {
    if (KernelVersion(t.kernel_release) <
        KernelVersion(inc["minKernel"].get<std::string>())) {
      return false;
    }
  }
  return true;
}

}  // namespace

absl::StatusOr<std::string> OciSeccompFromProfile(
    absl::string_view profile_json, const SeccompTarget& target) {
  json p = json::parse(profile_json.begin(), profile_json.end(), nullptr,
                       /*allow_exceptions=*/false);
  if (p.is_discarded() || !p.is_object()) {
    return absl::InvalidArgumentError("seccomp profile: not a JSON object");
  }
  if (!p.contains("defaultAction") || !p["defaultAction"].is_string()) {
    return absl::InvalidArgumentError("seccomp profile: no defaultAction");
  }
  if (!p.contains("syscalls") || !p["syscalls"].is_array()) {
    return absl::InvalidArgumentError("seccomp profile: no syscalls list");
  }
  json out = {{"defaultAction", p["defaultAction"]}};
  if (p.contains("defaultErrnoRet") && p["defaultErrnoRet"].is_number()) {
    out["defaultErrnoRet"] = p["defaultErrnoRet"];
  }
  std::string scmp = ScmpArch(target.arch);
  json arches = json::array();
  if (p.contains("archMap") && p["archMap"].is_array()) {
    for (const auto& a : p["archMap"]) {
      if (!a.is_object() || Str(a, "architecture") != scmp) continue;
      arches.push_back(scmp);
      for (const auto& sub : Strings(a, "subArchitectures")) {
        arches.push_back(sub);
      }
    }
    if (arches.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "seccomp profile: no archMap entry for ", target.arch, " (",
          scmp.empty() ? "unknown architecture" : scmp, ")"));
    }
    out["architectures"] = arches;
  }
  json calls = json::array();
  for (const auto& r : p["syscalls"]) {
    if (!r.is_object()) {
      return absl::InvalidArgumentError(
          "seccomp profile: a rule is not an object");
    }
    auto names = Strings(r, "names");
    if (names.empty() && r.contains("name") && r["name"].is_string()) {
      names.push_back(r["name"].get<std::string>());
    }
    if (names.empty() || !r.contains("action") || !r["action"].is_string()) {
      return absl::InvalidArgumentError(
          "seccomp profile: a rule without names or action");
    }
    if (!Applies(r, target)) continue;
    json c = {{"names", names}, {"action", r["action"]}};
    if (r.contains("errnoRet") && r["errnoRet"].is_number()) {
      c["errnoRet"] = r["errnoRet"];
    }
    if (r.contains("args") && r["args"].is_array() && !r["args"].empty()) {
      c["args"] = json::array();
      for (const auto& a : r["args"]) {
        if (!a.is_object()) continue;
        std::string op = Str(a, "op");
        if (op.empty()) {
          return absl::InvalidArgumentError(
              "seccomp profile: an argument rule without op");
        }
        c["args"].push_back({{"index", U64(a, "index")},
                             {"value", U64(a, "value")},
                             {"valueTwo", U64(a, "valueTwo")},
                             {"op", op}});
      }
    }
    calls.push_back(std::move(c));
  }
  out["syscalls"] = std::move(calls);
  return out.dump();
}

SeccompTarget HostSeccompTarget(std::vector<std::string> caps) {
  SeccompTarget t;
#if defined(__x86_64__)
  t.arch = "amd64";
#elif defined(__aarch64__)
  t.arch = "arm64";
#elif defined(__i386__)
  t.arch = "386";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  t.arch = "ppc64le";
#elif defined(__s390x__)
  t.arch = "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
  t.arch = "riscv64";
#else
  t.arch = "unknown";
#endif
  t.caps = std::move(caps);
  struct utsname u;
  if (uname(&u) == 0) t.kernel_release = u.release;
  return t;
}

}  // namespace cloonix
