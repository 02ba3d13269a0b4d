#include "cli/pcap_frames.h"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>

#include "gtest/gtest.h"

namespace cloonix::cli {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

uint32_t U32(const std::string& b, size_t off) {
  uint32_t v;
  memcpy(&v, b.data() + off, 4);
  return v;
}

cloonix::v1::CaptureStarted Started() {
  cloonix::v1::CaptureStarted s;
  s.set_link_type(1);  // DLT_EN10MB
  s.set_snaplen(1600);
  return s;
}

TEST(PcapWriterTest, WritesHeaderAndFramesWithNanosecondTimes) {
  std::string path = testing::TempDir() + "/w.pcap";
  {
    auto w = PcapWriter::OpenPath(Started(), path);
    ASSERT_TRUE(w.ok()) << w.status();
    cloonix::v1::CapturedFrame f;
    f.set_time_ns(1700000000123456789ull);
    f.set_data(std::string("\x01\x02\x03\x04\x05", 5));
    f.set_orig_len(60);  // truncated by the snaplen on the net's side
    (*w)->Dump(f);
    (*w)->Flush();
  }
  std::string b = ReadAll(path);
  ASSERT_EQ(b.size(), 24u + 16u + 5u);
  EXPECT_EQ(U32(b, 0), 0xa1b23c4du);  // nanosecond magic
  EXPECT_EQ(U32(b, 16), 1600u);       // snaplen
  EXPECT_EQ(U32(b, 20), 1u);          // link type
  EXPECT_EQ(U32(b, 24), 1700000000u);
  EXPECT_EQ(U32(b, 28), 123456789u);
  EXPECT_EQ(U32(b, 32), 5u);   // caplen
  EXPECT_EQ(U32(b, 36), 60u);  // orig len
  EXPECT_EQ(b.substr(40), std::string("\x01\x02\x03\x04\x05", 5));
}

TEST(PcapWriterTest, OpenFileOwnsTheStream) {
  char* buf = nullptr;
  size_t size = 0;
  FILE* mem = open_memstream(&buf, &size);
  ASSERT_NE(mem, nullptr);
  {
    auto w = PcapWriter::OpenFile(Started(), mem);
    ASSERT_TRUE(w.ok()) << w.status();
  }  // closes `mem`: buf and size are final
  EXPECT_EQ(size, 24u);
  free(buf);
}

TEST(PcapWriterTest, UnwritablePathIsAnErrorWithTheReason) {
  auto w = PcapWriter::OpenPath(Started(), "/nonexistent-dir/x.pcap");
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("No such file"), std::string::npos)
      << w.status();
}

}  // namespace
}  // namespace cloonix::cli
