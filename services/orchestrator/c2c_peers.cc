#include "services/orchestrator/c2c_peers.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/atomic_file.h"
#include "common/grpc_status.h"
#include "common/process.h"
#include "common/rpc_client.h"
#include "common/status_macros.h"
#include "spdlog/spdlog.h"

namespace cloonix {
namespace {

// "host:port" / "[v6]:port" -> host (no brackets), port.
bool SplitAddress(const std::string& address, std::string* host,
                  uint32_t* port) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  *host = address.substr(0, colon);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']')
    *host = host->substr(1, host->size() - 2);
  return absl::SimpleAtoi(address.substr(colon + 1), port) && *port > 0 &&
         *port < 65536;
}

std::string JoinAddress(const std::string& ip, uint32_t port) {
  return ip.find(':') != std::string::npos ? absl::StrCat("[", ip, "]:", port)
                                           : absl::StrCat(ip, ":", port);
}

}  // namespace

C2cPeers::C2cPeers(std::string net, std::string work_dir)
    : net_(std::move(net)), work_dir_(std::move(work_dir)) {
  auto text = ReadFile(work_dir_ + "/c2c.deleted");
  if (!text.ok()) return;
  absl::MutexLock l(&mu_);
  for (absl::string_view line :
       absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv =
        absl::StrSplit(line, absl::MaxSplits(' ', 1));
    if (!kv.second.empty()) buried_[kv.first] = kv.second;
  }
}

void C2cPeers::SaveBuriedLocked() {
  std::string text;
  for (const auto& [name, what] : buried_)
    absl::StrAppend(&text, name, " ", what, "\n");
  if (auto s = WriteFileAtomic(work_dir_ + "/c2c.deleted", text, 0600); !s.ok())
    spdlog::warn("c2c tombstones not saved: {}", s.ToString());
}

void C2cPeers::Bury(const std::string& name, const std::string& peer_net,
                    uint32_t vni) {
  absl::MutexLock l(&mu_);
  buried_[name] = absl::StrCat(peer_net, " ", vni);
  SaveBuriedLocked();
}

bool C2cPeers::Buried(const std::string& name, const std::string& peer_net,
                      uint32_t vni) {
  absl::MutexLock l(&mu_);
  auto it = buried_.find(name);
  return it != buried_.end() && it->second == absl::StrCat(peer_net, " ", vni);
}

void C2cPeers::Unbury(const std::string& name) {
  absl::MutexLock l(&mu_);
  if (buried_.erase(name) > 0) SaveBuriedLocked();
}

std::string C2cPeers::Dir(const std::string& name) const {
  return absl::StrCat(work_dir_, "/c2c/", name);
}

absl::Status C2cPeers::Keep(const std::string& name, const ClientCreds& creds) {
  RETURN_IF_ERROR(MakeDirs(Dir(name), 0700));
  RETURN_IF_ERROR(WriteFileAtomic(Dir(name) + "/ca.pem", creds.ca_pem, 0600));
  RETURN_IF_ERROR(
      WriteFileAtomic(Dir(name) + "/client.pem", creds.cert_pem, 0600));
  RETURN_IF_ERROR(
      WriteFileAtomic(Dir(name) + "/client.key", creds.key_pem, 0600));
  absl::MutexLock l(&mu_);
  channels_.erase(name);  // new credentials: a new channel
  return absl::OkStatus();
}

absl::StatusOr<ClientCreds> C2cPeers::Load(const std::string& name) {
  return LoadClientCreds(Dir(name));
}

void C2cPeers::Forget(const std::string& name) {
  for (const char* f : {"ca.pem", "client.pem", "client.key"})
    unlink((Dir(name) + "/" + f).c_str());
  rmdir(Dir(name).c_str());
  absl::MutexLock l(&mu_);
  channels_.erase(name);
}

void C2cPeers::MarkLeaving(const std::string& name) {
  absl::MutexLock l(&mu_);
  leaving_.insert(name);
}

bool C2cPeers::TakeLeaving(const std::string& name) {
  absl::MutexLock l(&mu_);
  return leaving_.erase(name) > 0;
}

std::shared_ptr<grpc::Channel> C2cPeers::Channel(const v1::Item& item) {
  const std::string& address = item.c2c().peer_address();
  absl::MutexLock l(&mu_);
  auto it = channels_.find(item.name());
  if (it != channels_.end() && it->second.first == address)
    return it->second.second;
  auto creds = LoadClientCreds(Dir(item.name()));
  if (!creds.ok()) {
    spdlog::warn("c2c {}: {}", item.name(), creds.status().ToString());
    return nullptr;
  }
  grpc::SslCredentialsOptions o;
  o.pem_root_certs = creds->ca_pem;
  o.pem_private_key = creds->key_pem;
  o.pem_cert_chain = creds->cert_pem;
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride(kDoorwayTlsName);
  // A peer that went away is tried again soon after it is back.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 500);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  auto ch = grpc::CreateCustomChannel(address, grpc::SslCredentials(o), args);
  channels_[item.name()] = {address, ch};
  return ch;
}

absl::StatusOr<std::string> C2cPeers::PeerIp(const std::string& address) {
  std::string host;
  uint32_t port;
  if (!SplitAddress(address, &host, &port))
    return absl::InvalidArgumentError(
        absl::StrCat("\"", address, "\" is not HOST:PORT"));
  addrinfo hints{};
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (rc != 0 || res == nullptr)
    return absl::NotFoundError(
        absl::StrCat("cannot resolve ", host, ": ", gai_strerror(rc)));
  char buf[INET6_ADDRSTRLEN] = {};
  if (res->ai_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(res->ai_addr)->sin_addr,
              buf, sizeof(buf));
  } else {
    inet_ntop(AF_INET6,
              &reinterpret_cast<sockaddr_in6*>(res->ai_addr)->sin6_addr, buf,
              sizeof(buf));
  }
  freeaddrinfo(res);
  return std::string(buf);
}

absl::StatusOr<std::string> C2cPeers::LocalIpTowards(
    const std::string& address) {
  ASSIGN_OR_RETURN(std::string ip, PeerIp(address));
  const bool v6 = ip.find(':') != std::string::npos;
  int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::ErrnoToStatus(errno, "socket");
  sockaddr_storage ss{};
  socklen_t len;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(4789);
    inet_pton(AF_INET6, ip.c_str(), &a->sin6_addr);
    len = sizeof(*a);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(4789);
    inet_pton(AF_INET, ip.c_str(), &a->sin_addr);
    len = sizeof(*a);
  }
  if (connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    absl::Status s = absl::UnavailableError(
        absl::StrCat("no route to ", ip, ": ", strerror(errno)));
    close(fd);
    return s;
  }
  close(fd);
  char buf[INET6_ADDRSTRLEN] = {};
  if (v6) {
    inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr, buf,
              sizeof(buf));
  } else {
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr, buf,
              sizeof(buf));
  }
  return std::string(buf);
}

absl::StatusOr<v1::JoinC2cResponse> C2cPeers::Join(const v1::Item& item) {
  const auto& c = item.c2c();
  PkiFiles pki = PkiPaths(work_dir_ + "/pki");
  auto ca = ReadFile(pki.ca_cert);
  auto cert = ReadFile(pki.client_cert);
  auto key = ReadFile(pki.client_key);
  auto own = ReadFile(work_dir_ + "/doorway.addr");
  if (!ca.ok() || !cert.ok() || !key.ok() || !own.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "net ", net_,
        " has no TCP listener for the peer to call back: start it with "
        "`cloonix net start --listen HOST:PORT`"));
  }
  std::string own_host;
  uint32_t own_port;
  if (!SplitAddress(std::string(absl::StripAsciiWhitespace(*own)), &own_host,
                    &own_port))
    return absl::InternalError(
        absl::StrCat("unreadable ", work_dir_, "/doorway.addr: ", *own));
  ASSIGN_OR_RETURN(std::string local_ip, LocalIpTowards(c.peer_address()));
  if (own_host.empty() || own_host == "0.0.0.0" || own_host == "::")
    own_host = local_ip;
  v1::JoinC2cRequest req;
  req.set_name(item.name());
  req.set_peer_net(net_);
  req.set_peer_address(JoinAddress(own_host, own_port));
  req.set_peer_ca_pem(*ca);
  req.set_peer_cert_pem(*cert);
  req.set_peer_key_pem(*key);
  req.set_vni(c.vni());
  req.set_peer_ip(local_ip);
  req.set_peer_udp_port(c.udp_port());
  auto ch = Channel(item);
  if (ch == nullptr)
    return absl::FailedPreconditionError(
        absl::StrCat("c2c ", item.name(), ": no credentials for net ",
                     c.peer_net(), " (add it again with --creds)"));
  auto stub = v1::Topology::NewStub(ch);
  auto ctx = ContextWithDeadline(absl::Seconds(15));
  v1::JoinC2cResponse resp;
  grpc::Status s = stub->JoinC2c(ctx.get(), req, &resp);
  if (!s.ok()) {
    return FromGrpcStatus(
        s, absl::StrCat("net ", c.peer_net(), " at ", c.peer_address(), ": "));
  }
  return resp;
}

absl::Status C2cPeers::Leave(const v1::Item& item) {
  auto ch = Channel(item);
  if (ch == nullptr) return absl::FailedPreconditionError("no credentials");
  auto stub = v1::Topology::NewStub(ch);
  auto ctx = ContextWithDeadline(absl::Seconds(5));
  v1::LeaveC2cRequest req;
  req.set_name(item.name());
  req.set_peer_net(net_);
  v1::LeaveC2cResponse resp;
  grpc::Status s = stub->LeaveC2c(ctx.get(), req, &resp);
  if (!s.ok() && s.error_code() != grpc::StatusCode::NOT_FOUND)
    return FromGrpcStatus(s, absl::StrCat("net ", item.c2c().peer_net(), ": "));
  return absl::OkStatus();
}

absl::Status C2cPeers::Check(const v1::Item& item) {
  auto ch = Channel(item);
  if (ch == nullptr) return absl::FailedPreconditionError("no credentials");
  auto stub = v1::Topology::NewStub(ch);
  auto ctx = ContextWithDeadline(absl::Seconds(2));
  v1::GetItemRequest req;
  req.set_name(item.name());
  v1::Item peer;
  grpc::Status s = stub->GetItem(ctx.get(), req, &peer);
  if (!s.ok()) return FromGrpcStatus(s);
  if (peer.kind() != v1::ITEM_KIND_C2C || peer.c2c().peer_net() != net_)
    return absl::NotFoundError(absl::StrCat("net ", item.c2c().peer_net(),
                                            " has an item ", item.name(),
                                            " that is not this c2c's end"));
  return absl::OkStatus();
}

}  // namespace cloonix
