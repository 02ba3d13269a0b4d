#include "common/file_tree.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/agent_wire.h"
#include "gtest/gtest.h"

namespace cloonix {
namespace {

std::string TempDir() {
  char tmpl[] = "/tmp/cxft.XXXXXX";
  return mkdtemp(tmpl);
}

void WriteFile(const std::string& p, const std::string& data, mode_t mode) {
  std::ofstream(p) << data;
  chmod(p.c_str(), mode);
}

std::string Slurp(const std::string& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// Copies `src` to `dest` through the encoded entry stream (as on the wire).
std::string Copy(const std::string& src, const std::string& dest,
                 uint32_t* files = nullptr) {
  TreeWriter w;
  std::string err = w.Begin(dest);
  if (!err.empty()) return err;
  std::string werr;
  err = ReadTree(
      "", "/", src,
      [&](const TreeEntry& e) {
        TreeEntry back;
        EXPECT_TRUE(DecodeEntry(EncodeEntry(e), &back));
        werr = w.Entry(back);
        return werr.empty();
      },
      [&](const char* p, size_t n) {
        werr = w.Data(p, n);
        return werr.empty();
      },
      7);  // tiny chunks: many data frames
  if (!werr.empty()) return werr;
  if (!err.empty()) return err;
  if (files) *files = w.files();
  return w.End();
}

class FileTreeTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = TempDir(); }
  void TearDown() override {
    std::string cmd = "rm -rf " + dir_;
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  std::string dir_;
};

TEST_F(FileTreeTest, FileIntoExistingDirectoryKeepsNameAndMode) {
  WriteFile(dir_ + "/a.sh", "#!/bin/sh\necho hi\n", 0750);
  mkdir((dir_ + "/out").c_str(), 0755);
  ASSERT_EQ(Copy(dir_ + "/a.sh", dir_ + "/out"), "");
  EXPECT_EQ(Slurp(dir_ + "/out/a.sh"), "#!/bin/sh\necho hi\n");
  struct stat st;
  ASSERT_EQ(stat((dir_ + "/out/a.sh").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
}

TEST_F(FileTreeTest, FileToNewNameAndEmptyFile) {
  WriteFile(dir_ + "/a", "", 0644);
  ASSERT_EQ(Copy(dir_ + "/a", dir_ + "/b"), "");
  EXPECT_EQ(Slurp(dir_ + "/b"), "");
}

TEST_F(FileTreeTest, ProcFilesThatStatAsEmptyAreCopiedWhole) {
  // /proc/self/status has st_size 0 but about 1 KiB of text.
  ASSERT_EQ(Copy("/proc/self/status", dir_ + "/status"), "");
  std::string got = Slurp(dir_ + "/status");
  EXPECT_GT(got.size(), 100u);
  EXPECT_NE(got.find("Name:"), std::string::npos);
  ASSERT_EQ(Copy("/proc/cpuinfo", dir_ + "/cpuinfo"), "");
  EXPECT_NE(Slurp(dir_ + "/cpuinfo").find("processor"), std::string::npos);
}

TEST_F(FileTreeTest, DirectoryRecursiveWithSymlink) {
  mkdir((dir_ + "/src").c_str(), 0755);
  mkdir((dir_ + "/src/sub").c_str(), 0700);
  WriteFile(dir_ + "/src/sub/x", "xxxxxxxxxxxxxxxxxxxxx", 0600);
  WriteFile(dir_ + "/src/y", "y", 0644);
  ASSERT_EQ(symlink("sub/x", (dir_ + "/src/link").c_str()), 0);
  uint32_t files = 0;
  ASSERT_EQ(Copy(dir_ + "/src", dir_ + "/dst", &files), "");
  EXPECT_EQ(files, 3u);
  EXPECT_EQ(Slurp(dir_ + "/dst/sub/x"), "xxxxxxxxxxxxxxxxxxxxx");
  EXPECT_EQ(Slurp(dir_ + "/dst/y"), "y");
  char buf[64] = {0};
  ASSERT_GT(readlink((dir_ + "/dst/link").c_str(), buf, sizeof(buf)), 0);
  EXPECT_STREQ(buf, "sub/x");
  struct stat st;
  ASSERT_EQ(stat((dir_ + "/dst/sub").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
}

TEST_F(FileTreeTest, MissingDestinationDirectoryIsRefusedAndCreatesNothing) {
  WriteFile(dir_ + "/a", "a", 0644);
  TreeWriter w;
  std::string err = w.Begin(dir_ + "/nope/a");
  EXPECT_EQ(err, "no such directory: " + dir_ + "/nope");
  EXPECT_NE(access((dir_ + "/nope").c_str(), F_OK), 0);
  EXPECT_NE(TreeWriter().Begin(dir_ + "/nope/"), "");
}

TEST_F(FileTreeTest, MissingSourceIsAnError) {
  std::string err = ReadTree(
      "", "/", dir_ + "/missing", [](const TreeEntry&) { return true; },
      [](const char*, size_t) { return true; });
  EXPECT_NE(err.find("No such file"), std::string::npos) << err;
}

TEST_F(FileTreeTest, UnsafePathsAndShortFilesAreRefused) {
  EXPECT_NE(CheckRelativePath("../etc/passwd"), "");
  EXPECT_NE(CheckRelativePath("/etc/passwd"), "");
  EXPECT_NE(CheckRelativePath("a//b"), "");
  EXPECT_EQ(CheckRelativePath("a/b.c"), "");
  TreeWriter w;
  ASSERT_EQ(w.Begin(dir_), "");
  TreeEntry e;
  e.path = "x/../../escape";
  EXPECT_NE(w.Entry(e), "");
  e.path = "f";
  e.size = 10;
  ASSERT_EQ(w.Entry(e), "");
  EXPECT_EQ(w.Data("12345", 5), "");
  EXPECT_NE(w.Data("123456", 6), "");  // more than announced
  EXPECT_NE(w.End(), "");              // short
}

TEST_F(FileTreeTest, RelativePathsResolveAgainstHome) {
  WriteFile(dir_ + "/h", "home", 0644);
  TreeWriter w("", dir_);
  ASSERT_EQ(w.Begin("copy"), "");
  TreeEntry e;
  e.path = "h";
  e.size = 4;
  ASSERT_EQ(w.Entry(e), "");
  ASSERT_EQ(w.Data("home", 4), "");
  ASSERT_EQ(w.End(), "");
  EXPECT_EQ(Slurp(dir_ + "/copy"), "home");
}

TEST_F(FileTreeTest, HostileStreamsAreRefused) {
  // Entries outside the top, below a symlink the stream made, setuid bits.
  TreeWriter w("", "/", 0777);
  ASSERT_EQ(w.Begin(dir_), "");
  TreeEntry top;
  top.path = "top";
  top.type = TreeEntry::kDir;
  top.mode = 0755;
  ASSERT_EQ(w.Entry(top), "");
  TreeEntry other;
  other.path = "elsewhere";
  EXPECT_NE(w.Entry(other), "");
  TreeEntry link;
  link.path = "top/l";
  link.type = TreeEntry::kSymlink;
  link.link = "/";
  ASSERT_EQ(w.Entry(link), "");
  TreeEntry below;
  below.path = "top/l/etc/cron.d/x";
  EXPECT_NE(w.Entry(below).find("below a symlink"), std::string::npos);
  TreeEntry suid;
  suid.path = "top/s";
  suid.mode = 04755;
  ASSERT_EQ(w.Entry(suid), "");
  ASSERT_EQ(w.End(), "");
  struct stat st;
  ASSERT_EQ(stat((dir_ + "/top/s").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
}

TEST_F(FileTreeTest, RootedCopiesStayInsideTheRoot) {
  // A "container" root with a symlink to the host's / inside it.
  std::string root = dir_ + "/rootfs";
  mkdir(root.c_str(), 0755);
  mkdir((root + "/root").c_str(), 0700);
  ASSERT_EQ(symlink("/", (root + "/root/h").c_str()), 0);
  mkdir((root + "/etc").c_str(), 0755);
  WriteFile(root + "/etc/passwd", "container passwd", 0644);
  // Reading through the link gets the container's file, not the host's.
  std::string got;
  std::string err = ReadTree(
      root, "/root", "h/etc/passwd", [](const TreeEntry&) { return true; },
      [&](const char* p, size_t n) {
        got.append(p, n);
        return true;
      });
  EXPECT_EQ(err, "");
  EXPECT_EQ(got, "container passwd");
  // Writing through it lands in the container too.
  mkdir((root + "/tmp").c_str(), 0777);
  TreeWriter w2(root, "/root");
  ASSERT_EQ(w2.Begin("h/tmp/x"), "");
  TreeEntry f;
  f.path = "x";
  f.size = 2;
  ASSERT_EQ(w2.Entry(f), "");
  ASSERT_EQ(w2.Data("ok", 2), "");
  ASSERT_EQ(w2.End(), "");
  EXPECT_EQ(Slurp(root + "/tmp/x"), "ok");
  // A path that only exists on the host is missing inside the root.
  TreeWriter w3(root, "/root");
  EXPECT_NE(w3.Begin("h/proc/self/x"), "");
}

TEST(AgentWireTest, FramesSplitAnywhereDecode) {
  std::string stream;
  wire::AppendFrame({wire::Type::kStdout, 7, "hello"}, &stream);
  wire::AppendFrame({wire::Type::kHeartbeat, 0, ""}, &stream);
  wire::ExecStart ex;
  ex.argv = {"/bin/sh", "-c", "echo ok"};
  ex.tty = true;
  ex.rows = 40;
  ex.cols = 120;
  ex.term = "xterm";
  wire::AppendFrame({wire::Type::kExecStart, 9, wire::EncodeExecStart(ex)},
                    &stream);
  wire::FrameParser p;
  std::vector<wire::Frame> got;
  std::string err;
  for (char c : stream) {
    p.Feed(&c, 1);
    wire::Frame f;
    while (p.Next(&f, &err)) got.push_back(f);
  }
  ASSERT_EQ(err, "");
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].type, wire::Type::kStdout);
  EXPECT_EQ(got[0].session, 7u);
  EXPECT_EQ(got[0].payload, "hello");
  EXPECT_EQ(got[1].type, wire::Type::kHeartbeat);
  wire::ExecStart back;
  ASSERT_TRUE(wire::DecodeExecStart(got[2].payload, &back));
  EXPECT_EQ(back.argv, ex.argv);
  EXPECT_TRUE(back.tty);
  EXPECT_EQ(back.cols, 120u);
  EXPECT_EQ(back.term, "xterm");
  EXPECT_FALSE(back.x11);  // an older host's request: no trailing fields
}

TEST(AgentWireTest, X11FieldsAndData) {
  wire::ExecStart ex;
  ex.argv = {"xdpyinfo"};
  ex.x11 = true;
  ex.x11_proto = "MIT-MAGIC-COOKIE-1";
  ex.x11_cookie = std::string("\x00\x01\xfe\xff", 4);
  wire::ExecStart back;
  ASSERT_TRUE(wire::DecodeExecStart(wire::EncodeExecStart(ex), &back));
  EXPECT_TRUE(back.x11);
  EXPECT_EQ(back.x11_proto, "MIT-MAGIC-COOKIE-1");
  EXPECT_EQ(back.x11_cookie, ex.x11_cookie);
  uint32_t chan = 0;
  std::string data;
  ASSERT_TRUE(wire::DecodeX11Data(
      wire::EncodeX11Data(7, std::string("l\0\x0b\0", 4)), &chan, &data));
  EXPECT_EQ(chan, 7u);
  EXPECT_EQ(data, std::string("l\0\x0b\0", 4));
  EXPECT_FALSE(wire::DecodeX11Data("\x01\x00", &chan, &data));
}

TEST(AgentWireTest, OversizedAndTruncatedInputIsRejected) {
  std::string bad = {'\xff', '\xff', '\xff', '\x7f', 20, 0, 0, 0, 1, 0, 0, 0};
  wire::FrameParser p;
  p.Feed(bad.data(), bad.size());
  wire::Frame f;
  std::string err;
  EXPECT_FALSE(p.Next(&f, &err));
  EXPECT_NE(err, "");
  wire::ExecStart e;
  EXPECT_FALSE(wire::DecodeExecStart("\x01\x00", &e));
}

}  // namespace
}  // namespace cloonix
