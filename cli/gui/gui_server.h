// cloonix gui: a web page of one net, served by the `cloonix gui` process
// (civetweb, HTTP + WebSocket) that reaches the net like every other
// command: its doorway's unix socket, or with --remote its TLS listener
// (mutual TLS). The browser only ever talks to this process.
//
// What it serves (docs/GUI.md):
//   GET  /?token=T        exchanges the one-time token for a session cookie
//                         (cloonix_gui, HttpOnly, SameSite=Strict), then 303
//                         to /. Every other request needs that cookie: 401
//                         without it, and nothing changes.
//   GET  /, /app.js, /app.css, /vendor/...   the page (cli/gui/assets.h)
//   POST /api/rpc/<Method>  a unary Topology/Net call, JSON in and out
//                         (proto3 JSON, proto field names): CreateItem,
//                         DeleteItem, ConnectEth, DisconnectEth,
//                         ConfigureA2b, ControlKvm, SetLayout, ListItems,
//                         GetItem, GetNet. Errors: the gRPC code mapped to an
//                         HTTP status (400, 404, 409, 412, 503, ...) and
//                         {"code": "NOT_FOUND", "message": "..."}. POSTs need
//                         the header X-Cloonix-Gui: 1 (no cross-site form can
//                         send it).
//   GET  /api/capture?item=I&eth=N&seconds=S[&filter=F]   (or ?lan=L) a
//                         capture of S seconds (1..300, default 10) as a pcap
//                         download (Topology.Capture, libpcap, ns timestamps).
//   WS   /ws/events       Topology.WatchEvents, one JSON event per text frame.
//   WS   /ws/term?item=I&cols=C&rows=R   a shell on a pty (Guest.Exec, tty);
//                         binary frames both ways are the terminal's bytes, a
//                         text frame {"resize": {"cols": C, "rows": R}}
//                         resizes it; the server ends with a text frame
//                         {"exit": code, "error": "..."}.
//   WS   /ws/console?item=I   a kvm's serial console (Guest.Console), bytes.
// WebSockets check the session cookie and that Origin is this server.
// On a loopback listener the Host header must name the loopback (a DNS
// rebinding page gets 403).
#ifndef CLOONIX_CLI_GUI_GUI_SERVER_H_
#define CLOONIX_CLI_GUI_GUI_SERVER_H_

#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "cli/context.h"

struct mg_context;
struct mg_connection;

namespace cloonix::cli::gui {

class GuiServer {
 public:
  explicit GuiServer(const Globals& g) : g_(g), client_(g_) {}
  ~GuiServer();
  GuiServer(const GuiServer&) = delete;
  GuiServer& operator=(const GuiServer&) = delete;

  // Listens on HOST:PORT (port 0: any free one). INVALID_ARGUMENT for a bad
  // address, UNAVAILABLE when it cannot bind.
  absl::Status Start(const std::string& listen);
  void Stop();
  int port() const { return port_; }
  // Whether it listens on the loopback only (set by Start).
  bool loopback() const { return loopback_; }
  // http://HOST:PORT/?token=<new one-time token> (64 hex digits).
  std::string NewUrl();

  // Request plumbing (civetweb's C callbacks call these).
  int HandleHttp(mg_connection* conn);
  int WsConnect(const mg_connection* conn);
  void WsReady(mg_connection* conn);
  int WsData(mg_connection* conn, int opcode, const char* data, size_t len);
  void WsClose(const mg_connection* conn);

 private:
  bool HasSession(const mg_connection* conn);
  bool HostAllowed(const mg_connection* conn) const;
  int Rpc(mg_connection* conn, const std::string& method);
  int Capture(mg_connection* conn);

  const Globals g_;
  Client client_;
  mg_context* ctx_ = nullptr;
  std::string host_;
  int port_ = 0;
  bool loopback_ = true;
  absl::Mutex mu_;
  std::set<std::string> tokens_ ABSL_GUARDED_BY(mu_);    // one-time
  std::set<std::string> sessions_ ABSL_GUARDED_BY(mu_);  // cookie values
};

// "127.0.0.1:8080" -> host, port. INVALID_ARGUMENT names the form.
absl::Status ParseListen(const std::string& listen, std::string* host,
                         int* port);

}  // namespace cloonix::cli::gui

#endif  // CLOONIX_CLI_GUI_GUI_SERVER_H_
