#include "services/cnt_runner/cnt_runner.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/exec.h"
#include "common/grpc_status.h"
#include "common/guest_files.h"
#include "common/names.h"
#include "common/netns.h"
#include "common/notify_once.h"
#include "common/process.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "services/cnt_runner/oci_spec.h"
#include "services/cnt_runner/registry_client.h"
#include "services/cnt_runner/rootfs_image.h"
#include "spdlog/spdlog.h"

namespace cloonix {

namespace crv1 = cloonix::cntrunner::v1;

namespace {
constexpr char kLabelNet[] = "cloonix.net";

// The cgroup dirs runc made for the net (cgroupsPath /cloonix/<net>/<name>)
// in every hierarchy (v1 controllers and the v2 "unified" mount). rmdir only:
// a cgroup that still holds a process stays.
void RemoveCgroupDirs(const std::string& net, const std::string& name) {
  std::error_code ec;
  for (const auto& h :
       std::filesystem::directory_iterator("/sys/fs/cgroup", ec)) {
    std::filesystem::path net_dir = h.path() / "cloonix" / net;
    if (!name.empty()) {
      rmdir((net_dir / name).c_str());
      continue;
    }
    std::error_code ec2;
    for (const auto& c : std::filesystem::directory_iterator(net_dir, ec2)) {
      if (c.is_directory(ec2)) rmdir(c.path().c_str());
    }
    rmdir(net_dir.c_str());
  }
}

constexpr char kLabelEths[] = "cloonix.eths";

// 6 bytes of lowercase hex separated by ':' (the runners compare MACs as
// text).
absl::Status ValidateLowerMac(const std::string& mac) {
  bool ok = mac.size() == 17;
  for (size_t i = 0; ok && i < mac.size(); ++i) {
    const char c = mac[i];
    ok = i % 3 == 2 ? c == ':'
                    : ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  }
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "MAC \"", mac, "\" must look like 02:00:00:00:00:01 (lowercase hex)"));
  }
  return absl::OkStatus();
}

std::string EthsToJson(const crv1::CreateContainerRequest& req) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& e : req.eths()) {
    j.push_back({{"index", e.index()}, {"port", e.port()}, {"mac", e.mac()}});
  }
  return j.dump();
}
}  // namespace

absl::StatusOr<ImageInfo> CntRunner::ResolveImage(const std::string& image) {
  // A path: absolute or relative, a .tar, or what exists on disk; a
  // registry reference (host/repo:tag, repo:tag) is pulled once; a bare name
  // is the net's containerd image, else <bulk>/<name>.tar, else a rootfs
  // <bulk>/<name> (a directory or a .zip, Cloonix's cvm and zip images).
  bool is_path = image[0] == '/' || image[0] == '.' ||
                 absl::EndsWith(image, ".tar") ||
                 std::filesystem::exists(image);
  if (!is_path) {
    auto info = runtime_->GetImage(image);
    if (info.ok() || info.status().code() != absl::StatusCode::kNotFound)
      return info;
    if (LooksLikeImageRef(image) && !absl::EndsWith(image, ".zip")) {
      ASSIGN_OR_RETURN(std::string name, runtime_->PullImage(image));
      return runtime_->GetImage(name);
    }
  }
  std::string path =
      is_path ? image : absl::StrCat(config_.bulk_dir, "/", image, ".tar");
  if (!is_path && !std::filesystem::exists(path) &&
      IsRootfsPath(absl::StrCat(config_.bulk_dir, "/", image))) {
    path = absl::StrCat(config_.bulk_dir, "/", image);
  }
  if (!std::filesystem::exists(path)) {
    return absl::NotFoundError(absl::StrCat(
        "image \"", image,
        "\" not found: not in the net's containerd, no tarball ", path,
        " (build one with tools/images/build-busybox-oci.sh), no rootfs "
        "directory or .zip ",
        config_.bulk_dir, "/", image));
  }
  if (IsRootfsPath(path)) return ImportRootfs(path);
  if (std::filesystem::is_directory(path) &&
      !std::filesystem::exists(path + "/index.json")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "image ", path,
        " is a directory that is neither an OCI image layout (no index.json) "
        "nor a root filesystem (no etc with bin, sbin or usr)"));
  }
  ASSIGN_OR_RETURN(std::string name, runtime_->ImportOciTarball(path));
  return runtime_->GetImage(name);
}

absl::StatusOr<ImageInfo> CntRunner::ImportRootfs(const std::string& path) {
  ASSIGN_OR_RETURN(std::string name, RootfsImageName(path));
  auto known = runtime_->GetImage(name);
  if (known.ok() || known.status().code() != absl::StatusCode::kNotFound) {
    return known;  // imported before, the tree unchanged since
  }
  const std::string layout = absl::StrCat(config_.work_dir, "/rootfs-import");
  std::error_code ec;
  std::filesystem::remove_all(layout, ec);  // a create cut short
  spdlog::info("importing rootfs {} as image {}", path, name);
  absl::Status made = MakeRootfsLayout(path, name, layout, kMaxRootfsBytes);
  absl::StatusOr<std::string> imported =
      made.ok() ? runtime_->ImportOciTarball(layout)
                : absl::StatusOr<std::string>(made);
  std::filesystem::remove_all(layout, ec);
  if (!imported.ok()) return imported.status();
  return runtime_->GetImage(*imported);
}

absl::Status CntRunner::PlumbEths(const std::string& cnt_netns,
                                  const crv1::CreateContainerRequest& req) {
  const std::string net_netns = NetNetns(config_.net);
  for (const auto& e : req.eths()) {
    RETURN_IF_ERROR(links_->AddVeth(cnt_netns, absl::StrCat("eth", e.index()),
                                    e.mac(), e.port(), net_netns));
  }
  return absl::OkStatus();
}

absl::StatusOr<crv1::Container> CntRunner::Create(
    const crv1::CreateContainerRequest& req) {
  RETURN_IF_ERROR(ValidateName(req.name(), "container name"));
  if (req.image().empty())
    return absl::InvalidArgumentError("image is required");
  std::set<uint32_t> indexes;
  for (const auto& e : req.eths()) {
    RETURN_IF_ERROR(ValidateIfname(e.port()));
    RETURN_IF_ERROR(ValidateLowerMac(e.mac()));
    if (e.index() > 31 || !indexes.insert(e.index()).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "eth index ", e.index(), " is out of range or repeated"));
    }
    if (links_->LinkExists(NetNetns(config_.net), e.port())) {
      return absl::AlreadyExistsError(
          absl::StrCat("port ", e.port(), " already exists"));
    }
  }
  if (req.mounts_size() > 32) {
    return absl::InvalidArgumentError(absl::StrCat(
        req.mounts_size(), " mounts; a container takes at most 32"));
  }
  std::set<std::string> guest_paths;
  for (const auto& m : req.mounts()) {
    RETURN_IF_ERROR(ValidateBindMountPaths(m.host_path(), m.guest_path()));
    struct stat st;
    if (stat(m.host_path().c_str(), &st) != 0) {
      return absl::NotFoundError(absl::StrCat("mount host path ", m.host_path(),
                                              ": ", std::strerror(errno)));
    }
    if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
      return absl::InvalidArgumentError(
          absl::StrCat("mount host path ", m.host_path(),
                       " is neither a directory nor a regular file"));
    }
    if (!guest_paths.insert(m.guest_path()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("mount guest path ", m.guest_path(), " given twice"));
    }
  }
  const std::vector<std::string> file_dirs(req.files().dirs().begin(),
                                           req.files().dirs().end());
  const std::vector<std::string> file_deletes(req.files().delete_().begin(),
                                              req.files().delete_().end());
  RETURN_IF_ERROR(ValidateGuestFiles(file_dirs, file_deletes));
  RETURN_IF_ERROR(CheckFileDirs(file_dirs));
  if (!links_->NetnsExists(NetNetns(config_.net))) {
    return absl::FailedPreconditionError(
        absl::StrCat("netns ", NetNetns(config_.net),
                     " does not exist: is the net's lan_switch running?"));
  }
  // The image first, outside mu_: a long import (or a bad path) must not
  // hold up the net's other containers, lists and deletes. Imports are
  // serialized among themselves only.
  ImageInfo image;
  {
    absl::MutexLock il(&image_mu_);
    ASSIGN_OR_RETURN(image, ResolveImage(req.image()));
    RETURN_IF_ERROR(runtime_->Unpack(image));
  }
  absl::ReaderMutexLock l(&mu_);
  NameLocks::Hold hold = names_.Lock(req.name());
  ASSIGN_OR_RETURN(bool exists, runtime_->Exists(req.name()));
  if (exists) {
    return absl::AlreadyExistsError(
        absl::StrCat("container ", req.name(), " already exists"));
  }

  std::string cnt_netns = ContainerNetns(config_.net, req.name());
  if (links_->NetnsExists(cnt_netns)) {
    // No container of that name (checked above, holding its name): the netns
    // is what a create cut short (a killed cnt_runner) left; remove it with its
    // veths, whose ports would refuse the new ones.
    spdlog::warn("removing netns {} left by an unfinished create", cnt_netns);
    RETURN_IF_ERROR(links_->DeleteNetns(cnt_netns));
  }
  RETURN_IF_ERROR(links_->CreateNetns(cnt_netns));
  auto rollback = [&](absl::Status s) -> absl::StatusOr<crv1::Container> {
    spdlog::warn("create {} failed, rolling back: {}", req.name(),
                 s.ToString());
    runtime_->Delete(req.name(), absl::Milliseconds(100)).IgnoreError();
    links_->DeleteNetns(cnt_netns).IgnoreError();
    return s;
  };
  if (auto s = PlumbEths(cnt_netns, req); !s.ok()) return rollback(s);

  OciSpecParams spec;
  spec.hostname = req.name();
  spec.args = req.command().empty()
                  ? image.args
                  : std::vector<std::string>(req.command().begin(),
                                             req.command().end());
  if (spec.args.empty()) spec.args = {"/bin/sh"};
  spec.env = image.env;
  spec.env.insert(spec.env.end(), req.env().begin(), req.env().end());
  if (!image.cwd.empty()) spec.cwd = image.cwd;
  spec.netns_path = NetnsPath(cnt_netns);
  spec.cgroups_path = absl::StrCat("/cloonix/", config_.net, "/", req.name());
  spec.proc_sys_entries = config_.proc_sys_entries;
  spec.seccomp_json = config_.seccomp_json;
  for (const auto& m : req.mounts()) {
    spec.mounts.push_back({m.host_path(), m.guest_path(), m.readonly()});
  }
  spec.privileged = req.privileged();
  if (spec.privileged) {
    spec.privileged_caps = CapabilitiesInMask(OwnBoundingSet());
    spdlog::warn("container {} is privileged: no isolation from the host",
                 req.name());
  }
  if (auto s = MakeDirs(config_.work_dir + "/cnt"); !s.ok()) return rollback(s);
  ContainerParams p;
  p.id = req.name();
  p.image = image.name;
  p.chain_id = image.chain_id;
  p.spec_json = OciSpecJson(spec);
  p.labels = {{kLabelNet, config_.net}, {kLabelEths, EthsToJson(req)}};
  p.log_path = absl::StrCat(config_.work_dir, "/cnt/", req.name(), ".log");
  if (!file_dirs.empty() || !file_deletes.empty()) {
    p.before_start = [&](uint32_t pid) {
      absl::Status s = PlaceFiles(absl::StrCat("/proc/", pid, "/root"),
                                  file_dirs, file_deletes);
      if (s.ok()) {
        spdlog::info("container {}: files from {} placed, {} paths deleted",
                     req.name(), absl::StrJoin(file_dirs, ", "),
                     file_deletes.size());
      }
      return s;
    };
  }
  auto pid = runtime_->CreateAndStart(p);
  if (!pid.ok()) return rollback(pid.status());
  spdlog::info("container {} started (pid {}, image {}, {} eths)", req.name(),
               *pid, image.name, req.eths_size());
  crv1::Container c;
  c.set_name(req.name());
  c.set_image(image.name);
  c.set_state(crv1::CONTAINER_STATE_RUNNING);
  c.set_pid(*pid);
  c.set_netns(cnt_netns);
  *c.mutable_eths() = req.eths();
  return c;
}

absl::Status CntRunner::Delete(const std::string& name) {
  RETURN_IF_ERROR(ValidateName(name, "container name"));
  absl::ReaderMutexLock l(&mu_);
  NameLocks::Hold hold = names_.Lock(name);
  ASSIGN_OR_RETURN(bool found, runtime_->Exists(name));
  std::string cnt_netns = ContainerNetns(config_.net, name);
  if (!found && !links_->NetnsExists(cnt_netns)) {
    return absl::NotFoundError(absl::StrCat("container ", name, " not found"));
  }
  if (found) RETURN_IF_ERROR(runtime_->Delete(name));
  // Deleting the netns deletes the veths, hence their peers in the net's netns.
  RETURN_IF_ERROR(links_->DeleteNetns(cnt_netns));
  unlink(absl::StrCat(config_.work_dir, "/cnt/", name, ".log").c_str());
  RemoveCgroupDirs(config_.net, name);
  spdlog::info("container {} deleted", name);
  return absl::OkStatus();
}

absl::Status CntRunner::RemoveOrphanNetns() {
  absl::MutexLock l(&mu_);
  ASSIGN_OR_RETURN(auto infos, runtime_->List());
  std::set<std::string> known;
  for (const auto& i : infos) known.insert(ContainerNetns(config_.net, i.id));
  for (const auto& ns : links_->ListNetns(ContainerNetnsPrefix(config_.net))) {
    if (known.count(ns)) continue;
    spdlog::warn("removing netns {}: no container of the net owns it", ns);
    RETURN_IF_ERROR(links_->DeleteNetns(ns));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<crv1::Container>> CntRunner::List() {
  ASSIGN_OR_RETURN(auto infos, runtime_->List());
  std::vector<crv1::Container> out;
  for (const auto& i : infos) {
    auto net = i.labels.find(kLabelNet);
    if (net == i.labels.end() || net->second != config_.net) continue;
    crv1::Container c;
    c.set_name(i.id);
    c.set_image(i.image);
    c.set_pid(i.pid);
    c.set_state(i.running ? crv1::CONTAINER_STATE_RUNNING
                          : crv1::CONTAINER_STATE_STOPPED);
    c.set_netns(ContainerNetns(config_.net, i.id));
    auto eths = i.labels.find(kLabelEths);
    if (eths != i.labels.end()) {
      auto j = nlohmann::json::parse(eths->second, nullptr, false);
      if (j.is_array()) {
        // A label edited by hand must not throw (value() does on a type
        // mismatch): fields of the wrong type are skipped.
        for (const auto& e : j) {
          if (!e.is_object()) continue;
          auto* ce = c.add_eths();
          if (e.contains("index") && e["index"].is_number_unsigned())
            ce->set_index(e["index"].get<uint32_t>());
          if (e.contains("port") && e["port"].is_string())
            ce->set_port(e["port"].get<std::string>());
          if (e.contains("mac") && e["mac"].is_string())
            ce->set_mac(e["mac"].get<std::string>());
        }
      }
    }
    out.push_back(std::move(c));
  }
  return out;
}

absl::StatusOr<std::string> CntRunner::ImportImage(const std::string& path) {
  if (path.empty() || path[0] != '/') {
    return absl::InvalidArgumentError("path must be absolute");
  }
  absl::MutexLock l(&image_mu_);
  return runtime_->ImportOciTarball(path);
}

absl::Status CntRunner::Teardown(
    const std::function<absl::Status()>& stop_runtime) {
  spdlog::info("teardown: deleting containers, stopping containerd");
  absl::Status result;
  absl::MutexLock l(&mu_);
  auto list = List();
  if (list.ok()) {
    for (const auto& c : *list) {
      if (auto s = runtime_->Delete(c.name()); !s.ok()) result.Update(s);
      links_->DeleteNetns(ContainerNetns(config_.net, c.name())).IgnoreError();
    }
  } else {
    result.Update(list.status());
  }
  // Whatever else is named for the net (netns of creates cut short).
  for (const auto& ns : links_->ListNetns(ContainerNetnsPrefix(config_.net))) {
    result.Update(links_->DeleteNetns(ns));
  }
  if (stop_runtime) result.Update(stop_runtime());
  RemoveCgroupDirs(config_.net, "");
  std::error_code ec;
  std::filesystem::remove_all(config_.work_dir + "/cnt", ec);
  return result;
}

}  // namespace cloonix
