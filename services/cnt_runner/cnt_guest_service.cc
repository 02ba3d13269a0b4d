#include "services/cnt_runner/cnt_guest_service.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/blocking_pool.h"
#include "common/fd_watcher.h"
#include "common/file_tree.h"
#include "common/grpc_status.h"
#include "common/guest_convert.h"
#include "common/process.h"
#include "common/refuse_reactor.h"
#include "common/status_macros.h"
#include "grpcpp/alarm.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace cloonix {

namespace {

namespace v1 = ::cloonix::v1;

constexpr size_t kReadChunk = 32768;
// Output chunks waiting for the client before the FIFOs are read again.
constexpr size_t kMaxQueued = 8;
// After the exit, what the shim still copies is relayed until the FIFOs end,
// at most this long: a background child may hold them open.
constexpr absl::Duration kDrainGrace = absl::Milliseconds(200);
// How long a killed exec (its client went away) may take to be gone before
// its Wait is given up.
constexpr absl::Duration kReapGrace = absl::Seconds(10);

// One Guest.Exec: stdin from the client into the stdin FIFO, the stdout and
// stderr FIFOs to the client, each on readiness (FdWatcher), one message in
// flight each way (a slow client stops the reads: back-pressure through the
// FIFOs). Lifetime: gRPC's OnDone, containerd's Wait, the drain alarm and
// each task handed to the BlockingPool hold a reference; the last one cleans
// up the exec (in the pool: it deletes the exec in containerd). No
// reaction blocks: every containerd call runs in the BlockingPool.
class ExecReactor
    : public grpc::ServerBidiReactor<v1::ExecRequest, v1::ExecResponse> {
 public:
  ExecReactor(ContainerdClient* client, std::string dir, std::string exec_id)
      : client_(client), dir_(std::move(dir)), exec_id_(std::move(exec_id)) {
    StartRead(&req_);
  }

  void OnReadDone(bool ok) override {
    absl::MutexLock l(&mu_);
    if (finished_) return;
    if (!started_) {
      if (!ok || !req_.has_start()) {
        FinishLocked(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                  "the first Exec message must be start"));
        return;
      }
      if (req_.start().x11()) {
        // A container's X clients would need the client's display socket
        // inside the container: not offered.
        FinishLocked(grpc::Status(
            grpc::StatusCode::FAILED_PRECONDITION,
            "X11 forwarding (ssh -X) is for kvm guests; containers do not "
            "offer it (run the X client in a VM, or give the container a "
            "display with --vmount of an X socket)"));
        return;
      }
      started_ = true;
      starting_ = true;
      InPool([this, st = req_.start()] { RunStart(st); });
      return;
    }
    if (!ok) return;  // the client half-closed; the output goes on
    if (!req_.stdin().empty()) {
      pending_in_ += req_.stdin();
      if (!FlushStdinLocked()) return;  // the next read starts once it drains
    } else if (req_.stdin_eof()) {
      CloseStdinLocked();
    } else if (req_.has_resize()) {
      InPool([this, rows = req_.resize().rows(), cols = req_.resize().cols()] {
        client_->ExecResize(id_, exec_id_, rows, cols).IgnoreError();
      });
    }
    StartRead(&req_);
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock l(&mu_);
    writing_ = false;
    if (!ok) {
      KillLocked();
      FinishLocked(
          grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
      return;
    }
    ArmOutputsLocked();
    PumpLocked();
  }

  void OnCancel() override {
    absl::MutexLock l(&mu_);
    KillLocked();
    FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
  }

  void OnDone() override {
    bool remove_fds;
    {
      absl::MutexLock l(&mu_);
      done_ = true;
      // While the start runs in the pool it owns the fds; it sees done_.
      remove_fds = !starting_;
      if (!starting_) GiveUpLocked();
    }
    // No lock held: Remove waits for a running callback, which locks.
    if (remove_fds) {
      for (int fd : {out_fd_, err_fd_, in_fd_}) {
        if (fd >= 0) FdWatcher::Default()->Remove(fd);
      }
    }
    alarm_.Cancel();
    Unref();
  }

 private:
  // Runs in the pool (the last Unref hands it there).
  ~ExecReactor() override {
    // Deleted while the FIFOs are still open here: containerd's shim blocks
    // in the exec's delete (until the call's deadline) when their other
    // ends are already gone.
    if (exec_started_) client_->ExecDelete(id_, exec_id_).IgnoreError();
    for (int fd : {out_fd_, err_fd_, in_fd_}) {
      if (fd >= 0) close(fd);
    }
    RemoveTree(dir_).IgnoreError();
  }

  void Ref() { refs_.fetch_add(1); }
  void Unref() {
    if (refs_.fetch_sub(1) == 1) {
      BlockingPool::Default()->Run([this] { delete this; });
    }
  }
  // `task` in the pool, the reactor kept alive until it ends.
  void InPool(std::function<void()> task) {
    Ref();
    BlockingPool::Default()->Run([this, task = std::move(task)] {
      task();
      Unref();
    });
  }

  // The pool: the blocking part of the start (no lock: nothing else touches
  // the fds or the exec while starting_), then, locked, the watches, or the
  // end if the client went away meanwhile.
  void RunStart(const v1::ExecStart& st) {
    absl::Status s = StartBlocking(st);
    absl::MutexLock l(&mu_);
    starting_ = false;
    if (!s.ok()) {
      FinishLocked(ToGrpcStatus(s));
      return;
    }
    if (finished_ || done_) {  // cancelled while starting
      KillLocked();
      if (done_) GiveUpLocked();
      return;
    }
    for (int i : {0, 1}) {
      int fd = i == 0 ? out_fd_ : err_fd_;
      if (fd < 0) continue;
      if (absl::Status w = FdWatcher::Default()->Add(
              fd, [this, i](uint32_t) { OnOutput(i); });
          !w.ok()) {
        KillLocked();
        FinishLocked(ToGrpcStatus(w));
        return;
      }
    }
    if (absl::Status w = FdWatcher::Default()->Add(
            in_fd_, [this](uint32_t) { OnStdinWritable(); });
        !w.ok()) {
      KillLocked();
      FinishLocked(ToGrpcStatus(w));
      return;
    }
    ArmOutputsLocked();
    StartRead(&req_);
  }

  // gRPC is done with the call and the process may still run: kill it; its
  // Wait is given up after kReapGrace (a kill that does not take).
  void GiveUpLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!exec_started_ || exited_ || wait_ctx_ == nullptr || reaping_) return;
    reaping_ = true;
    KillLocked();
    Ref();
    reap_alarm_.Set(absl::ToChronoTime(absl::Now() + kReapGrace),
                    [this](bool fired) {
                      if (fired) wait_ctx_->TryCancel();
                      Unref();
                    });
  }

  // The pool, unlocked (see RunStart).
  absl::Status StartBlocking(const v1::ExecStart& st)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    id_ = st.item();
    ASSIGN_OR_RETURN(uint32_t pid, client_->TaskPid(id_));
    ASSIGN_OR_RETURN(std::string base, client_->ProcessSpec(id_));
    nlohmann::json proc = nlohmann::json::parse(base, nullptr, false);
    if (proc.is_discarded() || !proc.is_object())
      return absl::InternalError("the container's OCI process is not readable");
    std::vector<std::string> argv(st.command().begin(), st.command().end());
    std::string root = absl::StrCat("/proc/", pid, "/root");
    if (argv.empty()) {
      argv = {access((root + "/bin/bash").c_str(), X_OK) == 0 ? "/bin/bash"
                                                              : "/bin/sh",
              "-l"};
    }
    proc["args"] = argv;
    proc["terminal"] = st.tty();
    if (st.tty()) {
      proc["consoleSize"] = {
          {"height", st.size().rows() ? st.size().rows() : 24},
          {"width", st.size().cols() ? st.size().cols() : 80}};
    } else {
      proc.erase("consoleSize");
    }
    // value() throws on a type mismatch: keep only the strings of a list.
    std::vector<std::string> env;
    if (proc.contains("env") && proc["env"].is_array()) {
      for (const auto& e : proc["env"]) {
        if (e.is_string()) env.push_back(e.get<std::string>());
      }
    }
    env.push_back("HOME=/root");
    if (st.tty())
      env.push_back("TERM=" + (st.term().empty() ? "xterm" : st.term()));
    for (const auto& e : st.env()) env.push_back(e);
    proc["env"] = env;
    struct stat sb;
    proc["cwd"] = stat((root + "/root").c_str(), &sb) == 0 ? "/root" : "/";

    RETURN_IF_ERROR(MakeDirs(dir_, 0700));
    const std::string in = dir_ + "/stdin", out = dir_ + "/stdout",
                      err = dir_ + "/stderr";
    for (const auto& f : {in, out, err}) mkfifo(f.c_str(), 0600);
    out_fd_ = open(out.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (!st.tty())
      err_fd_ = open(err.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    // Read-write: the FIFO never reports "no reader" to the shim.
    in_fd_ = open(in.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (out_fd_ < 0 || in_fd_ < 0 || (!st.tty() && err_fd_ < 0))
      return absl::InternalError(absl::StrCat(
          "cannot open the exec FIFOs in ", dir_, ": ", std::strerror(errno)));
    eof_[1] = st.tty();  // a terminal has one output
    RETURN_IF_ERROR(client_->ExecStart(id_, exec_id_, proc.dump(), st.tty(), in,
                                       out, st.tty() ? "" : err));
    exec_started_ = true;
    // As long as the process lives (a shell may last days); cancellable.
    wait_ctx_ = client_->NewContext(absl::Hours(24 * 365));
    Ref();
    client_->ExecWaitAsync(id_, exec_id_, wait_ctx_.get(),
                           [this](absl::StatusOr<uint32_t> r) { OnExit(r); });
    return absl::OkStatus();
  }

  // containerd's Wait answered (a gRPC thread).
  void OnExit(absl::StatusOr<uint32_t> r) {
    {
      absl::MutexLock l(&mu_);
      exited_ = true;
      code_ = r.ok() ? static_cast<int>(*r) : 255;
      reap_alarm_.Cancel();  // its callback drops its reference
      if (!finished_ && !(eof_[0] && eof_[1])) {
        Ref();
        alarm_.Set(absl::ToChronoTime(absl::Now() + kDrainGrace), [this](bool) {
          {
            absl::MutexLock l(&mu_);
            grace_over_ = true;
            if (!done_) {
              for (int i : {0, 1}) {
                while (!eof_[i] && ReadLocked(i)) {
                }
              }
              PumpLocked();
            }
          }
          Unref();
        });
      }
      PumpLocked();
    }
    Unref();
  }

  // The FdWatcher thread.
  void OnOutput(int i) {
    absl::MutexLock l(&mu_);
    if (finished_) return;
    if (ReadLocked(i) && queue_.size() < kMaxQueued) {
      FdWatcher::Default()->Arm(i == 0 ? out_fd_ : err_fd_, EPOLLIN);
    }
    PumpLocked();
  }

  void OnStdinWritable() {
    absl::MutexLock l(&mu_);
    if (finished_) return;
    if (FlushStdinLocked()) StartRead(&req_);
  }

  // Reads one chunk of output `i` (0 stdout, 1 stderr) into the queue.
  // False when there is nothing more for now (EAGAIN: re-armed) or ever.
  bool ReadLocked(int i) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    int fd = i == 0 ? out_fd_ : err_fd_;
    char buf[kReadChunk];
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n > 0) {
      v1::ExecResponse m;
      if (i == 0) {
        m.set_stdout(std::string(buf, static_cast<size_t>(n)));
      } else {
        m.set_stderr(std::string(buf, static_cast<size_t>(n)));
      }
      queue_.push_back(std::move(m));
      return true;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!grace_over_) FdWatcher::Default()->Arm(fd, EPOLLIN);
      return false;
    }
    eof_[i] = true;  // every writer closed: the shim copied all
    return false;
  }

  void ArmOutputsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (queue_.size() >= kMaxQueued || grace_over_) return;
    if (!eof_[0]) FdWatcher::Default()->Arm(out_fd_, EPOLLIN);
    if (!eof_[1]) FdWatcher::Default()->Arm(err_fd_, EPOLLIN);
  }

  // Writes what stdin holds; false (and the FIFO watched) when it is full.
  bool FlushStdinLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    while (!pending_in_.empty() && in_fd_ >= 0) {
      ssize_t n = write(in_fd_, pending_in_.data(), pending_in_.size());
      if (n > 0) {
        pending_in_.erase(0, static_cast<size_t>(n));
      } else if (n < 0 && errno == EAGAIN) {
        FdWatcher::Default()->Arm(in_fd_, EPOLLOUT);
        return false;
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        pending_in_.clear();
      }
    }
    pending_in_.clear();
    return true;
  }

  void CloseStdinLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (stdin_closed_) return;
    stdin_closed_ = true;
    // The shim reads the FIFO to its end, then closes the process's stdin.
    // No callback of in_fd_ runs: it is armed only while stdin is pending,
    // and then no read (so no stdin_eof) is started.
    FdWatcher::Default()->Remove(in_fd_);
    close(in_fd_);
    in_fd_ = -1;
    InPool([this] { client_->ExecCloseStdin(id_, exec_id_).IgnoreError(); });
  }

  // The next message to the client: output first, then the exit status.
  void PumpLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || finished_) return;
    if (!queue_.empty()) {
      resp_ = std::move(queue_.front());
      queue_.pop_front();
      writing_ = true;
      StartWrite(&resp_);
      return;
    }
    if (!exited_ || !((eof_[0] && eof_[1]) || grace_over_)) return;
    resp_.Clear();
    resp_.mutable_exit()->set_code(code_);
    if (code_ > 128) resp_.mutable_exit()->set_signal(code_ - 128);
    writing_ = true;
    finished_ = true;
    StartWriteAndFinish(&resp_, grpc::WriteOptions(), grpc::Status::OK);
  }

  void KillLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (exec_started_ && !exited_ && !killed_) {
      killed_ = true;
      InPool([this] {
        bool ok = client_->ExecKill(id_, exec_id_).ok();
        absl::MutexLock l(&mu_);
        if (!ok && done_ && !exited_) wait_ctx_->TryCancel();  // will not end
      });
    }
  }

  void FinishLocked(const grpc::Status& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    Finish(s);
  }

  ContainerdClient* const client_;
  const std::string dir_;
  const std::string exec_id_;
  std::string id_;            // the container
  std::atomic<int> refs_{1};  // OnDone
  absl::Mutex mu_;
  v1::ExecRequest req_;
  v1::ExecResponse resp_ ABSL_GUARDED_BY(mu_);
  std::deque<v1::ExecResponse> queue_ ABSL_GUARDED_BY(mu_);
  std::string pending_in_ ABSL_GUARDED_BY(mu_);
  int out_fd_ = -1, err_fd_ = -1, in_fd_ = -1;
  bool eof_[2] ABSL_GUARDED_BY(mu_) = {false, false};
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<bool> exec_started_{false};  // set by the start (pool)
  bool exited_ ABSL_GUARDED_BY(mu_) = false;
  bool killed_ ABSL_GUARDED_BY(mu_) = false;
  bool starting_ ABSL_GUARDED_BY(mu_) = false;  // RunStart in the pool
  bool reaping_ ABSL_GUARDED_BY(mu_) = false;
  bool grace_over_ ABSL_GUARDED_BY(mu_) = false;
  bool stdin_closed_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  int code_ ABSL_GUARDED_BY(mu_) = 255;
  std::unique_ptr<grpc::ClientContext> wait_ctx_;
  grpc::Alarm alarm_;
  grpc::Alarm reap_alarm_;  // OnDone before the process is gone
};

// One Guest.CopyTo: each message is written as it arrives.
class CopyToReactor : public grpc::ServerReadReactor<v1::CopyToRequest> {
 public:
  CopyToReactor(ContainerdClient* client, v1::CopyToResponse* resp)
      : client_(client), resp_(resp) {
    StartRead(&req_);
  }
  void OnReadDone(bool ok) override {
    absl::MutexLock l(&mu_);
    if (finished_) return;
    if (writer_ == nullptr) {
      if (!ok || !req_.has_start()) {
        FinishLocked(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                  "the first CopyTo message must be start"));
        return;
      }
      // The container's pid is a containerd call: in the pool.
      refs_.fetch_add(1);
      BlockingPool::Default()->Run([this, st = req_.start()] {
        auto pid = client_->TaskPid(st.item());
        {
          absl::MutexLock l(&mu_);
          if (!finished_) Begin(pid, st.path());
        }
        Unref();
      });
      return;
    }
    if (!ok) {  // the client's last message, or a client gone (OnCancel)
      if (std::string err = writer_->End(); !err.empty()) {
        FinishLocked(grpc::Status(grpc::StatusCode::DATA_LOSS, err));
        return;
      }
      resp_->set_files(writer_->files());
      resp_->set_bytes(writer_->bytes());
      FinishLocked(grpc::Status::OK);
      return;
    }
    std::string err = req_.has_entry() ? writer_->Entry(FromProto(req_.entry()))
                                       : writer_->Data(req_.data().data(),
                                                       req_.data().size());
    if (!err.empty()) {
      FinishLocked(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, err));
      return;
    }
    StartRead(&req_);
  }
  void OnCancel() override {
    absl::MutexLock l(&mu_);
    FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
  }
  void OnDone() override { Unref(); }

 private:
  void Unref() {
    if (refs_.fetch_sub(1) == 1) delete this;
  }
  void Begin(const absl::StatusOr<uint32_t>& pid, const std::string& path)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!pid.ok()) {
      FinishLocked(ToGrpcStatus(pid.status()));
      return;
    }
    writer_ = std::make_unique<TreeWriter>(
        absl::StrCat("/proc/", *pid, "/root"), "/root");
    if (std::string err = writer_->Begin(path); !err.empty()) {
      FinishLocked(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, err));
      return;
    }
    StartRead(&req_);
  }
  void FinishLocked(const grpc::Status& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    Finish(s);
  }
  std::atomic<int> refs_{1};  // OnDone, and the pid lookup in the pool
  ContainerdClient* const client_;
  v1::CopyToResponse* const resp_;
  absl::Mutex mu_;
  v1::CopyToRequest req_;
  std::unique_ptr<TreeWriter> writer_ ABSL_GUARDED_BY(mu_);
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

// One Guest.CopyFrom: the next entry or chunk is read once the last is
// written (a slow client slows the reading).
class CopyFromReactor : public grpc::ServerWriteReactor<v1::CopyFromResponse> {
 public:
  CopyFromReactor(ContainerdClient* client, const v1::CopyFromRequest& req) {
    // The container's pid is a containerd call: in the pool.
    refs_.fetch_add(1);
    BlockingPool::Default()->Run([this, client, req] {
      auto pid = client->TaskPid(req.item());
      {
        absl::MutexLock l(&mu_);
        if (!finished_) {
          if (!pid.ok()) {
            FinishLocked(ToGrpcStatus(pid.status()));
          } else {
            reader_ = std::make_unique<TreeReader>(
                absl::StrCat("/proc/", *pid, "/root"), "/root", req.path(),
                256 * 1024);
            NextLocked();
          }
        }
      }
      Unref();
    });
  }
  void OnWriteDone(bool ok) override {
    absl::MutexLock l(&mu_);
    if (!ok) {
      FinishLocked(
          grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
      return;
    }
    NextLocked();
  }
  void OnCancel() override {
    absl::MutexLock l(&mu_);
    FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
  }
  void OnDone() override { Unref(); }

 private:
  void Unref() {
    if (refs_.fetch_sub(1) == 1) delete this;
  }
  std::atomic<int> refs_{1};  // OnDone, and the pid lookup in the pool
  void NextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    TreeReader::Step step;
    TreeEntry e;
    std::string data;
    if (std::string err = reader_->Next(&step, &e, &data); !err.empty()) {
      FinishLocked(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, err));
      return;
    }
    resp_.Clear();
    if (step == TreeReader::Step::kDone) {
      FinishLocked(grpc::Status::OK);
      return;
    }
    if (step == TreeReader::Step::kEntry) {
      *resp_.mutable_entry() = ToProto(e);
    } else {
      resp_.set_data(std::move(data));
    }
    StartWrite(&resp_);
  }
  void FinishLocked(const grpc::Status& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    Finish(s);
  }
  absl::Mutex mu_;
  std::unique_ptr<TreeReader> reader_ ABSL_GUARDED_BY(mu_);
  v1::CopyFromResponse resp_ ABSL_GUARDED_BY(mu_);
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

grpc::ServerBidiReactor<v1::ExecRequest, v1::ExecResponse>*
CntGuestService::Exec(grpc::CallbackServerContext*) {
  const std::string exec_id = absl::StrCat("cx", getpid(), "-", next_exec_++);
  return new ExecReactor(
      client_, absl::StrCat(work_dir_, "/cnt/exec/", exec_id), exec_id);
}

grpc::ServerReadReactor<v1::CopyToRequest>* CntGuestService::CopyTo(
    grpc::CallbackServerContext*, v1::CopyToResponse* resp) {
  return new CopyToReactor(client_, resp);
}

grpc::ServerWriteReactor<v1::CopyFromResponse>* CntGuestService::CopyFrom(
    grpc::CallbackServerContext*, const v1::CopyFromRequest* req) {
  return new CopyFromReactor(client_, *req);
}

grpc::ServerBidiReactor<v1::ConsoleRequest, v1::ConsoleResponse>*
CntGuestService::Console(grpc::CallbackServerContext*) {
  return new RefuseBidi<v1::ConsoleRequest, v1::ConsoleResponse>(grpc::Status(
      grpc::StatusCode::FAILED_PRECONDITION,
      "containers have no serial console: only kvm items do (use cloonix "
      "ssh)"));
}

grpc::ServerBidiReactor<v1::TunnelRequest, v1::TunnelResponse>*
CntGuestService::Tunnel(grpc::CallbackServerContext*) {
  return new RefuseBidi<v1::TunnelRequest, v1::TunnelResponse>(
      grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                   "Tunnel is served by the doorway (it reaches the item's nat "
                   "forward), not by cnt_runner"));
}

}  // namespace cloonix
