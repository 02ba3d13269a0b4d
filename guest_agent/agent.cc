// cloonix-agent: runs inside a guest (static binary, no dependencies), opens
// the virtio-serial port named org.cloonix.agent.0 and serves the guest
// channel described in common/agent_wire.h: heartbeats, command exec with or
// without a pty, window resize, file put/get. The port is reopened whenever
// the host side goes away (vm_runner restart, VM reboot), and every session
// of a lost host is killed.
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/agent_wire.h"
#include "common/file_tree.h"

namespace {

using cloonix::TreeEntry;
using cloonix::TreeReader;
using cloonix::TreeWriter;
namespace wire = cloonix::wire;
using Clock = std::chrono::steady_clock;

int g_sigchld_pipe[2] = {-1, -1};

void OnSigchld(int) {
  int saved = errno;
  char c = 1;
  (void)!write(g_sigchld_pipe[1], &c, 1);
  errno = saved;
}

void Log(const std::string& msg) {
  std::fprintf(stderr, "cloonix-agent: %s\n", msg.c_str());
}

// Finds /dev/vportNpM whose port name is the agent's.
std::string FindPort() {
  DIR* d = opendir("/sys/class/virtio-ports");
  if (d == nullptr) return "";
  std::string found;
  while (struct dirent* de = readdir(d)) {
    if (de->d_name[0] == '.') continue;
    std::string dir = std::string("/sys/class/virtio-ports/") + de->d_name;
    FILE* f = std::fopen((dir + "/name").c_str(), "r");
    if (f == nullptr) continue;
    char buf[128] = {0};
    if (std::fgets(buf, sizeof(buf), f) != nullptr) {
      std::string name(buf);
      while (!name.empty() && (name.back() == '\n')) name.pop_back();
      if (name == wire::kAgentPortName)
        found = std::string("/dev/") + de->d_name;
    }
    std::fclose(f);
  }
  closedir(d);
  return found;
}

struct Session {
  uint32_t id = 0;
  pid_t pid = -1;
  bool tty = false;
  int in_fd = -1;   // child's stdin (pipe) or the pty master
  int out_fd = -1;  // child's stdout (pipe) or the pty master
  int err_fd = -1;  // child's stderr (pipe); -1 with a pty
  std::string stdin_buf;
  bool stdin_eof = false;
  bool exited = false;
  int status = 0;
  Clock::time_point exit_time;
  // X11 forwarding (ExecStart.x11): the display's listening socket, the
  // files to remove when the session ends, and the open channels.
  int x11_listen = -1;
  std::string x11_socket, x11_auth;
  uint32_t x11_next = 1;
  struct X11Chan {
    int fd = -1;
    std::string out;  // bytes from the host not yet written to the client
  };
  std::map<uint32_t, X11Chan> x11;
};

// One entry of an Xauthority file (libXau's format, big-endian lengths):
// FamilyWild (any host) for display `number`.
std::string XauthEntry(const std::string& number, const std::string& proto,
                       const std::string& cookie) {
  std::string out;
  auto u16 = [&](size_t v) {
    out.push_back(static_cast<char>((v >> 8) & 0xff));
    out.push_back(static_cast<char>(v & 0xff));
  };
  auto field = [&](const std::string& f) {
    u16(f.size());
    out += f;
  };
  u16(0xffff);
  field("");
  field(number);
  field(proto);
  field(cookie);
  return out;
}

// True when something accepts connections on the unix socket `path`.
bool Listening(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  struct sockaddr_un a = {};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof(a.sun_path), "%s", path.c_str());
  bool up = connect(fd, reinterpret_cast<struct sockaddr*>(&a), sizeof(a)) == 0;
  close(fd);
  return up;
}

class Agent {
 public:
  explicit Agent(int fd) : fd_(fd) {}
  ~Agent() {
    for (auto& [id, s] : sessions_) Kill(s.get());
  }
  // Serves until the host goes away.
  void Run();

 private:
  void Send(wire::Type t, uint32_t session, std::string payload);
  // Writes the out buffer; blocks up to `wait_ms` for room. False when the
  // host is gone.
  bool Flush(int wait_ms);
  void Handle(const wire::Frame& f);
  void StartExec(uint32_t id, const std::string& payload);
  // Listens on the first free /tmp/.X11-unix/X<n> (n >= 10) and writes an
  // Xauthority file holding the session's cookie; adds DISPLAY and
  // XAUTHORITY to `env`. False with *err when no display is free.
  bool OfferDisplay(Session* s, const wire::ExecStart& req,
                    std::vector<std::string>* env, std::string* err);
  void CloseX11(Session* s);
  void CloseChannel(Session* s, uint32_t chan, bool tell_host);
  void ReadChannel(Session* s, uint32_t chan);
  void ReadOutput(Session* s, int fd, wire::Type t);
  void Finish(Session* s);
  void Kill(Session* s);
  void Reap();
  void PumpGets();

  int fd_;
  bool gone_ = false;
  // Bytes for the channel: out_[out_off_..). Writes advance the offset; the
  // written front is dropped only once it is most of the buffer (erasing it
  // after each write of <= 32 KB, virtio-console's limit, moved up to 1 MiB
  // per write: under TCG that halved copies out of the guest).
  std::string out_;
  size_t out_off_ = 0;
  size_t Pending() const { return out_.size() - out_off_; }
  wire::FrameParser parser_;
  std::map<uint32_t, std::unique_ptr<Session>> sessions_;
  std::map<uint32_t, std::unique_ptr<TreeWriter>> puts_;
  std::map<uint32_t, std::unique_ptr<TreeReader>> gets_;
};

void Agent::Send(wire::Type t, uint32_t session, std::string payload) {
  wire::Frame f{t, session, std::move(payload)};
  wire::AppendFrame(f, &out_);
}

bool Agent::Flush(int wait_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(wait_ms);
  while (Pending() > 0) {
    ssize_t n = write(fd_, out_.data() + out_off_, Pending());
    if (n > 0) {
      out_off_ += static_cast<size_t>(n);
      if (out_off_ == out_.size()) {
        out_.clear();
        out_off_ = 0;
      } else if (out_off_ >= (256u << 10) && out_off_ * 2 >= out_.size()) {
        out_.erase(0, out_off_);
        out_off_ = 0;
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) {
      gone_ = true;
      return false;
    }
    int left =
        static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                             deadline - Clock::now())
                             .count());
    if (left <= 0) return true;
    struct pollfd p = {fd_, POLLOUT, 0};
    int r = poll(&p, 1, left);
    if (r > 0 && (p.revents & (POLLHUP | POLLERR))) {
      gone_ = true;
      return false;
    }
  }
  return true;
}

bool Agent::OfferDisplay(Session* s, const wire::ExecStart& req,
                         std::vector<std::string>* env, std::string* err) {
  if (req.x11_proto.empty() || req.x11_cookie.empty() ||
      req.x11_cookie.size() > 256) {
    *err = "x11: no cookie given";
    return false;
  }
  if (mkdir("/tmp/.X11-unix", 01777) == 0) chmod("/tmp/.X11-unix", 01777);
  for (int n = 10; n < 100; ++n) {
    const std::string num = std::to_string(n);
    if (access(("/tmp/.X" + num + "-lock").c_str(), F_OK) == 0) continue;
    const std::string path = "/tmp/.X11-unix/X" + num;
    if (access(path.c_str(), F_OK) == 0) {
      if (Listening(path)) continue;
      unlink(path.c_str());  // left by a session that was killed
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) break;
    struct sockaddr_un a = {};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof(a.sun_path), "%s", path.c_str());
    if (bind(fd, reinterpret_cast<struct sockaddr*>(&a), sizeof(a)) != 0 ||
        listen(fd, 16) != 0) {
      close(fd);
      continue;
    }
    chmod(path.c_str(), 0777);
    const std::string auth = "/tmp/.cloonix-xauth-" + num;
    int afd = open(auth.c_str(),
                   O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    const std::string entry = XauthEntry(num, req.x11_proto, req.x11_cookie);
    bool wrote = afd >= 0 && write(afd, entry.data(), entry.size()) ==
                                 static_cast<ssize_t>(entry.size());
    if (afd >= 0) close(afd);
    if (!wrote) {
      close(fd);
      unlink(path.c_str());
      unlink(auth.c_str());
      *err = "x11: cannot write " + auth + ": " + strerror(errno);
      return false;
    }
    s->x11_listen = fd;
    s->x11_socket = path;
    s->x11_auth = auth;
    env->push_back("DISPLAY=:" + num);
    env->push_back("XAUTHORITY=" + auth);
    return true;
  }
  *err = "x11: no free display from :10 to :99 in the guest";
  return false;
}

void Agent::CloseChannel(Session* s, uint32_t chan, bool tell_host) {
  auto it = s->x11.find(chan);
  if (it == s->x11.end()) return;
  close(it->second.fd);
  s->x11.erase(it);
  if (tell_host) {
    wire::WireWriter w;
    w.U32(chan);
    Send(wire::Type::kX11Close, s->id, w.Take());
  }
}

void Agent::CloseX11(Session* s) {
  for (auto& [chan, c] : s->x11) close(c.fd);
  s->x11.clear();
  if (s->x11_listen >= 0) close(s->x11_listen);
  s->x11_listen = -1;
  if (!s->x11_socket.empty()) unlink(s->x11_socket.c_str());
  if (!s->x11_auth.empty()) unlink(s->x11_auth.c_str());
  s->x11_socket.clear();
  s->x11_auth.clear();
}

void Agent::ReadChannel(Session* s, uint32_t chan) {
  auto it = s->x11.find(chan);
  if (it == s->x11.end()) return;
  char buf[65536];
  ssize_t n = read(it->second.fd, buf, sizeof(buf));
  if (n > 0) {
    Send(wire::Type::kX11Data, s->id,
         wire::EncodeX11Data(chan, std::string(buf, static_cast<size_t>(n))));
    return;
  }
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  CloseChannel(s, chan, true);
}

void Agent::StartExec(uint32_t id, const std::string& payload) {
  wire::ExecStart req;
  if (!wire::DecodeExecStart(payload, &req)) {
    Send(wire::Type::kError, id, "malformed exec request");
    return;
  }
  std::vector<std::string> argv = req.argv;
  if (argv.empty()) {
    const char* shell =
        access("/bin/bash", X_OK) == 0 ? "/bin/bash" : "/bin/sh";
    argv = {shell, "-l"};
  }
  auto s = std::make_unique<Session>();
  s->id = id;
  s->tty = req.tty;
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  int master = -1, slave = -1;
  if (req.tty) {
    struct winsize ws = {};
    ws.ws_row = static_cast<unsigned short>(req.rows ? req.rows : 24);
    ws.ws_col = static_cast<unsigned short>(req.cols ? req.cols : 80);
    if (openpty(&master, &slave, nullptr, nullptr, &ws) != 0) {
      Send(wire::Type::kError, id, std::string("openpty: ") + strerror(errno));
      return;
    }
    fcntl(master, F_SETFD, FD_CLOEXEC);
  } else if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 ||
             pipe2(err, O_CLOEXEC) != 0) {
    Send(wire::Type::kError, id, std::string("pipe: ") + strerror(errno));
    for (int f : {in[0], in[1], out[0], out[1], err[0], err[1]})
      if (f >= 0) close(f);
    return;
  }
  std::vector<std::string> env = {
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "HOME=/root", "USER=root", "LOGNAME=root", "SHELL=/bin/sh"};
  if (req.tty) env.push_back("TERM=" + (req.term.empty() ? "xterm" : req.term));
  for (const auto& e : req.env) env.push_back(e);
  if (req.x11) {
    std::string why;
    if (!OfferDisplay(s.get(), req, &env, &why)) {
      Send(wire::Type::kError, id, why);
      for (int f :
           {in[0], in[1], out[0], out[1], err[0], err[1], master, slave})
        if (f >= 0) close(f);
      return;
    }
  }
  pid_t pid = fork();
  if (pid < 0) {
    Send(wire::Type::kError, id, std::string("fork: ") + strerror(errno));
    for (int f : {in[0], in[1], out[0], out[1], err[0], err[1], master, slave})
      if (f >= 0) close(f);
    CloseX11(s.get());
    return;
  }
  if (pid == 0) {
    setsid();
    if (req.tty) {
      ioctl(slave, TIOCSCTTY, 0);
      dup2(slave, 0);
      dup2(slave, 1);
      dup2(slave, 2);
      if (slave > 2) close(slave);
    } else {
      dup2(in[0], 0);
      dup2(out[1], 1);
      dup2(err[1], 2);
    }
    signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (chdir("/root") != 0 && chdir("/") != 0) _exit(126);
    std::vector<char*> cargv, cenv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    for (auto& e : env) cenv.push_back(e.data());
    cenv.push_back(nullptr);
    environ = cenv.data();
    execvp(cargv[0], cargv.data());
    std::string msg = argv[0] + ": " + strerror(errno) + "\n";
    (void)!write(2, msg.data(), msg.size());
    _exit(errno == ENOENT ? 127 : 126);
  }
  s->pid = pid;
  if (req.tty) {
    close(slave);
    s->in_fd = s->out_fd = master;
  } else {
    close(in[0]);
    close(out[1]);
    close(err[1]);
    s->in_fd = in[1];
    s->out_fd = out[0];
    s->err_fd = err[0];
  }
  fcntl(s->in_fd, F_SETFL, fcntl(s->in_fd, F_GETFL) | O_NONBLOCK);
  fcntl(s->out_fd, F_SETFL, fcntl(s->out_fd, F_GETFL) | O_NONBLOCK);
  if (s->err_fd >= 0)
    fcntl(s->err_fd, F_SETFL, fcntl(s->err_fd, F_GETFL) | O_NONBLOCK);
  sessions_[id] = std::move(s);
}

void Agent::Kill(Session* s) {
  if (s->pid > 0 && !s->exited) {
    kill(-s->pid, SIGKILL);
    kill(s->pid, SIGKILL);
  }
  if (s->in_fd >= 0 && s->in_fd != s->out_fd) close(s->in_fd);
  if (s->out_fd >= 0) close(s->out_fd);
  if (s->err_fd >= 0) close(s->err_fd);
  s->in_fd = s->out_fd = s->err_fd = -1;
  CloseX11(s);
}

void Agent::Finish(Session* s) {
  wire::WireWriter w;
  int code = WIFEXITED(s->status) ? WEXITSTATUS(s->status) : 128;
  int sig = WIFSIGNALED(s->status) ? WTERMSIG(s->status) : 0;
  if (sig) code = 128 + sig;
  w.I32(code).I32(sig);
  Send(wire::Type::kExit, s->id, w.Take());
  s->pid = -1;
  Kill(s);
}

void Agent::ReadOutput(Session* s, int fd, wire::Type t) {
  char buf[32768];
  ssize_t n = read(fd, buf, sizeof(buf));
  if (n > 0) {
    Send(t, s->id, std::string(buf, static_cast<size_t>(n)));
    return;
  }
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  // EOF (pipe) or EIO (pty whose last slave closed).
  if (fd == s->err_fd) {
    close(s->err_fd);
    s->err_fd = -1;
  } else {
    if (s->in_fd != s->out_fd && s->in_fd >= 0) {
      // keep stdin open: the child may still read it
    }
    if (s->in_fd == s->out_fd) s->in_fd = -1;
    close(s->out_fd);
    s->out_fd = -1;
  }
}

void Agent::Reap() {
  char drain[64];
  while (read(g_sigchld_pipe[0], drain, sizeof(drain)) > 0) {
  }
  for (;;) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) break;
    for (auto& [id, s] : sessions_) {
      if (s->pid == pid) {
        s->exited = true;
        s->status = status;
        s->exit_time = Clock::now();
      }
    }
  }
}

// Copies out progress a chunk at a time between the loop's other work, as
// long as the host keeps up (at most ~1 MiB waits in out_): other sessions
// and kKill are served meanwhile.
void Agent::PumpGets() {
  for (auto it = gets_.begin(); it != gets_.end();) {
    bool done = false;
    while (Pending() < (1u << 20)) {
      TreeReader::Step step = TreeReader::Step::kDone;
      TreeEntry e;
      std::string data;
      std::string err = it->second->Next(&step, &e, &data);
      if (!err.empty()) {
        Send(wire::Type::kError, it->first, err);
        done = true;
        break;
      }
      if (step == TreeReader::Step::kDone) {
        Send(wire::Type::kGetEnd, it->first, "");
        done = true;
        break;
      }
      if (step == TreeReader::Step::kEntry) {
        Send(wire::Type::kEntry, it->first, cloonix::EncodeEntry(e));
      } else {
        Send(wire::Type::kData, it->first, std::move(data));
      }
    }
    it = done ? gets_.erase(it) : std::next(it);
  }
}

void Agent::Handle(const wire::Frame& f) {
  auto it = sessions_.find(f.session);
  Session* s = it == sessions_.end() ? nullptr : it->second.get();
  switch (f.type) {
    case wire::Type::kExecStart:
      if (s != nullptr) {
        Send(wire::Type::kError, f.session, "session id in use");
        return;
      }
      StartExec(f.session, f.payload);
      return;
    case wire::Type::kStdin:
      if (s != nullptr && s->in_fd >= 0) {
        s->stdin_buf += f.payload;
        // A command that does not read its stdin must not fill the guest's
        // memory: end the session.
        if (s->stdin_buf.size() > (16u << 20)) {
          Send(wire::Type::kError, s->id,
               "more than 16 MiB of stdin waiting: the command does not read "
               "it");
          Kill(s);
          sessions_.erase(it);
        }
      }
      return;
    case wire::Type::kStdinEof:
      if (s != nullptr) s->stdin_eof = true;
      return;
    case wire::Type::kResize:
      if (s != nullptr && s->tty && s->out_fd >= 0) {
        wire::WireReader r(f.payload);
        struct winsize ws = {};
        ws.ws_row = static_cast<unsigned short>(r.U32());
        ws.ws_col = static_cast<unsigned short>(r.U32());
        if (r.ok()) {
          ioctl(s->out_fd, TIOCSWINSZ, &ws);
          kill(-s->pid, SIGWINCH);
        }
      }
      return;
    case wire::Type::kKill:
      if (s != nullptr) {
        Kill(s);
        sessions_.erase(it);
      }
      puts_.erase(f.session);
      gets_.erase(f.session);
      return;
    case wire::Type::kPutBegin: {
      auto w = std::make_unique<TreeWriter>("", "/root");
      std::string err = w->Begin(f.payload);
      if (!err.empty()) {
        Send(wire::Type::kError, f.session, err);
        return;
      }
      puts_[f.session] = std::move(w);
      Send(wire::Type::kOk, f.session, "");
      return;
    }
    case wire::Type::kEntry:
    case wire::Type::kData:
    case wire::Type::kPutEnd: {
      auto p = puts_.find(f.session);
      if (p == puts_.end()) return;  // already failed
      std::string err;
      if (f.type == wire::Type::kEntry) {
        TreeEntry e;
        err = cloonix::DecodeEntry(f.payload, &e) ? p->second->Entry(e)
                                                  : "malformed copy entry";
      } else if (f.type == wire::Type::kData) {
        err = p->second->Data(f.payload.data(), f.payload.size());
      } else {
        err = p->second->End();
        if (err.empty()) {
          wire::WireWriter w;
          w.U32(p->second->files()).U64(p->second->bytes());
          Send(wire::Type::kOk, f.session, w.Take());
          puts_.erase(p);
          return;
        }
      }
      if (!err.empty()) {
        Send(wire::Type::kError, f.session, err);
        puts_.erase(p);
      }
      return;
    }
    case wire::Type::kX11Data: {
      uint32_t chan = 0;
      std::string data;
      if (s == nullptr || !wire::DecodeX11Data(f.payload, &chan, &data)) return;
      auto c = s->x11.find(chan);
      if (c == s->x11.end()) return;
      c->second.out += data;
      // A client that does not read must not fill the guest's memory.
      if (c->second.out.size() > (16u << 20)) CloseChannel(s, chan, true);
      return;
    }
    case wire::Type::kX11Close: {
      wire::WireReader r(f.payload);
      uint32_t chan = r.U32();
      if (s != nullptr && r.ok()) CloseChannel(s, chan, false);
      return;
    }
    case wire::Type::kGetBegin:
      gets_[f.session] = std::make_unique<TreeReader>("", "/root", f.payload);
      return;
    default:
      return;  // unknown frames are ignored (newer hosts)
  }
}

void Agent::Run() {
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  wire::WireWriter hello;
  hello.U32(wire::kProtocolVersion).Str(host);
  Send(wire::Type::kHello, 0, hello.Take());
  auto next_beat = Clock::now() + std::chrono::seconds(1);
  std::vector<char> buf(256 * 1024);
  while (!gone_) {
    std::vector<struct pollfd> pfds;
    struct Owner {
      Session* first;  // nullptr: the channel or the SIGCHLD pipe
      int second;      // 1 stdout, 2 stderr, 3 stdin, 4 x11 listen, 5 x11
      uint32_t chan = 0;
    };
    std::vector<Owner> owners;
    pfds.push_back(
        {fd_, static_cast<short>(POLLIN | (Pending() == 0 ? 0 : POLLOUT)), 0});
    owners.push_back({nullptr, 0, 0});
    pfds.push_back({g_sigchld_pipe[0], POLLIN, 0});
    owners.push_back({nullptr, 1, 0});
    bool backlog = Pending() > (4 << 20);
    int timeout = 1000;
    auto now = Clock::now();
    for (auto& [id, s] : sessions_) {
      if (!backlog) {
        if (s->out_fd >= 0) {
          pfds.push_back({s->out_fd, POLLIN, 0});
          owners.push_back({s.get(), 1, 0});
        }
        if (s->err_fd >= 0) {
          pfds.push_back({s->err_fd, POLLIN, 0});
          owners.push_back({s.get(), 2, 0});
        }
        if (s->x11_listen >= 0) {
          pfds.push_back({s->x11_listen, POLLIN, 0});
          owners.push_back({s.get(), 4, 0});
        }
      }
      for (auto& [chan, c] : s->x11) {
        short ev = static_cast<short>((backlog ? 0 : POLLIN) |
                                      (c.out.empty() ? 0 : POLLOUT));
        pfds.push_back({c.fd, ev, 0});
        owners.push_back({s.get(), 5, chan});
      }
      if (!s->stdin_buf.empty() && s->in_fd >= 0 && !s->tty) {
        pfds.push_back({s->in_fd, POLLOUT, 0});
        owners.push_back({s.get(), 3, 0});
      } else if (!s->stdin_buf.empty() && s->tty && s->out_fd >= 0) {
        pfds.push_back({s->out_fd, POLLOUT, 0});
        owners.push_back({s.get(), 3, 0});
      }
      if (s->exited) timeout = 50;
    }
    int ms = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(next_beat - now)
            .count());
    if (ms < 0) ms = 0;
    if (ms < timeout) timeout = ms;
    // A copy out in progress: come back at once while there is room.
    if (!gets_.empty() && Pending() < (1u << 20)) timeout = 0;
    int r = poll(pfds.data(), pfds.size(), timeout);
    if (r < 0 && errno != EINTR) {
      Log(std::string("poll: ") + strerror(errno));
      return;
    }
    if (pfds[0].revents & (POLLHUP | POLLERR | POLLNVAL)) return;
    if (pfds[0].revents & POLLIN) {
      ssize_t n = read(fd_, buf.data(), buf.size());
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return;
      if (n > 0) {
        parser_.Feed(buf.data(), static_cast<size_t>(n));
        wire::Frame f;
        std::string err;
        while (parser_.Next(&f, &err)) Handle(f);
        if (!err.empty()) {
          Log("protocol error: " + err);
          return;
        }
      }
    }
    if (pfds[1].revents & POLLIN) Reap();
    // The host's frames may have ended sessions (kKill) polled above.
    std::set<Session*> live;
    for (auto& [id, s] : sessions_) live.insert(s.get());
    for (size_t i = 2; i < pfds.size(); ++i) {
      if (pfds[i].revents == 0 || !live.count(owners[i].first)) continue;
      Session* s = owners[i].first;
      int what = owners[i].second;
      if (what == 1 && s->out_fd >= 0)
        ReadOutput(s, s->out_fd, wire::Type::kStdout);
      if (what == 2 && s->err_fd >= 0)
        ReadOutput(s, s->err_fd, wire::Type::kStderr);
      if (what == 4 && s->x11_listen >= 0) {
        int c = accept4(s->x11_listen, nullptr, nullptr,
                        SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (c >= 0) {
          uint32_t chan = s->x11_next++;
          s->x11[chan].fd = c;
          wire::WireWriter w;
          w.U32(chan);
          Send(wire::Type::kX11Open, s->id, w.Take());
        }
        continue;
      }
      if (what == 5) {
        const uint32_t chan = owners[i].chan;
        auto c = s->x11.find(chan);
        if (c == s->x11.end()) continue;
        if ((pfds[i].revents & POLLOUT) && !c->second.out.empty()) {
          ssize_t n =
              write(c->second.fd, c->second.out.data(), c->second.out.size());
          if (n > 0) c->second.out.erase(0, static_cast<size_t>(n));
          if (n < 0 && errno != EAGAIN && errno != EINTR) {
            CloseChannel(s, chan, true);
            continue;
          }
        }
        if (pfds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
          ReadChannel(s, chan);
        }
        continue;
      }
      if (what == 3) {
        int fd = s->tty ? s->out_fd : s->in_fd;
        if (fd < 0) continue;
        ssize_t n = write(fd, s->stdin_buf.data(), s->stdin_buf.size());
        if (n > 0) s->stdin_buf.erase(0, static_cast<size_t>(n));
        if (n < 0 && errno != EAGAIN && errno != EINTR) s->stdin_buf.clear();
      }
    }
    // Stdin EOF once the buffered input is written (pipes only).
    for (auto& [id, s] : sessions_) {
      if (s->stdin_eof && s->stdin_buf.empty() && !s->tty && s->in_fd >= 0) {
        close(s->in_fd);
        s->in_fd = -1;
      }
    }
    // A session ends when its process exited and its output is drained
    // (or 200 ms passed: background children may hold the pipes).
    now = Clock::now();
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      Session* s = it->second.get();
      bool drained = s->out_fd < 0 && s->err_fd < 0;
      if (s->exited &&
          (drained || now - s->exit_time > std::chrono::milliseconds(200))) {
        Finish(s);
        it = sessions_.erase(it);
      } else {
        ++it;
      }
    }
    PumpGets();
    if (Clock::now() >= next_beat) {
      Send(wire::Type::kHeartbeat, 0, "");
      next_beat = Clock::now() + std::chrono::seconds(1);
    }
    if (Pending() > 0) Flush(0);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string port;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::printf(
          "usage: cloonix-agent [--port=/dev/vportNpM]\n"
          "Serves cloonix's guest channel on the virtio-serial port named %s\n"
          "(found under /sys/class/virtio-ports unless --port is given).\n",
          wire::kAgentPortName);
      return 0;
    }
    if (a.rfind("--port=", 0) == 0) port = a.substr(7);
  }
  // One agent per guest: a second one (started by an image's unit and by
  // vm_runner's hvc0 delivery, or typed twice) leaves at once instead of
  // fighting over the port. The lock goes with the process.
  for (const char* lock :
       {"/run/cloonix-agent.lock", "/tmp/cloonix-agent.lock"}) {
    int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lfd < 0) continue;
    if (flock(lfd, LOCK_EX | LOCK_NB) != 0) {
      Log("another cloonix-agent runs (" + std::string(lock) + "): exiting");
      return 0;
    }
    break;  // held until exit
  }
  if (pipe2(g_sigchld_pipe, O_CLOEXEC | O_NONBLOCK) != 0) return 1;
  struct sigaction sa = {};
  sa.sa_handler = OnSigchld;
  sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  sigaction(SIGCHLD, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  bool logged = false;
  for (;;) {
    std::string path = port.empty() ? FindPort() : port;
    int fd =
        path.empty() ? -1 : open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
      if (!logged) Log("waiting for port " + std::string(wire::kAgentPortName));
      logged = true;
      usleep(500 * 1000);
      continue;
    }
    logged = false;
    {
      Agent agent(fd);
      agent.Run();
    }
    close(fd);
    usleep(300 * 1000);  // host not connected: poll again shortly
  }
}
