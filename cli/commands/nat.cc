// cloonix add nat, cnf nat: the way out to the host.
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

int WhatIp(const Globals& g, const std::string& nat, const std::string& arg) {
  if (!absl::StartsWith(arg, "whatip=") || arg.size() == 7) {
    return Fail("usage: cloonix cnf nat <nat> whatip=<item>", kExitUsage);
  }
  Client c(g);
  if (!c.Exists()) return NotRunning(g);
  v1::WhatIpRequest req;
  req.set_nat(nat);
  req.set_item(arg.substr(7));
  v1::WhatIpResponse resp;
  auto ctx = c.Ctx(absl::Seconds(30));
  grpc::Status s = c.topo()->WhatIp(ctx.get(), req, &resp);
  if (!s.ok()) return FailRpc(g, s);
  if (g.Json()) {
    std::cout << ToJsonLine(resp) << std::endl;
  } else {
    std::cout << resp.ip() << std::endl;
  }
  return 0;
}

}  // namespace

void AddNatCommands(CLI::App* add, CLI::App* cnf, Context& ctx) {
  Globals& g = ctx.g;
  static std::string nat_name;
  auto* add_nat = add->add_subcommand(
      "nat",
      "add nat <name>: the way out for a lan (cable its eth0): DHCP from "
      "172.17.0.10, gateway 172.17.0.2 = the host's loopback, DNS 172.17.0.3");
  add_nat->add_option("name", nat_name, "nat name")->required();
  add_nat->callback([&] {
    ctx.action = [&]() -> int {
      v1::Item it;
      it.set_name(nat_name);
      it.mutable_nat();
      return CreateItem(g, it);
    };
  });
  static std::string cnf_nat_name, cnf_nat_arg;
  auto* cnf_nat = cnf->add_subcommand(
      "nat", "cnf nat <nat> whatip=<item>: the DHCP lease <item> got");
  cnf_nat->add_option("nat", cnf_nat_name, "nat name")->required();
  cnf_nat->add_option("query", cnf_nat_arg, "whatip=<item>")->required();
  cnf_nat->callback([&] {
    ctx.action = [&] { return WhatIp(g, cnf_nat_name, cnf_nat_arg); };
  });
}

}  // namespace cloonix::cli
