#include "cli/x11_forward.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace cloonix::cli {
namespace {

namespace v1 = cloonix::v1;

// A setup request as libxcb writes it ('l': little-endian).
std::string SetupBytes(char order, const std::string& name,
                       const std::string& data) {
  auto u16 = [&](size_t v) {
    return order == 'l' ? std::string{static_cast<char>(v & 0xff),
                                      static_cast<char>(v >> 8)}
                        : std::string{static_cast<char>(v >> 8),
                                      static_cast<char>(v & 0xff)};
  };
  std::string s;
  s += order;
  s += '\0';
  s += u16(11) + u16(0) + u16(name.size()) + u16(data.size()) + u16(0);
  s += name + std::string((4 - name.size() % 4) % 4, '\0');
  s += data + std::string((4 - data.size() % 4) % 4, '\0');
  return s;
}

TEST(X11ForwardTest, ParseDisplay) {
  EXPECT_EQ(ParseDisplay(":0")->unix_path, "/tmp/.X11-unix/X0");
  EXPECT_EQ(ParseDisplay(":12.0")->unix_path, "/tmp/.X11-unix/X12");
  EXPECT_EQ(ParseDisplay("unix:3")->unix_path, "/tmp/.X11-unix/X3");
  EXPECT_EQ(ParseDisplay("/tmp/launch-x/org.xquartz:0")->unix_path,
            "/tmp/launch-x/org.xquartz");
  auto tcp = ParseDisplay("localhost:10.0");
  ASSERT_TRUE(tcp.ok());
  EXPECT_EQ(tcp->host, "localhost");
  EXPECT_EQ(tcp->port, 6010);
  for (const char* bad : {"", "0", ":", ":x", "host:-1", ":99999"}) {
    EXPECT_FALSE(ParseDisplay(bad).ok()) << bad;
  }
}

TEST(X11ForwardTest, RewriteSetupSwapsTheCookie) {
  X11Auth fake{"MIT-MAGIC-COOKIE-1", std::string(16, '\x11')};
  X11Auth real{"MIT-MAGIC-COOKIE-1", std::string(16, '\x22')};
  for (char order : {'l', 'B'}) {
    std::string in = SetupBytes(order, fake.proto, fake.cookie) + "MORE";
    std::string out;
    size_t used = 0;
    // Byte by byte: more is needed until the whole setup is there.
    for (size_t n = 0; n < in.size() - 4; ++n) {
      EXPECT_EQ(RewriteSetup(in.substr(0, n), fake, real, &out, &used),
                SetupResult::kNeedMore)
          << n;
    }
    ASSERT_EQ(RewriteSetup(in, fake, real, &out, &used), SetupResult::kOk);
    EXPECT_EQ(used, in.size() - 4);
    EXPECT_EQ(out, SetupBytes(order, real.proto, real.cookie));
    // No real cookie (a display without access control): none sent.
    ASSERT_EQ(RewriteSetup(in, fake, {}, &out, &used), SetupResult::kOk);
    EXPECT_EQ(out, SetupBytes(order, "", ""));
    // Another cookie, another protocol, a bad byte order: refused.
    std::string other = fake.cookie;
    other[15] = 'x';
    EXPECT_EQ(RewriteSetup(SetupBytes(order, fake.proto, other), fake, real,
                           &out, &used),
              SetupResult::kBad);
    EXPECT_EQ(
        RewriteSetup(SetupBytes(order, "XDM-AUTHORIZATION-1", fake.cookie),
                     fake, real, &out, &used),
        SetupResult::kBad);
  }
  EXPECT_EQ(RewriteSetup(std::string(12, 'x'), fake, real, nullptr, nullptr),
            SetupResult::kBad);
  EXPECT_EQ(MakeFakeAuth().cookie.size(), 16u);
  EXPECT_NE(MakeFakeAuth().cookie, MakeFakeAuth().cookie);
}

// A local "display" (a unix socket) and the stream's requests, recorded.
class ForwarderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // TEST_TMPDIR is too long for a unix socket path (108 bytes).
    char dir[] = "/tmp/x11fwdXXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    path_ = dir_ + "/X0";
    listen_ = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", path_.c_str());
    ASSERT_EQ(bind(listen_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    ASSERT_EQ(listen(listen_, 4), 0);
  }
  void TearDown() override {
    close(listen_);
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }
  bool Send(const v1::ExecRequest& m) {
    std::lock_guard<std::mutex> l(mu_);
    sent_.push_back(m);
    cv_.notify_all();
    return true;
  }
  // Waits for a request matching `pred`.
  bool WaitFor(const std::function<bool(const v1::ExecRequest&)>& pred) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, std::chrono::seconds(5), [&] {
      for (const auto& m : sent_) {
        if (pred(m)) return true;
      }
      return false;
    });
  }
  std::string ReadN(int fd, size_t n) {
    std::string s;
    char buf[256];
    while (s.size() < n) {
      ssize_t r = read(fd, buf, std::min(sizeof(buf), n - s.size()));
      if (r <= 0) break;
      s.append(buf, static_cast<size_t>(r));
    }
    return s;
  }
  std::string dir_, path_;
  int listen_ = -1;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<v1::ExecRequest> sent_;
};

TEST_F(ForwarderTest, RelaysWithTheRealCookieAndRefusesAWrongOne) {
  X11Auth fake{"MIT-MAGIC-COOKIE-1", std::string(16, '\x11')};
  X11Auth real{"MIT-MAGIC-COOKIE-1", std::string(16, '\x22')};
  X11Display d;
  d.unix_path = path_;
  X11Forwarder f(d, fake, real,
                 [this](const v1::ExecRequest& m) { return Send(m); });
  f.Open(1);
  int server = accept(listen_, nullptr, nullptr);
  ASSERT_GE(server, 0);
  const std::string setup = SetupBytes('l', fake.proto, fake.cookie);
  f.Data(1, setup.substr(0, 5));  // in pieces, as a stream may cut it
  f.Data(1, setup.substr(5) + "REQ1");
  const std::string want = SetupBytes('l', real.proto, real.cookie) + "REQ1";
  EXPECT_EQ(ReadN(server, want.size()), want);
  f.Data(1, "REQ2");
  EXPECT_EQ(ReadN(server, 4), "REQ2");
  ASSERT_EQ(write(server, "REPLY", 5), 5);
  EXPECT_TRUE(WaitFor([](const v1::ExecRequest& m) {
    return m.has_x11_data() && m.x11_data().channel() == 1 &&
           m.x11_data().data() == "REPLY";
  }));
  // The display closes: the channel closes toward the guest.
  close(server);
  EXPECT_TRUE(WaitFor([](const v1::ExecRequest& m) {
    return m.msg_case() == v1::ExecRequest::kX11Close && m.x11_close() == 1;
  }));
  // A second channel with a wrong cookie never reaches the display.
  f.Open(2);
  int server2 = accept(listen_, nullptr, nullptr);
  ASSERT_GE(server2, 0);
  f.Data(2, SetupBytes('B', fake.proto, std::string(16, '\x33')));
  EXPECT_TRUE(WaitFor([](const v1::ExecRequest& m) {
    return m.msg_case() == v1::ExecRequest::kX11Close && m.x11_close() == 2;
  }));
  char c;
  EXPECT_EQ(read(server2, &c, 1), 0);  // closed, nothing sent
  close(server2);
}

TEST_F(ForwarderTest, NoDisplayClosesTheChannel) {
  X11Display d;
  d.unix_path = path_ + ".none";
  X11Forwarder f(d, MakeFakeAuth(), {},
                 [this](const v1::ExecRequest& m) { return Send(m); });
  f.Open(4);
  EXPECT_TRUE(WaitFor([](const v1::ExecRequest& m) {
    return m.msg_case() == v1::ExecRequest::kX11Close && m.x11_close() == 4;
  }));
}

}  // namespace
}  // namespace cloonix::cli
