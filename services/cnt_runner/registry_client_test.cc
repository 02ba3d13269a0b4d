#include "services/cnt_runner/registry_client.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gtest/gtest.h"

namespace cloonix {
namespace {

TEST(ImageRefTest, Parses) {
  auto r = ParseImageRef("127.0.0.1:5000/cloonix/busybox:1.0");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->registry, "127.0.0.1:5000");
  EXPECT_EQ(r->repository, "cloonix/busybox");
  EXPECT_EQ(r->reference, "1.0");
  EXPECT_TRUE(r->insecure);  // loopback: plain HTTP
  EXPECT_EQ(r->String(), "127.0.0.1:5000/cloonix/busybox:1.0");

  r = ParseImageRef("alpine");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->registry, "registry-1.docker.io");
  EXPECT_EQ(r->repository, "library/alpine");
  EXPECT_EQ(r->reference, "latest");
  EXPECT_FALSE(r->insecure);

  r = ParseImageRef("docker.io/frr/frr:9");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->repository, "frr/frr");

  r = ParseImageRef("localhost/x@sha256:" + std::string(64, 'a'));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->registry, "localhost");
  EXPECT_EQ(r->reference, "sha256:" + std::string(64, 'a'));
  EXPECT_TRUE(r->insecure);

  r = ParseImageRef("registry.example:443/a/b");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->insecure);
}

TEST(ImageRefTest, Refuses) {
  for (const char* bad : {"", "Upper/Case:1", "host:5000/", "a//b:1",
                          "x@sha256:123", "a:", "a:b c"}) {
    EXPECT_EQ(ParseImageRef(bad).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST(ImageRefTest, LooksLikeImageRef) {
  EXPECT_TRUE(LooksLikeImageRef("alpine:3.19"));
  EXPECT_TRUE(LooksLikeImageRef("127.0.0.1:5000/bb"));
  EXPECT_FALSE(LooksLikeImageRef("busybox"));
  EXPECT_FALSE(LooksLikeImageRef("/tmp/x.tar"));
  EXPECT_FALSE(LooksLikeImageRef("./dir/image"));
}

TEST(PullTest, ANetWithNoRegistryIsUnavailable) {
  // A port just freed: nothing listens there.
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  socklen_t len = sizeof(a);
  getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  close(s);
  auto ref = ParseImageRef("127.0.0.1:" + std::to_string(ntohs(a.sin_port)) +
                           "/x/y:1");
  ASSERT_TRUE(ref.ok());
  int stored = 0;
  auto r = PullImage(
      *ref,
      [&](const std::string&, const std::string&) {
        stored++;
        return absl::OkStatus();
      },
      nullptr);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_EQ(stored, 0);
}

TEST(DigestTest, Sha256) {
  EXPECT_EQ(Sha256Digest(""),
            "sha256:"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

}  // namespace
}  // namespace cloonix
