#include "services/vm_runner/agent_delivery.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "common/process.h"
#include "gtest/gtest.h"

namespace cloonix {
namespace {

std::string TempDir() {
  char t[] = "/tmp/agent_delivery_testXXXXXX";
  return mkdtemp(t);
}

TEST(AgentDeliveryTest, DiskHoldsTheAgent) {
  std::string dir = TempDir();
  std::ofstream(dir + "/agent") << "#!/bin/sh\necho agent\n";
  ASSERT_TRUE(MakeAgentDisk(dir + "/agent", dir + "/cfg.img").ok());
  std::string cmd = "debugfs -R 'cat /cloonix-agent' " + dir +
                    "/cfg.img 2>/dev/null > " + dir + "/out";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::stringstream got;
  got << std::ifstream(dir + "/out").rdbuf();
  EXPECT_EQ(got.str(), "#!/bin/sh\necho agent\n");
  cmd = "debugfs -R 'stat /cloonix-agent' " + dir + "/cfg.img 2>/dev/null" +
        " | grep -q 'Mode:  0755'";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  EXPECT_FALSE(MakeAgentDisk(dir + "/missing", dir + "/cfg2.img").ok());
  EXPECT_NE(access((dir + "/cfg2.img").c_str(), F_OK), 0);
  RemoveTree(dir).IgnoreError();
}

std::string Shell(const std::string& cmd) {
  std::string out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
    pclose(p);
  }
  return out;
}

TEST(AgentDeliveryTest, CloudInitSeed) {
  std::string dir = TempDir();
  const std::string iso = dir + "/seed.iso";
  ASSERT_TRUE(MakeCloudInitSeed(iso, "cloonix-net_1-Vm.1", "Vm_1").ok());
  // NoCloud finds it by its volume id.
  EXPECT_NE(Shell("isoinfo -d -i " + iso).find("Volume id: cidata"),
            std::string::npos);
  EXPECT_EQ(Shell("isoinfo -R -i " + iso + " -x /meta-data"),
            "instance-id: cloonix-net-1-Vm.1\nlocal-hostname: Vm-1\n");
  const std::string user_data =
      Shell("isoinfo -R -i " + iso + " -x /user-data");
  EXPECT_EQ(user_data, CloudInitUserData());
  EXPECT_EQ(user_data.rfind("#cloud-config\n", 0), 0u);
  EXPECT_NE(user_data.find(DeliveryCommand()), std::string::npos);
  // Valid YAML whose bootcmd is [sh, -c, the delivery line].
  std::ofstream(dir + "/ud.yaml") << user_data;
  EXPECT_EQ(
      Shell("python3 -c 'import yaml,sys; "
            "print(yaml.safe_load(open(sys.argv[1]))[\"bootcmd\"][0][2])' " +
            dir + "/ud.yaml"),
      DeliveryCommand() + "\n");
  EXPECT_NE(access((iso + ".d").c_str(), F_OK), 0);  // no leftovers
  EXPECT_NE(access((iso + ".tmp").c_str(), F_OK), 0);
  RemoveTree(dir).IgnoreError();
}

// A console on a unix socket: answers the first carriage return with
// `prompt`, then records what is typed.
class FakeConsole {
 public:
  FakeConsole(const std::string& path, const std::string& prompt) {
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strcpy(a.sun_path, path.c_str());
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_EQ(listen(fd_, 1), 0);
    thread_ = std::thread([this, prompt] {
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      char buf[4096];
      bool prompted = false;
      for (ssize_t n; (n = read(c, buf, sizeof(buf))) > 0;) {
        typed_.append(buf, n);
        if (!prompted) {
          prompted = true;
          (void)!write(c, prompt.data(), prompt.size());
        }
      }
      close(c);
    });
  }
  ~FakeConsole() {
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    if (thread_.joinable()) thread_.join();
  }
  std::string Typed() {
    thread_.join();
    return typed_;
  }

 private:
  int fd_;
  std::thread thread_;
  std::string typed_;
};

TEST(AgentDeliveryTest, TypesTheStartIntoAShell) {
  std::string dir = TempDir();
  FakeConsole con(dir + "/hvc0.sock", "root@debian:~# ");
  std::string seen;
  ASSERT_TRUE(
      TypeIntoHvc0(dir + "/hvc0.sock", absl::Milliseconds(200), &seen).ok());
  EXPECT_EQ(con.Typed(), "\r" + DeliveryCommand() + "\r");
  EXPECT_EQ(seen, "root@debian:~# ");
  RemoveTree(dir).IgnoreError();
}

TEST(AgentDeliveryTest, LeavesALoginPromptAlone) {
  std::string dir = TempDir();
  FakeConsole con(dir + "/hvc0.sock",
                  "\r\nDebian GNU/Linux 12 debian hvc0\r\n"
                  "debian login: ");
  std::string seen;
  absl::Status s =
      TypeIntoHvc0(dir + "/hvc0.sock", absl::Milliseconds(200), &seen);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(con.Typed(), "\r");  // nothing typed at the login prompt
  RemoveTree(dir).IgnoreError();
}

TEST(AgentDeliveryTest, NoConsoleYet) {
  std::string seen;
  EXPECT_EQ(
      TypeIntoHvc0("/nonexistent/hvc0.sock", absl::Milliseconds(10), &seen)
          .code(),
      absl::StatusCode::kUnavailable);
}

TEST(AgentDeliveryTest, CommandIsIdempotentAndMountsReadOnly) {
  std::string c = DeliveryCommand();
  // The files once per boot (the initramfs' marker), the agent only if none.
  EXPECT_EQ(c.find("[ -e /run/cloonix-files.done ] ||"), 0u);
  EXPECT_NE(c.find("; pgrep -x cloonix-agent >/dev/null || {"),
            std::string::npos);
  EXPECT_NE(c.find("mount -o ro /dev/disk/by-id/virtio-cloonix-cfg"),
            std::string::npos);
  EXPECT_EQ(c.find('\n'), std::string::npos);  // one line
  EXPECT_EQ(c.find('\''), std::string::npos);  // fits YAML '...' (bootcmd)
  // Valid sh.
  std::string dir = TempDir();
  std::ofstream(dir + "/line.sh") << c << "\n";
  EXPECT_EQ(std::system(("sh -n " + dir + "/line.sh").c_str()), 0);
  RemoveTree(dir).IgnoreError();
}

TEST(AgentDeliveryTest, FilesDiskHoldsTheTreeAndTheDeleteList) {
  std::string dir = TempDir();
  std::system(("mkdir -p " + dir + "/a/etc " + dir + "/b/etc && echo one > " +
               dir + "/a/etc/x && echo two > " + dir +
               "/b/etc/x && chmod 0750 " + dir + "/b/etc/x && ln -s x " + dir +
               "/a/etc/y")
                  .c_str());
  const std::string img = dir + "/files.img";
  ASSERT_TRUE(
      MakeFilesDisk(img, {dir + "/a", dir + "/b"}, {"/etc/gone", "/tmp/z"})
          .ok());
  EXPECT_EQ(Shell("debugfs -R 'cat /tree/etc/x' " + img + " 2>/dev/null"),
            "two\n");
  EXPECT_NE(Shell("debugfs -R 'stat /tree/etc/x' " + img + " 2>/dev/null")
                .find("Mode:  0750"),
            std::string::npos);
  EXPECT_NE(Shell("debugfs -R 'stat /tree/etc/y' " + img + " 2>/dev/null")
                .find("Fast link dest: \"x\""),
            std::string::npos);
  EXPECT_EQ(Shell("debugfs -R 'cat /delete' " + img + " 2>/dev/null"),
            "/etc/gone\n/tmp/z\n");
  EXPECT_NE(Shell("blkid -o value -s LABEL " + img), "");
  EXPECT_NE(access((img + ".d").c_str(), F_OK), 0);
  EXPECT_EQ(MakeFilesDisk(dir + "/f2.img", {dir + "/nosuch"}, {}).code(),
            absl::StatusCode::kNotFound);
  EXPECT_NE(access((dir + "/f2.img").c_str(), F_OK), 0);
  RemoveTree(dir).IgnoreError();
}

}  // namespace
}  // namespace cloonix
