// Cloonix's own verbs of cloonix_cli, on this net: kil (net stop), rma
// (delete every item, keep the net), dmp (the topology as Cloonix prints
// it), lst (the cloonix_cli commands that rebuild the net), pid (the
// processes of the net). docs/CLOONIX.md maps every Cloonix command.
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "cli/commands/commands.h"
#include "cli/context.h"
#include "common/item_kind.h"
#include "nlohmann/json.hpp"

namespace cloonix::cli {

namespace {

// The net's items (exit code in *rc when it fails).
bool Items(const Globals& g, std::vector<v1::Item>* out, int* rc) {
  Client c(g);
  if (!c.Exists()) {
    *rc = NotRunning(g);
    return false;
  }
  v1::ListItemsRequest req;
  v1::ListItemsResponse resp;
  auto ctx = c.Ctx(absl::Seconds(30));
  grpc::Status s = c.topo()->ListItems(ctx.get(), req, &resp);
  if (!s.ok()) {
    *rc = FailRpc(g, s);
    return false;
  }
  out->assign(resp.items().begin(), resp.items().end());
  return true;
}

// rma: every item goes (lans last), the net keeps running.
int RemoveAll(const Globals& g) {
  std::vector<v1::Item> items;
  int rc = 0;
  if (!Items(g, &items, &rc)) return rc;
  std::vector<std::string> names, lans;
  for (const auto& it : items) {
    (it.kind() == v1::ITEM_KIND_LAN ? lans : names).push_back(it.name());
  }
  size_t deleted = 0;
  if (int drc = DeleteItems(g, names, lans, &deleted); drc != 0) return drc;
  if (g.Json()) {
    std::cout << nlohmann::json{{"net", g.net}, {"deleted", deleted}}.dump()
              << std::endl;
  } else {
    std::cout << "net " << g.net << ": " << deleted << " items deleted"
              << std::endl;
  }
  return 0;
}

// Cloonix's eth letters: one 's' per eth (every eth here can be captured).
std::string EthLetters(size_t n) { return std::string(n == 0 ? 1 : n, 's'); }

// dmp: "<vm> vm_id: N ok|ko" (ok: the agent answers) as Cloonix prints it,
// then one line per other item and one per cabled eth.
int Dump(const Globals& g) {
  std::vector<v1::Item> items;
  int rc = 0;
  if (!Items(g, &items, &rc)) return rc;
  if (g.Json()) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& it : items) {
      nlohmann::json e = {{"name", it.name()},
                          {"kind", cloonix::KindName(it.kind())},
                          {"id", it.id()}};
      if (it.has_kvm()) e["agent_up"] = it.kvm().agent_up();
      j.push_back(e);
    }
    std::cout << j.dump() << std::endl;
    return 0;
  }
  for (const auto& it : items) {
    if (it.has_kvm()) {
      std::cout << it.name() << " vm_id: " << it.id() << " "
                << (it.kvm().agent_up() ? "ok" : "ko") << "\n";
    } else if (it.has_cnt()) {
      std::cout << it.name() << " cnt_id: " << it.id() << " "
                << (it.state() == v1::ITEM_STATE_RUNNING ? "ok" : "ko") << "\n";
    }
  }
  for (const auto& it : items) {
    if (it.has_kvm() || it.has_cnt() || it.kind() == v1::ITEM_KIND_LAN) {
      continue;
    }
    std::cout << cloonix::KindName(it.kind()) << ": " << it.name() << "\n";
  }
  for (const auto& it : items) {
    for (const auto& e : it.eths()) {
      std::cout << cloonix::KindName(it.kind()) << ":" << it.name() << " "
                << e.index() << "  lan: " << (e.lan().empty() ? "-" : e.lan())
                << "\n";
    }
  }
  std::cout << std::flush;
  return 0;
}

// Cloonix's a2b setting lines for one direction (its units: rate kB/s,
// loss 1/100 %).
void A2bLines(const std::string& head, uint32_t dir, const v1::A2bSettings& s,
              std::vector<std::string>* out) {
  auto line = [&](const std::string& cmd, uint64_t val) {
    out->push_back(
        absl::StrCat(head, " \"dir=", dir, " cmd=", cmd, " val=", val, "\""));
  };
  if (s.delay_ms() > 0) line("delay", static_cast<uint64_t>(s.delay_ms()));
  if (s.loss_percent() > 0)
    line("loss", static_cast<uint64_t>(s.loss_percent() * 100 + 0.5));
  if (s.rate_kbps() > 0) line("rate", s.rate_kbps() / 8);
}

// lst: the cloonix_cli commands that make the net again, in make order.
int Replay(const Globals& g) {
  std::vector<v1::Item> items;
  int rc = 0;
  if (!Items(g, &items, &rc)) return rc;
  const std::string cli = "cloonix_cli " + g.net;
  std::vector<std::string> lines, cables, settings;
  for (const auto& it : items) {
    const std::string& n = it.name();
    if (it.has_kvm()) {
      const auto& k = it.kvm();
      std::string line = absl::StrCat(
          cli, " add kvm ", n, " ram=", k.ram_mb(), " cpu=", k.cpu(),
          " eth=", EthLetters(k.eth_count()), " ", k.image());
      if (k.persistent()) absl::StrAppend(&line, " --persistent");
      if (k.has_natplug()) absl::StrAppend(&line, " --natplug=", k.natplug());
      lines.push_back(line);
    } else if (it.has_cnt()) {
      lines.push_back(absl::StrCat(cli, " add cvm ", n,
                                   " eth=", EthLetters(it.cnt().eth_count()),
                                   " ", it.cnt().image()));
    } else if (it.has_phy()) {
      lines.push_back(absl::StrCat(
          cli, " add phy ", it.phy().host_ifname(),
          it.phy().mode() == v1::PHY_MODE_MACVLAN ? " macvlan" : " absorb"));
    } else if (it.has_c2c()) {
      if (it.c2c().joined()) continue;  // the peer makes it
      lines.push_back(
          absl::StrCat(cli, " add c2c ", n, " ", it.c2c().peer_net()));
      if (!it.c2c().mac_mangle().empty()) {
        settings.push_back(absl::StrCat(cli, " cnf c2c ", n,
                                        " mac_mangle=", it.c2c().mac_mangle()));
      }
    } else if (it.has_a2b()) {
      lines.push_back(absl::StrCat(cli, " add a2b ", n));
      A2bLines(absl::StrCat(cli, " cnf a2b ", n), 0, it.a2b().dir0(),
               &settings);
      A2bLines(absl::StrCat(cli, " cnf a2b ", n), 1, it.a2b().dir1(),
               &settings);
    } else if (it.kind() != v1::ITEM_KIND_LAN) {
      lines.push_back(
          absl::StrCat(cli, " add ", cloonix::KindName(it.kind()), " ", n));
    }
    for (const auto& e : it.eths()) {
      if (e.lan().empty() || (it.has_c2c() && it.c2c().joined())) continue;
      cables.push_back(
          absl::StrCat(cli, " add lan ", n, " ", e.index(), " ", e.lan()));
    }
  }
  for (const auto* group : {&lines, &cables, &settings}) {
    for (const auto& l : *group) std::cout << l << "\n";
  }
  std::cout << std::flush;
  return 0;
}

// pid: "  <name>  <pid>" for the net's daemons (the orchestrator as
// cloonix_server, as Cloonix names its server) and its guests.
int Pids(const Globals& g) {
  Client c(g);
  if (!c.Exists()) return NotRunning(g);
  v1::GetNetRequest req;
  v1::NetInfo info;
  auto ctx = c.Ctx(absl::Seconds(15));
  grpc::Status s = c.net()->GetNet(ctx.get(), req, &info);
  if (!s.ok()) return FailRpc(g, s);
  std::vector<std::pair<std::string, uint32_t>> rows = {
      {"cloonix_server", info.orchestrator_pid()}};
  for (const auto& svc : info.services())
    rows.push_back({svc.name(), svc.pid()});
  std::vector<v1::Item> items;
  int rc = 0;
  if (!Items(g, &items, &rc)) return rc;
  for (const auto& it : items) {
    if (it.has_kvm() && it.kvm().pid())
      rows.push_back({it.name(), it.kvm().pid()});
    if (it.has_cnt() && it.cnt().pid())
      rows.push_back({it.name(), it.cnt().pid()});
  }
  if (g.Json()) {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& [n, p] : rows) j[n] = p;
    std::cout << j.dump() << std::endl;
    return 0;
  }
  for (const auto& [n, p] : rows) {
    std::cout << absl::StrFormat("  %10s  %d\n", n, p);
  }
  std::cout << std::flush;
  return 0;
}

}  // namespace

int DeleteItems(const Globals& g, const std::vector<std::string>& items,
                const std::vector<std::string>& lans, size_t* deleted) {
  Client c(g);
  int rc = 0;
  absl::Mutex mu;
  for (const auto* group : {&items, &lans}) {
    std::vector<std::thread> threads;
    for (const auto& name : *group) {
      threads.emplace_back([&, name] {
        v1::DeleteItemRequest req;
        req.set_name(name);
        req.set_allow_missing(true);
        v1::DeleteItemResponse resp;
        auto ctx = c.Ctx();
        grpc::Status s = c.topo()->DeleteItem(ctx.get(), req, &resp);
        absl::MutexLock l(&mu);
        if (!s.ok()) {
          rc = FailRpc(g, s);
        } else if (deleted != nullptr) {
          ++*deleted;
        }
      });
    }
    for (auto& t : threads) t.join();
  }
  return rc;
}

void AddCloonixVerbs(CLI::App* app, Context& ctx) {
  Globals& g = ctx.g;
  app->add_subcommand("kil",
                      "Cloonix's kil: stop the net (every item goes, the "
                      "daemons end); a net that does not run is nothing to do")
      ->callback([&] { ctx.action = [&] { return StopNetForLab(g); }; });
  app->add_subcommand("rma",
                      "Cloonix's rma: delete every item (lans last); the net "
                      "keeps running")
      ->callback([&] { ctx.action = [&] { return RemoveAll(g); }; });
  app->add_subcommand("dmp",
                      "Cloonix's dmp: '<vm> vm_id: N ok|ko' per kvm (ok: its "
                      "agent answers), cnt likewise, the other items, the "
                      "cabled eths")
      ->callback([&] { ctx.action = [&] { return Dump(g); }; });
  app->add_subcommand("lst",
                      "Cloonix's lst: the cloonix_cli commands that make this "
                      "net again (items, cables, then settings)")
      ->callback([&] { ctx.action = [&] { return Replay(g); }; });
  app->add_subcommand("pid",
                      "Cloonix's pid: the pids of the net's daemons "
                      "(cloonix_server: the orchestrator) and guests")
      ->callback([&] { ctx.action = [&] { return Pids(g); }; });
}

}  // namespace cloonix::cli
