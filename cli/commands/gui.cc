// cloonix gui: the net's web page (cli/gui/gui_server.h), served by this
// process until Ctrl-C.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "cli/commands/commands.h"
#include "cli/context.h"
#include "cli/gui/gui_server.h"
#include "nlohmann/json.hpp"

extern char** environ;

namespace cloonix::cli {

namespace {

// xdg-open (or $BROWSER) on the URL, not waited for.
void OpenBrowser(const std::string& url) {
  const char* browser = getenv("BROWSER");
  std::string prog = browser != nullptr && *browser ? browser : "xdg-open";
  char* argv[] = {prog.data(), const_cast<char*>(url.c_str()), nullptr};
  pid_t pid;
  if (posix_spawnp(&pid, prog.c_str(), nullptr, nullptr, argv, environ) != 0) {
    std::cerr << "cloonix gui: cannot run " << prog
              << " (set $BROWSER, or open the URL yourself)" << std::endl;
  }
}

int Gui(const Globals& g, const std::string& listen, bool open,
        bool print_url) {
  {
    Client c(g);
    if (!c.Exists()) return NotRunning(g);
    v1::GetNetRequest req;
    v1::NetInfo info;
    auto ctx = c.Ctx(absl::Seconds(10));
    grpc::Status s = c.net()->GetNet(ctx.get(), req, &info);
    if (!s.ok()) return FailRpc(g, s);
  }
  // Ctrl-C and SIGTERM end the server; taken by sigwait below.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  gui::GuiServer server(g);
  if (absl::Status s = server.Start(listen); !s.ok()) {
    return Fail(std::string(s.message()),
                s.code() == absl::StatusCode::kInvalidArgument ? kExitUsage
                                                               : kExitFailed);
  }
  const std::string url = server.NewUrl();
  if (g.Json()) {
    std::cout << nlohmann::json{{"url", url},
                                {"port", server.port()},
                                {"net", g.remote.empty() ? g.net : g.remote}}
                     .dump()
              << std::endl;
  } else if (print_url) {
    std::cout << url << std::endl;
  } else {
    std::cout << "cloonix gui: " << g.NetLabel() << " at\n  " << url
              << "\n(the token works once, for one browser; Ctrl-C stops)"
              << std::endl;
  }
  if (!server.loopback()) {
    std::cerr << "cloonix gui: listening beyond the loopback on plain HTTP: "
                 "the token and the session cookie cross the network in clear"
              << std::endl;
  }
  if (open) OpenBrowser(url);
  int sig = 0;
  sigwait(&set, &sig);
  server.Stop();
  return 0;
}

}  // namespace

void AddGuiCommand(CLI::App* app, Context& ctx) {
  static std::string listen = "127.0.0.1:0";
  static bool open = false, print_url = false;
  auto* gui = app->add_subcommand(
      "gui",
      "Serve the net's web page (Cloonix's cloonix_gui) until Ctrl-C: the "
      "topology live, drag to place nodes (kept in the net), double-click a "
      "kvm or cnt for a shell, right-click to add, cable, delete, capture. "
      "Prints a URL with a one-time token; the page needs it (docs/GUI.md)");
  gui->add_option("--listen", listen,
                  "HOST:PORT to serve on (default 127.0.0.1:0: a free port "
                  "on the loopback)");
  gui->add_flag("--open", open,
                "Open the page in a browser (xdg-open or "
                "$BROWSER)");
  gui->add_flag("--print-url", print_url,
                "Print only the URL (for scripts), then serve");
  gui->callback([&] {
    ctx.action = [&] { return Gui(ctx.g, listen, open, print_url); };
  });
}

}  // namespace cloonix::cli
