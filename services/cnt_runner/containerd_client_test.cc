#include "services/cnt_runner/containerd_client.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cloonix {
namespace {

TEST(ContainerdClientTest, Sha256DigestMatchesKnownVector) {
  EXPECT_EQ(Sha256Digest("abc"),
            "sha256:"
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(ContainerdClientTest, ChainIdsFollowTheOciRule) {
  std::vector<std::string> diff = {"sha256:a", "sha256:b", "sha256:c"};
  auto chain = ChainIds(diff);
  ASSERT_EQ(chain.size(), 3u);
  EXPECT_EQ(chain[0], "sha256:a");
  EXPECT_EQ(chain[1], Sha256Digest("sha256:a sha256:b"));
  EXPECT_EQ(chain[2], Sha256Digest(chain[1] + " sha256:c"));
  EXPECT_TRUE(ChainIds({}).empty());
}

}  // namespace
}  // namespace cloonix
