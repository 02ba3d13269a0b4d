#include "cli/context.h"

#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/error_reasons.h"
#include "common/grpc_status.h"
#include "common/item_kind.h"
#include "common/pki.h"

namespace cloonix::cli {

int Fail(const std::string& msg, int code) {
  std::cerr << "cloonix: " << msg << std::endl;
  return code;
}

int FailRpc(const Globals& g, const grpc::Status& s) {
  const std::string reason = cloonix::ReasonOf(s);
  if (s.error_code() == grpc::UNAVAILABLE &&
      reason == cloonix::reason::kUpstreamUnavailable) {
    // The doorway answers, one of the net's daemons does not (restarting?).
    return Fail(absl::StrCat("UNAVAILABLE: ", s.error_message()),
                kExitNotRunning);
  }
  // UNAVAILABLE from gRPC itself (every cloonix error has a reason): the
  // net's socket or listener does not answer.
  if (s.error_code() == grpc::UNAVAILABLE && reason.empty()) {
    return Fail(
        absl::StrCat(g.remote.empty()
                         ? g.NetLabel() + " does not answer on " + g.Where()
                         : g.NetLabel() + " does not answer",
                     g.remote.empty() ? " (start it with: cloonix net start)"
                                      : absl::StrCat(": ", s.error_message())),
        kExitNotRunning);
  }
  return Fail(absl::StrCat(
      absl::StatusCodeToString(static_cast<absl::StatusCode>(s.error_code())),
      ": ", s.error_message()));
}

std::shared_ptr<grpc::Channel> Channel(const Globals& g) {
  if (g.remote.empty()) return cloonix::UnixChannel(g.Socket());
  auto creds = cloonix::LoadClientCreds(g.creds);
  grpc::SslCredentialsOptions o;
  if (creds.ok()) {
    o.pem_root_certs = creds->ca_pem;
    o.pem_private_key = creds->key_pem;
    o.pem_cert_chain = creds->cert_pem;
  } else {
    std::cerr << "cloonix: " << creds.status().message() << std::endl;
  }
  grpc::ChannelArguments args;
  // The doorway's certificate names it, whatever address is dialed.
  args.SetSslTargetNameOverride(cloonix::kDoorwayTlsName);
  return grpc::CreateCustomChannel(g.remote, grpc::SslCredentials(o), args);
}

int NotRunning(const Globals& g) {
  return Fail(absl::StrCat("net ", g.net, " is not running (no ", g.Socket(),
                           "); start it with: cloonix net start"),
              kExitNotRunning);
}

int PrintItem(const Globals& g, const v1::Item& item, const std::string& verb) {
  if (g.Json()) {
    std::cout << ToJsonLine(item) << std::endl;
  } else {
    std::cout << verb << " " << cloonix::KindName(item.kind()) << " "
              << item.name() << std::endl;
  }
  return 0;
}

int CreateItem(const Globals& g, const v1::Item& item) {
  Client c(g);
  if (!c.Exists()) return NotRunning(g);
  v1::CreateItemRequest req;
  *req.mutable_item() = item;
  v1::Item resp;
  auto ctx = c.Ctx();
  grpc::Status s = c.topo()->CreateItem(ctx.get(), req, &resp);
  if (!s.ok()) return FailRpc(g, s);
  return PrintItem(g, resp, "created");
}

std::string EnvOr(const char* name, const std::string& def) {
  const char* v = std::getenv(name);
  return v && *v ? v : def;
}

}  // namespace cloonix::cli
