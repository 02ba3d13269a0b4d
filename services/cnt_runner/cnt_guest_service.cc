#include "services/cnt_runner/cnt_guest_service.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/file_tree.h"
#include "common/grpc_status.h"
#include "common/guest_convert.h"
#include "common/process.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace cloonix {

namespace {

bool WriteAllNonblocking(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      struct pollfd p = {fd, POLLOUT, 0};
      if (poll(&p, 1, 5000) <= 0) return false;
      continue;
    }
    return false;
  }
  return true;
}

}  // namespace

grpc::Status CntGuestService::Exec(
    grpc::ServerContext* ctx,
    grpc::ServerReaderWriter<v1::ExecResponse, v1::ExecRequest>* stream) {
  v1::ExecRequest first;
  if (!stream->Read(&first) || !first.has_start()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "the first Exec message must be start");
  }
  const v1::ExecStart& st = first.start();
  const std::string id = st.item();
  auto pid = client_->TaskPid(id);
  if (!pid.ok()) return ToGrpcStatus(pid.status());
  auto base = client_->ProcessSpec(id);
  if (!base.ok()) return ToGrpcStatus(base.status());
  nlohmann::json proc = nlohmann::json::parse(*base, nullptr, false);
  if (proc.is_discarded() || !proc.is_object()) {
    return grpc::Status(grpc::StatusCode::INTERNAL,
                        "the container's OCI process is not readable");
  }
  std::vector<std::string> argv(st.command().begin(), st.command().end());
  std::string root = absl::StrCat("/proc/", *pid, "/root");
  if (argv.empty()) {
    argv = {access((root + "/bin/bash").c_str(), X_OK) == 0 ? "/bin/bash"
                                                            : "/bin/sh",
            "-l"};
  }
  proc["args"] = argv;
  proc["terminal"] = st.tty();
  if (st.tty()) {
    proc["consoleSize"] = {{"height", st.size().rows() ? st.size().rows() : 24},
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

  const std::string exec_id = absl::StrCat("cx", getpid(), "-", next_exec_++);
  const std::string dir = absl::StrCat(work_dir_, "/cnt/exec/", exec_id);
  if (auto s = MakeDirs(dir, 0700); !s.ok()) return ToGrpcStatus(s);
  const std::string in = dir + "/stdin", out = dir + "/stdout",
                    err = dir + "/stderr";
  for (const auto& f : {in, out, err}) mkfifo(f.c_str(), 0600);
  int out_fd = open(out.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  int err_fd =
      st.tty() ? -1 : open(err.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  int in_fd = open(in.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  auto cleanup = [&] {
    for (int fd : {out_fd, err_fd, in_fd})
      if (fd >= 0) close(fd);
    out_fd = err_fd = in_fd = -1;
    RemoveTree(dir).IgnoreError();
  };
  absl::Status started = client_->ExecStart(id, exec_id, proc.dump(), st.tty(),
                                            in, out, st.tty() ? "" : err);
  if (!started.ok()) {
    cleanup();
    return ToGrpcStatus(started);
  }
  std::atomic<bool> exited{false};
  std::atomic<int> code{255};
  // As long as the process lives (a shell may last days); cancellable.
  auto wait_ctx = client_->NewContext(absl::Hours(24 * 365));
  absl::Notification waited;
  std::thread waiter([&] {
    auto r = client_->ExecWait(id, exec_id, wait_ctx.get());
    waited.Notify();
    code = r.ok() ? static_cast<int>(*r) : 255;
    exited = true;
  });
  absl::Mutex in_mu;
  absl::Notification reader_done;
  std::thread reader([&] {
    v1::ExecRequest r;
    while (stream->Read(&r)) {
      if (!r.stdin().empty()) {
        absl::MutexLock l(&in_mu);
        if (in_fd >= 0) WriteAllNonblocking(in_fd, r.stdin());
      } else if (r.stdin_eof()) {
        absl::MutexLock l(&in_mu);
        if (in_fd >= 0) close(in_fd);
        in_fd = -1;
        client_->ExecCloseStdin(id, exec_id).IgnoreError();
      } else if (r.has_resize()) {
        client_->ExecResize(id, exec_id, r.resize().rows(), r.resize().cols())
            .IgnoreError();
      }
    }
    reader_done.Notify();
  });
  grpc::Status result = grpc::Status::OK;
  char buf[32768];
  absl::Time quiet_since = absl::InfinitePast();
  for (;;) {
    struct pollfd p[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
    int r = poll(p, err_fd >= 0 ? 2 : 1, 50);
    bool got = false;
    for (int i = 0; i < (err_fd >= 0 ? 2 : 1); ++i) {
      if (!(p[i].revents & POLLIN)) continue;
      ssize_t n = read(p[i].fd, buf, sizeof(buf));
      if (n <= 0) continue;
      got = true;
      v1::ExecResponse m;
      if (i == 0) {
        m.set_stdout(std::string(buf, static_cast<size_t>(n)));
      } else {
        m.set_stderr(std::string(buf, static_cast<size_t>(n)));
      }
      if (!stream->Write(m)) {
        result = grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
      }
    }
    if (!result.ok() || ctx->IsCancelled()) {
      result = grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
      break;
    }
    if (r > 0 && !got) absl::SleepFor(absl::Milliseconds(20));  // no writer yet
    // After the exit, drain what the shim still copies (100 ms of quiet).
    if (exited) {
      if (got) {
        quiet_since = absl::Now();
      } else if (quiet_since == absl::InfinitePast()) {
        quiet_since = absl::Now();
      } else if (absl::Now() - quiet_since > absl::Milliseconds(100)) {
        break;
      }
    }
  }
  if (result.ok()) {
    v1::ExecResponse m;
    m.mutable_exit()->set_code(code);
    if (code > 128) m.mutable_exit()->set_signal(code - 128);
    stream->Write(m);
  } else {
    client_->ExecKill(id, exec_id).IgnoreError();
  }
  // A kill that did not take must not hold this handler forever.
  if (!waited.WaitForNotificationWithTimeout(absl::Seconds(5)))
    wait_ctx->TryCancel();
  waiter.join();
  client_->ExecDelete(id, exec_id).IgnoreError();
  if (!reader_done.WaitForNotificationWithTimeout(absl::Seconds(2)))
    ctx->TryCancel();
  reader.join();
  {
    absl::MutexLock l(&in_mu);
    cleanup();
  }
  return result;
}

grpc::Status CntGuestService::CopyTo(
    grpc::ServerContext* ctx, grpc::ServerReader<v1::CopyToRequest>* reader,
    v1::CopyToResponse* resp) {
  v1::CopyToRequest req;
  if (!reader->Read(&req) || !req.has_start()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "the first CopyTo message must be start");
  }
  auto pid = client_->TaskPid(req.start().item());
  if (!pid.ok()) return ToGrpcStatus(pid.status());
  TreeWriter w(absl::StrCat("/proc/", *pid, "/root"), "/root");
  if (std::string err = w.Begin(req.start().path()); !err.empty())
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, err);
  while (reader->Read(&req)) {
    std::string err = req.has_entry()
                          ? w.Entry(FromProto(req.entry()))
                          : w.Data(req.data().data(), req.data().size());
    if (!err.empty())
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, err);
  }
  if (ctx->IsCancelled())
    return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
  if (std::string err = w.End(); !err.empty())
    return grpc::Status(grpc::StatusCode::DATA_LOSS, err);
  resp->set_files(w.files());
  resp->set_bytes(w.bytes());
  return grpc::Status::OK;
}

grpc::Status CntGuestService::CopyFrom(
    grpc::ServerContext*, const v1::CopyFromRequest* req,
    grpc::ServerWriter<v1::CopyFromResponse>* writer) {
  auto pid = client_->TaskPid(req->item());
  if (!pid.ok()) return ToGrpcStatus(pid.status());
  std::string err = ReadTree(
      absl::StrCat("/proc/", *pid, "/root"), "/root", req->path(),
      [&](const TreeEntry& e) {
        v1::CopyFromResponse m;
        *m.mutable_entry() = ToProto(e);
        return writer->Write(m);
      },
      [&](const char* p, size_t n) {
        v1::CopyFromResponse m;
        m.set_data(std::string(p, n));
        return writer->Write(m);
      },
      256 * 1024);
  if (err == "cancelled")
    return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
  if (!err.empty())
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, err);
  return grpc::Status::OK;
}

}  // namespace cloonix
