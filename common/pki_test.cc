#include "common/pki.h"

#include <sys/stat.h>

#include <cstdlib>

#include "gtest/gtest.h"

namespace cloonix {
namespace {

TEST(PkiTest, GeneratesOnceWithPrivateKeysAndVerifiableChain) {
  char tmpl[] = "/tmp/cxpki.XXXXXX";
  std::string dir = std::string(mkdtemp(tmpl)) + "/pki";
  auto f = EnsurePki(dir, "nemo");
  ASSERT_TRUE(f.ok()) << f.status();
  struct stat st;
  ASSERT_EQ(stat(f->client_key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  std::string verify = "openssl verify -CAfile " + f->ca_cert + " " +
                       f->server_cert + " " + f->client_cert + " >/dev/null";
  EXPECT_EQ(std::system(verify.c_str()), 0);
  std::string san = "openssl x509 -noout -ext subjectAltName -in " +
                    f->server_cert + " | grep -q 'DNS:cloonix-doorway'";
  EXPECT_EQ(std::system(san.c_str()), 0);
  // A second call keeps the existing files.
  struct stat before, after;
  stat(f->ca_cert.c_str(), &before);
  ASSERT_TRUE(EnsurePki(dir, "nemo").ok());
  stat(f->ca_cert.c_str(), &after);
  EXPECT_EQ(before.st_ino, after.st_ino);
  auto creds = LoadClientCreds(dir);
  ASSERT_TRUE(creds.ok());
  EXPECT_NE(creds->key_pem.find("PRIVATE KEY"), std::string::npos);
  EXPECT_EQ(LoadClientCreds(dir + "/nope").status().code(),
            absl::StatusCode::kFailedPrecondition);
  std::string rm = "rm -rf " + std::string(tmpl);
  ASSERT_EQ(std::system(rm.c_str()), 0);
}

}  // namespace
}  // namespace cloonix
