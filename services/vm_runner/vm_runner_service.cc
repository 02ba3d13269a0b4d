#include "services/vm_runner/vm_runner_service.h"

#include <libvirt/libvirt.h>
#include <sys/stat.h>
#include <unistd.h>

#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/notification.h"
#include "common/atomic_file.h"
#include "common/exec.h"
#include "common/file_tree.h"
#include "common/grpc_status.h"
#include "common/guest_convert.h"
#include "common/names.h"
#include "common/netns.h"
#include "common/process.h"
#include "common/status_macros.h"
#include "services/vm_runner/domain_xml.h"
#include "spdlog/spdlog.h"

namespace cloonix {

namespace vr = ::cloonix::vmrunner::v1;

namespace {

bool FileExists(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// How an image boots: a disk (maybe with a kernel from a .boot sidecar), or
// a kernel set without disk.
struct BootPlan {
  std::string disk_base;  // "" for none
  std::string kernel, initrd, cmdline_extra;
};

absl::StatusOr<BootPlan> ResolveImage(const std::string& bulk,
                                      const std::string& image) {
  auto in_bulk = [&](const std::string& f) {
    return f.empty() || f[0] == '/' ? f : bulk + "/" + f;
  };
  BootPlan plan;
  if (absl::EndsWith(image, ".qcow2")) {
    plan.disk_base = in_bulk(image);
    if (!FileExists(plan.disk_base)) {
      return absl::NotFoundError(absl::StrCat(
          "image ", image, " not found (looked for ", plan.disk_base,
          "; build one with tools/images/build-debian-guest.sh)"));
    }
    std::string sidecar =
        plan.disk_base.substr(0, plan.disk_base.size() - 6) + ".boot";
    if (FileExists(sidecar)) {
      ASSIGN_OR_RETURN(std::string text, ReadFile(sidecar));
      for (absl::string_view line : absl::StrSplit(text, '\n')) {
        std::pair<std::string, std::string> kv =
            absl::StrSplit(line, absl::MaxSplits('=', 1));
        if (kv.first == "kernel") plan.kernel = in_bulk(kv.second);
        if (kv.first == "initrd") plan.initrd = in_bulk(kv.second);
        if (kv.first == "cmdline") plan.cmdline_extra = kv.second;
      }
    }
    return plan;
  }
  plan.kernel = in_bulk(image + "-vmlinux");
  plan.initrd = in_bulk(image + "-initrd.img");
  if (!FileExists(plan.kernel) || !FileExists(plan.initrd)) {
    return absl::NotFoundError(absl::StrCat(
        "image ", image, " not found: neither ", in_bulk(image),
        " is a .qcow2 nor ", plan.kernel, " + ", plan.initrd,
        " exist (build the tiny guest with tools/images/build-tiny-guest.sh)"));
  }
  return plan;
}

absl::Status Ip(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"ip"};
  argv.insert(argv.end(), args.begin(), args.end());
  return ExecOk(argv, absl::StatusCode::kInternal).status();
}

}  // namespace

std::string VmRunner::DomainName(const std::string& item) const {
  // '.' is not allowed in cloonix names: no two (net, item) pairs collide.
  return absl::StrCat("cloonix.", config_.net, ".", item);
}

std::string VmRunner::VmDir(const std::string& item) const {
  return absl::StrCat(config_.work_dir, "/vm/", item);
}

std::string VmRunner::TapName(uint32_t id, uint32_t eth) const {
  // Host-side name until moved into the net's netns: unique per net.
  return absl::StrCat("ct", NetTag(config_.net), id, "e", eth);
}

absl::Status VmRunner::Adopt() {
  ASSIGN_OR_RETURN(std::vector<DomainInfo> doms,
                   libvirt_->List(DomainName("")));
  absl::MutexLock l(&mu_);
  for (const auto& d : doms) {
    std::string item = d.name.substr(DomainName("").size());
    if (links_.count(item)) continue;
    spdlog::info("adopting VM {} (qemu pid {})", item, d.pid);
    links_[item] =
        std::make_shared<AgentLink>(item, VmDir(item) + "/agent.sock");
  }
  return absl::OkStatus();
}

vr::Vm VmRunner::Describe(const std::string& name, const DomainInfo* info) {
  vr::Vm vm;
  vm.set_name(name);
  if (info != nullptr) {
    vm.set_running(info->running);
    vm.set_qemu_pid(info->pid);
  }
  auto it = links_.find(name);
  bool up = it != links_.end() && it->second->Up();
  vm.set_agent(up ? vr::AGENT_STATE_UP : vr::AGENT_STATE_DOWN);
  if (it != links_.end()) vm.set_agent_hostname(it->second->Hostname());
  vm.set_domain_type(config_.domain_type);
  vm.set_console_log(VmDir(name) + "/console.log");
  return vm;
}

absl::StatusOr<vr::Vm> VmRunner::Create(const vr::CreateVmRequest& req) {
  RETURN_IF_ERROR(ValidateName(req.name(), "kvm name"));
  if (req.id() == 0 || req.id() > 99999) {
    return absl::InvalidArgumentError(
        absl::StrCat("id ", req.id(), " is out of range (1 to 99999)"));
  }
  if (req.ram_mb() < 64 || req.cpu() < 1 || req.eths_size() < 1) {
    return absl::InvalidArgumentError("ram_mb >= 64, cpu >= 1, eths >= 1");
  }
  for (const auto& e : req.eths()) {
    RETURN_IF_ERROR(ValidateIfname(e.port()));
    RETURN_IF_ERROR(ValidateMac(e.mac()));
  }
  // Creates of different VMs run in parallel; one VM's create and delete
  // one after the other.
  const std::string name = req.name();
  NameLocks::Hold hold = names_.Lock(name);
  const std::string dom = DomainName(name);
  ASSIGN_OR_RETURN(std::vector<DomainInfo> doms, libvirt_->List(dom));
  for (const auto& d : doms) {
    if (d.name == dom) {
      return absl::AlreadyExistsError(
          absl::StrCat("VM ", name, " already runs (domain ", dom, ")"));
    }
  }
  ASSIGN_OR_RETURN(BootPlan plan, ResolveImage(config_.bulk_dir, req.image()));
  const std::string dir = VmDir(name);
  const std::string sock = dir + "/agent.sock";
  if (sock.size() > 107) {
    return absl::InvalidArgumentError(
        absl::StrCat("the agent socket path ", sock,
                     " is longer than 107 bytes: use a shorter work dir"));
  }
  const bool keep_disk = req.restart() && !plan.disk_base.empty() &&
                         !req.persistent() &&
                         access((dir + "/disk.qcow2").c_str(), F_OK) == 0;
  if (keep_disk) {
    unlink(sock.c_str());  // QEMU binds it again
    spdlog::info("VM {}: restarting on its overlay", name);
  } else {
    RemoveTree(dir).IgnoreError();  // a leftover of a crash
  }
  RETURN_IF_ERROR(MakeDirs(dir, 0700));
  VmDef def;
  def.domain_name = dom;
  def.domain_type = config_.domain_type;
  def.ram_mb = req.ram_mb();
  def.cpu = req.cpu();
  def.kernel = plan.kernel;
  def.initrd = plan.initrd;
  def.cmdline =
      absl::StrCat("console=ttyS0 panic=-1 loglevel=4 cloonix_name=", name,
                   plan.cmdline_extra.empty() ? "" : " ", plan.cmdline_extra);
  def.agent_socket = sock;
  def.console_log = dir + "/console.log";
  auto fail = [&](absl::Status s) {
    libvirt_->Destroy(dom).IgnoreError();
    if (!keep_disk) RemoveTree(dir).IgnoreError();
    spdlog::warn("create VM {} failed: {}", name, s.ToString());
    return s;
  };
  if (!plan.disk_base.empty()) {
    if (req.persistent()) {
      def.disk = plan.disk_base;
    } else if (keep_disk) {
      def.disk = dir + "/disk.qcow2";
    } else {
      def.disk = dir + "/disk.qcow2";
      auto r = ExecOk({"qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2",
                       "-b", plan.disk_base, def.disk},
                      absl::StatusCode::kFailedPrecondition);
      if (!r.ok()) return fail(r.status());
    }
  }
  std::vector<std::pair<std::string, std::string>> moves;  // tmp, port
  for (int i = 0; i < req.eths_size(); ++i) {
    std::string tmp = TapName(req.id(), static_cast<uint32_t>(i));
    if (LinkExists("", tmp)) Ip({"link", "del", tmp}).IgnoreError();
    def.taps.push_back({tmp, req.eths(i).mac()});
    moves.push_back({tmp, req.eths(i).port()});
  }
  absl::Time t0 = absl::Now();
  if (auto s = libvirt_->Create(DomainXml(def)); !s.ok()) return fail(s);
  spdlog::info("VM {} started ({} domain, {:.0f} ms)", name,
               config_.domain_type,
               absl::ToDoubleMilliseconds(absl::Now() - t0));
  const std::string netns = NetNetns(config_.net);
  for (const auto& [tmp, port] : moves) {
    absl::Status s = Ip({"link", "set", tmp, "netns", netns});
    if (s.ok()) s = Ip({"-n", netns, "link", "set", tmp, "name", port});
    if (s.ok()) s = Ip({"-n", netns, "link", "set", port, "up"});
    if (!s.ok()) return fail(s);
  }
  {
    absl::MutexLock l(&mu_);
    links_[name] = std::make_shared<AgentLink>(name, sock);
  }
  ASSIGN_OR_RETURN(std::vector<DomainInfo> now, libvirt_->List(dom));
  const DomainInfo* info = nullptr;
  for (const auto& d : now)
    if (d.name == dom) info = &d;
  absl::MutexLock l(&mu_);
  vr::Vm vm = Describe(name, info);
  vm.set_disk(def.disk);
  return vm;
}

absl::Status VmRunner::Delete(const std::string& name, bool keep_disk) {
  RETURN_IF_ERROR(ValidateName(name, "kvm name"));
  NameLocks::Hold hold = names_.Lock(name);
  std::shared_ptr<AgentLink> link;
  {
    absl::MutexLock l(&mu_);
    auto it = links_.find(name);
    if (it != links_.end()) {
      link = std::move(it->second);
      links_.erase(it);
    }
  }
  if (link) link->Stop();  // open sessions get an error
  link.reset();
  absl::Status s = libvirt_->Destroy(DomainName(name));
  bool existed = s.ok();
  if (!s.ok() && !absl::IsNotFound(s)) return s;
  std::string dir = VmDir(name);
  bool had_dir = access(dir.c_str(), F_OK) == 0;
  if (keep_disk) {
    if (!existed)
      return absl::NotFoundError(absl::StrCat("VM ", name, " is not running"));
    spdlog::info("VM {} stopped", name);
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(RemoveTree(dir));
  if (!existed && !had_dir)
    return absl::NotFoundError(absl::StrCat("VM ", name, " does not exist"));
  spdlog::info("VM {} deleted", name);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<vr::Vm>> VmRunner::List() {
  ASSIGN_OR_RETURN(std::vector<DomainInfo> doms,
                   libvirt_->List(DomainName("")));
  absl::MutexLock l(&mu_);
  std::vector<vr::Vm> out;
  for (const auto& d : doms) {
    out.push_back(Describe(d.name.substr(DomainName("").size()), &d));
  }
  return out;
}

absl::StatusOr<vr::Vm> VmRunner::Reboot(const std::string& name) {
  RETURN_IF_ERROR(libvirt_->Reset(DomainName(name)));
  spdlog::info("VM {} reset", name);
  ASSIGN_OR_RETURN(std::vector<DomainInfo> doms,
                   libvirt_->List(DomainName(name)));
  absl::MutexLock l(&mu_);
  for (const auto& d : doms)
    if (d.name == DomainName(name)) return Describe(name, &d);
  return absl::NotFoundError(absl::StrCat("VM ", name, " does not exist"));
}

absl::Status VmRunner::DeleteAll() {
  ASSIGN_OR_RETURN(std::vector<vr::Vm> vms, List());
  absl::Status result;
  for (const auto& vm : vms) result.Update(Delete(vm.name()));
  RemoveTree(config_.work_dir + "/vm").IgnoreError();
  return result;
}

absl::StatusOr<std::shared_ptr<AgentLink>> VmRunner::UpLink(
    const std::string& name) {
  absl::MutexLock l(&mu_);
  auto it = links_.find(name);
  if (it == links_.end()) {
    return absl::FailedPreconditionError(
        absl::StrCat("VM ", name, " is not running (stopped?)"));
  }
  if (!it->second->Up()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the agent of ", name,
        " is not up (the VM is red): wait until it boots, or read its "
        "console log ",
        VmDir(name), "/console.log"));
  }
  return it->second;
}

// --- VmRunner gRPC ---

grpc::Status VmRunnerService::CreateVm(grpc::ServerContext*,
                                       const vr::CreateVmRequest* req,
                                       vr::Vm* resp) {
  auto r = runner_->Create(*req);
  if (!r.ok()) return ToGrpcStatus(r.status());
  *resp = *r;
  return grpc::Status::OK;
}

grpc::Status VmRunnerService::DeleteVm(grpc::ServerContext*,
                                       const vr::DeleteVmRequest* req,
                                       vr::DeleteVmResponse*) {
  return ToGrpcStatus(runner_->Delete(req->name(), req->keep_disk()));
}

grpc::Status VmRunnerService::ListVms(grpc::ServerContext*,
                                      const vr::ListVmsRequest*,
                                      vr::ListVmsResponse* resp) {
  auto r = runner_->List();
  if (!r.ok()) return ToGrpcStatus(r.status());
  for (auto& vm : *r) *resp->add_vms() = std::move(vm);
  return grpc::Status::OK;
}

grpc::Status VmRunnerService::RebootVm(grpc::ServerContext*,
                                       const vr::RebootVmRequest* req,
                                       vr::Vm* resp) {
  auto r = runner_->Reboot(req->name());
  if (!r.ok()) return ToGrpcStatus(r.status());
  *resp = *r;
  return grpc::Status::OK;
}

grpc::Status VmRunnerService::Teardown(grpc::ServerContext*,
                                       const vr::TeardownRequest*,
                                       vr::TeardownResponse*) {
  absl::Status s = runner_->DeleteAll();
  shutdown_->Notify();
  return ToGrpcStatus(s);
}

// --- Guest gRPC ---

namespace {

// Ends a session: waits for the frame answering a request.
absl::StatusOr<wire::Frame> Await(AgentSession* s, absl::Duration timeout,
                                  const std::string& what) {
  wire::Frame f;
  if (!s->Pop(&f, timeout)) {
    return absl::DeadlineExceededError(
        absl::StrCat("the agent did not answer ", what, " within ",
                     absl::FormatDuration(timeout)));
  }
  return f;
}

}  // namespace

grpc::Status VmGuestService::Exec(
    grpc::ServerContext* ctx,
    grpc::ServerReaderWriter<v1::ExecResponse, v1::ExecRequest>* stream) {
  v1::ExecRequest first;
  if (!stream->Read(&first) || !first.has_start()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "the first Exec message must be start");
  }
  const v1::ExecStart& st = first.start();
  auto link = runner_->UpLink(st.item());
  if (!link.ok()) return ToGrpcStatus(link.status());
  std::shared_ptr<AgentLink> agent = *link;
  auto session = agent->Open();
  wire::ExecStart es;
  es.argv.assign(st.command().begin(), st.command().end());
  es.env.assign(st.env().begin(), st.env().end());
  es.tty = st.tty();
  es.rows = st.size().rows();
  es.cols = st.size().cols();
  es.term = st.term();
  if (auto s = agent->Send(session->id(), wire::Type::kExecStart,
                           wire::EncodeExecStart(es));
      !s.ok()) {
    agent->Close(session, false);
    return ToGrpcStatus(s);
  }
  absl::Notification reader_done;
  std::thread reader([&] {
    v1::ExecRequest r;
    while (stream->Read(&r)) {
      if (r.has_start()) continue;
      if (!r.stdin().empty()) {
        agent->Send(session->id(), wire::Type::kStdin, r.stdin()).IgnoreError();
      } else if (r.stdin_eof()) {
        agent->Send(session->id(), wire::Type::kStdinEof, "").IgnoreError();
      } else if (r.has_resize()) {
        wire::WireWriter w;
        w.U32(r.resize().rows()).U32(r.resize().cols());
        agent->Send(session->id(), wire::Type::kResize, w.Take()).IgnoreError();
      }
    }
    reader_done.Notify();
  });
  grpc::Status result = grpc::Status::OK;
  bool finished = false;
  while (!finished) {
    wire::Frame f;
    if (!session->Pop(&f, absl::Milliseconds(200))) {
      if (ctx->IsCancelled()) {
        result = grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
        break;
      }
      continue;
    }
    v1::ExecResponse out;
    switch (f.type) {
      case wire::Type::kStdout:
        out.set_stdout(f.payload);
        break;
      case wire::Type::kStderr:
        out.set_stderr(f.payload);
        break;
      case wire::Type::kExit: {
        wire::WireReader rd(f.payload);
        out.mutable_exit()->set_code(rd.I32());
        out.mutable_exit()->set_signal(rd.I32());
        finished = true;
        break;
      }
      case wire::Type::kError:
        // In-band too: the client half-closes on the exit message.
        result = grpc::Status(grpc::StatusCode::UNAVAILABLE, f.payload);
        out.mutable_exit()->set_code(255);
        out.mutable_exit()->set_error(f.payload);
        finished = true;
        break;
      default:
        continue;
    }
    if (!stream->Write(out)) {
      result = grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
      break;
    }
  }
  bool exited = finished && result.ok();
  agent->Close(session, !exited);
  // A well-behaved client half-closes once it has the exit status.
  if (!reader_done.WaitForNotificationWithTimeout(absl::Seconds(2)))
    ctx->TryCancel();
  reader.join();
  return result;
}

grpc::Status VmGuestService::CopyTo(
    grpc::ServerContext* ctx, grpc::ServerReader<v1::CopyToRequest>* reader,
    v1::CopyToResponse* resp) {
  v1::CopyToRequest req;
  if (!reader->Read(&req) || !req.has_start()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "the first CopyTo message must be start");
  }
  auto link = runner_->UpLink(req.start().item());
  if (!link.ok()) return ToGrpcStatus(link.status());
  std::shared_ptr<AgentLink> agent = *link;
  auto session = agent->Open();
  auto done = [&](absl::Status s) {
    agent->Close(session, !s.ok());
    return ToGrpcStatus(s);
  };
  if (auto s =
          agent->Send(session->id(), wire::Type::kPutBegin, req.start().path());
      !s.ok())
    return done(s);
  auto ok = Await(session.get(), absl::Seconds(30), "the copy");
  if (!ok.ok()) return done(ok.status());
  if (ok->type != wire::Type::kOk)
    return done(absl::FailedPreconditionError(ok->payload));
  while (reader->Read(&req)) {
    wire::Frame early;
    if (session->queued() > 0 && session->Pop(&early, absl::ZeroDuration())) {
      return done(absl::FailedPreconditionError(early.payload));
    }
    absl::Status s;
    if (req.has_entry()) {
      TreeEntry e = FromProto(req.entry());
      if (std::string err = CheckRelativePath(e.path); !err.empty())
        return done(absl::InvalidArgumentError(err));
      s = agent->Send(session->id(), wire::Type::kEntry, EncodeEntry(e));
    } else {
      const std::string& d = req.data();
      for (size_t off = 0; off < d.size() && s.ok(); off += wire::kChunk) {
        s = agent->Send(session->id(), wire::Type::kData,
                        d.substr(off, wire::kChunk));
      }
    }
    if (!s.ok()) return done(s);
  }
  // The end of the requests is also what a cancelled client looks like.
  if (ctx->IsCancelled()) return done(absl::CancelledError("client went away"));
  if (auto s = agent->Send(session->id(), wire::Type::kPutEnd, ""); !s.ok())
    return done(s);
  auto end = Await(session.get(), absl::Seconds(60), "the end of the copy");
  if (!end.ok()) return done(end.status());
  if (end->type != wire::Type::kOk)
    return done(absl::FailedPreconditionError(end->payload));
  wire::WireReader rd(end->payload);
  resp->set_files(rd.U32());
  resp->set_bytes(rd.U64());
  return done(absl::OkStatus());
}

grpc::Status VmGuestService::CopyFrom(
    grpc::ServerContext* ctx, const v1::CopyFromRequest* req,
    grpc::ServerWriter<v1::CopyFromResponse>* writer) {
  auto link = runner_->UpLink(req->item());
  if (!link.ok()) return ToGrpcStatus(link.status());
  std::shared_ptr<AgentLink> agent = *link;
  auto session = agent->Open();
  auto done = [&](absl::Status s) {
    agent->Close(session, !s.ok());
    return ToGrpcStatus(s);
  };
  if (auto s = agent->Send(session->id(), wire::Type::kGetBegin, req->path());
      !s.ok())
    return done(s);
  for (;;) {
    if (ctx->IsCancelled())
      return done(absl::CancelledError("client went away"));
    auto f = Await(session.get(), absl::Seconds(60), "the copy");
    if (!f.ok()) return done(f.status());
    v1::CopyFromResponse out;
    if (f->type == wire::Type::kEntry) {
      TreeEntry e;
      if (!DecodeEntry(f->payload, &e))
        return done(absl::InternalError("malformed entry from the agent"));
      *out.mutable_entry() = ToProto(e);
    } else if (f->type == wire::Type::kData) {
      out.set_data(std::move(f->payload));
    } else if (f->type == wire::Type::kGetEnd) {
      return done(absl::OkStatus());
    } else if (f->type == wire::Type::kError) {
      return done(absl::FailedPreconditionError(f->payload));
    } else {
      continue;
    }
    if (!writer->Write(out)) return done(absl::CancelledError("client gone"));
  }
}

grpc::Status VmGuestService::Console(
    grpc::ServerContext* ctx,
    grpc::ServerReaderWriter<v1::ConsoleResponse, v1::ConsoleRequest>* stream) {
  v1::ConsoleRequest first;
  if (!stream->Read(&first) || first.item().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "the first Console message must name the item");
  }
  auto st = runner_->libvirt()->OpenConsole(runner_->DomainOf(first.item()));
  if (!st.ok()) {
    if (absl::IsNotFound(st.status())) {
      return grpc::Status(
          grpc::StatusCode::FAILED_PRECONDITION,
          absl::StrCat("VM ", first.item(), " is not running (stopped?)"));
    }
    return ToGrpcStatus(st.status());
  }
  virStreamPtr console = *st;
  absl::Mutex mu;  // libvirt stream calls from two threads
  bool over = false;
  absl::Notification reader_done;
  std::thread reader([&] {
    v1::ConsoleRequest r;
    while (stream->Read(&r)) {
      const std::string& d = r.data();
      size_t off = 0;
      while (off < d.size()) {
        int n;
        {
          absl::MutexLock l(&mu);
          if (over) break;
          n = virStreamSend(console, d.data() + off, d.size() - off);
        }
        if (n == -2) {
          absl::SleepFor(absl::Milliseconds(10));
          continue;
        }
        if (n < 0) break;
        off += static_cast<size_t>(n);
      }
    }
    reader_done.Notify();
  });
  char buf[16384];
  for (;;) {
    int n;
    {
      absl::MutexLock l(&mu);
      n = virStreamRecv(console, buf, sizeof(buf));
    }
    if (n == -2) {  // nothing yet
      // A client that only watches half-closes at once: keep streaming
      // until it cancels (detach, deadline).
      if (ctx->IsCancelled()) break;
      absl::SleepFor(absl::Milliseconds(20));
      continue;
    }
    if (n <= 0) break;  // the VM stopped, or an error
    v1::ConsoleResponse out;
    out.set_data(std::string(buf, static_cast<size_t>(n)));
    if (!stream->Write(out)) break;
  }
  {
    absl::MutexLock l(&mu);
    over = true;
    virStreamAbort(console);
  }
  if (!reader_done.WaitForNotificationWithTimeout(absl::Seconds(2)))
    ctx->TryCancel();
  reader.join();
  virStreamFree(console);
  return grpc::Status::OK;
}

}  // namespace cloonix
