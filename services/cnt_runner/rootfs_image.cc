#include "services/cnt_runner/rootfs_image.h"

#include <openssl/evp.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/atomic_file.h"
#include "common/exec.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace cloonix {
namespace {

namespace fs = std::filesystem;

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
    EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr);
  }
  void Add(const void* p, size_t n) { EVP_DigestUpdate(ctx_.get(), p, n); }
  void Add(const std::string& s) { Add(s.data(), s.size()); }
  std::string Hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx_.get(), md, &n);
    std::string hex;
    for (unsigned int i = 0; i < n; ++i)
      absl::StrAppendFormat(&hex, "%02x", md[i]);
    return hex;
  }

 private:
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx_;
};

absl::StatusOr<std::string> FileSha256(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InternalError(absl::StrCat("cannot read ", path));
  Sha256 h;
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), buf.size());
    h.Add(buf.data(), static_cast<size_t>(in.gcount()));
  }
  return h.Hex();
}

std::string StatKey(const struct stat& st) {
  return absl::StrCat(st.st_mode, ":", st.st_size, ":", st.st_mtim.tv_sec, ".",
                      st.st_mtim.tv_nsec);
}

// Writes `content` as a blob; returns its descriptor.
absl::StatusOr<nlohmann::json> PutBlob(const std::string& blobs,
                                       const std::string& media_type,
                                       const std::string& content) {
  Sha256 h;
  h.Add(content);
  std::string hex = h.Hex();
  RETURN_IF_ERROR(WriteFileAtomic(blobs + "/" + hex, content, 0644));
  return nlohmann::json{{"mediaType", media_type},
                        {"digest", "sha256:" + hex},
                        {"size", content.size()}};
}

// The uncompressed size a zip announces (unzip -Z -t: "N files, X bytes
// uncompressed, ...").
absl::StatusOr<uint64_t> ZipUnpackedBytes(const std::string& zip) {
  ASSIGN_OR_RETURN(std::string out, ExecOk({"unzip", "-Z", "-t", zip},
                                           absl::StatusCode::kInvalidArgument));
  for (absl::string_view part : absl::StrSplit(out, ',')) {
    part = absl::StripAsciiWhitespace(part);
    if (!absl::EndsWith(part, "bytes uncompressed")) continue;
    uint64_t n = 0;
    if (absl::SimpleAtoi(part.substr(0, part.find(' ')), &n)) return n;
  }
  return absl::InvalidArgumentError(
      absl::StrCat(zip, ": unzip -Z -t does not give its size: ", out));
}

}  // namespace

bool LooksLikeRoot(const std::string& dir) {
  auto has = [&](const char* d) {
    struct stat st;
    return lstat((fs::path(dir) / d).c_str(), &st) == 0 &&
           (S_ISDIR(st.st_mode) || S_ISLNK(st.st_mode));
  };
  return has("etc") && (has("bin") || has("sbin") || has("usr"));
}

bool IsRootfsPath(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return false;
  if (S_ISDIR(st.st_mode)) {
    return !fs::exists(fs::path(path) / "index.json") && LooksLikeRoot(path);
  }
  return S_ISREG(st.st_mode) &&
         absl::EndsWith(absl::AsciiStrToLower(path), ".zip");
}

absl::StatusOr<std::string> RootfsImageName(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat("rootfs ", path, " not found"));
  }
  if (!IsRootfsPath(path)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is neither a rootfs directory nor a .zip"));
  }
  Sha256 h;
  h.Add(fs::absolute(path).lexically_normal().string() + "\n");
  h.Add(StatKey(st) + "\n");
  if (S_ISDIR(st.st_mode)) {
    std::error_code ec;
    for (fs::recursive_directory_iterator
             it(path, fs::directory_options::none, ec),
         end;
         !ec && it != end; it.increment(ec)) {
      struct stat est;
      if (lstat(it->path().c_str(), &est) != 0) continue;
      h.Add(absl::StrCat(fs::relative(it->path(), path).string(), "\t",
                         StatKey(est), "\t", est.st_uid, ":", est.st_gid,
                         "\n"));
    }
    if (ec) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot read rootfs ", path, ": ", ec.message()));
    }
  }
  std::string base = absl::AsciiStrToLower(fs::path(path).filename().string());
  if (absl::EndsWith(base, ".zip")) base.resize(base.size() - 4);
  for (char& c : base) {
    if (!absl::ascii_isalnum(c) && c != '.' && c != '-' && c != '_') c = '_';
  }
  if (base.empty() || base[0] == '.' || base[0] == '-') base = "r" + base;
  return absl::StrCat("cloonix-rootfs/", base, ":", h.Hex().substr(0, 12));
}

absl::Status MakeRootfsLayout(const std::string& path,
                              const std::string& image_name,
                              const std::string& out_dir, uint64_t max_bytes) {
  if (!IsRootfsPath(path)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is neither a rootfs directory nor a .zip"));
  }
  std::error_code ec;
  if (!fs::create_directories(out_dir + "/blobs/sha256", ec) || ec) {
    return absl::InternalError(
        absl::StrCat("mkdir ", out_dir, ": ", ec ? ec.message() : "exists"));
  }
  std::string root = path;
  if (!fs::is_directory(path)) {
    ASSIGN_OR_RETURN(uint64_t unpacked, ZipUnpackedBytes(path));
    if (unpacked > max_bytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, " unpacks to ", unpacked, " bytes; at most ",
                       max_bytes, " are imported"));
    }
    root = out_dir + "/unzip";
    // unzip keeps modes and symlinks and refuses paths that leave the
    // destination ("../"): 2 minutes plus 1 s per 20 MB.
    RETURN_IF_ERROR(
        ExecOk({"unzip", "-q", "-o", path, "-d", root},
               absl::StatusCode::kInvalidArgument,
               absl::Seconds(120) + absl::Seconds(unpacked / (20 << 20)))
            .status());
    // A zip of the directory rather than of its content.
    std::vector<fs::path> top;
    for (const auto& e : fs::directory_iterator(root, ec)) top.push_back(e);
    if (top.size() == 1 && fs::is_directory(top[0]) &&
        !fs::is_symlink(top[0]) && !LooksLikeRoot(root)) {
      root = top[0].string();
    }
    if (!LooksLikeRoot(root)) {
      fs::remove_all(out_dir + "/unzip", ec);
      return absl::InvalidArgumentError(
          absl::StrCat(path,
                       " holds no root filesystem (no etc with bin, sbin or "
                       "usr at its top)"));
    }
  }
  const std::string layer = out_dir + "/layer.tar";
  RETURN_IF_ERROR(
      ExecOk({"tar", "-C", root, "--numeric-owner", "-cf", layer, "."},
             absl::StatusCode::kInvalidArgument, absl::Minutes(15))
          .status());
  if (root != path) fs::remove_all(out_dir + "/unzip", ec);
  const uint64_t layer_bytes = fs::file_size(layer, ec);
  if (ec || layer_bytes > max_bytes) {
    fs::remove(layer, ec);
    return absl::InvalidArgumentError(
        absl::StrCat("rootfs ", path, " is ", layer_bytes,
                     " bytes as a tar; at most ", max_bytes, " are imported"));
  }
  ASSIGN_OR_RETURN(std::string layer_hex, FileSha256(layer));
  fs::rename(layer, out_dir + "/blobs/sha256/" + layer_hex, ec);
  if (ec) return absl::InternalError(ec.message());
  const std::string diff_id = "sha256:" + layer_hex;
  nlohmann::json config = {
      {"architecture", "amd64"},
      {"os", "linux"},
      {"config",
       {{"Env",
         {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}},
        // As the busybox image: PID 1 sleeps until SIGTERM.
        {"Cmd",
         {"/bin/sh", "-c",
          "trap 'exit 0' TERM; while :; do sleep 3600 & wait $!; done"}},
        {"WorkingDir", "/"}}},
      {"rootfs", {{"type", "layers"}, {"diff_ids", {diff_id}}}}};
  const std::string blobs = out_dir + "/blobs/sha256";
  ASSIGN_OR_RETURN(nlohmann::json config_desc,
                   PutBlob(blobs, "application/vnd.oci.image.config.v1+json",
                           config.dump()));
  nlohmann::json manifest = {
      {"schemaVersion", 2},
      {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
      {"config", config_desc},
      {"layers",
       {{{"mediaType", "application/vnd.oci.image.layer.v1.tar"},
         {"digest", diff_id},
         {"size", layer_bytes}}}}};
  ASSIGN_OR_RETURN(nlohmann::json manifest_desc,
                   PutBlob(blobs, "application/vnd.oci.image.manifest.v1+json",
                           manifest.dump()));
  manifest_desc["annotations"] = {
      {"io.containerd.image.name", image_name},
      {"org.opencontainers.image.ref.name", image_name}};
  nlohmann::json index = {{"schemaVersion", 2}, {"manifests", {manifest_desc}}};
  RETURN_IF_ERROR(WriteFileAtomic(out_dir + "/index.json", index.dump(), 0644));
  return WriteFileAtomic(out_dir + "/oci-layout",
                         R"({"imageLayoutVersion":"1.0.0"})", 0644);
}

}  // namespace cloonix
