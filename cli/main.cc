// cloonix: the command line of a cloonix net. Every call of the API as a
// subcommand; human output by default, --format json for scripts. The
// subcommands live in command modules (cli/commands/*.cc); this file only
// wires them.
//
// Exit codes: 0 success; 1 the net refused or failed the request (the line
// on stderr names the gRPC code); 2 usage error; 3 the net is not running or
// does not answer.
#include <algorithm>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "cli/cloonix_compat.h"
#include "cli/commands/commands.h"
#include "cli/context.h"
#include "common/names.h"

using cloonix::cli::EnvOr;
using cloonix::cli::Fail;
using cloonix::cli::kExitUsage;

int main(int argc, char** argv) {
  // Called as one of Cloonix's commands (cloonix_cli, cloonix_ssh, ...).
  std::string tool = argv[0];
  tool = tool.substr(tool.rfind('/') + 1);
  if (cloonix::cli::IsCloonixTool(tool)) {
    return cloonix::cli::RunCloonixTool(
        tool, std::vector<std::string>(argv + 1, argv + argc));
  }
  cloonix::cli::Context ctx;
  ctx.self = argv[0];
  cloonix::cli::Globals& g = ctx.g;
  g.net = EnvOr("CLOONIX_NET", "nemo");
  g.work_root = EnvOr("CLOONIX_WORK_ROOT", "/var/lib/cloonix");
  CLI::App app{
      "cloonix: virtual networks of VMs (kvm) and containers (cnt) wired by "
      "lans, with\nper-direction impairment between lans (a2b), a way out to "
      "the host (nat), shells,\nconsoles and file copies into guests (ssh, "
      "console, scp; osh/ocp without agent)\nand remote control over mutual "
      "TLS, links between hosts (c2c) and a web page (gui).\n"
      "The net is chosen by --net or $CLOONIX_NET (default nemo)."};
  app.set_help_all_flag("--help-all", "Help for every subcommand");
  app.require_subcommand(1);
  app.fallthrough();
  app.add_option("-n,--net", g.net, "Net name ($CLOONIX_NET, default nemo)");
  app.add_option("--work-root", g.work_root,
                 "Root of the nets' work dirs ($CLOONIX_WORK_ROOT, default "
                 "/var/lib/cloonix)");
  app.add_option("-f,--format", g.format, "Output: human or json")
      ->check(CLI::IsMember({"human", "json"}));
  g.remote = EnvOr("CLOONIX_REMOTE", "");
  g.creds = EnvOr("CLOONIX_CREDS", "");
  app.add_option("--remote", g.remote,
                 "Drive a net on another host: its doorway's HOST:PORT "
                 "($CLOONIX_REMOTE; mutual TLS)");
  app.add_option("--creds", g.creds,
                 "Dir of the net's exported credentials, from `cloonix net "
                 "creds` ($CLOONIX_CREDS)");
  cloonix::cli::AddNetCommands(&app, ctx);
  // add
  auto* add = app.add_subcommand("add", "Create items and cables");
  add->require_subcommand(1);
  // cnf
  auto* cnf = app.add_subcommand("cnf", "Change the settings of an item, live");
  cnf->require_subcommand(1);
  cloonix::cli::AddItemCommands(&app, add, ctx);
  cloonix::cli::AddKvmCommands(add, cnf, ctx);
  cloonix::cli::AddNatCommands(add, cnf, ctx);
  cloonix::cli::AddA2bCommands(add, cnf, ctx);
  cloonix::cli::AddC2cCommands(add, cnf, ctx);
  cloonix::cli::AddGuestCommands(&app, ctx);
  cloonix::cli::AddSnfCommands(&app, ctx);
  cloonix::cli::AddLabCommands(&app, ctx);
  cloonix::cli::AddGuiCommand(&app, ctx);
  cloonix::cli::AddSavCommand(&app, ctx);
  cloonix::cli::AddCloonixVerbs(&app, ctx);

  // `ssh <name> cmd -x ...`: the command is taken out before CLI11 sees it.
  std::vector<std::string> args(argv + 1, argv + argc);
  ctx.ssh_cmd = cloonix::cli::SplitSshCommand(&args);
  std::reverse(args.begin(), args.end());
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : kExitUsage;
  }
  g.net_given = app.get_option("--net")->count() > 0;
  if (auto s = cloonix::ValidateNetName(g.net, "net name"); !s.ok()) {
    return Fail(std::string(s.message()), kExitUsage);
  }
  return ctx.action ? ctx.action() : kExitUsage;
}
