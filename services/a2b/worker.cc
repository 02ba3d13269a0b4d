#include "services/a2b/worker.h"

#include <poll.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/dpdk_eal.h"
#include "common/names.h"
#include "common/process.h"
#include "common/status_macros.h"
#include "spdlog/spdlog.h"

namespace cloonix {

namespace a2bv1 = cloonix::a2b::v1;

namespace {

constexpr uint16_t kBurst = 32;
// After the last packet, poll this long before sleeping: a reply or the
// next packet of a burst often comes within it, and a ppoll() wake-up costs
// ~0.1 ms here. Each poll is a syscall per port, so not longer.
constexpr uint64_t kSpinNs = 100ull * 1000;
constexpr uint64_t kMaxSleepNs = 100ull * 1000 * 1000;
// Timer wake-ups here are late by up to ~0.3 ms: sleep until this long before
// a departure, then poll the rest of the way (only while packets are held).
constexpr uint64_t kWakeMarginNs = 300ull * 1000;
// If a port's socket could not be found, never sleep longer than this.
constexpr uint64_t kUnpollableSleepNs = 50ull * 1000;

uint64_t NowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + ts.tv_nsec;
}

void FreePacket(Shaper::Packet p) {
  VnetFrame::Free(static_cast<VnetFrame*>(p.handle));
}

inline void AddCounter(std::atomic<uint64_t>& c, uint64_t v) {
  c.store(c.load(std::memory_order_relaxed) + v, std::memory_order_relaxed);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Worker>> Worker::Create(
    const WorkerOptions& opts) {
  std::unique_ptr<Worker> w(new Worker());
  w->file_prefix_ = opts.file_prefix;
  RETURN_IF_ERROR(InitEal("cloonix-a2b", opts.file_prefix));
  size_t sz = rte_rcu_qsbr_get_memsize(1);
  w->rcu_ = static_cast<rte_rcu_qsbr*>(
      rte_zmalloc("a2b_rcu", sz, RTE_CACHE_LINE_SIZE));
  if (w->rcu_ == nullptr || rte_rcu_qsbr_init(w->rcu_, 1) != 0) {
    return absl::UnavailableError("RCU init failed");
  }
  w->wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (w->wake_fd_ < 0) return absl::ErrnoToStatus(errno, "eventfd");
  w->table_.store(new Table());
  spdlog::info("DPDK EAL ready ({})",
               rte_eal_has_hugepages() ? "hugepages" : "no hugepages");
  return w;
}

Worker::~Worker() {
  delete table_.load();
  if (wake_fd_ >= 0) close(wake_fd_);
}

void Worker::Wake() {
  uint64_t one = 1;
  if (write(wake_fd_, &one, sizeof(one)) < 0) {
    // EAGAIN: the counter is already non-zero, the worker will wake.
  }
}

void Worker::Synchronize() {
  rte_rcu_qsbr_synchronize(rcu_, RTE_QSBR_THRID_INVALID);
}

void Worker::Publish() {
  auto* t = new Table();
  for (auto& [name, l] : links_) {
    t->links.push_back(l.get());
    for (auto& p : l->ports) {
      if (p.poll_fd() >= 0) {
        t->fds.push_back(p.poll_fd());
      } else {
        t->all_pollable = false;
      }
    }
  }
  const Table* old = table_.exchange(t, std::memory_order_acq_rel);
  Wake();
  Synchronize();
  delete old;
}

a2bv1::A2b Worker::Describe(const Link& l) const {
  a2bv1::A2b a;
  a.set_name(l.name);
  a.set_port0(l.ports[0].port_if());
  a.set_port1(l.ports[1].port_if());
  *a.mutable_dir0() = l.proto[0];
  *a.mutable_dir1() = l.proto[1];
  l.shaper[0].counters.ToProto(a.mutable_counters0());
  l.shaper[1].counters.ToProto(a.mutable_counters1());
  return a;
}

absl::Status Worker::ApplyFraming(Link& l, int dir, const ShaperSettings& s) {
  // Direction `dir` enters the worker through ports[dir]: its port end
  // decides whether OVS's super-frames are cut before they reach us.
  return l.ports[dir].SetSuperFrames(!ActsOnFrames(s));
}

absl::StatusOr<a2bv1::A2b> Worker::Add(const a2bv1::CreateA2bRequest& req) {
  if (auto s = ValidateName(req.name(), "a2b name"); !s.ok()) return s;
  for (const auto& p : {req.port0(), req.port1()}) {
    if (auto s = ValidateIfname(p); !s.ok()) return s;
    if (p.size() > 13) {
      return absl::InvalidArgumentError(
          absl::StrCat("port name ", p, " is longer than 13 characters"));
    }
  }
  auto s0 = CompileA2bSettings(req.dir0());
  if (!s0.ok())
    return absl::InvalidArgumentError(
        absl::StrCat("dir0: ", s0.status().message()));
  auto s1 = CompileA2bSettings(req.dir1());
  if (!s1.ok())
    return absl::InvalidArgumentError(
        absl::StrCat("dir1: ", s1.status().message()));
  absl::MutexLock l(&mu_);
  if (links_.count(req.name())) {
    return absl::AlreadyExistsError(
        absl::StrCat("a2b ", req.name(), " already exists"));
  }
  if (req.port0() == req.port1()) {
    return absl::InvalidArgumentError("port0 and port1 must differ");
  }
  for (const auto& [n, other] : links_) {
    for (const auto& p : other->ports) {
      if (p.port_if() == req.port0() || p.port_if() == req.port1()) {
        return absl::AlreadyExistsError(
            absl::StrCat("port ", p.port_if(), " is used by a2b ", n));
      }
    }
  }
  auto link = std::make_unique<Link>();
  link->name = req.name();
  const std::string ports[2] = {req.port0(), req.port1()};
  for (int e = 0; e < 2; ++e) {
    // Worker end: the port name with its last 'e' turned into 'd' when it
    // follows the cx<id>e<n> pattern, else the name + "w".
    std::string worker_if = ports[e];
    size_t pos = worker_if.rfind('e');
    if (pos != std::string::npos && pos > 0) {
      worker_if[pos] = 'd';
    } else {
      worker_if += "w";
    }
    auto p = VnetPort::Open(ports[e], worker_if);
    if (!p.ok()) {
      for (int k = 0; k < e; ++k) link->ports[k].Close();
      return p.status();
    }
    link->ports[e] = std::move(*p);
  }
  for (int d = 0; d < 2; ++d) {
    if (auto s = ApplyFraming(*link, d, d == 0 ? *s0 : *s1); !s.ok()) {
      for (auto& p : link->ports) p.Close();
      return s;
    }
  }
  link->proto[0] = req.dir0();
  link->proto[1] = req.dir1();
  link->settings[0].store(new ShaperSettings(*s0));
  link->settings[1].store(new ShaperSettings(*s1));
  Link* raw = link.get();
  links_[req.name()] = std::move(link);
  Publish();
  spdlog::info("a2b {} up: {} <-> {}", req.name(), req.port0(), req.port1());
  return Describe(*raw);
}

absl::Status Worker::Remove(const std::string& name) {
  absl::MutexLock l(&mu_);
  auto it = links_.find(name);
  if (it == links_.end())
    return absl::NotFoundError(absl::StrCat("a2b ", name, " not found"));
  std::unique_ptr<Link> link = std::move(it->second);
  links_.erase(it);
  Publish();  // the packet thread no longer sees the link
  for (auto& sh : link->shaper) {
    sh.DrainAll(FreePacket);
    sh.ReleaseDropped(FreePacket);
  }
  for (auto& p : link->ports) p.Close();
  for (auto& s : link->settings) delete s.load();
  spdlog::info("a2b {} removed", name);
  return absl::OkStatus();
}

absl::StatusOr<a2bv1::A2b> Worker::Set(const std::string& name, uint32_t dir,
                                       const cloonix::v1::A2bSettings& s) {
  if (dir > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("dir is ", dir, "; it must be 0 or 1"));
  }
  auto compiled = CompileA2bSettings(s);
  if (!compiled.ok()) return compiled.status();
  absl::MutexLock l(&mu_);
  auto it = links_.find(name);
  if (it == links_.end())
    return absl::NotFoundError(absl::StrCat("a2b ", name, " not found"));
  Link* link = it->second.get();
  if (auto st = ApplyFraming(*link, static_cast<int>(dir), *compiled);
      !st.ok()) {
    // Put the port end back as the settings in force want it.
    ApplyFraming(*link, static_cast<int>(dir), *link->settings[dir].load())
        .IgnoreError();
    return st;
  }
  const ShaperSettings* old = link->settings[dir].exchange(
      new ShaperSettings(*compiled), std::memory_order_acq_rel);
  link->proto[dir] = s;
  Wake();
  Synchronize();
  delete old;
  return Describe(*link);
}

absl::StatusOr<a2bv1::A2b> Worker::Get(const std::string& name) {
  absl::MutexLock l(&mu_);
  auto it = links_.find(name);
  if (it == links_.end())
    return absl::NotFoundError(absl::StrCat("a2b ", name, " not found"));
  return Describe(*it->second);
}

std::vector<a2bv1::A2b> Worker::List() {
  absl::MutexLock l(&mu_);
  std::vector<a2bv1::A2b> out;
  for (const auto& [n, link] : links_) out.push_back(Describe(*link));
  return out;
}

void Worker::RemoveAll() {
  std::vector<std::string> names;
  {
    absl::MutexLock l(&mu_);
    for (const auto& [n, link] : links_) names.push_back(n);
  }
  for (const auto& n : names) Remove(n).IgnoreError();
}

void Worker::Stop() {
  stop_.store(true);
  Wake();
}

void Worker::Run() {
  prctl(PR_SET_TIMERSLACK, 1UL);  // precise ppoll wake-ups
  rte_rcu_qsbr_thread_register(rcu_, 0);
  rte_rcu_qsbr_thread_online(rcu_, 0);
  VnetFrame* burst[kBurst];
  Shaper::Packet pk[kBurst];
  std::vector<struct pollfd> pfds;
  uint64_t last_active = 0;
  while (!stop_.load(std::memory_order_relaxed)) {
    const Table* t = table_.load(std::memory_order_acquire);
    uint64_t now = NowNs();
    bool active = false;
    uint64_t next = Shaper::kNever;
    for (Link* l : t->links) {
      for (int d = 0; d < 2; ++d) {
        const ShaperSettings& s =
            *l->settings[d].load(std::memory_order_acquire);
        Shaper& sh = l->shaper[d];
        VnetPort& in = l->ports[d];
        VnetPort& out = l->ports[1 - d];
        size_t n = in.Receive(burst, kBurst);
        if (n > 0) active = true;
        for (size_t i = 0; i < n; ++i) {
          if (!sh.Offer({burst[i], burst[i]->len}, now, s))
            VnetFrame::Free(burst[i]);
        }
        size_t k;
        while ((k = sh.Due(now, s, pk, kBurst)) > 0) {
          active = true;
          for (size_t j = 0; j < k; ++j)
            burst[j] = static_cast<VnetFrame*>(pk[j].handle);
          uint64_t bytes = 0;
          size_t sent = out.Send(burst, k, &bytes);  // frees them all
          if (sent < k) AddCounter(sh.counters.drop_tx, k - sent);
          AddCounter(sh.counters.tx_packets, sent);
          AddCounter(sh.counters.tx_bytes, bytes);
        }
        sh.ReleaseDropped(FreePacket);
        next = std::min(next, sh.NextEvent(now, s));
      }
    }
    // Decide whether to sleep and copy what the sleep needs from `t` before
    // reporting the quiescent state: after it, `t` may be freed.
    uint64_t wait = 0;
    if (active) {
      last_active = now;
    } else if (now - last_active >= kSpinNs || next != Shaper::kNever) {
      wait =
          next == Shaper::kNever ? kMaxSleepNs : (next > now ? next - now : 0);
      if (next != Shaper::kNever) {
        wait = wait > kWakeMarginNs ? wait - kWakeMarginNs : 0;
      }
      wait = std::min(wait, t->all_pollable ? kMaxSleepNs : kUnpollableSleepNs);
      if (wait > 0) {
        pfds.clear();
        for (int fd : t->fds) pfds.push_back({fd, POLLIN, 0});
        pfds.push_back({wake_fd_, POLLIN, 0});
      }
    }
    rte_rcu_qsbr_quiescent(rcu_, 0);
    if (wait == 0) continue;
    struct timespec ts = {static_cast<time_t>(wait / 1000000000ull),
                          static_cast<long>(wait % 1000000000ull)};
    rte_rcu_qsbr_thread_offline(rcu_, 0);
    ppoll(pfds.data(), pfds.size(), &ts, nullptr);
    rte_rcu_qsbr_thread_online(rcu_, 0);
    if (pfds.back().revents & POLLIN) {
      uint64_t v;
      if (read(wake_fd_, &v, sizeof(v)) < 0) {
        // Already drained.
      }
    }
  }
  rte_rcu_qsbr_thread_offline(rcu_, 0);
  rte_rcu_qsbr_thread_unregister(rcu_, 0);
}

void Worker::Cleanup() {
  RemoveAll();
  if (rcu_ != nullptr) rte_free(rcu_);
  rcu_ = nullptr;
  CleanupEal(file_prefix_);
}

}  // namespace cloonix
