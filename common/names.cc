#include "common/names.h"

#include <cctype>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace cloonix {

namespace {

absl::Status CheckName(absl::string_view name, absl::string_view what,
                       bool dots) {
  auto bad = [&](absl::string_view why) {
    // A name is quoted back cut to 40 bytes: the input may be megabytes.
    std::string shown = name.size() > 40
                            ? absl::StrCat(name.substr(0, 40), "...")
                            : std::string(name);
    return absl::InvalidArgumentError(
        absl::StrCat(what, " \"", shown, "\" is invalid: ", why,
                     dots ? " (use a letter, then up to 30 of letters, "
                            "digits, '_', '-' or '.')"
                          : " (use a letter, then up to 30 of letters, "
                            "digits, '_' or '-')"));
  };
  if (name.empty()) return bad("it is empty");
  if (name.size() > 31) return bad("it is longer than 31 characters");
  if (!absl::ascii_isalpha(static_cast<unsigned char>(name[0])))
    return bad("it must start with a letter");
  for (char c : name) {
    bool ok = absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' ||
              c == '-' || (dots && c == '.');
    if (!ok)
      return bad(
          absl::StrCat("character '", std::string(1, c), "' is not allowed"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateName(absl::string_view name, absl::string_view what) {
  return CheckName(name, what, /*dots=*/true);
}

absl::Status ValidateNetName(absl::string_view name, absl::string_view what) {
  return CheckName(name, what, /*dots=*/false);
}

uint32_t Fnv1a(absl::string_view s) {
  uint32_t h = 2166136261u;
  for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
  return h;
}

std::string NetTag(absl::string_view net) {
  return absl::StrFormat("%05x", Fnv1a(net) & 0xfffff);
}

absl::Status ValidateMac(absl::string_view mac) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("MAC \"", mac, "\" is invalid: ", why,
                     " (write it xx:xx:xx:xx:xx:xx)"));
  };
  if (mac.size() != 17) return bad("it must have 17 characters");
  for (size_t i = 0; i < mac.size(); ++i) {
    char c = mac[i];
    if (i % 3 == 2) {
      if (c != ':') return bad("bytes must be separated by ':'");
    } else if (!std::isxdigit(static_cast<unsigned char>(c))) {
      return bad("it has a non-hex digit");
    }
  }
  int first = std::stoi(std::string(mac.substr(0, 2)), nullptr, 16);
  if (first & 1) return bad("it is a multicast address");
  if (mac == "00:00:00:00:00:00") return bad("it is all zeros");
  return absl::OkStatus();
}

absl::Status ValidateBindMountPaths(absl::string_view host_path,
                                    absl::string_view guest_path) {
  for (const auto& entry : {std::pair{host_path, "host path"},
                            std::pair{guest_path, "guest path"}}) {
    // Not a structured binding: clang 14 (the fuzz build) cannot capture
    // one in a lambda.
    const absl::string_view path = entry.first;
    const char* const what = entry.second;
    auto bad = [&](absl::string_view why) {
      return absl::InvalidArgumentError(
          absl::StrCat("mount ", what, " \"", path, "\" ", why));
    };
    if (path.empty() || path[0] != '/') return bad("must be absolute");
    if (path.size() > 1024) return bad("is longer than 1024 bytes");
    for (char c : path) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
        return bad("has a control character");
      }
    }
    for (absl::string_view part : absl::StrSplit(path, '/')) {
      if (part == "." || part == "..") {
        return bad("must not have a \".\" or \"..\" component");
      }
    }
  }
  // "//proc/" is /proc: compare the path without empty components.
  std::string g;
  for (absl::string_view part :
       absl::StrSplit(guest_path, '/', absl::SkipEmpty())) {
    absl::StrAppend(&g, "/", part);
  }
  if (g.empty()) {
    return absl::InvalidArgumentError(
        "mount guest path \"/\": the container's root cannot be replaced");
  }
  for (absl::string_view reserved : {"/proc", "/sys", "/dev"}) {
    if (g == reserved || absl::StartsWith(g, absl::StrCat(reserved, "/"))) {
      return absl::InvalidArgumentError(
          absl::StrCat("mount guest path \"", guest_path, "\" is under ",
                       reserved, ", which the container mounts itself"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateIfname(absl::string_view name) {
  if (name.empty() || name.size() > 15) {
    return absl::InvalidArgumentError(absl::StrCat(
        "interface name \"", name, "\" must have 1 to 15 characters"));
  }
  for (char c : name) {
    if (c == '/' || c == ':' || c <= ' ' || c > '~') {
      return absl::InvalidArgumentError(absl::StrCat(
          "interface name \"", name, "\" has a forbidden character"));
    }
  }
  return absl::OkStatus();
}

std::string NetNetns(absl::string_view net) {
  return absl::StrCat("cloonix_", net);
}

std::string ContainerNetns(absl::string_view net, absl::string_view item) {
  return absl::StrCat(ContainerNetnsPrefix(net), item);
}

std::string ContainerNetnsPrefix(absl::string_view net) {
  return absl::StrCat("cloonix_", net, ".");
}

std::string LanBridgeName(uint32_t id) { return absl::StrCat("cxl", id); }

namespace {

// The decimal id after `prefix` in `name`, followed by `rest_prefix` (or
// the end when it is empty); 0 otherwise.
uint32_t IdAfter(absl::string_view name, absl::string_view prefix,
                 absl::string_view rest_prefix) {
  if (!absl::StartsWith(name, prefix)) return 0;
  name.remove_prefix(prefix.size());
  size_t n = 0;
  while (n < name.size() && absl::ascii_isdigit(name[n])) ++n;
  uint32_t id = 0;
  if (n == 0 || !absl::SimpleAtoi(name.substr(0, n), &id)) return 0;
  name.remove_prefix(n);
  if (rest_prefix.empty() ? !name.empty()
                          : !absl::StartsWith(name, rest_prefix))
    return 0;
  return id;
}

}  // namespace

uint32_t ItemIdOfPort(absl::string_view port) {
  return IdAfter(port, "cx", "e");
}

uint32_t LanIdOfBridge(absl::string_view bridge) {
  return IdAfter(bridge, "cxl", "");
}

std::string EthPortName(uint32_t id, uint32_t eth) {
  return absl::StrCat("cx", id, "e", eth);
}

std::string DerivedMac(absl::string_view net, uint32_t id, uint32_t eth) {
  uint32_t h = 2166136261u;  // FNV-1a
  for (char c : net) h = (h ^ static_cast<uint8_t>(c)) * 16777619u;
  return absl::StrFormat("02:%02x:%02x:%02x:%02x:%02x", h & 0xff,
                         (id >> 16) & 0xff, (id >> 8) & 0xff, id & 0xff,
                         eth & 0xff);
}

}  // namespace cloonix
