// cloonix ssh, scp, osh, ocp, console, tunnel: into the guests.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "cli/a2b_args.h"
#include "cli/commands/commands.h"
#include "cli/context.h"
#include "cli/guest_client.h"
#include "cli/output.h"
#include "common/a2b_settings.h"
#include "common/atomic_file.h"
#include "common/daemon_setup.h"
#include "common/item_kind.h"
#include "common/names.h"
#include "common/netns.h"
#include "common/pki.h"
#include "common/process.h"
#include "common/rpc_client.h"

namespace cloonix::cli {

namespace {

int Ssh(const Globals& g, const std::string& name,
        const std::vector<std::string>& cmd, bool force_tty, bool no_tty,
        bool x11) {
  Client c(g);
  if (!c.Exists()) return NotRunning(g);
  // Like ssh: a shell gets a pty when stdin is a terminal; a command does
  // not unless -t. A command is run by the guest's /bin/sh -c.
  bool tty = force_tty || (cmd.empty() && isatty(STDIN_FILENO) && !no_tty);
  std::vector<std::string> argv;
  if (!cmd.empty()) {
    std::string line;
    for (const auto& a : cmd)
      absl::StrAppend(&line, line.empty() ? "" : " ", a);
    argv = {"/bin/sh", "-c", line};
  }
  grpc::Status err;
  int code = cloonix::cli::RunSsh(c.guest(), name, argv, tty, &err, x11);
  if (code < 0) return FailRpc(g, err);
  return code;
}

int Scp(const Globals& g, const std::string& src, const std::string& dst,
        bool recursive, bool quiet) {
  auto from = cloonix::cli::ParseGuestPath(src);
  auto to = cloonix::cli::ParseGuestPath(dst);
  if (from.has_value() == to.has_value()) {
    return Fail(
        "scp copies between this host and one guest: write the guest side "
        "name:path (e.g. cloonix scp file vm1:/tmp/)",
        kExitUsage);
  }
  Client c(g);
  if (!c.Exists()) return NotRunning(g);
  bool progress = !quiet && !g.Json() && isatty(STDERR_FILENO);
  grpc::Status rpc;
  auto r = to.has_value()
               ? cloonix::cli::CopyToGuest(c.guest(), src, *to, recursive,
                                           progress, &rpc)
               : cloonix::cli::CopyFromGuest(c.guest(), *from, dst, recursive,
                                             progress, &rpc);
  if (!rpc.ok()) return FailRpc(g, rpc);
  if (!r.ok()) return Fail(std::string(r.status().message()));
  if (g.Json()) {
    std::cout << absl::StrCat("{\"files\":", r->files, ",\"bytes\":", r->bytes,
                              ",\"seconds\":", r->seconds, "}")
              << std::endl;
  } else if (!quiet) {
    std::cerr << "copied " << r->files << " file" << (r->files == 1 ? "" : "s")
              << ", " << r->bytes << " bytes in "
              << absl::StrFormat("%.2f", r->seconds) << " s" << std::endl;
  }
  return 0;
}

int Tunnel(const Globals& g, const std::string& name, uint32_t port) {
  Client c(g);
  if (!c.Exists()) return NotRunning(g);
  grpc::Status err;
  if (cloonix::cli::RunTunnel(c.guest(), name, port, &err) != 0)
    return FailRpc(g, err);
  return 0;
}

// The global options that select this net, for a nested cloonix command.
std::string SelfOptions(const Globals& g) {
  std::string o = absl::StrCat(" --net ", g.net, " --work-root ", g.work_root);
  if (!g.remote.empty())
    absl::StrAppend(&o, " --remote ", g.remote, " --creds ", g.creds);
  return o;
}

// What osh and ocp pass to the system's ssh/scp: the identity file, the
// login name (root unless -l; Cloonix's router images log in as admin), and
// extra ssh options (-o, repeatable).
struct SshLogin {
  std::string key;
  std::string user = "root";
  std::vector<std::string> options;
};

std::vector<std::string> SshOptions(const Globals& g, const std::string& self,
                                    const SshLogin& login) {
  std::string me = self;
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n > 0) me.assign(buf, static_cast<size_t>(n));
  std::vector<std::string> o = {
      "-o", absl::StrCat("ProxyCommand=", me, SelfOptions(g), " tunnel %h 22"),
      "-o", "StrictHostKeyChecking=no",
      "-o", "UserKnownHostsFile=/dev/null",
      "-o", "LogLevel=ERROR"};
  if (!login.key.empty()) o.insert(o.end(), {"-i", login.key});
  for (const auto& opt : login.options) o.insert(o.end(), {"-o", opt});
  return o;
}

int ExecTool(std::vector<std::string> argv) {
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  execvp(cargv[0], cargv.data());
  return Fail(absl::StrCat("cannot run ", argv[0], ": ", std::strerror(errno),
                           " (apt-get install openssh-client)"));
}

int Osh(const Globals& g, const std::string& self, const std::string& name,
        const SshLogin& login, const std::vector<std::string>& cmd) {
  std::vector<std::string> argv = {"ssh"};
  auto o = SshOptions(g, self, login);
  argv.insert(argv.end(), o.begin(), o.end());
  argv.push_back(login.user + "@" + name);
  argv.insert(argv.end(), cmd.begin(), cmd.end());
  return ExecTool(argv);
}

int Ocp(const Globals& g, const std::string& self, const std::string& src,
        const std::string& dst, bool recursive, const SshLogin& login) {
  auto from = cloonix::cli::ParseGuestPath(src);
  auto to = cloonix::cli::ParseGuestPath(dst);
  if (from.has_value() == to.has_value()) {
    return Fail("ocp copies between this host and one guest (name:path)",
                kExitUsage);
  }
  std::vector<std::string> argv = {"scp", "-q"};
  if (recursive) argv.push_back("-r");
  auto o = SshOptions(g, self, login);
  argv.insert(argv.end(), o.begin(), o.end());
  argv.push_back(
      from ? absl::StrCat(login.user, "@", from->item, ":", from->path) : src);
  argv.push_back(to ? absl::StrCat(login.user, "@", to->item, ":", to->path)
                    : dst);
  return ExecTool(argv);
}

}  // namespace

// Removes and returns the remote command of `cloonix [global options] ssh
// [-t|-T] <name> <command...>` (or osh [-i key]); other command lines are left
// as they are.
std::vector<std::string> SplitSshCommand(std::vector<std::string>* args) {
  static const std::set<std::string> kWithValue = {
      "-n", "--net", "--work-root", "-f", "--format", "--remote", "--creds"};
  size_t i = 0;
  while (i < args->size() && (*args)[i].rfind("-", 0) == 0) {
    bool has_eq = (*args)[i].find('=') != std::string::npos;
    i += (!has_eq && kWithValue.count((*args)[i])) ? 2 : 1;
  }
  if (i >= args->size() || ((*args)[i] != "ssh" && (*args)[i] != "osh"))
    return {};
  ++i;
  // Options of ssh/osh before the name; -i, -l and -o take a value.
  auto takes_value = [](const std::string& a) {
    return a == "-i" || a == "-l" || a == "-o";
  };
  while (i < args->size() && ((*args)[i] == "-t" || (*args)[i] == "-T" ||
                              (*args)[i] == "-X" || takes_value((*args)[i]))) {
    i += takes_value((*args)[i]) ? 2 : 1;
  }
  if (i >= args->size() || (*args)[i].rfind("-", 0) == 0) return {};
  std::vector<std::string> cmd(args->begin() + i + 1, args->end());
  args->resize(i + 1);
  return cmd;
}

void AddGuestCommands(CLI::App* app, Context& ctx) {
  Globals& g = ctx.g;
  // ssh / scp
  static std::string ssh_name;
  static bool force_tty = false, no_tty = false;
  auto* ssh = app->add_subcommand(
      "ssh",
      "ssh <name> [command...]: a root shell or a command in a kvm or cnt, "
      "through its agent (works with the guest's network down); exits with "
      "the command's code");
  ssh->add_flag("-t", force_tty, "Allocate a pty even for a command");
  ssh->add_flag("-T", no_tty, "Never allocate a pty");
  static bool x11 = false;
  ssh->add_flag("-X", x11,
                "Forward X11: the guest's X clients open their windows on "
                "$DISPLAY (kvm only; no guest networking needed)");
  ssh->add_option("name", ssh_name, "kvm or cnt name")->required();
  ssh->footer(
      "Everything after the name is the command (options included); it runs "
      "under /bin/sh -c.");
  ssh->callback([&] {
    ctx.action = [&] {
      return Ssh(g, ssh_name, ctx.ssh_cmd, force_tty, no_tty, x11);
    };
  });
  static std::string scp_src, scp_dst;
  static bool scp_r = false, scp_q = false;
  auto* scp = app->add_subcommand(
      "scp",
      "scp [-r] <src> <dst>: copy files between this host and a guest; the "
      "guest side is name:path (relative paths are under /root)");
  scp->add_flag("-r", scp_r, "Copy directories recursively");
  scp->add_flag("-q", scp_q, "No progress and no summary");
  scp->add_option("src", scp_src, "Source")->required();
  scp->add_option("dst", scp_dst, "Destination")->required();
  scp->callback([&] {
    ctx.action = [&] { return Scp(g, scp_src, scp_dst, scp_r, scp_q); };
  });

  // osh / ocp / tunnel: guests without agent, through their nat.
  static std::string osh_name;
  static SshLogin osh_login;
  auto* osh = app->add_subcommand(
      "osh",
      "osh [-i KEY] [-l USER] [-o OPTION]... <name> [command...]: ssh to the "
      "guest's own ssh server through its nat, for guests without agent "
      "(Cloonix's cloonix_osh); runs the system's ssh");
  osh->add_option("-i", osh_login.key, "Identity file for ssh");
  osh->add_option("-l", osh_login.user,
                  "Login name (default root; Cloonix's router images: admin)");
  osh->add_option("-o", osh_login.options,
                  "An ssh option (ssh -o), e.g. -o "
                  "KexAlgorithms=+diffie-hellman-group1-sha1; repeatable");
  osh->add_option("name", osh_name, "kvm or cnt name")->required();
  osh->footer("Everything after the name is the remote command.");
  osh->callback([&] {
    ctx.action = [&] {
      return Osh(g, ctx.self, osh_name, osh_login, ctx.ssh_cmd);
    };
  });
  static std::string ocp_src, ocp_dst;
  static SshLogin ocp_login;
  static bool ocp_r = false;
  auto* ocp = app->add_subcommand(
      "ocp",
      "ocp [-r] <src> <dst>: scp with the guest's own ssh server through its "
      "nat (name:path on the guest side), for guests without agent");
  ocp->add_flag("-r", ocp_r, "Recursive");
  ocp->add_option("-i", ocp_login.key, "Identity file for scp");
  ocp->add_option("-l", ocp_login.user, "Login name (default root)");
  ocp->add_option("-o", ocp_login.options,
                  "An ssh option (scp -o); repeatable");
  ocp->add_option("src", ocp_src, "Source")->required();
  ocp->add_option("dst", ocp_dst, "Destination")->required();
  ocp->callback([&] {
    ctx.action = [&] {
      return Ocp(g, ctx.self, ocp_src, ocp_dst, ocp_r, ocp_login);
    };
  });
  static std::string con_name;
  static int con_for = 0;
  auto* con = app->add_subcommand(
      "console",
      "console <name> [--for S]: attach to a kvm's serial console (Cloonix's "
      "cloonix_shk); Ctrl-] detaches");
  con->add_option("name", con_name, "kvm name")->required();
  con->add_option("--for", con_for,
                  "Detach after S seconds (print what the console shows; for "
                  "scripts)");
  con->callback([&] {
    ctx.action = [&]() -> int {
      Client c(g);
      if (!c.Exists()) return NotRunning(g);
      grpc::Status err;
      if (cloonix::cli::RunConsole(c.guest(), con_name, con_for, &err) != 0)
        return FailRpc(g, err);
      return 0;
    };
  });
  static std::string tun_name;
  static uint32_t tun_port = 22;
  auto* tun = app->add_subcommand(
      "tunnel",
      "tunnel <name> <port>: stdin/stdout to a TCP port of a guest through "
      "its nat (an ssh ProxyCommand)");
  tun->add_option("name", tun_name, "kvm or cnt name")->required();
  tun->add_option("port", tun_port, "guest TCP port")->required();
  tun->callback(
      [&] { ctx.action = [&] { return Tunnel(g, tun_name, tun_port); }; });
}

}  // namespace cloonix::cli
