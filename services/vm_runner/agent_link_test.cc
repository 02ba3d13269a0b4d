#include "services/vm_runner/agent_link.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <thread>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace cloonix {
namespace {

// Plays the guest's side: QEMU's chardev socket is the server.
class FakeQemu {
 public:
  FakeQemu() {
    char tmpl[] = "/tmp/cxal.XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/agent.sock";
    listen_fd_ = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path_.c_str(), sizeof(a.sun_path) - 1);
    EXPECT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_EQ(listen(listen_fd_, 1), 0);
  }
  ~FakeQemu() {
    if (conn_ >= 0) close(conn_);
    close(listen_fd_);
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }
  const std::string& path() const { return path_; }
  void Accept() { conn_ = accept(listen_fd_, nullptr, nullptr); }
  void Hangup() {
    close(conn_);
    conn_ = -1;
  }
  void Send(wire::Type t, uint32_t session, const std::string& payload) {
    std::string buf;
    wire::AppendFrame({t, session, payload}, &buf);
    ASSERT_EQ(write(conn_, buf.data(), buf.size()),
              static_cast<ssize_t>(buf.size()));
  }
  wire::Frame Receive() {
    wire::Frame f;
    std::string err;
    char buf[4096];
    while (!parser_.Next(&f, &err)) {
      ssize_t n = read(conn_, buf, sizeof(buf));
      if (n <= 0) return {wire::Type::kError, 0, "eof"};
      parser_.Feed(buf, static_cast<size_t>(n));
    }
    return f;
  }

 private:
  std::string dir_, path_;
  int listen_fd_ = -1, conn_ = -1;
  wire::FrameParser parser_;
};

TEST(AgentLinkTest, HeartbeatsSessionsAndLoss) {
  FakeQemu qemu;
  AgentLink link("vm1", qemu.path());
  qemu.Accept();
  EXPECT_FALSE(link.Up());  // connected, but no agent frame yet
  wire::WireWriter hello;
  hello.U32(wire::kProtocolVersion).Str("guest1");
  qemu.Send(wire::Type::kHello, 0, hello.Take());
  for (int i = 0; i < 50 && !link.Up(); ++i)
    absl::SleepFor(absl::Milliseconds(20));
  ASSERT_TRUE(link.Up());
  EXPECT_EQ(link.Hostname(), "guest1");

  auto s = link.Open();
  ASSERT_TRUE(link.Send(s->id(), wire::Type::kStdin, "abc").ok());
  wire::Frame got = qemu.Receive();
  EXPECT_EQ(got.type, wire::Type::kStdin);
  EXPECT_EQ(got.session, s->id());
  EXPECT_EQ(got.payload, "abc");

  qemu.Send(wire::Type::kStdout, s->id(), "out");
  qemu.Send(wire::Type::kStdout, s->id() + 100, "not mine");
  wire::Frame f;
  ASSERT_TRUE(s->Pop(&f, absl::Seconds(2)));
  EXPECT_EQ(f.payload, "out");
  EXPECT_FALSE(s->Pop(&f, absl::Milliseconds(100)));

  // A second hello on the same connection: a new agent; old sessions fail
  // and the link reconnects.
  auto s2 = link.Open();
  wire::WireWriter hello2;
  hello2.U32(wire::kProtocolVersion).Str("guest1");
  qemu.Send(wire::Type::kHello, 0, hello2.Take());
  ASSERT_TRUE(s2->Pop(&f, absl::Seconds(2)));
  EXPECT_EQ(f.type, wire::Type::kError);
  EXPECT_NE(f.payload.find("restarted"), std::string::npos) << f.payload;
  qemu.Hangup();
  qemu.Accept();
  qemu.Send(wire::Type::kHeartbeat, 0, "");
  for (int i = 0; i < 50 && !link.Up(); ++i)
    absl::SleepFor(absl::Milliseconds(20));
  ASSERT_TRUE(link.Up());
  s = link.Open();

  // The guest side goes away: the session learns it, the agent is down.
  qemu.Hangup();
  ASSERT_TRUE(s->Pop(&f, absl::Seconds(2)));
  EXPECT_EQ(f.type, wire::Type::kError);
  EXPECT_FALSE(link.Up());
  // And the link reconnects by itself.
  qemu.Accept();
  qemu.Send(wire::Type::kHeartbeat, 0, "");
  for (int i = 0; i < 50 && !link.Up(); ++i)
    absl::SleepFor(absl::Milliseconds(20));
  EXPECT_TRUE(link.Up());
}

TEST(AgentLinkTest, ASlowConsumerHoldsTheChannelBackWithoutLookingDead) {
  FakeQemu qemu;
  AgentLink link("vm1", qemu.path());
  qemu.Accept();
  qemu.Send(wire::Type::kHeartbeat, 0, "");
  for (int i = 0; i < 50 && !link.Up(); ++i)
    absl::SleepFor(absl::Milliseconds(20));
  auto s = link.Open();
  // 24 MiB for the session, written by the "guest" while nobody consumes.
  const std::string chunk(64 * 1024, 'x');
  const int kChunks = 384;
  std::thread guest([&] {
    for (int i = 0; i < kChunks; ++i)
      qemu.Send(wire::Type::kData, s->id(), chunk);
  });
  absl::SleepFor(absl::Seconds(2));
  // Bounded: the link stopped reading near the high-water mark.
  EXPECT_LE(s->queued() * chunk.size(),
            AgentSession::kHighWater + chunk.size());
  EXPECT_TRUE(link.Up());  // blocked on back-pressure is not dead
  size_t got = 0;
  wire::Frame f;
  while (got < static_cast<size_t>(kChunks) && s->Pop(&f, absl::Seconds(5)))
    ++got;
  EXPECT_EQ(got, static_cast<size_t>(kChunks));
  guest.join();
  link.Close(s, false);
}

}  // namespace
}  // namespace cloonix
