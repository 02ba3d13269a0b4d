#include "cli/gui/gui_server.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "civetweb.h"
#include "cli/gui/assets.h"
#include "cli/output.h"
#include "cli/pcap_frames.h"
#include "common/names.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"

namespace cloonix::cli::gui {

namespace {

constexpr char kCookie[] = "cloonix_gui";
constexpr size_t kMaxBody = 1 << 20;          // bytes of a POST
constexpr size_t kMaxCapture = 256ull << 20;  // bytes of a pcap download
constexpr int kMaxCaptureSeconds = 300;

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()),
                 static_cast<int>(bytes)) != 1) {
    std::abort();  // no randomness: never hand out a guessable token
  }
  return absl::BytesToHexString(raw);
}

// Constant-time membership (tokens and sessions are secrets).
bool HasSecret(const std::set<std::string>& set, const std::string& v) {
  bool found = false;
  for (const auto& s : set) {
    if (s.size() == v.size() &&
        CRYPTO_memcmp(s.data(), v.data(), s.size()) == 0)
      found = true;
  }
  return found;
}

const char* Header(const mg_connection* c, const char* name) {
  const char* v = mg_get_header(c, name);
  return v == nullptr ? "" : v;
}

std::string QueryVar(const mg_connection* c, const char* name) {
  const mg_request_info* ri = mg_get_request_info(c);
  if (ri->query_string == nullptr) return "";
  char buf[1024];
  int n = mg_get_var(ri->query_string, strlen(ri->query_string), name, buf,
                     sizeof(buf));
  return n < 0 ? "" : std::string(buf, static_cast<size_t>(n));
}

int Reply(mg_connection* c, int status, const std::string& type,
          const std::string& body, const std::string& extra = "") {
  mg_printf(c,
            "HTTP/1.1 %d %s\r\n"
            "Content-Type: %s\r\n"
            "Content-Length: %zu\r\n"
            "Cache-Control: no-store\r\n"
            "X-Content-Type-Options: nosniff\r\n"
            "X-Frame-Options: DENY\r\n"
            "Referrer-Policy: no-referrer\r\n"
            "Content-Security-Policy: default-src 'self'; style-src 'self' "
            "'unsafe-inline'; img-src 'self' data:; connect-src 'self'\r\n"
            "%s\r\n",
            status, mg_get_response_code_text(c, status), type.c_str(),
            body.size(), extra.c_str());
  mg_write(c, body.data(), body.size());
  return status;
}

int JsonError(mg_connection* c, int status, const std::string& code,
              const std::string& message) {
  return Reply(c, status, "application/json",
               nlohmann::json{{"code", code}, {"message", message}}.dump());
}

int HttpStatusOf(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::OUT_OF_RANGE:
      return 400;
    case grpc::StatusCode::NOT_FOUND:
      return 404;
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::ABORTED:
      return 409;
    case grpc::StatusCode::FAILED_PRECONDITION:
      return 412;
    case grpc::StatusCode::UNIMPLEMENTED:  // the net's answer for a kind or
      return 501;                          // method it does not serve
    case grpc::StatusCode::UNAVAILABLE:
      return 503;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return 504;
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::UNAUTHENTICATED:
      return 403;
    default:
      return 500;
  }
}

std::string CodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

bool ReadBody(mg_connection* c, std::string* out) {
  const mg_request_info* ri = mg_get_request_info(c);
  if (ri->content_length > static_cast<long long>(kMaxBody)) return false;
  char buf[16384];
  int n;
  while ((n = mg_read(c, buf, sizeof(buf))) > 0) {
    out->append(buf, static_cast<size_t>(n));
    if (out->size() > kMaxBody) return false;
  }
  return true;
}

// One unary call of the table, JSON in and out.
using RpcFn = std::function<grpc::Status(Client&, const std::string& json,
                                         std::string* out, bool* parsed)>;

// `method` of the stub `stub` picks from a Client, e.g.
// Unary(&Client::topo, &v1::Topology::Stub::CreateItem).
template <typename Stub, typename Req, typename Resp>
RpcFn Unary(Stub* (Client::*stub)(),
            grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&,
                                         Resp*)) {
  return [stub, method](Client& c, const std::string& json, std::string* out,
                        bool* parsed) {
    Req req;
    auto st = google::protobuf::util::JsonStringToMessage(
        json.empty() ? "{}" : json, &req);
    if (!st.ok()) {
      *parsed = false;
      *out = std::string(st.message());
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, *out);
    }
    *parsed = true;
    Resp resp;
    auto ctx = c.Ctx(absl::Minutes(5));
    grpc::Status s = ((c.*stub)()->*method)(ctx.get(), req, &resp);
    if (s.ok()) *out = ToJsonLine(resp);
    return s;
  };
}

const std::map<std::string, RpcFn>& RpcTable() {
  using T = v1::Topology::Stub;
  static const auto* table = new std::map<std::string, RpcFn>{
      {"CreateItem", Unary(&Client::topo, &T::CreateItem)},
      {"GetItem", Unary(&Client::topo, &T::GetItem)},
      {"ListItems", Unary(&Client::topo, &T::ListItems)},
      {"DeleteItem", Unary(&Client::topo, &T::DeleteItem)},
      {"ConnectEth", Unary(&Client::topo, &T::ConnectEth)},
      {"DisconnectEth", Unary(&Client::topo, &T::DisconnectEth)},
      {"ConfigureA2b", Unary(&Client::topo, &T::ConfigureA2b)},
      {"ControlKvm", Unary(&Client::topo, &T::ControlKvm)},
      {"SetLayout", Unary(&Client::topo, &T::SetLayout)},
      {"GetNet", Unary(&Client::net, &v1::Net::Stub::GetNet)},
  };
  return *table;
}

// A WebSocket's session: the stream it relays and the thread that pumps the
// stream's messages to the browser.
struct WsSession {
  enum class Kind { kEvents, kTerm, kConsole };
  Kind kind = Kind::kEvents;
  std::string item;
  uint32_t cols = 80, rows = 24;
  mg_connection* conn = nullptr;
  grpc::ClientContext cc;
  std::thread pump;
  absl::Mutex write_mu;  // one gRPC write at a time
  bool half_closed ABSL_GUARDED_BY(write_mu) = false;
  std::unique_ptr<grpc::ClientReaderWriter<v1::ExecRequest, v1::ExecResponse>>
      exec;
  std::unique_ptr<
      grpc::ClientReaderWriter<v1::ConsoleRequest, v1::ConsoleResponse>>
      console;
  std::atomic<bool> closing{false};

  // False when the browser is gone.
  bool Send(int opcode, absl::string_view data) {
    if (closing.load()) return false;
    mg_lock_connection(conn);
    int n = mg_websocket_write(conn, opcode, data.data(), data.size());
    mg_unlock_connection(conn);
    return n > 0;
  }
  void End(const nlohmann::json& last) {
    if (closing.load()) return;
    Send(MG_WEBSOCKET_OPCODE_TEXT, last.dump());
    Send(MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE, "");
  }
};

void PumpEvents(WsSession* s, Client* client) {
  v1::WatchEventsRequest req;
  auto reader = client->topo()->WatchEvents(&s->cc, req);
  v1::Event ev;
  while (reader->Read(&ev)) {
    if (!s->Send(MG_WEBSOCKET_OPCODE_TEXT, ToJsonLine(ev))) {
      s->cc.TryCancel();
      break;
    }
  }
  grpc::Status st = reader->Finish();
  s->End({{"gone",
           st.ok() ? "the net's event stream ended" : st.error_message()}});
}

void PumpTerm(WsSession* s) {
  v1::ExecResponse r;
  nlohmann::json last = {{"exit", 255}, {"error", "no exit status"}};
  while (s->exec->Read(&r)) {
    if (r.has_exit()) {
      last = {{"exit", r.exit().code()}, {"error", r.exit().error()}};
      absl::MutexLock l(&s->write_mu);
      if (!s->half_closed) {
        s->half_closed = true;
        s->exec->WritesDone();
      }
      continue;
    }
    const std::string& bytes =
        r.has_stdout() ? r.stdout() : (r.has_stderr() ? r.stderr() : "");
    if (!bytes.empty() && !s->Send(MG_WEBSOCKET_OPCODE_BINARY, bytes)) {
      s->cc.TryCancel();
    }
  }
  grpc::Status st = s->exec->Finish();
  if (!st.ok() && last["error"] == "no exit status") {
    last["error"] = st.error_message();
  }
  s->End(last);
}

void PumpConsole(WsSession* s) {
  v1::ConsoleResponse r;
  while (s->console->Read(&r)) {
    if (!s->Send(MG_WEBSOCKET_OPCODE_BINARY, r.data())) s->cc.TryCancel();
  }
  grpc::Status st = s->console->Finish();
  s->End({{"exit", st.ok() ? 0 : 255}, {"error", st.error_message()}});
}

GuiServer* Self(void* cbdata) { return static_cast<GuiServer*>(cbdata); }

int HttpThunk(mg_connection* c, void* cbdata) {
  return Self(cbdata)->HandleHttp(c);
}
int WsConnectThunk(const mg_connection* c, void* cbdata) {
  return Self(cbdata)->WsConnect(c);
}
void WsReadyThunk(mg_connection* c, void* cbdata) { Self(cbdata)->WsReady(c); }
int WsDataThunk(mg_connection* c, int bits, char* data, size_t len,
                void* cbdata) {
  return Self(cbdata)->WsData(c, bits, data, len);
}
void WsCloseThunk(const mg_connection* c, void* cbdata) {
  Self(cbdata)->WsClose(c);
}

bool IsLoopback(const std::string& host) {
  return host == "localhost" || absl::StartsWith(host, "127.");
}

}  // namespace

absl::Status ParseListen(const std::string& listen, std::string* host,
                         int* port) {
  std::vector<std::string> parts = absl::StrSplit(listen, ':');
  int p = -1;
  if (parts.size() != 2 || parts[0].empty() ||
      !absl::SimpleAtoi(parts[1], &p) || p < 0 || p > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--listen \"", listen,
                     "\" is not HOST:PORT (127.0.0.1:8080; port 0: "
                     "any free one)"));
  }
  for (char ch : parts[0]) {
    if (!absl::ascii_isdigit(ch) && ch != '.') {
      return absl::InvalidArgumentError(absl::StrCat(
          "--listen \"", listen, "\": HOST is an IPv4 address (127.0.0.1)"));
    }
  }
  *host = parts[0];
  *port = p;
  return absl::OkStatus();
}

GuiServer::~GuiServer() { Stop(); }

absl::Status GuiServer::Start(const std::string& listen) {
  int want = 0;
  if (auto s = ParseListen(listen, &host_, &want); !s.ok()) return s;
  loopback_ = IsLoopback(host_);
  mg_init_library(MG_FEATURES_WEBSOCKET);
  const std::string ports = absl::StrCat(host_, ":", want);
  const char* options[] = {"listening_ports",
                           ports.c_str(),
                           "num_threads",
                           "64",
                           "enable_keep_alive",
                           "yes",
                           "websocket_timeout_ms",
                           "86400000",
                           "request_timeout_ms",
                           "600000",
                           nullptr};
  mg_callbacks callbacks = {};
  callbacks.log_message = [](const mg_connection*, const char* msg) {
    std::cerr << "cloonix gui: " << msg << std::endl;
    return 1;
  };
  mg_init_data init = {};
  init.callbacks = &callbacks;
  init.user_data = this;
  init.configuration_options = options;
  char err[256] = {0};
  mg_error_data error = {};
  error.text = err;
  error.text_buffer_size = sizeof(err);
  ctx_ = mg_start2(&init, &error);
  if (ctx_ == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", ports, ": ", err));
  }
  mg_server_port sp[4];
  int n = mg_get_server_ports(ctx_, 4, sp);
  port_ = n > 0 ? sp[0].port : want;
  mg_set_request_handler(ctx_, "/", HttpThunk, this);
  for (const char* uri : {"/ws/events", "/ws/term", "/ws/console"}) {
    mg_set_websocket_handler(ctx_, uri, WsConnectThunk, WsReadyThunk,
                             WsDataThunk, WsCloseThunk, this);
  }
  return absl::OkStatus();
}

void GuiServer::Stop() {
  if (ctx_ != nullptr) {
    mg_stop(ctx_);
    ctx_ = nullptr;
  }
}

std::string GuiServer::NewUrl() {
  std::string token = RandomHex(32);
  {
    absl::MutexLock l(&mu_);
    tokens_.insert(token);
  }
  std::string host = host_ == "0.0.0.0" ? "127.0.0.1" : host_;
  return absl::StrCat("http://", host, ":", port_, "/?token=", token);
}

bool GuiServer::HostAllowed(const mg_connection* c) const {
  if (!loopback_) return true;
  std::string host = Header(c, "Host");
  for (const std::string& ok :
       {absl::StrCat("127.0.0.1:", port_), absl::StrCat("localhost:", port_),
        absl::StrCat(host_, ":", port_)}) {
    if (host == ok) return true;
  }
  return false;
}

bool GuiServer::HasSession(const mg_connection* c) {
  char buf[128];
  int n = mg_get_cookie(Header(c, "Cookie"), kCookie, buf, sizeof(buf));
  if (n <= 0) return false;
  absl::MutexLock l(&mu_);
  return HasSecret(sessions_, std::string(buf, static_cast<size_t>(n)));
}

int GuiServer::HandleHttp(mg_connection* c) {
  const mg_request_info* ri = mg_get_request_info(c);
  const std::string method = ri->request_method;
  const std::string path = ri->local_uri;
  if (!HostAllowed(c)) {
    return Reply(c, 403, "text/plain", "403: unexpected Host header\n");
  }
  if (path == "/" && method == "GET") {
    std::string token = QueryVar(c, "token");
    if (!token.empty()) {
      std::string session;
      {
        absl::MutexLock l(&mu_);
        if (HasSecret(tokens_, token)) {
          tokens_.erase(token);
          session = RandomHex(32);
          sessions_.insert(session);
        }
      }
      if (session.empty()) {
        return Reply(c, 401, "text/plain",
                     "401: this token is not valid (each works once): run "
                     "cloonix gui --print-url for a new page\n");
      }
      return Reply(c, 303, "text/plain", "",
                   absl::StrCat("Set-Cookie: ", kCookie, "=", session,
                                "; Path=/; HttpOnly; SameSite=Strict\r\n"
                                "Location: /\r\n"));
    }
  }
  if (!HasSession(c)) {
    return Reply(c, 401, "text/plain",
                 "401: no session: open the URL that cloonix gui printed "
                 "(with its token)\n");
  }
  if (method == "GET") {
    if (path == "/api/capture") return Capture(c);
    const GuiAsset* a = FindGuiAsset(path == "/" ? "/index.html" : path);
    if (a == nullptr) return Reply(c, 404, "text/plain", "404: not found\n");
    return Reply(c, 200, a->content_type, std::string(a->data, a->size));
  }
  if (method == "POST" && absl::StartsWith(path, "/api/rpc/")) {
    if (std::string(Header(c, "X-Cloonix-Gui")) != "1") {
      return JsonError(c, 403, "PERMISSION_DENIED",
                       "POST /api/rpc/* needs the header X-Cloonix-Gui: 1");
    }
    return Rpc(c, path.substr(strlen("/api/rpc/")));
  }
  return Reply(c, 405, "text/plain", "405: method not allowed\n");
}

int GuiServer::Rpc(mg_connection* c, const std::string& method) {
  const auto& table = RpcTable();
  auto it = table.find(method);
  if (it == table.end()) {
    return JsonError(c, 404, "NOT_FOUND", "no method " + method);
  }
  std::string body;
  if (!ReadBody(c, &body)) {
    return JsonError(c, 413, "INVALID_ARGUMENT", "the body is over 1 MiB");
  }
  std::string out;
  bool parsed = false;
  grpc::Status s = it->second(client_, body, &out, &parsed);
  if (!parsed) {
    return JsonError(
        c, 400, "INVALID_ARGUMENT",
        absl::StrCat("the body is not a ", method, " request in JSON: ", out));
  }
  if (!s.ok()) {
    return JsonError(c, HttpStatusOf(s.error_code()), CodeName(s.error_code()),
                     s.error_message());
  }
  return Reply(c, 200, "application/json", out);
}

int GuiServer::Capture(mg_connection* c) {
  v1::CaptureRequest req;
  std::string item = QueryVar(c, "item"), lan = QueryVar(c, "lan");
  std::string file;
  if (!lan.empty()) {
    req.add_points()->set_item(lan);
    file = lan + ".pcap";
  } else {
    uint32_t eth = 0;
    if (!absl::SimpleAtoi(QueryVar(c, "eth"), &eth)) {
      return JsonError(c, 400, "INVALID_ARGUMENT", "eth: a number");
    }
    auto* p = req.add_points();
    p->set_item(item);
    p->set_eth(eth);
    file = absl::StrCat(item, ".eth", eth, ".pcap");
  }
  for (const std::string& n : {item, lan}) {
    if (!n.empty()) {
      if (auto s = ValidateName(n, "item"); !s.ok()) {
        return JsonError(c, 400, "INVALID_ARGUMENT", std::string(s.message()));
      }
    }
  }
  int secs = 10;
  std::string sv = QueryVar(c, "seconds");
  if (!sv.empty() &&
      (!absl::SimpleAtoi(sv, &secs) || secs < 1 || secs > kMaxCaptureSeconds)) {
    return JsonError(c, 400, "INVALID_ARGUMENT",
                     absl::StrCat("seconds: 1 to ", kMaxCaptureSeconds));
  }
  req.set_duration_ms(static_cast<uint32_t>(secs) * 1000);
  req.set_filter(QueryVar(c, "filter"));
  char* buf = nullptr;
  size_t size = 0;
  FILE* mem = open_memstream(&buf, &size);
  if (mem == nullptr) {
    return JsonError(c, 500, "INTERNAL", "open_memstream failed");
  }
  auto ctx = client_.Ctx(absl::Seconds(secs + 30));
  auto reader = client_.topo()->Capture(ctx.get(), req);
  std::unique_ptr<PcapWriter> dumper;
  std::string open_error;
  bool too_big = false;
  v1::CaptureMessage m;
  while (reader->Read(&m)) {
    if (m.has_started() && dumper == nullptr) {
      auto d = PcapWriter::OpenFile(m.started(), mem);
      if (!d.ok()) {
        open_error = std::string(d.status().message());
        mem = nullptr;  // may be closed by libpcap: left alone (pcap_frames.h)
        ctx->TryCancel();
        break;
      }
      dumper = *std::move(d);  // owns `mem` now
    }
    if (dumper == nullptr) continue;
    for (const auto& f : m.frames().frames()) dumper->Dump(f);
    dumper->Flush();
    if (size > kMaxCapture) {
      too_big = true;
      ctx->TryCancel();
      break;
    }
  }
  grpc::Status s = reader->Finish();
  if (dumper != nullptr) {
    dumper.reset();  // closes `mem`
  } else if (mem != nullptr) {
    fclose(mem);
  }
  std::string pcap(buf == nullptr ? "" : std::string(buf, size));
  free(buf);
  if (!open_error.empty()) {
    return JsonError(c, 503, "UNAVAILABLE",
                     absl::StrCat("cannot write the pcap: ", open_error));
  }
  if (too_big) {
    return JsonError(c, 413, "RESOURCE_EXHAUSTED",
                     "the capture passed 256 MiB: use cloonix snf -w FILE");
  }
  if (!s.ok()) {
    return JsonError(c, HttpStatusOf(s.error_code()), CodeName(s.error_code()),
                     s.error_message());
  }
  return Reply(c, 200, "application/vnd.tcpdump.pcap", pcap,
               absl::StrCat("Content-Disposition: attachment; filename=\"",
                            file, "\"\r\n"));
}

int GuiServer::WsConnect(const mg_connection* c) {
  const mg_request_info* ri = mg_get_request_info(c);
  if (!HostAllowed(c) || !HasSession(c)) return 1;
  // A page of another origin cannot open our sockets with the cookie.
  std::string origin = Header(c, "Origin");
  std::string host = Header(c, "Host");
  if (origin != "http://" + host) return 1;
  auto s = std::make_unique<WsSession>();
  std::string path = ri->local_uri;
  if (path == "/ws/events") {
    s->kind = WsSession::Kind::kEvents;
  } else {
    s->kind =
        path == "/ws/term" ? WsSession::Kind::kTerm : WsSession::Kind::kConsole;
    s->item = QueryVar(c, "item");
    if (!ValidateName(s->item, "item").ok()) return 1;
    uint32_t v;
    if (absl::SimpleAtoi(QueryVar(c, "cols"), &v) && v > 0 && v < 1000)
      s->cols = v;
    if (absl::SimpleAtoi(QueryVar(c, "rows"), &v) && v > 0 && v < 1000)
      s->rows = v;
  }
  mg_set_user_connection_data(c, s.release());
  return 0;
}

void GuiServer::WsReady(mg_connection* c) {
  auto* s = static_cast<WsSession*>(mg_get_user_connection_data(c));
  if (s == nullptr) return;
  s->conn = c;
  switch (s->kind) {
    case WsSession::Kind::kEvents:
      s->pump = std::thread(PumpEvents, s, &client_);
      break;
    case WsSession::Kind::kTerm: {
      s->exec = client_.guest()->Exec(&s->cc);
      v1::ExecRequest start;
      auto* st = start.mutable_start();
      st->set_item(s->item);
      st->set_tty(true);
      st->set_term("xterm-256color");
      st->mutable_size()->set_cols(s->cols);
      st->mutable_size()->set_rows(s->rows);
      s->exec->Write(start);
      s->pump = std::thread(PumpTerm, s);
      break;
    }
    case WsSession::Kind::kConsole: {
      s->console = client_.guest()->Console(&s->cc);
      v1::ConsoleRequest first;
      first.set_item(s->item);
      s->console->Write(first);
      s->pump = std::thread(PumpConsole, s);
      break;
    }
  }
}

int GuiServer::WsData(mg_connection* c, int bits, const char* data,
                      size_t len) {
  auto* s = static_cast<WsSession*>(mg_get_user_connection_data(c));
  const int op = bits & 0xf;
  if (op == MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE) return 0;
  if (s == nullptr) return 1;
  if (op != MG_WEBSOCKET_OPCODE_TEXT && op != MG_WEBSOCKET_OPCODE_BINARY) {
    return 1;  // ping, pong: civetweb answers
  }
  absl::MutexLock l(&s->write_mu);
  if (s->half_closed) return 1;
  if (s->kind == WsSession::Kind::kTerm && s->exec != nullptr) {
    v1::ExecRequest r;
    if (op == MG_WEBSOCKET_OPCODE_TEXT) {
      auto j = nlohmann::json::parse(std::string(data, len), nullptr, false);
      if (j.is_object() && j.contains("resize") && j["resize"].is_object()) {
        r.mutable_resize()->set_cols(j["resize"].value("cols", 80u));
        r.mutable_resize()->set_rows(j["resize"].value("rows", 24u));
        s->exec->Write(r);
      }
      return 1;
    }
    r.set_stdin(std::string(data, len));
    s->exec->Write(r);
  } else if (s->kind == WsSession::Kind::kConsole && s->console != nullptr &&
             op == MG_WEBSOCKET_OPCODE_BINARY) {
    v1::ConsoleRequest r;
    r.set_data(std::string(data, len));
    s->console->Write(r);
  }
  return 1;
}

void GuiServer::WsClose(const mg_connection* c) {
  auto* s = static_cast<WsSession*>(mg_get_user_connection_data(c));
  if (s == nullptr) return;
  s->closing = true;
  s->cc.TryCancel();
  if (s->pump.joinable()) s->pump.join();
  delete s;
}

}  // namespace cloonix::cli::gui
