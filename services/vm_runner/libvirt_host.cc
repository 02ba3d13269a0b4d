#include "services/vm_runner/libvirt_host.h"

#include <fcntl.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <sys/file.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/atomic_file.h"
#include "common/exec.h"
#include "common/process.h"
#include "common/status_macros.h"
#include "services/vm_runner/domain_xml.h"
#include "spdlog/spdlog.h"

namespace cloonix {
namespace {

void QuietErrors(void*, virErrorPtr) {}  // errors are read per call

std::string LastError() {
  const char* m = virGetLastErrorMessage();
  return m ? m : "unknown libvirt error";
}

constexpr char kLibvirtdConf[] =
    "# Written by cloonix-vm-runner.\n"
    "unix_sock_group = \"root\"\n"
    "unix_sock_ro_perms = \"0700\"\n"
    "unix_sock_rw_perms = \"0700\"\n"
    "auth_unix_ro = \"none\"\n"
    "auth_unix_rw = \"none\"\n";

constexpr char kQemuConf[] =
    "# Written by cloonix-vm-runner; bind-mounted over /etc/libvirt/qemu.conf\n"
    "# in libvirtd's mount namespace.\n"
    "user = \"root\"\n"
    "group = \"root\"\n"
    "dynamic_ownership = 0\n"
    "remember_owner = 0\n"
    "security_driver = \"none\"\n"
    "namespaces = [ ]\n"
    "cgroup_controllers = [ ]\n";

absl::Status StartDaemons(const std::string& dir) {
  if (auto s = MakeDirs(dir, 0700); !s.ok()) return s;
  // What the Debian packages' maintainer scripts would create.
  for (const char* d : {"/var/log/libvirt/qemu", "/var/lib/libvirt/qemu",
                        "/var/cache/libvirt", "/run/libvirt"}) {
    if (auto s = MakeDirs(d, 0755); !s.ok()) return s;
  }
  // libvirtd sees <dir>/etc as its /etc/libvirt (a bind mount in its own
  // mount namespace): the host's files, then cloonix's two configs.
  const std::string etc = dir + "/etc";
  if (auto s = MakeDirs(etc, 0700); !s.ok()) return s;
  std::error_code ec;
  for (const auto& f :
       std::filesystem::directory_iterator("/etc/libvirt", ec)) {
    if (f.is_regular_file(ec)) {
      std::filesystem::copy_file(
          f.path(), etc + "/" + f.path().filename().string(),
          std::filesystem::copy_options::overwrite_existing, ec);
    }
  }
  if (auto s = WriteFileAtomic(etc + "/libvirtd.conf", kLibvirtdConf); !s.ok())
    return s;
  if (auto s = WriteFileAtomic(etc + "/qemu.conf", kQemuConf); !s.ok())
    return s;
  pid_t vl = ReadPidFile("/run/virtlogd.pid");
  if (vl <= 0 || !ProcessAlive(vl, "virtlogd")) {
    spdlog::info("starting virtlogd");
    auto r = ExecOk({"virtlogd", "-d"}, absl::StatusCode::kUnavailable);
    if (!r.ok()) return r.status();
  }
  pid_t ld = ReadPidFile("/run/libvirtd.pid");
  if (ld > 0 && ProcessAlive(ld, "libvirtd")) return absl::OkStatus();
  spdlog::info("starting libvirtd (first start probes QEMU, ~10 s)");
  auto r = ExecOk({"unshare", "-m", "--propagation", "private", "sh", "-c",
                   "mount --bind \"$1\" /etc/libvirt && exec libvirtd -d -p "
                   "/run/libvirtd.pid",
                   "sh", etc},
                  absl::StatusCode::kUnavailable);
  return r.status();
}

// libvirt's default event loop, in a thread of its own, for the consoles'
// stream events (registered before the first connection, as libvirt wants).
void StartEventLoop() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (virEventRegisterDefaultImpl() != 0) {
      spdlog::warn("libvirt event loop: {}", LastError());
      return;
    }
    std::thread([] {
      for (;;) {
        if (virEventRunDefaultImpl() != 0) {
          absl::SleepFor(absl::Milliseconds(100));  // an error: do not spin
        }
      }
    }).detach();
  });
}

}  // namespace

absl::StatusOr<std::unique_ptr<LibvirtHost>> LibvirtHost::Open(
    const std::string& uri, const std::string& dir, bool start_daemons) {
  virSetErrorFunc(nullptr, QuietErrors);
  StartEventLoop();
  virConnectPtr c = virConnectOpen(uri.c_str());
  if (c == nullptr && start_daemons) {
    if (auto s = MakeDirs(dir, 0700); !s.ok()) return s;
    // Two nets starting at once must not both start libvirtd.
    int lock =
        open((dir + "/start.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock >= 0) flock(lock, LOCK_EX);
    c = virConnectOpen(uri.c_str());
    if (c == nullptr) {
      absl::Status s = StartDaemons(dir);
      if (!s.ok()) {
        if (lock >= 0) close(lock);
        return absl::UnavailableError(
            absl::StrCat("cannot start libvirtd: ", s.message()));
      }
      absl::Time deadline = absl::Now() + absl::Seconds(60);
      while (c == nullptr && absl::Now() < deadline) {
        absl::SleepFor(absl::Milliseconds(200));
        c = virConnectOpen(uri.c_str());
      }
    }
    if (lock >= 0) close(lock);
  }
  if (c == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot connect to libvirt at ", uri, ": ", LastError(),
                     start_daemons ? "" : " (is libvirtd running?)"));
  }
  return std::unique_ptr<LibvirtHost>(new LibvirtHost(uri, c));
}

LibvirtHost::~LibvirtHost() {
  absl::MutexLock l(&mu_);
  if (conn_ != nullptr) virConnectClose(conn_);
}

absl::Status LibvirtHost::Reconnect() {
  if (conn_ != nullptr && virConnectIsAlive(conn_) == 1)
    return absl::OkStatus();
  if (conn_ != nullptr) virConnectClose(conn_);
  conn_ = virConnectOpen(uri_.c_str());
  if (conn_ == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("libvirt at ", uri_, " is unreachable: ", LastError()));
  }
  return absl::OkStatus();
}

LibvirtHost::ConnRef::~ConnRef() {
  if (c_ != nullptr) virConnectClose(c_);
}

absl::StatusOr<LibvirtHost::ConnRef> LibvirtHost::Acquire() {
  absl::MutexLock l(&mu_);
  if (auto s = Reconnect(); !s.ok()) return s;
  virConnectRef(conn_);
  return ConnRef(conn_);
}

absl::Status LibvirtHost::Create(const std::string& xml) {
  ASSIGN_OR_RETURN(ConnRef conn, Acquire());
  virDomainPtr d = virDomainCreateXML(conn.get(), xml.c_str(), 0);
  if (d == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("libvirt cannot start the domain: ", LastError()));
  }
  virDomainFree(d);
  return absl::OkStatus();
}

absl::Status LibvirtHost::Destroy(const std::string& name) {
  ASSIGN_OR_RETURN(ConnRef conn, Acquire());
  virDomainPtr d = virDomainLookupByName(conn.get(), name.c_str());
  if (d == nullptr) {
    return absl::NotFoundError(absl::StrCat("no domain ", name));
  }
  int r = virDomainDestroy(d);
  std::string err = r < 0 ? LastError() : "";
  virDomainFree(d);
  if (r < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot destroy domain ", name, ": ", err));
  }
  return absl::OkStatus();
}

absl::Status LibvirtHost::Reset(const std::string& name) {
  ASSIGN_OR_RETURN(ConnRef conn, Acquire());
  virDomainPtr d = virDomainLookupByName(conn.get(), name.c_str());
  if (d == nullptr)
    return absl::NotFoundError(absl::StrCat("no domain ", name));
  int r = virDomainReset(d, 0);
  std::string err = r < 0 ? LastError() : "";
  virDomainFree(d);
  if (r < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot reset domain ", name, ": ", err));
  }
  return absl::OkStatus();
}

absl::Status LibvirtHost::BackupDisk(const std::string& name,
                                     const std::string& dev,
                                     const std::string& dest,
                                     absl::Duration timeout) {
  virDomainPtr d;
  {
    ASSIGN_OR_RETURN(ConnRef conn, Acquire());
    d = virDomainLookupByName(conn.get(), name.c_str());
    if (d == nullptr)
      return absl::NotFoundError(absl::StrCat("no domain ", name));
  }
  const std::string xml = absl::StrCat(
      "<domainbackup mode='push'><disks><disk name='", XmlEscape(dev),
      "' backup='yes' type='file'><driver type='qcow2'/><target file='",
      XmlEscape(dest), "'/></disk></disks></domainbackup>");
  absl::Status result;
  if (virDomainBackupBegin(d, xml.c_str(), nullptr, 0) < 0) {
    result = absl::UnavailableError(
        absl::StrCat("cannot start the backup of ", name, ": ", LastError()));
  } else {
    // The job ends by itself; its completed stats say how.
    const absl::Time deadline = absl::Now() + timeout;
    while (true) {
      int type = VIR_DOMAIN_JOB_NONE;
      virTypedParameterPtr params = nullptr;
      int n = 0;
      if (virDomainGetJobStats(d, &type, &params, &n, 0) < 0) {
        result = absl::UnavailableError(LastError());
        break;
      }
      virTypedParamsFree(params, n);
      if (type == VIR_DOMAIN_JOB_NONE) {
        params = nullptr;
        n = 0;
        if (virDomainGetJobStats(d, &type, &params, &n,
                                 VIR_DOMAIN_JOB_STATS_COMPLETED) == 0) {
          virTypedParamsFree(params, n);
          if (type == VIR_DOMAIN_JOB_FAILED ||
              type == VIR_DOMAIN_JOB_CANCELLED) {
            result = absl::UnavailableError(
                absl::StrCat("the backup of ", name, " failed"));
          }
        }
        break;
      }
      if (absl::Now() > deadline) {
        virDomainAbortJob(d);
        result = absl::DeadlineExceededError(
            absl::StrCat("the backup of ", name, " took more than ",
                         absl::FormatDuration(timeout), ": aborted"));
        break;
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
  }
  virDomainFree(d);
  return result;
}

absl::StatusOr<std::vector<DomainInfo>> LibvirtHost::List(
    const std::string& prefix) {
  ASSIGN_OR_RETURN(ConnRef conn, Acquire());
  virDomainPtr* doms = nullptr;
  int n = virConnectListAllDomains(conn.get(), &doms, 0);
  if (n < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot list libvirt domains: ", LastError()));
  }
  std::vector<DomainInfo> out;
  for (int i = 0; i < n; ++i) {
    const char* name = virDomainGetName(doms[i]);
    if (name != nullptr && absl::StartsWith(name, prefix)) {
      DomainInfo info;
      info.name = name;
      int state = 0, reason = 0;
      if (virDomainGetState(doms[i], &state, &reason, 0) == 0) {
        info.running = state == VIR_DOMAIN_RUNNING ||
                       state == VIR_DOMAIN_BLOCKED ||
                       state == VIR_DOMAIN_PAUSED;
      }
      pid_t pid = ReadPidFile(absl::StrCat("/run/libvirt/qemu/", name, ".pid"));
      if (pid > 0) info.pid = static_cast<uint32_t>(pid);
      out.push_back(info);
    }
    virDomainFree(doms[i]);
  }
  free(doms);
  return out;
}

absl::StatusOr<virStreamPtr> LibvirtHost::OpenConsole(const std::string& name) {
  ASSIGN_OR_RETURN(ConnRef conn, Acquire());
  virDomainPtr d = virDomainLookupByName(conn.get(), name.c_str());
  if (d == nullptr)
    return absl::NotFoundError(absl::StrCat("no domain ", name));
  virStreamPtr st = virStreamNew(conn.get(), VIR_STREAM_NONBLOCK);
  int r = st == nullptr
              ? -1
              : virDomainOpenConsole(d, nullptr, st, VIR_DOMAIN_CONSOLE_FORCE);
  std::string err = r < 0 ? LastError() : "";
  virDomainFree(d);
  if (r < 0) {
    if (st != nullptr) virStreamFree(st);
    return absl::UnavailableError(
        absl::StrCat("cannot open the console of ", name, ": ", err));
  }
  return st;
}

std::string LibvirtHost::ProbeDomainType(const std::string& dir,
                                         const std::string& kernel,
                                         const std::string& initrd) {
  if (access("/dev/kvm", R_OK | W_OK) != 0) {
    spdlog::info("no usable /dev/kvm: VMs run under TCG (domain type qemu)");
    return "qemu";
  }
  struct utsname u;
  uname(&u);
  const std::string cache = dir + "/kvm_probe";
  auto cached = ReadFile(cache);
  if (cached.ok()) {
    std::string text(absl::StripAsciiWhitespace(*cached));
    size_t sp = text.find(' ');
    if (sp != std::string::npos && text.substr(sp + 1) == u.release)
      return text.substr(0, sp);
  }
  if (access(kernel.c_str(), R_OK) != 0) {
    spdlog::warn("cannot probe KVM without {}: using TCG", kernel);
    return "qemu";
  }
  auto r = Exec({"timeout",
                 "20",
                 "qemu-system-x86_64",
                 "-accel",
                 "kvm",
                 "-M",
                 "q35",
                 "-cpu",
                 "host",
                 "-m",
                 "256",
                 "-nographic",
                 "-no-reboot",
                 "-nodefaults",
                 "-serial",
                 "stdio",
                 "-kernel",
                 kernel,
                 "-initrd",
                 initrd,
                 "-append",
                 "console=ttyS0 panic=-1 cloonix_probe=1"},
                absl::Seconds(30));
  bool ok = r.ok() && absl::StrContains(r->out, "cloonix-tiny: up");
  std::string type = ok ? "kvm" : "qemu";
  spdlog::info("KVM probe: a stock guest {} under KVM: domain type {}",
               ok ? "boots" : "does not boot", type);
  MakeDirs(dir, 0700).IgnoreError();
  WriteFileAtomic(cache, absl::StrCat(type, " ", u.release, "\n"))
      .IgnoreError();
  return type;
}

}  // namespace cloonix
