#include "services/cnt_runner/registry_client.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <openssl/sha.h>

#include <cstdlib>
#include <mutex>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"

namespace cloonix {

std::string Sha256Digest(const std::string& data) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  std::string hex = "sha256:";
  for (unsigned char c : md) absl::StrAppendFormat(&hex, "%02x", c);
  return hex;
}

namespace {

constexpr char kOciIndex[] = "application/vnd.oci.image.index.v1+json";
constexpr char kOciManifest[] = "application/vnd.oci.image.manifest.v1+json";
constexpr char kDockerList[] =
    "application/vnd.docker.distribution.manifest.list.v2+json";
constexpr char kDockerManifest[] =
    "application/vnd.docker.distribution.manifest.v2+json";
// Largest manifest read (bytes) and largest blob (a layer held in memory).
constexpr size_t kMaxManifest = 4 << 20;
constexpr size_t kMaxBlob = size_t{4} << 30;

bool ValidDigest(absl::string_view d) {
  if (!absl::ConsumePrefix(&d, "sha256:") || d.size() != 64) return false;
  for (char c : d) {
    if (!absl::ascii_isdigit(c) && !(c >= 'a' && c <= 'f')) return false;
  }
  return true;
}

bool OnLoopback(const std::string& registry) {
  std::string host = registry;
  if (absl::StartsWith(host, "[")) {
    host = host.substr(1, host.find(']') - 1);
  } else {
    host =
        host.substr(0, host.rfind(':') == std::string::npos ? host.size()
                                                            : host.rfind(':'));
  }
  if (host == "localhost" || host == "::1") return true;
  in_addr a;
  return inet_pton(AF_INET, host.c_str(), &a) == 1 &&
         (ntohl(a.s_addr) >> 24) == 127;
}

bool ListedInsecure(const std::string& registry) {
  const char* env = std::getenv("CLOONIX_INSECURE_REGISTRIES");
  if (env == nullptr) return false;
  for (absl::string_view r : absl::StrSplit(env, ',', absl::SkipEmpty())) {
    if (absl::StripAsciiWhitespace(r) == registry) return true;
  }
  return false;
}

struct Response {
  long code = 0;
  std::string body;
  std::string content_type;
  bool too_big = false;
  size_t limit = 0;
};

size_t OnBody(char* p, size_t size, size_t n, void* user) {
  auto* r = static_cast<Response*>(user);
  if (r->body.size() + size * n > r->limit) {
    r->too_big = true;
    return 0;  // aborts the transfer
  }
  r->body.append(p, size * n);
  return size * n;
}

size_t OnHeader(char* p, size_t size, size_t n, void* user) {
  auto* r = static_cast<Response*>(user);
  absl::string_view line(p, size * n);
  if (absl::StartsWithIgnoreCase(line, "content-type:")) {
    r->content_type = std::string(
        absl::StripAsciiWhitespace(absl::StripPrefix(line.substr(13), " ")));
    r->content_type = r->content_type.substr(0, r->content_type.find(';'));
  }
  return size * n;
}

// One GET (redirects followed: registries send blobs to storage).
absl::StatusOr<Response> Get(const ImageRef& ref, const std::string& path,
                             const std::vector<std::string>& accept,
                             size_t limit) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  const std::string url =
      absl::StrCat(ref.insecure ? "http://" : "https://", ref.registry, "/v2/",
                   ref.repository, path);
  CURL* c = curl_easy_init();
  if (c == nullptr) return absl::InternalError("curl_easy_init failed");
  Response r;
  r.limit = limit;
  curl_slist* headers = nullptr;
  if (!accept.empty()) {
    headers = curl_slist_append(
        headers, absl::StrCat("Accept: ", absl::StrJoin(accept, ", ")).c_str());
  }
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
  // A stalled transfer (under 1 kB/s for 60 s) ends; a slow one goes on.
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "cloonix-cnt-runner");
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
  CURLcode rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.code);
  curl_easy_cleanup(c);
  curl_slist_free_all(headers);
  if (r.too_big) {
    return absl::InvalidArgumentError(
        absl::StrCat(url, " is larger than ", limit, " bytes"));
  }
  if (rc != CURLE_OK) {
    return absl::UnavailableError(absl::StrCat("registry ", ref.registry,
                                               " does not answer (", url,
                                               "): ", curl_easy_strerror(rc)));
  }
  if (r.code == 401 || r.code == 403) {
    return absl::PermissionDeniedError(
        absl::StrCat("registry ", ref.registry, " asks for credentials (HTTP ",
                     r.code, " on ", url, "): cloonix pulls anonymously only"));
  }
  if (r.code == 404) {
    return absl::NotFoundError(absl::StrCat(
        ref.String(), ": ", path, " not found in registry ", ref.registry));
  }
  if (r.code != 200) {
    return absl::UnavailableError(absl::StrCat("registry ", ref.registry,
                                               ": HTTP ", r.code, " on ", url));
  }
  return r;
}

absl::StatusOr<std::string> Fetch(const ImageRef& ref,
                                  const std::string& digest, size_t limit,
                                  const std::vector<std::string>& accept,
                                  bool manifest, std::string* media_type) {
  if (!ValidDigest(digest)) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", digest, "\" is not a sha256 digest"));
  }
  auto r = Get(ref, absl::StrCat(manifest ? "/manifests/" : "/blobs/", digest),
               accept, limit);
  if (!r.ok()) return r.status();
  if (Sha256Digest(r->body) != digest) {
    return absl::DataLossError(absl::StrCat(ref.String(), ": ", digest,
                                            " arrived with digest ",
                                            Sha256Digest(r->body)));
  }
  if (media_type != nullptr) *media_type = r->content_type;
  return std::move(r->body);
}

}  // namespace

std::string ImageRef::String() const {
  return absl::StrCat(registry, "/", repository,
                      absl::StartsWith(reference, "sha256:") ? "@" : ":",
                      reference);
}

bool LooksLikeImageRef(const std::string& s) {
  if (s.empty() || s[0] == '/' || s[0] == '.') return false;
  return absl::StrContains(s, '/') || absl::StrContains(s, ':');
}

absl::StatusOr<ImageRef> ParseImageRef(const std::string& s) {
  auto bad = [&](const std::string& why) {
    return absl::InvalidArgumentError(
        absl::StrCat("image reference \"", s.substr(0, 200), "\": ", why));
  };
  if (s.empty() || s.size() > 512) return bad("empty or too long");
  ImageRef ref;
  std::string rest = s;
  // registry: the first component, if it has a '.' or ':' or is localhost.
  size_t slash = rest.find('/');
  if (slash != std::string::npos) {
    std::string first = rest.substr(0, slash);
    if (absl::StrContains(first, '.') || absl::StrContains(first, ':') ||
        first == "localhost") {
      ref.registry = first;
      rest = rest.substr(slash + 1);
    }
  }
  if (ref.registry.empty() || ref.registry == "docker.io") {
    ref.registry = "registry-1.docker.io";
    if (!absl::StrContains(rest, '/')) rest = "library/" + rest;
  }
  if (size_t at = rest.find('@'); at != std::string::npos) {
    ref.reference = rest.substr(at + 1);
    rest = rest.substr(0, at);
    if (!ValidDigest(ref.reference)) return bad("a digest is sha256:<64 hex>");
  } else if (size_t colon = rest.rfind(':');
             colon != std::string::npos &&
             rest.find('/', colon) == std::string::npos) {
    ref.reference = rest.substr(colon + 1);
    rest = rest.substr(0, colon);
    if (ref.reference.empty()) return bad("the tag is empty");
    for (char c : ref.reference) {
      if (!absl::ascii_isalnum(c) && c != '_' && c != '.' && c != '-') {
        return bad("a tag is letters, digits, '_', '.' and '-'");
      }
    }
  } else {
    ref.reference = "latest";
  }
  ref.repository = rest;
  if (rest.empty()) return bad("no repository");
  for (absl::string_view part : absl::StrSplit(rest, '/')) {
    if (part.empty()) return bad("an empty path component");
    for (char c : part) {
      bool ok = (c >= 'a' && c <= 'z') || absl::ascii_isdigit(c) || c == '.' ||
                c == '_' || c == '-';
      if (!ok) return bad("a repository is lowercase letters, digits, . _ -");
    }
  }
  ref.insecure = OnLoopback(ref.registry) || ListedInsecure(ref.registry);
  return ref;
}

absl::StatusOr<PulledImage> PullImage(
    const ImageRef& ref,
    const std::function<absl::Status(const std::string&, const std::string&)>&
        store,
    const std::function<void(const std::string&)>& progress) {
  const std::vector<std::string> accept = {kOciIndex, kOciManifest, kDockerList,
                                           kDockerManifest};
  auto top = Get(ref, "/manifests/" + ref.reference, accept, kMaxManifest);
  if (!top.ok()) return top.status();
  PulledImage out;
  out.media_type = top->content_type;
  out.digest = Sha256Digest(top->body);
  out.size = top->body.size();
  if (ValidDigest(ref.reference) && out.digest != ref.reference) {
    return absl::DataLossError(absl::StrCat(ref.String(),
                                            ": the manifest has "
                                            "digest ",
                                            out.digest));
  }
  nlohmann::json m = nlohmann::json::parse(top->body, nullptr, false);
  if (m.is_discarded() || !m.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(ref.String(), ": the manifest is not JSON"));
  }
  if (out.media_type.empty() || out.media_type == "application/json") {
    out.media_type = m.value("mediaType", "");
  }
  if (auto s = store(out.digest, top->body); !s.ok()) return s;
  out.blobs++;
  out.bytes += top->body.size();
  std::string text = top->body;
  if (m.contains("manifests")) {  // an index: the linux/amd64 manifest
    std::string digest;
    for (const auto& e : m["manifests"]) {
      if (!e.is_object()) continue;
      const auto p = e.value("platform", nlohmann::json::object());
      if (p.value("os", "") == "linux" &&
          p.value("architecture", "") == "amd64") {
        digest = e.value("digest", "");
        break;
      }
    }
    if (digest.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(ref.String(), " has no linux/amd64 image"));
    }
    auto sub = Fetch(ref, digest, kMaxManifest, accept, true, nullptr);
    if (!sub.ok()) return sub.status();
    if (auto s = store(digest, *sub); !s.ok()) return s;
    out.blobs++;
    out.bytes += sub->size();
    text = *sub;
    m = nlohmann::json::parse(text, nullptr, false);
    if (m.is_discarded() || !m.is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat(ref.String(), ": manifest ", digest, " is not JSON"));
    }
  }
  if (!m.contains("config") || !m["config"].is_object() ||
      !m.contains("layers") || !m["layers"].is_array()) {
    return absl::InvalidArgumentError(absl::StrCat(
        ref.String(), ": not an image manifest (no config or layers)"));
  }
  std::vector<std::string> blobs = {m["config"].value("digest", "")};
  for (const auto& l : m["layers"]) {
    blobs.push_back(l.is_object() ? l.value("digest", "") : "");
  }
  int i = 0;
  for (const auto& d : blobs) {
    auto blob = Fetch(ref, d, kMaxBlob, {}, false, nullptr);
    if (!blob.ok()) return blob.status();
    if (auto s = store(d, *blob); !s.ok()) return s;
    out.blobs++;
    out.bytes += blob->size();
    if (progress) {
      progress(absl::StrFormat("%s: blob %d/%d %s (%d bytes)", ref.String(),
                               ++i, blobs.size(), d.substr(0, 19),
                               blob->size()));
    }
  }
  return out;
}

}  // namespace cloonix
