#include "common/host_links.h"

#include "common/exec.h"
#include "common/netns.h"
#include "common/status_macros.h"

namespace cloonix {

namespace {

absl::Status Ip(std::vector<std::string> args) {
  args.insert(args.begin(), "ip");
  return ExecOk(args, absl::StatusCode::kInternal).status();
}

// `ip -n NS ...`, or plain `ip ...` for the host's netns.
std::vector<std::string> In(const std::string& ns,
                            std::vector<std::string> args) {
  if (!ns.empty()) args.insert(args.begin(), {"-n", ns});
  return args;
}

}  // namespace

bool IpHostLinks::NetnsExists(const std::string& ns) {
  return cloonix::NetnsExists(ns);
}
absl::Status IpHostLinks::CreateNetns(const std::string& ns) {
  return cloonix::CreateNetns(ns);
}
absl::Status IpHostLinks::DeleteNetns(const std::string& ns) {
  return cloonix::DeleteNetns(ns);
}
std::vector<std::string> IpHostLinks::ListNetns(const std::string& prefix) {
  return cloonix::ListNetns(prefix);
}
bool IpHostLinks::LinkExists(const std::string& ns, const std::string& name) {
  std::vector<std::string> argv = {"ip"};
  for (auto& a : In(ns, {"link", "show", "dev", name})) argv.push_back(a);
  auto r = Exec(argv);
  return r.ok() && r->exit_code == 0;
}
absl::Status IpHostLinks::DeleteLink(const std::string& ns,
                                     const std::string& name) {
  return Ip(In(ns, {"link", "del", name}));
}

absl::Status IpHostLinks::AddVeth(const std::string& ns,
                                  const std::string& name,
                                  const std::string& mac,
                                  const std::string& peer,
                                  const std::string& peer_ns) {
  RETURN_IF_ERROR(Ip(In(ns, {"link", "add", name, "address", mac, "type",
                             "veth", "peer", "name", peer, "netns", peer_ns})));
  RETURN_IF_ERROR(Ip(In(ns, {"link", "set", name, "up"})));
  return Ip(In(peer_ns, {"link", "set", peer, "up"}));
}

absl::Status IpHostLinks::MoveLink(const std::string& name,
                                   const std::string& ns,
                                   const std::string& new_name) {
  RETURN_IF_ERROR(Ip({"link", "set", name, "netns", ns}));
  RETURN_IF_ERROR(Ip(In(ns, {"link", "set", name, "name", new_name})));
  return Ip(In(ns, {"link", "set", new_name, "up"}));
}

}  // namespace cloonix
