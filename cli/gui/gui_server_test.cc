// GuiServer against an in-process fake of the net (Topology and Net on the
// doorway's unix socket path): the one-time token, the session cookie, 401
// and nothing done without it, the Host and X-Cloonix-Gui checks, the JSON
// calls and their error mapping, the embedded page, --listen parsing.
#include "cli/gui/gui_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cloonix::cli::gui {
namespace {

using ::testing::HasSubstr;

class FakeNet final : public v1::Topology::Service, public v1::Net::Service {
 public:
  grpc::Status CreateItem(grpc::ServerContext*,
                          const v1::CreateItemRequest* req,
                          v1::Item* resp) override {
    if (req->item().name() == "dup") {
      return grpc::Status(grpc::StatusCode::ALREADY_EXISTS,
                          "an item named dup already exists");
    }
    creates++;
    *resp = req->item();
    resp->set_kind(v1::ITEM_KIND_LAN);
    return grpc::Status::OK;
  }
  grpc::Status GetNet(grpc::ServerContext*, const v1::GetNetRequest*,
                      v1::NetInfo* resp) override {
    resp->set_name("fake");
    return grpc::Status::OK;
  }
  std::atomic<int> creates{0};
};

// One HTTP/1.1 request on a fresh connection; the whole answer.
std::string Http(int port, const std::string& request) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    close(fd);
    return "connect failed";
  }
  (void)!write(fd, request.data(), request.size());
  std::string out;
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0)
    out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

class GuiServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cxgui.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    g_.net = "fake";
    g_.work_root = dir_;
    std::filesystem::create_directories(g_.WorkDir());
    auto s = StartUnixServer(g_.Socket(),
                             {static_cast<v1::Topology::Service*>(&net_),
                              static_cast<v1::Net::Service*>(&net_)});
    ASSERT_TRUE(s.ok()) << s.status();
    grpc_ = *std::move(s);
    server_ = std::make_unique<GuiServer>(g_);
    ASSERT_TRUE(server_->Start("127.0.0.1:0").ok());
    port_ = server_->port();
    host_ = absl::StrCat("127.0.0.1:", port_);
  }
  void TearDown() override {
    server_.reset();
    grpc_->Shutdown();
    std::filesystem::remove_all(dir_);
  }
  std::string Get(const std::string& path, const std::string& headers = "") {
    return Http(port_,
                absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: ", host_, "\r\n",
                             headers, "Connection: close\r\n\r\n"));
  }
  std::string Post(const std::string& path, const std::string& body,
                   const std::string& headers) {
    return Http(
        port_, absl::StrCat("POST ", path, " HTTP/1.1\r\nHost: ", host_, "\r\n",
                            headers, "Content-Length: ", body.size(),
                            "\r\nConnection: close\r\n\r\n", body));
  }
  // Exchanges a new token; the "Cookie: ..." header line.
  std::string Login() {
    std::string url = server_->NewUrl();
    std::string r = Get(url.substr(url.find("/?token=")));
    size_t at = r.find("cloonix_gui=");
    if (at == std::string::npos) return "";
    return absl::StrCat("Cookie: ", r.substr(at, strlen("cloonix_gui=") + 64),
                        "\r\n");
  }

  std::string dir_;
  Globals g_;
  FakeNet net_;
  std::unique_ptr<grpc::Server> grpc_;
  std::unique_ptr<GuiServer> server_;
  int port_ = 0;
  std::string host_;
};

TEST_F(GuiServerTest, NothingWithoutASession) {
  EXPECT_THAT(Get("/"), HasSubstr("HTTP/1.1 401"));
  EXPECT_THAT(Get("/app.js"), HasSubstr("HTTP/1.1 401"));
  EXPECT_THAT(Get("/?token=" + std::string(64, '0')), HasSubstr("401"));
  std::string r = Post("/api/rpc/CreateItem", R"({"item":{"name":"x"}})",
                       "X-Cloonix-Gui: 1\r\n");
  EXPECT_THAT(r, HasSubstr("HTTP/1.1 401"));
  EXPECT_EQ(net_.creates.load(), 0);
  // A forged cookie is no session.
  EXPECT_THAT(Get("/", "Cookie: cloonix_gui=" + std::string(64, 'a') + "\r\n"),
              HasSubstr("HTTP/1.1 401"));
}

TEST_F(GuiServerTest, TheTokenWorksOnceForASessionCookie) {
  std::string url = server_->NewUrl();
  EXPECT_THAT(url, ::testing::MatchesRegex(
                       "http://127\\.0\\.0\\.1:[0-9]+/\\?token=[0-9a-f]{64}"));
  std::string path = url.substr(url.find("/?token="));
  std::string r = Get(path);
  EXPECT_THAT(r, HasSubstr("HTTP/1.1 303"));
  EXPECT_THAT(r, HasSubstr("Location: /"));
  EXPECT_THAT(r, HasSubstr("; Path=/; HttpOnly; SameSite=Strict"));
  EXPECT_THAT(Get(path), HasSubstr("HTTP/1.1 401"));  // used
  std::string cookie = Login();
  ASSERT_FALSE(cookie.empty());
  std::string page = Get("/", cookie);
  EXPECT_THAT(page, HasSubstr("HTTP/1.1 200"));
  EXPECT_THAT(page, HasSubstr("<title>cloonix gui</title>"));
  EXPECT_THAT(page, HasSubstr("Content-Security-Policy: default-src 'self'"));
  EXPECT_THAT(Get("/vendor/cytoscape.min.js", cookie), HasSubstr("200 OK"));
  EXPECT_THAT(Get("/nothing.js", cookie), HasSubstr("HTTP/1.1 404"));
}

TEST_F(GuiServerTest, HostMustBeTheLoopback) {
  std::string cookie = Login();
  std::string r = Http(port_, "GET / HTTP/1.1\r\nHost: evil.example\r\n" +
                                  cookie + "Connection: close\r\n\r\n");
  EXPECT_THAT(r, HasSubstr("HTTP/1.1 403"));
}

TEST_F(GuiServerTest, JsonCallsAndTheirErrors) {
  std::string cookie = Login();
  // No X-Cloonix-Gui: refused, nothing made.
  EXPECT_THAT(Post("/api/rpc/CreateItem", R"({"item":{"name":"a"}})", cookie),
              HasSubstr("HTTP/1.1 403"));
  EXPECT_EQ(net_.creates.load(), 0);
  const std::string h = cookie + "X-Cloonix-Gui: 1\r\n";
  std::string ok =
      Post("/api/rpc/CreateItem", R"({"item":{"name":"a","lan":{}}})", h);
  EXPECT_THAT(ok, HasSubstr("HTTP/1.1 200"));
  EXPECT_THAT(ok, HasSubstr(R"("kind":"ITEM_KIND_LAN")"));
  EXPECT_EQ(net_.creates.load(), 1);
  std::string dup =
      Post("/api/rpc/CreateItem", R"({"item":{"name":"dup","lan":{}}})", h);
  EXPECT_THAT(dup, HasSubstr("HTTP/1.1 409"));
  EXPECT_THAT(dup, HasSubstr(R"("code":"ALREADY_EXISTS")"));
  EXPECT_THAT(dup, HasSubstr("dup already exists"));
  std::string bad = Post("/api/rpc/CreateItem", R"({"item":{"nom":1}})", h);
  EXPECT_THAT(bad, HasSubstr("HTTP/1.1 400"));
  EXPECT_THAT(bad, HasSubstr("INVALID_ARGUMENT"));
  EXPECT_THAT(Post("/api/rpc/StopNet", "{}", h), HasSubstr("HTTP/1.1 404"));
  EXPECT_THAT(Post("/api/rpc/GetNet", "", h), HasSubstr(R"("name":"fake")"));
  // A method the fake lacks: UNIMPLEMENTED -> 501.
  EXPECT_THAT(Post("/api/rpc/ListItems", "{}", h), HasSubstr("HTTP/1.1 501"));
  EXPECT_EQ(net_.creates.load(), 1);
}

TEST(ParseListenTest, Forms) {
  std::string host;
  int port = -1;
  EXPECT_TRUE(ParseListen("127.0.0.1:0", &host, &port).ok());
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 0);
  for (const char* bad : {"", "8080", "127.0.0.1", "127.0.0.1:70000",
                          "127.0.0.1:-1", "host:80", ":80", "1.2.3.4:x"}) {
    EXPECT_EQ(ParseListen(bad, &host, &port).code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

}  // namespace
}  // namespace cloonix::cli::gui
