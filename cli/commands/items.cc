// cloonix add lan|cnt, del, ls, show, events: items and cables of any kind.
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

int Connect(const Globals& g, const std::vector<std::string>& a,
            bool create_lan) {
  auto eth = cloonix::cli::ParseEth(a[1]);
  if (!eth.ok()) return Fail(std::string(eth.status().message()), kExitUsage);
  Client c(g);
  if (!c.Exists()) return NotRunning(g);
  v1::ConnectEthRequest req;
  req.set_item(a[0]);
  req.set_eth(*eth);
  req.set_lan(a[2]);
  req.set_create_lan(create_lan);
  v1::Item resp;
  auto ctx = c.Ctx();
  grpc::Status s = c.topo()->ConnectEth(ctx.get(), req, &resp);
  if (!s.ok()) return FailRpc(g, s);
  if (g.Json()) {
    std::cout << ToJsonLine(resp) << std::endl;
  } else {
    std::cout << "cabled " << a[0] << " eth" << *eth << " to lan " << a[2]
              << std::endl;
  }
  return 0;
}

int Disconnect(const Globals& g, const std::vector<std::string>& a) {
  auto eth = cloonix::cli::ParseEth(a[1]);
  if (!eth.ok()) return Fail(std::string(eth.status().message()), kExitUsage);
  Client c(g);
  if (!c.Exists()) return NotRunning(g);
  v1::DisconnectEthRequest req;
  req.set_item(a[0]);
  req.set_eth(*eth);
  req.set_lan(a[2]);
  v1::Item resp;
  auto ctx = c.Ctx();
  grpc::Status s = c.topo()->DisconnectEth(ctx.get(), req, &resp);
  if (!s.ok()) return FailRpc(g, s);
  if (g.Json()) {
    std::cout << ToJsonLine(resp) << std::endl;
  } else {
    std::cout << "uncabled " << a[0] << " eth" << *eth << " from lan " << a[2]
              << std::endl;
  }
  return 0;
}

int Delete(const Globals& g, const std::string& name, bool if_exists) {
  Client c(g);
  if (!c.Exists()) return NotRunning(g);
  v1::DeleteItemRequest req;
  req.set_name(name);
  req.set_allow_missing(if_exists);
  v1::DeleteItemResponse resp;
  auto ctx = c.Ctx();
  grpc::Status s = c.topo()->DeleteItem(ctx.get(), req, &resp);
  if (!s.ok()) return FailRpc(g, s);
  if (g.Json()) {
    std::cout << (resp.deleted()
                      ? absl::StrCat("{\"deleted\":\"", name, "\"}")
                      : absl::StrCat("{\"deleted\":null,\"missing\":\"", name,
                                     "\"}"))
              << std::endl;
  } else if (resp.deleted()) {
    std::cout << "deleted " << name << std::endl;
  } else {
    std::cout << "no item " << name << " (nothing deleted)" << std::endl;
  }
  return 0;
}

int List(const Globals& g) {
  Client c(g);
  if (!c.Exists()) return NotRunning(g);
  v1::ListItemsRequest req;
  v1::ListItemsResponse resp;
  auto ctx = c.Ctx(absl::Seconds(30));
  grpc::Status s = c.topo()->ListItems(ctx.get(), req, &resp);
  if (!s.ok()) return FailRpc(g, s);
  if (g.Json()) {
    std::cout << ToJsonLine(resp) << std::endl;
  } else if (resp.items().empty()) {
    std::cout << g.NetLabel() << " has no item" << std::endl;
  } else {
    std::cout << cloonix::cli::ItemsTable(
        {resp.items().begin(), resp.items().end()});
  }
  return 0;
}

int Show(const Globals& g, const std::string& name) {
  Client c(g);
  if (!c.Exists()) return NotRunning(g);
  v1::GetItemRequest req;
  req.set_name(name);
  v1::Item resp;
  auto ctx = c.Ctx(absl::Seconds(30));
  grpc::Status s = c.topo()->GetItem(ctx.get(), req, &resp);
  if (!s.ok()) return FailRpc(g, s);
  if (g.Json()) {
    std::cout << ToJsonLine(resp) << std::endl;
  } else {
    std::cout << cloonix::cli::ItemDetails(resp);
  }
  return 0;
}

int Events(const Globals& g, int count) {
  Client c(g);
  if (!c.Exists()) return NotRunning(g);
  grpc::ClientContext ctx;
  v1::WatchEventsRequest req;
  auto reader = c.topo()->WatchEvents(&ctx, req);
  v1::Event e;
  int n = 0;
  while (reader->Read(&e)) {
    if (g.Json()) {
      std::cout << ToJsonLine(e) << std::endl;
    } else {
      std::cout << cloonix::cli::EventLine(e) << std::endl;
    }
    if (e.type() != v1::EVENT_TYPE_EXISTING &&
        e.type() != v1::EVENT_TYPE_SYNCED && count > 0 && ++n >= count) {
      ctx.TryCancel();
      break;
    }
  }
  grpc::Status s = reader->Finish();
  if (!s.ok() && s.error_code() != grpc::CANCELLED) return FailRpc(g, s);
  return 0;
}

}  // namespace

void AddItemCommands(CLI::App* app, CLI::App* add, Context& ctx) {
  Globals& g = ctx.g;
  static std::vector<std::string> lan_args;
  auto* add_lan =
      add->add_subcommand("lan",
                          "add lan <name>: create a lan;\nadd lan <item> <eth> "
                          "<lan>: cable an eth to a lan, "
                          "creating the lan if needed");
  add_lan->add_option("args", lan_args, "<name> | <item> <eth> <lan>")
      ->required();
  static bool no_create = false;
  add_lan->add_flag("--no-create", no_create,
                    "Fail with NOT_FOUND if the lan does not exist");
  add_lan->callback([&] {
    ctx.action = [&]() -> int {
      if (lan_args.size() == 1) {
        v1::Item it;
        it.set_name(lan_args[0]);
        it.mutable_lan();
        return CreateItem(g, it);
      }
      if (lan_args.size() == 3) return Connect(g, lan_args, !no_create);
      return Fail(
          "usage: cloonix add lan <name> | cloonix add lan <item> <eth> <lan>",
          kExitUsage);
    };
  });
  static std::vector<std::string> cnt_args;
  static std::string image;
  static uint32_t eth_count = 1;
  static std::vector<std::string> env;
  static std::string cmd;
  auto* add_cnt = add->add_subcommand(
      "cnt", "add cnt <name> [image] [eth=N]: create a container");
  add_cnt->add_option("args", cnt_args, "<name> [image] [eth=N]")->required();
  add_cnt->add_option("--image", image,
                      "Image name or OCI tarball path (default busybox)");
  add_cnt->add_option("--eth", eth_count, "Number of eths (1..32, default 1)");
  add_cnt->add_option("--env", env,
                      "KEY=value for the container's process (repeatable)");
  static std::string cnt_natplug;
  add_cnt->add_option("--natplug", cnt_natplug,
                      "Create nat-<name> and lan-<name> cabled to this eth "
                      "(Cloonix's --natplug)");
  add_cnt->add_option("--cmd", cmd,
                      "Command run by /bin/sh -c instead of the image's");
  static std::vector<std::string> vmounts;
  add_cnt->add_option(
      "--vmount", vmounts,
      "HOST:GUEST[:ro]: bind-mount a host path into the container "
      "(repeatable; Cloonix's --vmount; the container writes there as root)");
  static std::vector<std::string> cnt_files, cnt_deletes;
  add_cnt->add_option("--files", cnt_files,
                      "DIR: its content is copied into the container's root "
                      "before it starts (repeatable, in order; a directory "
                      "of the net's host)");
  add_cnt->add_option("--delete", cnt_deletes,
                      "PATH: removed from the container's root before it "
                      "starts (repeatable)");
  static bool privileged = false;
  add_cnt->add_flag("--privileged", privileged,
                    "Every capability, no seccomp, the host's devices: no "
                    "isolation from the host (Cloonix's --privileged)");
  add_cnt->callback([&] {
    ctx.action = [&]() -> int {
      v1::Item it;
      it.set_name(cnt_args[0]);
      auto* c = it.mutable_cnt();
      c->set_image(image.empty() ? "busybox" : image);
      c->set_eth_count(eth_count);
      for (size_t i = 1; i < cnt_args.size(); ++i) {
        const std::string& a = cnt_args[i];
        if (absl::StartsWith(a, "eth=")) {
          uint32_t n;
          if (!absl::SimpleAtoi(a.substr(4), &n)) {
            return Fail("eth=N needs a number", kExitUsage);
          }
          c->set_eth_count(n);
        } else if (i == 1) {
          c->set_image(a);
        } else {
          return Fail("unexpected argument \"" + a + "\"", kExitUsage);
        }
      }
      for (const auto& e : env) c->add_env(e);
      for (const auto& v : vmounts) {
        auto m = cloonix::cli::ParseVmount(v);
        if (!m.ok()) return Fail(std::string(m.status().message()), kExitUsage);
        *c->add_mounts() = *m;
      }
      c->set_privileged(privileged);
      *c->mutable_files() =
          cloonix::cli::MakeGuestFiles(cnt_files, cnt_deletes);
      if (!cnt_natplug.empty()) {
        auto eth = cloonix::cli::ParseEth(cnt_natplug);
        if (!eth.ok())
          return Fail(std::string(eth.status().message()), kExitUsage);
        c->set_natplug(*eth);
      }
      if (!cmd.empty()) {
        c->add_command("/bin/sh");
        c->add_command("-c");
        c->add_command(cmd);
      }
      return CreateItem(g, it);
    };
  });
  static std::string tap_name;
  auto* tap = add->add_subcommand(
      "tap",
      "add tap <name>: a host interface <name> (in the host's netns) whose "
      "other end is eth0 on a lan: `add lan <name> eth0 <lan>` cables it; "
      "the host then configures it (ip addr add) to reach the guests");
  tap->add_option("name", tap_name,
                  "Item and host interface name (<= 15 chars)")
      ->required();
  tap->callback([&] {
    ctx.action = [&]() -> int {
      v1::Item it;
      it.set_name(tap_name);
      it.mutable_tap();
      return CreateItem(g, it);
    };
  });
  static std::vector<std::string> phy_args;
  static std::string phy_mode = "absorb";
  static std::string phy_netns;
  static bool phy_force = false;
  auto* phy = add->add_subcommand(
      "phy",
      "add phy <name> <nic> | add phy <nic>: bring host NIC <nic> into the "
      "net as eth0 of <name> (default: the NIC's name); `add lan <name> eth0 "
      "<lan>` cables it. absorb (default) takes the NIC from the host until "
      "the phy is deleted (its addresses, MTU, state and routes are given "
      "back); macvlan leaves the NIC to the host and joins a macvlan of it, "
      "whose MAC follows the one guest on its lan");
  phy->add_option("args", phy_args, "[<name>] <nic>")
      ->required()
      ->expected(1, 2);
  phy->add_option("--mode", phy_mode, "absorb (default) or macvlan")
      ->check(CLI::IsMember({"absorb", "macvlan"}));
  phy->add_flag("--force", phy_force,
                "absorb even the NIC that holds the host's default route");
  phy->add_option("--netns", phy_netns,
                  "the named netns (ip netns) that holds the NIC instead of "
                  "the host's own");
  phy->callback([&] {
    ctx.action = [&]() -> int {
      v1::Item it;
      it.set_name(phy_args[0]);
      auto* p = it.mutable_phy();
      p->set_host_ifname(phy_args.size() == 2 ? phy_args[1] : phy_args[0]);
      p->set_mode(phy_mode == "macvlan" ? v1::PHY_MODE_MACVLAN
                                        : v1::PHY_MODE_ABSORB);
      p->set_force(phy_force);
      p->set_host_netns(phy_netns);
      return CreateItem(g, it);
    };
  });
  // del
  static std::vector<std::string> del_args;
  static bool if_exists = false;
  auto* del =
      app->add_subcommand("del",
                          "del <name> | del sat <name>: delete an item;\n"
                          "del lan <item> <eth> <lan>: uncable an eth; del lan "
                          "<name>: delete a lan");
  del->add_option("args", del_args, "see above")->required();
  del->add_flag("--if-exists", if_exists, "Succeed if the item does not exist");
  del->callback([&] {
    ctx.action = [&]() -> int {
      if (del_args.size() == 1) return Delete(g, del_args[0], if_exists);
      if (del_args.size() == 2 &&
          (del_args[0] == "sat" || del_args[0] == "lan")) {
        return Delete(g, del_args[1], if_exists);
      }
      if (del_args.size() == 4 && del_args[0] == "lan") {
        return Disconnect(g, {del_args[1], del_args[2], del_args[3]});
      }
      return Fail("usage: cloonix del <name> | del lan <item> <eth> <lan>",
                  kExitUsage);
    };
  });

  app->add_subcommand("ls", "List the items of the net")->callback([&] {
    ctx.action = [&] { return List(g); };
  });
  static std::string show_name;
  auto* show = app->add_subcommand("show", "Show one item");
  show->add_option("name", show_name, "Item name")->required();
  show->callback([&] { ctx.action = [&] { return Show(g, show_name); }; });
  static int count = 0;
  auto* events = app->add_subcommand("events",
                                     "Stream the net's events: current items, "
                                     "then every change (NDJSON with -f json)");
  events->alias("evt");  // Cloonix's name
  events->add_option("--count", count,
                     "Exit after this many changes (0: never)");
  events->callback([&] { ctx.action = [&] { return Events(g, count); }; });
}

}  // namespace cloonix::cli
