#include "services/cnt_runner/containerd_client.h"

#include <openssl/sha.h>
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/atomic_file.h"
#include "common/exec.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"
#include "github.com/containerd/containerd/api/services/containers/v1/containers.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/content/v1/content.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/diff/v1/diff.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/images/v1/images.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/snapshots/v1/snapshots.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/tasks/v1/tasks.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace cloonix {

namespace ctrs = containerd::services::containers::v1;
namespace content = containerd::services::content::v1;
namespace diffs = containerd::services::diff::v1;
namespace images = containerd::services::images::v1;
namespace snaps = containerd::services::snapshots::v1;
namespace tasks = containerd::services::tasks::v1;

namespace {
constexpr char kSnapshotter[] = "overlayfs";
constexpr char kGcRoot[] = "containerd.io/gc.root";
constexpr char kSpecType[] =
    "types.containerd.io/opencontainers/runtime-spec/1/Spec";

bool IsNotFound(const grpc::Status& s) {
  return s.error_code() == grpc::NOT_FOUND;
}
std::string Now() {
  return absl::FormatTime(absl::RFC3339_sec, absl::Now(), absl::UTCTimeZone());
}
}  // namespace

std::vector<std::string> ChainIds(const std::vector<std::string>& diff_ids) {
  std::vector<std::string> chain;
  for (const auto& d : diff_ids) {
    chain.push_back(chain.empty() ? d : Sha256Digest(chain.back() + " " + d));
  }
  return chain;
}

ContainerdClient::ContainerdClient(std::shared_ptr<grpc::Channel> channel,
                                   std::string ns)
    : channel_(std::move(channel)), ns_(std::move(ns)) {}

std::unique_ptr<grpc::ClientContext> ContainerdClient::Ctx(
    absl::Duration timeout) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  ctx->AddMetadata("containerd-namespace", ns_);
  return ctx;
}

absl::StatusOr<std::string> ContainerdClient::ReadBlob(
    const std::string& digest) {
  auto stub = content::Content::NewStub(channel_);
  auto ctx = Ctx();
  content::ReadContentRequest req;
  req.set_digest(digest);
  auto reader = stub->Read(ctx.get(), req);
  content::ReadContentResponse resp;
  std::string data;
  while (reader->Read(&resp)) data += resp.data();
  RETURN_IF_ERROR(
      FromGrpcStatus(reader->Finish(), absl::StrCat("read ", digest, ": ")));
  return data;
}

absl::Status ContainerdClient::WriteBlob(const std::string& digest,
                                         const std::string& data) {
  auto stub = content::Content::NewStub(channel_);
  {
    auto ctx = Ctx();
    content::InfoRequest req;
    req.set_digest(digest);
    content::InfoResponse resp;
    if (stub->Info(ctx.get(), req, &resp).ok()) return absl::OkStatus();
  }
  auto ctx = Ctx(absl::Minutes(5));
  auto stream = stub->Write(ctx.get());
  content::WriteContentResponse resp;
  constexpr size_t kChunk = 1 << 20;
  size_t off = 0;
  do {
    content::WriteContentRequest req;
    req.set_action(content::WRITE);
    req.set_ref(absl::StrCat("cloonix-import-", digest));
    req.set_total(data.size());
    req.set_expected(digest);
    req.set_offset(off);
    size_t n = std::min(kChunk, data.size() - off);
    req.set_data(data.substr(off, n));
    off += n;
    if (!stream->Write(req) || !stream->Read(&resp)) break;
  } while (off < data.size());
  content::WriteContentRequest commit;
  commit.set_action(content::COMMIT);
  commit.set_ref(absl::StrCat("cloonix-import-", digest));
  commit.set_total(data.size());
  commit.set_expected(digest);
  commit.set_offset(data.size());
  (*commit.mutable_labels())[kGcRoot] = Now();
  stream->Write(commit);
  stream->WritesDone();
  // containerd answers every message and, after COMMIT, once more (its
  // handler's deferred Send): drain everything before Finish.
  while (stream->Read(&resp)) {
  }
  grpc::Status s = stream->Finish();
  if (!s.ok() && s.error_code() != grpc::ALREADY_EXISTS) {
    return FromGrpcStatus(s, absl::StrCat("write ", digest, ": "));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ContainerdClient::ImportOciTarball(
    const std::string& path) {
  try {
    return ImportOciTarballUnchecked(path);
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is not a valid OCI image layout: ", e.what()));
  }
}

absl::StatusOr<ImageInfo> ContainerdClient::GetImage(const std::string& name) {
  try {
    return GetImageUnchecked(name);
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(
        "image ", name, " has an invalid manifest or config: ", e.what()));
  }
}

absl::StatusOr<std::string> ContainerdClient::ImportOciTarballUnchecked(
    const std::string& path) {
  // Only a regular file (an OCI layout tarball) or a directory (an OCI
  // layout): a device, a FIFO or a socket would be read for ever.
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    return absl::NotFoundError(
        absl::StrCat("image tarball ", path, " does not exist"));
  }
  const bool layout_dir = S_ISDIR(st.st_mode);
  if (!layout_dir && !S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "image ", path,
        " is not a regular file (an OCI layout tarball) nor an OCI layout "
        "directory"));
  }
  if (!layout_dir && static_cast<uint64_t>(st.st_size) > kMaxImageBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("image ", path, " is ", st.st_size, " bytes; at most ",
                     kMaxImageBytes, " are imported"));
  }
  std::string tmp = path;
  std::error_code ec;
  struct Cleanup {
    std::string d;
    ~Cleanup() {
      std::error_code ec;
      if (!d.empty()) std::filesystem::remove_all(d, ec);
    }
  } cleanup{""};
  if (!layout_dir) {
    tmp = std::filesystem::temp_directory_path() /
          absl::StrFormat("cloonix-import-%d-%d", getpid(), rand());
    std::filesystem::create_directories(tmp, ec);
    if (ec) {
      return absl::InternalError(
          absl::StrCat("mkdir ", tmp, ": ", ec.message()));
    }
    cleanup.d = tmp;
    // 2 minutes plus 1 s per 20 MB: tar of a sane image never takes that.
    absl::Duration limit =
        absl::Seconds(120) + absl::Seconds(st.st_size / (20 << 20));
    RETURN_IF_ERROR(ExecOk({"tar", "-xf", path, "-C", tmp},
                           absl::StatusCode::kInvalidArgument, limit)
                        .status());
  }
  auto index_text = ReadFile(tmp + "/index.json");
  if (!index_text.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is not an OCI image layout (no index.json)"));
  }
  nlohmann::json index = nlohmann::json::parse(*index_text, nullptr, false);
  if (index.is_discarded() || !index.contains("manifests") ||
      index["manifests"].empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": index.json has no manifest"));
  }
  const auto& m = index["manifests"][0];
  std::string name;
  if (m.contains("annotations")) {
    name = m["annotations"].value("io.containerd.image.name", "");
    if (name.empty())
      name = m["annotations"].value("org.opencontainers.image.ref.name", "");
  }
  if (name.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": the manifest has no image name annotation"));
  }
  std::string blobs = tmp + "/blobs/sha256";
  if (!std::filesystem::is_directory(blobs)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": no blobs/sha256"));
  }
  for (const auto& entry : std::filesystem::directory_iterator(blobs)) {
    ASSIGN_OR_RETURN(std::string data, ReadFile(entry.path()));
    std::string digest = "sha256:" + entry.path().filename().string();
    if (Sha256Digest(data) != digest) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": blob ", digest, " is corrupt"));
    }
    RETURN_IF_ERROR(WriteBlob(digest, data));
  }
  RETURN_IF_ERROR(PutImage(name, m.value("mediaType", ""),
                           m.value("digest", ""), m.value("size", 0)));
  spdlog::info("imported image {} from {}", name, path);
  return name;
}

absl::Status ContainerdClient::PutImage(const std::string& name,
                                        const std::string& media_type,
                                        const std::string& digest,
                                        uint64_t size) {
  auto stub = images::Images::NewStub(channel_);
  images::Image image;
  image.set_name(name);
  image.mutable_target()->set_media_type(media_type);
  image.mutable_target()->set_digest(digest);
  image.mutable_target()->set_size(size);
  images::CreateImageRequest creq;
  *creq.mutable_image() = image;
  images::CreateImageResponse cresp;
  auto ctx = Ctx();
  grpc::Status s = stub->Create(ctx.get(), creq, &cresp);
  if (s.error_code() == grpc::ALREADY_EXISTS) {
    images::UpdateImageRequest ureq;
    *ureq.mutable_image() = image;
    images::UpdateImageResponse uresp;
    auto uctx = Ctx();
    s = stub->Update(uctx.get(), ureq, &uresp);
  }
  return FromGrpcStatus(s, "create image: ");
}

absl::StatusOr<std::string> ContainerdClient::PullImage(
    const std::string& ref_text) {
  ASSIGN_OR_RETURN(ImageRef ref, ParseImageRef(ref_text));
  spdlog::info("pulling {} ({})", ref.String(),
               ref.insecure ? "http" : "https");
  absl::Time t0 = absl::Now();
  ASSIGN_OR_RETURN(
      PulledImage img,
      cloonix::PullImage(
          ref,
          [this](const std::string& digest, const std::string& data) {
            return WriteBlob(digest, data);
          },
          [](const std::string& line) { spdlog::info("pull {}", line); }));
  RETURN_IF_ERROR(PutImage(ref_text, img.media_type, img.digest, img.size));
  spdlog::info("pulled {}: {} blobs, {} bytes in {}", ref.String(), img.blobs,
               img.bytes, absl::FormatDuration(absl::Now() - t0));
  return ref_text;
}

absl::StatusOr<ImageInfo> ContainerdClient::GetImageUnchecked(
    const std::string& name) {
  auto stub = images::Images::NewStub(channel_);
  images::GetImageRequest req;
  req.set_name(name);
  images::GetImageResponse resp;
  auto ctx = Ctx();
  grpc::Status s = stub->Get(ctx.get(), req, &resp);
  if (IsNotFound(s))
    return absl::NotFoundError(absl::StrCat("image ", name, " not found"));
  RETURN_IF_ERROR(FromGrpcStatus(s, "get image: "));
  ASSIGN_OR_RETURN(std::string mtext, ReadBlob(resp.image().target().digest()));
  nlohmann::json manifest = nlohmann::json::parse(mtext, nullptr, false);
  if (manifest.is_discarded())
    return absl::InvalidArgumentError("image manifest is not JSON");
  if (manifest.contains("manifests")) {  // an index: take the linux/amd64 one
    std::string digest;
    for (const auto& e : manifest["manifests"]) {
      if (!e.contains("platform") ||
          (e["platform"].value("os", "") == "linux" &&
           e["platform"].value("architecture", "") == "amd64")) {
        digest = e.value("digest", "");
        break;
      }
    }
    if (digest.empty())
      return absl::InvalidArgumentError("image has no linux/amd64 manifest");
    ASSIGN_OR_RETURN(mtext, ReadBlob(digest));
    manifest = nlohmann::json::parse(mtext, nullptr, false);
  }
  ASSIGN_OR_RETURN(std::string ctext,
                   ReadBlob(manifest["config"].value("digest", "")));
  nlohmann::json config = nlohmann::json::parse(ctext, nullptr, false);
  if (config.is_discarded())
    return absl::InvalidArgumentError("image config is not JSON");
  std::vector<std::string> diff_ids =
      config["rootfs"].value("diff_ids", std::vector<std::string>{});
  if (diff_ids.empty() || diff_ids.size() != manifest["layers"].size()) {
    return absl::InvalidArgumentError(
        "image config and manifest disagree on layers");
  }
  ImageInfo info;
  info.name = name;
  info.chain_ids = ChainIds(diff_ids);
  info.chain_id = info.chain_ids.back();
  if (config.contains("config") && config["config"].is_object()) {
    const auto& c = config["config"];
    if (c.contains("Entrypoint") && c["Entrypoint"].is_array()) {
      info.args = c["Entrypoint"].get<std::vector<std::string>>();
    }
    if (c.contains("Cmd") && c["Cmd"].is_array()) {
      for (const auto& a : c["Cmd"]) info.args.push_back(a.get<std::string>());
    }
    if (c.contains("Env") && c["Env"].is_array()) {
      info.env = c["Env"].get<std::vector<std::string>>();
    }
    info.cwd = c.value("WorkingDir", "");
  }
  for (const auto& l : manifest["layers"]) {
    info.layers.push_back({l.value("digest", ""), l.value("mediaType", ""),
                           l.value("size", int64_t{0})});
  }
  return info;
}

absl::Status ContainerdClient::Unpack(const ImageInfo& image) {
  const auto& layers = image.layers;
  const auto& chain = image.chain_ids;
  auto sn = snaps::Snapshots::NewStub(channel_);
  auto df = diffs::Diff::NewStub(channel_);
  for (size_t i = 0; i < layers.size(); ++i) {
    {
      snaps::StatSnapshotRequest req;
      req.set_snapshotter(kSnapshotter);
      req.set_key(chain[i]);
      snaps::StatSnapshotResponse resp;
      auto ctx = Ctx();
      if (sn->Stat(ctx.get(), req, &resp).ok()) continue;
    }
    std::string key = absl::StrCat("cloonix-extract-", getpid(), "-", chain[i]);
    snaps::PrepareSnapshotRequest preq;
    preq.set_snapshotter(kSnapshotter);
    preq.set_key(key);
    if (i > 0) preq.set_parent(chain[i - 1]);
    snaps::PrepareSnapshotResponse presp;
    auto pctx = Ctx();
    RETURN_IF_ERROR(FromGrpcStatus(sn->Prepare(pctx.get(), preq, &presp),
                                   "prepare snapshot: "));
    auto remove_key = [&] {
      snaps::RemoveSnapshotRequest r;
      r.set_snapshotter(kSnapshotter);
      r.set_key(key);
      google::protobuf::Empty e;
      auto c = Ctx();
      sn->Remove(c.get(), r, &e);
    };
    diffs::ApplyRequest areq;
    areq.mutable_diff()->set_digest(layers[i].digest);
    areq.mutable_diff()->set_media_type(layers[i].media_type);
    areq.mutable_diff()->set_size(layers[i].size);
    *areq.mutable_mounts() = presp.mounts();
    diffs::ApplyResponse aresp;
    auto actx = Ctx(absl::Minutes(5));
    grpc::Status s = df->Apply(actx.get(), areq, &aresp);
    if (!s.ok()) {
      remove_key();
      return FromGrpcStatus(s, "apply layer: ");
    }
    snaps::CommitSnapshotRequest creq;
    creq.set_snapshotter(kSnapshotter);
    creq.set_name(chain[i]);
    creq.set_key(key);
    (*creq.mutable_labels())[kGcRoot] = Now();
    google::protobuf::Empty e;
    auto cctx = Ctx();
    s = sn->Commit(cctx.get(), creq, &e);
    if (!s.ok() && s.error_code() != grpc::ALREADY_EXISTS) {
      remove_key();
      return FromGrpcStatus(s, "commit snapshot: ");
    }
    spdlog::info("unpacked layer {} of {}", i + 1, image.name);
  }
  return absl::OkStatus();
}

absl::StatusOr<uint32_t> ContainerdClient::CreateAndStart(
    const ContainerParams& p) {
  auto cs = ctrs::Containers::NewStub(channel_);
  auto sn = snaps::Snapshots::NewStub(channel_);
  auto ts = tasks::Tasks::NewStub(channel_);
  ctrs::CreateContainerRequest creq;
  auto* c = creq.mutable_container();
  c->set_id(p.id);
  c->set_image(p.image);
  for (const auto& [k, v] : p.labels) (*c->mutable_labels())[k] = v;
  c->mutable_runtime()->set_name("io.containerd.runc.v2");
  c->mutable_spec()->set_type_url(kSpecType);
  c->mutable_spec()->set_value(p.spec_json);
  c->set_snapshotter(kSnapshotter);
  c->set_snapshot_key(p.id);
  ctrs::CreateContainerResponse cresp;
  auto ctx = Ctx();
  grpc::Status s = cs->Create(ctx.get(), creq, &cresp);
  if (s.error_code() == grpc::ALREADY_EXISTS) {
    return absl::AlreadyExistsError(
        absl::StrCat("container ", p.id, " already exists"));
  }
  RETURN_IF_ERROR(FromGrpcStatus(s, "create container: "));
  auto fail = [&](absl::Status st) -> absl::StatusOr<uint32_t> {
    Delete(p.id, absl::Milliseconds(100)).IgnoreError();
    return st;
  };
  snaps::PrepareSnapshotRequest preq;
  preq.set_snapshotter(kSnapshotter);
  preq.set_key(p.id);
  preq.set_parent(p.chain_id);
  snaps::PrepareSnapshotResponse presp;
  auto pctx = Ctx();
  s = sn->Prepare(pctx.get(), preq, &presp);
  if (!s.ok()) return fail(FromGrpcStatus(s, "prepare snapshot: "));
  tasks::CreateTaskRequest treq;
  treq.set_container_id(p.id);
  *treq.mutable_rootfs() = presp.mounts();
  treq.set_stdout("file://" + p.log_path);
  treq.set_stderr("file://" + p.log_path);
  tasks::CreateTaskResponse tresp;
  auto tctx = Ctx();
  s = ts->Create(tctx.get(), treq, &tresp);
  if (!s.ok()) return fail(FromGrpcStatus(s, "create task: "));
  if (p.before_start) {
    // runc made the namespaces and mounted the root; the process waits.
    if (absl::Status b = p.before_start(tresp.pid()); !b.ok()) return fail(b);
  }
  tasks::StartRequest sreq;
  sreq.set_container_id(p.id);
  tasks::StartResponse sresp;
  auto sctx = Ctx();
  s = ts->Start(sctx.get(), sreq, &sresp);
  if (!s.ok()) return fail(FromGrpcStatus(s, "start task: "));
  return tresp.pid();
}

absl::StatusOr<bool> ContainerdClient::TaskStopped(const std::string& id) {
  auto ts = tasks::Tasks::NewStub(channel_);
  tasks::GetRequest req;
  req.set_container_id(id);
  tasks::GetResponse resp;
  auto ctx = Ctx();
  grpc::Status s = ts->Get(ctx.get(), req, &resp);
  if (IsNotFound(s)) return true;
  RETURN_IF_ERROR(FromGrpcStatus(s, "get task: "));
  return resp.process().status() == containerd::v1::types::STOPPED;
}

absl::Status ContainerdClient::Delete(const std::string& id,
                                      absl::Duration grace) {
  auto ts = tasks::Tasks::NewStub(channel_);
  auto kill = [&](int sig) {
    tasks::KillRequest req;
    req.set_container_id(id);
    req.set_signal(sig);
    req.set_all(true);
    google::protobuf::Empty e;
    auto ctx = Ctx();
    return ts->Kill(ctx.get(), req, &e);
  };
  auto wait_stopped = [&](absl::Duration d) {
    absl::Time deadline = absl::Now() + d;
    do {
      auto st = TaskStopped(id);
      if (st.ok() && *st) return true;
      absl::SleepFor(absl::Milliseconds(20));
    } while (absl::Now() < deadline);
    return false;
  };
  // Kill answers NOT_FOUND both when there is no task and when its process
  // already exited: the task must be deleted in both cases.
  if (!IsNotFound(kill(SIGTERM))) {
    if (!wait_stopped(grace)) {
      kill(SIGKILL);
      wait_stopped(absl::Seconds(5));
    }
  }
  {
    tasks::DeleteTaskRequest req;
    req.set_container_id(id);
    tasks::DeleteResponse resp;
    auto ctx = Ctx();
    grpc::Status s = ts->Delete(ctx.get(), req, &resp);
    if (!s.ok() && !IsNotFound(s)) return FromGrpcStatus(s, "delete task: ");
  }
  {
    auto cs = ctrs::Containers::NewStub(channel_);
    ctrs::DeleteContainerRequest req;
    req.set_id(id);
    google::protobuf::Empty e;
    auto ctx = Ctx();
    grpc::Status s = cs->Delete(ctx.get(), req, &e);
    if (!s.ok() && !IsNotFound(s))
      return FromGrpcStatus(s, "delete container: ");
  }
  {
    auto sn = snaps::Snapshots::NewStub(channel_);
    snaps::RemoveSnapshotRequest req;
    req.set_snapshotter(kSnapshotter);
    req.set_key(id);
    google::protobuf::Empty e;
    auto ctx = Ctx();
    grpc::Status s = sn->Remove(ctx.get(), req, &e);
    if (!s.ok() && !IsNotFound(s))
      return FromGrpcStatus(s, "remove snapshot: ");
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> ContainerdClient::Exists(const std::string& id) {
  auto cs = ctrs::Containers::NewStub(channel_);
  ctrs::GetContainerRequest req;
  req.set_id(id);
  ctrs::GetContainerResponse resp;
  auto ctx = Ctx();
  grpc::Status s = cs->Get(ctx.get(), req, &resp);
  if (IsNotFound(s)) return false;
  RETURN_IF_ERROR(FromGrpcStatus(s, "get container: "));
  return true;
}

absl::StatusOr<std::vector<ContainerInfo>> ContainerdClient::List() {
  auto cs = ctrs::Containers::NewStub(channel_);
  ctrs::ListContainersRequest req;
  ctrs::ListContainersResponse resp;
  auto ctx = Ctx();
  RETURN_IF_ERROR(
      FromGrpcStatus(cs->List(ctx.get(), req, &resp), "list containers: "));
  auto ts = tasks::Tasks::NewStub(channel_);
  std::vector<ContainerInfo> out;
  for (const auto& c : resp.containers()) {
    ContainerInfo info;
    info.id = c.id();
    info.image = c.image();
    info.labels = {c.labels().begin(), c.labels().end()};
    tasks::GetRequest treq;
    treq.set_container_id(c.id());
    tasks::GetResponse tresp;
    auto tctx = Ctx();
    grpc::Status gs = ts->Get(tctx.get(), treq, &tresp);
    if (gs.ok()) {
      info.pid = tresp.process().pid();
      info.running = tresp.process().status() == containerd::v1::types::RUNNING;
    } else if (!IsNotFound(gs)) {
      // Unknown is not "stopped": a caller would recreate a healthy container.
      return FromGrpcStatus(gs, "get task: ");
    }
    out.push_back(std::move(info));
  }
  return out;
}

absl::StatusOr<std::string> ContainerdClient::ProcessSpec(
    const std::string& id) {
  auto cs = ctrs::Containers::NewStub(channel_);
  ctrs::GetContainerRequest req;
  req.set_id(id);
  ctrs::GetContainerResponse resp;
  auto ctx = Ctx();
  grpc::Status s = cs->Get(ctx.get(), req, &resp);
  if (IsNotFound(s)) {
    return absl::NotFoundError(
        absl::StrCat("container ", id, " does not exist"));
  }
  RETURN_IF_ERROR(FromGrpcStatus(s, "get container: "));
  auto spec = nlohmann::json::parse(resp.container().spec().value(), nullptr,
                                    /*allow_exceptions=*/false);
  if (spec.is_discarded() || !spec.contains("process")) {
    return absl::InternalError(
        absl::StrCat("container ", id, " has no readable OCI process"));
  }
  return spec["process"].dump();
}

absl::StatusOr<uint32_t> ContainerdClient::TaskPid(const std::string& id) {
  auto ts = tasks::Tasks::NewStub(channel_);
  tasks::GetRequest req;
  req.set_container_id(id);
  tasks::GetResponse resp;
  auto ctx = Ctx();
  grpc::Status s = ts->Get(ctx.get(), req, &resp);
  if (IsNotFound(s) ||
      (s.ok() && resp.process().status() != containerd::v1::types::RUNNING)) {
    return absl::FailedPreconditionError(
        absl::StrCat("container ", id, " is not running"));
  }
  RETURN_IF_ERROR(FromGrpcStatus(s, "get task: "));
  return resp.process().pid();
}

absl::Status ContainerdClient::ExecStart(const std::string& id,
                                         const std::string& exec_id,
                                         const std::string& process_json,
                                         bool terminal,
                                         const std::string& stdin_path,
                                         const std::string& stdout_path,
                                         const std::string& stderr_path) {
  auto ts = tasks::Tasks::NewStub(channel_);
  tasks::ExecProcessRequest req;
  req.set_container_id(id);
  req.set_exec_id(exec_id);
  req.set_terminal(terminal);
  req.set_stdin(stdin_path);
  req.set_stdout(stdout_path);
  req.set_stderr(stderr_path);
  req.mutable_spec()->set_type_url(
      "types.containerd.io/opencontainers/runtime-spec/1/Process");
  req.mutable_spec()->set_value(process_json);
  google::protobuf::Empty e;
  auto ctx = Ctx();
  RETURN_IF_ERROR(FromGrpcStatus(ts->Exec(ctx.get(), req, &e), "exec: "));
  tasks::StartRequest sreq;
  sreq.set_container_id(id);
  sreq.set_exec_id(exec_id);
  tasks::StartResponse sresp;
  auto sctx = Ctx();
  grpc::Status s = ts->Start(sctx.get(), sreq, &sresp);
  if (!s.ok()) {
    ExecDelete(id, exec_id).IgnoreError();
    return FromGrpcStatus(s, "start exec: ");
  }
  return absl::OkStatus();
}

void ContainerdClient::ExecWaitAsync(
    const std::string& id, const std::string& exec_id, grpc::ClientContext* ctx,
    std::function<void(absl::StatusOr<uint32_t>)> done) {
  struct Call {
    std::unique_ptr<tasks::Tasks::Stub> stub;
    tasks::WaitRequest req;
    tasks::WaitResponse resp;
    std::function<void(absl::StatusOr<uint32_t>)> done;
  };
  auto* call =
      new Call{tasks::Tasks::NewStub(channel_), {}, {}, std::move(done)};
  call->req.set_container_id(id);
  call->req.set_exec_id(exec_id);
  call->stub->async()->Wait(ctx, &call->req, &call->resp,
                            [call](grpc::Status s) {
                              std::unique_ptr<Call> c(call);
                              if (s.ok()) {
                                c->done(c->resp.exit_status());
                              } else {
                                c->done(FromGrpcStatus(s, "wait: "));
                              }
                            });
}

absl::Status ContainerdClient::ExecResize(const std::string& id,
                                          const std::string& exec_id,
                                          uint32_t rows, uint32_t cols) {
  auto ts = tasks::Tasks::NewStub(channel_);
  tasks::ResizePtyRequest req;
  req.set_container_id(id);
  req.set_exec_id(exec_id);
  req.set_width(cols);
  req.set_height(rows);
  google::protobuf::Empty e;
  auto ctx = Ctx();
  return FromGrpcStatus(ts->ResizePty(ctx.get(), req, &e), "resize: ");
}

absl::Status ContainerdClient::ExecCloseStdin(const std::string& id,
                                              const std::string& exec_id) {
  auto ts = tasks::Tasks::NewStub(channel_);
  tasks::CloseIORequest req;
  req.set_container_id(id);
  req.set_exec_id(exec_id);
  req.set_stdin(true);
  google::protobuf::Empty e;
  auto ctx = Ctx();
  return FromGrpcStatus(ts->CloseIO(ctx.get(), req, &e), "close stdin: ");
}

absl::Status ContainerdClient::ExecKill(const std::string& id,
                                        const std::string& exec_id) {
  auto ts = tasks::Tasks::NewStub(channel_);
  tasks::KillRequest req;
  req.set_container_id(id);
  req.set_exec_id(exec_id);
  req.set_signal(SIGKILL);
  google::protobuf::Empty e;
  auto ctx = Ctx();
  grpc::Status s = ts->Kill(ctx.get(), req, &e);
  if (IsNotFound(s)) return absl::OkStatus();
  return FromGrpcStatus(s, "kill exec: ");
}

absl::Status ContainerdClient::ExecDelete(const std::string& id,
                                          const std::string& exec_id) {
  auto ts = tasks::Tasks::NewStub(channel_);
  tasks::DeleteProcessRequest req;
  req.set_container_id(id);
  req.set_exec_id(exec_id);
  tasks::DeleteResponse resp;
  auto ctx = Ctx();
  grpc::Status s = ts->DeleteProcess(ctx.get(), req, &resp);
  if (IsNotFound(s)) return absl::OkStatus();
  return FromGrpcStatus(s, "delete exec: ");
}

}  // namespace cloonix
