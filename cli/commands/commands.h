// The CLI's command modules: each adds its subcommands to the app; their
// callbacks set Context::action (cli/context.h).
#ifndef CLOONIX_CLI_COMMANDS_COMMANDS_H_
#define CLOONIX_CLI_COMMANDS_COMMANDS_H_

#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "cli/context.h"

namespace cloonix::cli {

// net start|stop|list|show|creds.
void AddNetCommands(CLI::App* app, Context& ctx);
// add lan, add cnt, add tap|phy|c2c, del, ls, show, events.
void AddItemCommands(CLI::App* app, CLI::App* add, Context& ctx);
void AddKvmCommands(CLI::App* add, CLI::App* cnf, Context& ctx);
// sav [kvm] <vm> <file.qcow2> (Cloonix's sav).
void AddSavCommand(CLI::App* app, Context& ctx);
void AddNatCommands(CLI::App* add, CLI::App* cnf, Context& ctx);
void AddA2bCommands(CLI::App* add, CLI::App* cnf, Context& ctx);
void AddC2cCommands(CLI::App* add, CLI::App* cnf, Context& ctx);
// kil, rma, dmp, lst, pid: Cloonix's own verbs (commands/cloonix.cc).
void AddCloonixVerbs(CLI::App* app, Context& ctx);
// Deletes `items`, then `lans`, each group in parallel (missing ones are
// fine); counts the deletes in *deleted (may be null). The exit code of
// the last failure (printed), or 0.
int DeleteItems(const Globals& g, const std::vector<std::string>& items,
                const std::vector<std::string>& lans, size_t* deleted);
// ssh, scp, osh, ocp, console, tunnel.
void AddGuestCommands(CLI::App* app, Context& ctx);
void AddSnfCommands(CLI::App* app, Context& ctx);
// gui: the net's web page (cli/gui/gui_server.h).
void AddGuiCommand(CLI::App* app, Context& ctx);
// apply, validate, save, destroy, graph (lab files).
void AddLabCommands(CLI::App* app, Context& ctx);

// For apply and destroy: net start --may-exist with defaults (the bulk dir
// given); net stop, where a net without a trace is nothing to do (0).
int StartNetForLab(const Globals& g, const std::string& bulk_dir,
                   const std::string& listen);
int StopNetForLab(const Globals& g);

// `ssh <name> cmd -x ...`: takes the command out of `args` before CLI11
// parses them (so that its options are not read as cloonix's).
std::vector<std::string> SplitSshCommand(std::vector<std::string>* args);

}  // namespace cloonix::cli

#endif  // CLOONIX_CLI_COMMANDS_COMMANDS_H_
