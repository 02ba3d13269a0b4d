#include "cli/cloonix_compat.h"

#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

extern char** environ;

namespace cloonix::cli {

namespace {

constexpr char kSee[] = " (docs/CLOONIX.md)";

absl::Status NotHere(const std::string& what, const std::string& why) {
  return absl::InvalidArgumentError(
      absl::StrCat(what, ": not supported by this net: ", why, kSee));
}

// Cloonix's eth= ("sss": one letter per eth, s or v; or a count).
absl::StatusOr<std::string> EthCount(const std::string& arg) {
  std::string v = arg.substr(4);
  uint32_t n;
  if (absl::SimpleAtoi(v, &n)) return v;
  if (v.empty() || v.find_first_not_of("sv") != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", arg, "\": Cloonix's eth= takes one letter per eth, s or v"));
  }
  return std::to_string(v.size());
}

absl::StatusOr<std::vector<std::string>> AddKvm(
    const std::vector<std::string>& a) {
  std::vector<std::string> out = {"add", "kvm"};
  static const std::set<std::string> kUnsupported = {"--vwifi", "--9p_share"};
  for (size_t i = 2; i < a.size(); ++i) {
    const std::string& s = a[i];
    std::string key = s.substr(0, s.find('='));
    if (s == "--no_qemu_ga") continue;  // no qemu-ga here: nothing to skip
    if (kUnsupported.count(key)) {
      return NotHere(key, key == "--vwifi"
                              ? "no wifi emulation here"
                              : "no 9p share here (Cloonix 2025 dropped it "
                                "too); use cloonix scp");
    }
    out.push_back(s);
  }
  return out;
}

// add zip|cvm <name> eth=<letters> <image> [options] -> add cnt.
absl::StatusOr<std::vector<std::string>> AddContainer(
    const std::vector<std::string>& a) {
  std::vector<std::string> pos, env, pass;
  for (size_t i = 2; i < a.size(); ++i) {
    const std::string& s = a[i];
    if (absl::StartsWith(s, "--vmount=") || s == "--privileged") {
      pass.push_back(s);
    } else if (absl::StartsWith(s, "--startup_env=")) {
      for (absl::string_view e :
           absl::StrSplit(absl::StripPrefix(s, "--startup_env="), ' ',
                          absl::SkipWhitespace())) {
        env.emplace_back(absl::StripAsciiWhitespace(
            absl::StrReplaceAll(std::string(e), {{"\"", ""}})));
      }
    } else if (absl::StartsWith(s, "--")) {
      return NotHere(s.substr(0, s.find('=')),
                     s == "--persistent"
                         ? "a container's root here is a snapshot of its "
                           "image; keep data in a --vmount directory"
                         : "this option is not built for containers");
    } else {
      pos.push_back(s);
    }
  }
  if (pos.size() != 3 || !absl::StartsWith(pos[1], "eth=")) {
    return absl::InvalidArgumentError(
        absl::StrCat("add ", a[1],
                     " <name> eth=<letters> <image> [--startup_env=...] "
                     "[--vmount=HOST:GUEST] [--privileged]"));
  }
  auto n = EthCount(pos[1]);
  if (!n.ok()) return n.status();
  std::vector<std::string> out = {"add", "cnt", pos[0], pos[2], "eth=" + *n};
  for (const auto& e : env) {
    out.push_back("--env");
    out.push_back(e);
  }
  out.insert(out.end(), pass.begin(), pass.end());
  return out;
}

std::vector<std::string> Tail(const std::vector<std::string>& a, size_t from) {
  return std::vector<std::string>(a.begin() + std::min(from, a.size()),
                                  a.end());
}

// Runs this binary as `cloonix <args>`: replaced (exec), or with its
// stdout and stderr captured (memfds).
struct Ran {
  int code = 255;
  std::string out, err;
};

std::vector<char*> Argv(const std::vector<std::string>& args,
                        std::vector<std::string>* keep) {
  keep->assign({"cloonix"});
  keep->insert(keep->end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : *keep) argv.push_back(s.data());
  argv.push_back(nullptr);
  return argv;
}

int ExecSelf(const std::vector<std::string>& args) {
  std::vector<std::string> keep;
  auto argv = Argv(args, &keep);
  execv("/proc/self/exe", argv.data());
  std::cerr << "cloonix: exec: " << std::strerror(errno) << std::endl;
  return 255;
}

std::string ReadAll(int fd) {
  std::string s;
  lseek(fd, 0, SEEK_SET);
  char buf[4096];
  for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;) s.append(buf, n);
  close(fd);
  return s;
}

Ran RunSelf(const std::vector<std::string>& args) {
  Ran r;
  int out = memfd_create("cloonix-out", MFD_CLOEXEC);
  int err = memfd_create("cloonix-err", MFD_CLOEXEC);
  if (out < 0 || err < 0) {
    r.err = std::string("memfd_create: ") + std::strerror(errno);
    return r;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out, 1);
  posix_spawn_file_actions_adddup2(&fa, err, 2);
  std::vector<std::string> keep;
  auto argv = Argv(args, &keep);
  pid_t pid;
  int rc =
      posix_spawn(&pid, "/proc/self/exe", &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    r.err = std::string("spawn: ") + std::strerror(rc);
    close(out);
    close(err);
    return r;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 255;
  r.out = ReadAll(out);
  r.err = ReadAll(err);
  return r;
}

// "cloonix: X\ncloonix: Y" -> "X; Y".
std::string Reason(const std::string& err) {
  std::vector<std::string> lines;
  for (absl::string_view l : absl::StrSplit(err, '\n', absl::SkipEmpty())) {
    absl::ConsumePrefix(&l, "cloonix: ");
    lines.emplace_back(absl::StripAsciiWhitespace(l));
  }
  return absl::StrJoin(lines, "; ");
}

int Cli(const std::vector<std::string>& a) {
  if (a.size() < 2) {
    std::cout << "KO usage: cloonix_cli <net> <verb> ... (add, del, cnf, kil, "
                 "rma, dmp, lst, pid, evt, sav, snf)"
              << std::endl;
    return 255;
  }
  const std::string& net = a[0];
  std::vector<std::string> verbs = Tail(a, 1);
  auto t = TranslateCliVerb(verbs);
  if (!t.ok()) {
    std::cout << "KO " << t.status().message() << std::endl;
    return 255;
  }
  std::vector<std::string> args = {"--net", net};
  args.insert(args.end(), t->begin(), t->end());
  static const std::set<std::string> kData = {"dmp", "lst", "pid", "events"};
  if (kData.count(t->front())) return ExecSelf(args);
  Ran r = RunSelf(args);
  if (r.code == 0) {
    std::string line;
    for (absl::string_view l : absl::StrSplit(r.out, '\n', absl::SkipEmpty())) {
      line = std::string(absl::StripAsciiWhitespace(l));
      break;
    }
    if (verbs.size() >= 4 && verbs[0] == "cnf" && verbs[1] == "nat") {
      line = "OK=" + line;  // Cloonix's whatip answer: OK OK=<ip>
    }
    std::cout << "OK " << line << std::endl;
    return 0;
  }
  std::cout << "KO " << Reason(r.err.empty() ? r.out : r.err) << std::endl;
  return r.code == 3 ? 1 : 255;  // not running: Cloonix's TIMEOUT exits 1
}

std::string SelfPath() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, n) : "cloonix";
}

bool InPath(const std::string& prog) {
  const char* path = getenv("PATH");
  for (absl::string_view d : absl::StrSplit(path ? path : "", ':')) {
    if (access(absl::StrCat(d, "/", prog).c_str(), X_OK) == 0) return true;
  }
  return false;
}

int Usage(const std::string& tool, const std::string& usage) {
  std::cerr << "usage: " << tool << " " << usage << std::endl;
  return 255;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> TranslateCliVerb(
    const std::vector<std::string>& a) {
  if (a.empty()) return absl::InvalidArgumentError("no verb");
  const std::string& v = a[0];
  const std::string sub = a.size() > 1 ? a[1] : "";
  if (v == "add") {
    if (sub == "kvm") return AddKvm(a);
    if (sub == "zip" || sub == "cvm") return AddContainer(a);
    if (sub == "phy") {
      if (a.size() < 3 || a.size() > 4) {
        return absl::InvalidArgumentError("add phy <nic> [absorb|macvlan]");
      }
      std::vector<std::string> out = {"add", "phy", a[2]};
      if (a.size() == 4) out.insert(out.end(), {"--mode", a[3]});
      return out;
    }
    if (sub == "cnt") {  // older Cloonix: add cnt <name> eth=... <image>
      std::vector<std::string> out = {"add", "cnt"};
      for (size_t i = 2; i < a.size(); ++i) {
        if (absl::StartsWith(a[i], "eth=")) {
          auto n = EthCount(a[i]);
          if (!n.ok()) return n.status();
          out.push_back("eth=" + *n);
        } else {
          out.push_back(a[i]);
        }
      }
      return out;
    }
    if (sub == "lan" || sub == "tap" || sub == "nat" || sub == "a2b" ||
        sub == "c2c") {
      return a;
    }
    return absl::InvalidArgumentError(
        absl::StrCat("add ", sub,
                     ": Cloonix's add takes lan, kvm, zip, cvm, tap, phy, "
                     "nat, a2b, c2c"));
  }
  if (v == "del") return a;
  if (v == "cnf") {
    if (sub == "kvm" && a.size() > 2 && a[2] == "color") {
      return NotHere("cnf kvm color", "colors belong to the gui");
    }
    if (sub == "kvm" || sub == "a2b" || sub == "nat" || sub == "c2c") return a;
    return NotHere(absl::StrCat("cnf ", sub),
                   sub == "lan" ? "lans are OVS bridges without rstp here"
                                : "no such setting here");
  }
  if (v == "kil" || v == "rma" || v == "dmp" || v == "lst" || v == "pid") {
    return std::vector<std::string>{v};
  }
  if (v == "evt") return std::vector<std::string>{"events"};
  if (v == "sav") return a;
  if (v == "snf") {
    if (a.size() != 4 || (a[3] != "0" && a[3] != "1")) {
      return absl::InvalidArgumentError("snf <name> <num> <0|1>");
    }
    return std::vector<std::string>{"snf", a[1], a[2],
                                    a[3] == "1" ? "on" : "off"};
  }
  if (v == "dcf" || v == "lay" || v == "sub" || v == "hop" || v == "sys") {
    return NotHere(v, "Cloonix's internals; use cloonix net show, events");
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown verb \"", v,
      "\" (add, del, cnf, kil, rma, dmp, lst, pid, evt, sav, snf)"));
}

bool IsCloonixTool(const std::string& tool) {
  static const std::set<std::string> kTools = {
      "cloonix_net", "cloonix_cli", "cloonix_ssh", "cloonix_scp",
      "cloonix_osh", "cloonix_ocp", "cloonix_shk", "cloonix_shc",
      "cloonix_wsk", "cloonix_gui"};
  return kTools.count(tool) > 0;
}

int RunCloonixTool(const std::string& tool, const std::vector<std::string>& a) {
  if (tool == "cloonix_cli") return Cli(a);
  if (a.empty() || a[0] == "-h" || a[0] == "--help") {
    return Usage(tool, "<net> ... (docs/CLOONIX.md)");
  }
  std::vector<std::string> args = {"--net", a[0]};
  auto add = [&](std::initializer_list<std::string> l) {
    args.insert(args.end(), l);
  };
  if (tool == "cloonix_net") {
    add({"net", "start", "--may-exist"});
    for (size_t i = 1; i < a.size(); ++i) args.push_back(a[i]);
    return ExecSelf(args);
  }
  if (tool == "cloonix_ssh") {  // <net> [-X] <item> [cmd ...]
    size_t i = 1;
    add({"ssh"});
    if (a.size() > 1 && a[1] == "-X") {
      args.push_back("-X");
      ++i;
    }
    if (a.size() <= i) return Usage(tool, "<net> [-X] <item> [cmd ...]");
    args.push_back(a[i]);
    if (a.size() > i + 1) args.push_back(absl::StrJoin(Tail(a, i + 1), " "));
    return ExecSelf(args);
  }
  if (tool == "cloonix_osh") {  // [-i KEY] [-l USER] [-o OPT] <item> [cmd]
    if (a.size() < 2) return Usage(tool, "<net> [-i KEY] [-l USER] <item>");
    add({"osh"});
    for (const auto& s : Tail(a, 1)) args.push_back(s);
    return ExecSelf(args);
  }
  if (tool == "cloonix_scp" || tool == "cloonix_ocp") {
    if (a.size() < 3) return Usage(tool, "<net> [-r] <src> <dst>");
    add({tool == "cloonix_scp" ? "scp" : "ocp"});
    for (size_t i = 1; i < a.size(); ++i) args.push_back(a[i]);
    return ExecSelf(args);
  }
  if (tool == "cloonix_shk" || tool == "cloonix_shc") {
    if (a.size() != 2) return Usage(tool, "<net> <item>");
    add({tool == "cloonix_shk" ? "console" : "ssh", a[1]});
    return ExecSelf(args);
  }
  if (tool == "cloonix_wsk") {
    if (a.size() != 3) return Usage(tool, "<net> <item> <eth number>");
    if (!InPath("wireshark")) {
      std::cerr << "cloonix_wsk: wireshark is not installed (apt install "
                   "wireshark); without it: cloonix --net "
                << a[0] << " snf " << a[1] << " " << a[2]
                << " -w - | tshark -r -" << std::endl;
      return 1;
    }
    // The names are the net's (letters, digits, _ - .), the eth a number:
    // nothing in them that the shell reads.
    std::string cmd =
        absl::StrCat("'", SelfPath(), "' --net ", a[0], " snf ", a[1], " ",
                     a[2], " -w - | wireshark -k -i -");
    for (const auto& s : a) {
      if (s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRST"
                              "UVWXYZ0123456789_-.") != std::string::npos) {
        return Usage(tool, "<net> <item> <eth number> (names only)");
      }
    }
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    return 255;
  }
  if (tool == "cloonix_gui") {  // <net>: the page, opened in a browser
    add({"gui", "--open"});
    for (size_t i = 1; i < a.size(); ++i) args.push_back(a[i]);
    return ExecSelf(args);
  }
  return Usage(tool, "(unknown Cloonix command)");
}

}  // namespace cloonix::cli
