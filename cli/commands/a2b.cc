// cloonix add a2b, cnf a2b: impaired links between two lans.
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

int ConfigureA2b(const Globals& g, const std::string& name,
                 const std::vector<std::string>& tokens) {
  auto args = cloonix::cli::ParseA2bArgs(tokens);
  if (!args.ok()) return Fail(std::string(args.status().message()), kExitUsage);
  if (!args->dir.has_value()) {
    return Fail("cnf a2b needs dir=0 (end 0 to end 1) or dir=1", kExitUsage);
  }
  Client c(g);
  if (!c.Exists()) return NotRunning(g);
  v1::ConfigureA2bRequest req;
  req.set_name(name);
  req.set_dir(*args->dir);
  *req.mutable_patch() = args->patch;
  if (args->silent_ms.has_value()) {
    // Cloonix's silentms: the burst that much silence gathers at the rate
    // the direction has now (or is given in the same command).
    uint64_t rate = args->patch.has_rate_kbps() ? args->patch.rate_kbps() : 0;
    if (rate == 0) {
      v1::GetItemRequest get;
      get.set_name(name);
      v1::Item it;
      auto gctx = c.Ctx(absl::Seconds(10));
      grpc::Status gs = c.topo()->GetItem(gctx.get(), get, &it);
      if (!gs.ok()) return FailRpc(g, gs);
      rate = (*args->dir == 0 ? it.a2b().dir0() : it.a2b().dir1()).rate_kbps();
    }
    if (rate == 0) {
      return Fail(absl::StrCat("cnf a2b ", name,
                               ": silentms needs a rate first (cmd=rate): "
                               "silence gathers a burst at that rate"),
                  kExitUsage);
    }
    uint64_t burst = cloonix::cli::SilentBurstBytes(rate, *args->silent_ms);
    req.mutable_patch()->set_burst_bytes(
        static_cast<uint32_t>(std::min<uint64_t>(burst, UINT32_MAX)));
  }
  v1::Item resp;
  auto ctx = c.Ctx();
  grpc::Status s = c.topo()->ConfigureA2b(ctx.get(), req, &resp);
  if (!s.ok()) return FailRpc(g, s);
  if (g.Json()) {
    std::cout << ToJsonLine(resp) << std::endl;
  } else {
    std::cout << "a2b " << name << " dir" << *args->dir << ": "
              << cloonix::A2bSettingsText(*args->dir == 0 ? resp.a2b().dir0()
                                                          : resp.a2b().dir1())
              << std::endl;
  }
  return 0;
}

}  // namespace

void AddA2bCommands(CLI::App* add, CLI::App* cnf, Context& ctx) {
  Globals& g = ctx.g;
  static std::string a2b_name;
  static std::vector<std::string> a2b_tokens;
  auto* add_a2b = add->add_subcommand(
      "a2b",
      "add a2b <name> [dir=0|1] [delay=MS] [jitter=MS] [loss=PCT] [rate=KBPS] "
      "[burst=B] [qsize=N] [bsize=B]: create an a2b (eth0 = end 0, eth1 = end "
      "1); settings apply to both directions unless dir is given");
  add_a2b->add_option("name", a2b_name, "a2b name")->required();
  add_a2b->add_option("settings", a2b_tokens, "key=value settings");
  add_a2b->callback([&] {
    ctx.action = [&]() -> int {
      auto args = cloonix::cli::ParseA2bArgs(a2b_tokens);
      if (!args.ok())
        return Fail(std::string(args.status().message()), kExitUsage);
      v1::Item it;
      it.set_name(a2b_name);
      auto* a = it.mutable_a2b();
      if (!args->dir.has_value() || *args->dir == 0) {
        cloonix::ApplyA2bPatch(args->patch, a->mutable_dir0());
      }
      if (!args->dir.has_value() || *args->dir == 1) {
        cloonix::ApplyA2bPatch(args->patch, a->mutable_dir1());
      }
      return CreateItem(g, it);
    };
  });

  static std::string cnf_name;
  static std::vector<std::string> cnf_tokens;
  auto* cnf_a2b = cnf->add_subcommand(
      "a2b",
      "cnf a2b <name> dir=0|1 [delay=MS] [jitter=MS] [loss=PCT] [rate=KBPS] "
      "[burst=B] [qsize=N] [bsize=B] [reorder=0|1]\n"
      "Cloonix form: cnf a2b <name> \"dir=0 cmd=loss val=N\" (loss in 1/100 "
      "%)");
  cnf_a2b->add_option("name", cnf_name, "a2b name")->required();
  cnf_a2b->add_option("settings", cnf_tokens, "key=value settings")->required();
  cnf_a2b->callback([&] {
    ctx.action = [&] { return ConfigureA2b(g, cnf_name, cnf_tokens); };
  });
}

}  // namespace cloonix::cli
