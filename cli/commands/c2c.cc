// cloonix add c2c, cnf c2c: cables to nets on other hosts (Cloonix's c2c).
#include <iostream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cli/commands/commands.h"
#include "cli/context.h"
#include "cli/output.h"
#include "common/pki.h"

namespace cloonix::cli {

namespace {

// cnf c2c <name> mac_mangle=XX:XX:XX:XX:XX:XX | mac_mangle=off (Cloonix's
// form; "off" or an empty value clears it).
int ConfigureC2c(const Globals& g, const std::string& name,
                 const std::string& cmd) {
  constexpr absl::string_view kKey = "mac_mangle=";
  if (!absl::StartsWith(cmd, kKey)) {
    return Fail(absl::StrCat("cnf c2c: \"", cmd,
                             "\" is not mac_mangle=XX:XX:XX:XX:XX:XX or "
                             "mac_mangle=off"),
                kExitUsage);
  }
  std::string mac = cmd.substr(kKey.size());
  if (mac == "off") mac.clear();
  v1::ConfigureC2cRequest req;
  req.set_name(name);
  req.set_mac_mangle(mac);
  return Call<v1::Item>(
      g, absl::Seconds(30),
      [&](Client& c, grpc::ClientContext* ctx, v1::Item* resp) {
        return c.topo()->ConfigureC2c(ctx, req, resp);
      },
      [&](const v1::Item& it) {
        const std::string& m = it.c2c().mac_mangle();
        std::cout << "c2c " << it.name() << ": mac_mangle "
                  << (m.empty() ? "off" : m) << std::endl;
      });
}

}  // namespace

void AddC2cCommands(CLI::App* add, CLI::App* cnf, Context& ctx) {
  Globals& g = ctx.g;
  static std::vector<std::string> c2c_args;
  static std::string c2c_peer;
  static std::string c2c_creds;
  static uint32_t c2c_udp_port = 0;
  static std::string c2c_mangle;
  auto* c2c = add->add_subcommand(
      "c2c",
      "add c2c <name> <peer-net> [--peer HOST:PORT --creds DIR]: a cable to "
      "net <peer-net> (on another host): its doorway at HOST:PORT (its net "
      "start --listen) is asked, over mutual TLS with its client credentials "
      "(cloonix net creds DIR on its host), to make the other end <name>; "
      "frames go as VXLAN over UDP. Cable each end: add lan <name> eth0 <lan> "
      "on each side. This net needs a listener too (net start --listen).");
  c2c->add_option("args", c2c_args, "<name> <peer-net>")
      ->required()
      ->expected(2);
  c2c->add_option("--peer", c2c_peer,
                  "HOST:PORT of the peer net's doorway listener (default: "
                  "that of another c2c of this net to the same peer net)");
  c2c->add_option("--creds", c2c_creds,
                  "the peer net's client credentials (its cloonix net "
                  "creds; default: those of another c2c to the same net)");
  c2c->add_option("--mac-mangle", c2c_mangle,
                  "Cloonix's mac_mangle: the guests behind the c2c show on "
                  "this side's lan with this one unicast MAC (a link that "
                  "lets one MAC through); cnf c2c changes it live");
  c2c->add_option("--udp-port", c2c_udp_port,
                  "this end's UDP port (default 4789 if free, else any)")
      ->check(CLI::Range(1, 65535));
  c2c->callback([&] {
    ctx.action = [&]() -> int {
      v1::Item it;
      it.set_name(c2c_args[0]);
      auto* c = it.mutable_c2c();
      c->set_peer_net(c2c_args[1]);
      c->set_peer_address(c2c_peer);
      if (!c2c_creds.empty()) {
        auto creds = cloonix::LoadClientCreds(c2c_creds);
        if (!creds.ok())
          return Fail(std::string(creds.status().message()), kExitUsage);
        c->set_peer_ca_pem(creds->ca_pem);
        c->set_peer_cert_pem(creds->cert_pem);
        c->set_peer_key_pem(creds->key_pem);
      }
      c->set_udp_port(c2c_udp_port);
      c->set_mac_mangle(c2c_mangle);
      return CreateItem(g, it);
    };
  });

  static std::string cnf_name, cnf_cmd;
  auto* cnf_c2c = cnf->add_subcommand(
      "c2c",
      "cnf c2c <name> mac_mangle=XX:XX:XX:XX:XX:XX | mac_mangle=off: "
      "Cloonix's mac_mangle of this end, live");
  cnf_c2c->add_option("name", cnf_name, "c2c name")->required();
  cnf_c2c->add_option("cmd", cnf_cmd, "mac_mangle=MAC or mac_mangle=off")
      ->required();
  cnf_c2c->callback(
      [&] { ctx.action = [&] { return ConfigureC2c(g, cnf_name, cnf_cmd); }; });
}

}  // namespace cloonix::cli
