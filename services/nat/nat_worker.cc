#include "services/nat/nat_worker.h"

#include <poll.h>
#include <rte_eal.h>
#include <slirp/libslirp.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "common/atomic_file.h"
#include "common/dpdk_eal.h"
#include "common/names.h"
#include "common/process.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace cloonix {
namespace {

int64_t NowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

}  // namespace

absl::StatusOr<std::unique_ptr<NatWorker>> NatWorker::Create(
    const NatWorkerOptions& opts) {
  std::unique_ptr<NatWorker> w(new NatWorker());
  w->opts_ = opts;
  RETURN_IF_ERROR(InitEal("cloonix-nat", opts.file_prefix));
  w->wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (w->wake_fd_ < 0) return absl::ErrnoToStatus(errno, "eventfd");
  spdlog::info("DPDK EAL ready ({}), libslirp {}",
               rte_eal_has_hugepages() ? "hugepages" : "no hugepages",
               slirp_version_string());
  return w;
}

void NatWorker::Wake() {
  uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
}

void NatWorker::OnLoop(std::function<void()> f) {
  absl::Notification done;
  {
    absl::MutexLock l(&mu_);
    tasks_.push_back([&] {
      f();
      done.Notify();
    });
  }
  Wake();
  done.WaitForNotification();
}

void NatWorker::Send(Entry* e, const uint8_t* frame, size_t len) {
  e->segments.ToGuest(frame, len, &e->out);  // dropped if out of memory
  if (e->out.size() >= VnetPort::kMaxBurst) Flush(e);
}

void NatWorker::Flush(Entry* e) {
  if (e->out.empty()) return;
  e->port.Send(e->out.data(), e->out.size());  // frees them all
  e->out.clear();
}

std::string NatWorker::LeaseFile(const std::string& nat) const {
  return absl::StrCat(opts_.lease_dir, "/", nat, ".leases.json");
}

void NatWorker::SaveLeases(const std::string& nat, const SlirpStack& stack) {
  if (opts_.lease_dir.empty()) return;
  nlohmann::json j = nlohmann::json::array();
  for (const auto& l : stack.Leases()) {
    j.push_back({{"mac", l.mac}, {"ip", l.ip}});
  }
  if (auto s = MakeDirs(opts_.lease_dir); !s.ok()) {
    spdlog::warn("nat {}: cannot keep its leases: {}", nat, s.ToString());
    return;
  }
  if (auto s = WriteFileAtomic(LeaseFile(nat), j.dump()); !s.ok()) {
    spdlog::warn("nat {}: cannot keep its leases: {}", nat, s.ToString());
  }
}

void NatWorker::RestoreLeases(const std::string& nat, SlirpStack* stack) {
  if (opts_.lease_dir.empty()) return;
  auto text = ReadFile(LeaseFile(nat));
  if (!text.ok()) return;  // a new nat
  auto j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) {
    spdlog::warn("nat {}: {} is not a lease list; leases start empty", nat,
                 LeaseFile(nat));
    return;
  }
  int n = 0;
  for (const auto& l : j) {
    if (!l.is_object() || !l.contains("mac") || !l["mac"].is_string() ||
        !l.contains("ip") || !l["ip"].is_string()) {
      continue;
    }
    auto s = stack->RestoreLease(l["mac"].get<std::string>(),
                                 l["ip"].get<std::string>());
    if (s.ok()) {
      ++n;
    } else {
      spdlog::warn("nat {}: lease not restored: {}", nat, s.ToString());
    }
  }
  spdlog::info("nat {}: {} leases restored from {}", nat, n, LeaseFile(nat));
}

nat::v1::Nat NatWorker::Describe(const Entry& e) const {
  nat::v1::Nat n;
  n.set_name(e.name);
  n.set_port(e.port.port_if());
  int64_t now = NowNs();
  for (const auto& l : e.stack->Leases()) {
    auto* pl = n.add_leases();
    pl->set_mac(l.mac);
    pl->set_ip(l.ip);
    pl->set_age_s(static_cast<uint64_t>((now - l.acked_ns) / 1000000000LL));
  }
  n.set_rx_frames(e.stack->rx_frames());
  n.set_tx_frames(e.stack->tx_frames());
  return n;
}

absl::StatusOr<nat::v1::Nat> NatWorker::CreateNat(const std::string& name,
                                                  uint32_t id,
                                                  const std::string& port) {
  RETURN_IF_ERROR(ValidateName(name, "nat name"));
  RETURN_IF_ERROR(ValidateIfname(port));
  absl::StatusOr<nat::v1::Nat> result;
  OnLoop([&] {
    if (nats_.count(name)) {
      result = absl::AlreadyExistsError(absl::StrCat("nat ", name, " exists"));
      return;
    }
    // The worker end stays in the host netns: unique per net.
    std::string worker_if = absl::StrCat("cn", NetTag(opts_.net), id);
    auto p = VnetPort::Open(port, worker_if, NetNetns(opts_.net));
    if (!p.ok()) {
      result = p.status();
      return;
    }
    auto e = std::make_unique<Entry>();
    e->name = name;
    e->port = std::move(*p);
    Entry* ep = e.get();
    auto stack = SlirpStack::Create(
        name, [this, ep](const uint8_t* f, size_t n) { Send(ep, f, n); },
        [this] { Wake(); }, BigSegments::kSlirpMtu);
    if (!stack.ok()) {
      e->port.Close();
      result = stack.status();
      return;
    }
    e->stack = std::move(*stack);
    RestoreLeases(name, e->stack.get());
    SlirpStack* raw = e->stack.get();
    e->stack->SetLeaseListener([this, name, raw] { SaveLeases(name, *raw); });
    result = Describe(*e);
    nats_[name] = std::move(e);
    spdlog::info("nat {} on port {} (worker end {})", name, port, worker_if);
  });
  return result;
}

absl::Status NatWorker::DeleteNat(const std::string& name) {
  absl::Status result;
  OnLoop([&] {
    auto it = nats_.find(name);
    if (it == nats_.end()) {
      result = absl::NotFoundError(absl::StrCat("no nat ", name));
      return;
    }
    it->second->stack.reset();
    Flush(it->second.get());
    it->second->port.Close();
    nats_.erase(it);
    if (!opts_.lease_dir.empty()) unlink(LeaseFile(name).c_str());
    spdlog::info("nat {} deleted", name);
  });
  return result;
}

absl::Status NatWorker::DeleteAll() {
  std::vector<std::string> names;
  for (const auto& n : List()) names.push_back(n.name());
  absl::Status s;
  for (const auto& n : names) s.Update(DeleteNat(n));
  return s;
}

std::vector<nat::v1::Nat> NatWorker::List() {
  std::vector<nat::v1::Nat> out;
  OnLoop([&] {
    for (const auto& [n, e] : nats_) out.push_back(Describe(*e));
  });
  return out;
}

absl::StatusOr<nat::v1::AddHostForwardResponse> NatWorker::AddHostForward(
    const nat::v1::AddHostForwardRequest& req) {
  absl::StatusOr<nat::v1::AddHostForwardResponse> result;
  OnLoop([&] {
    auto it = nats_.find(req.nat());
    if (it == nats_.end()) {
      result = absl::NotFoundError(absl::StrCat("no nat ", req.nat()));
      return;
    }
    std::string ip = req.guest_ip();
    if (ip.empty()) {
      for (const auto& l : it->second->stack->Leases()) {
        if (l.mac == req.mac()) ip = l.ip;
      }
      if (ip.empty()) {
        result = absl::NotFoundError(absl::StrCat(
            "no DHCP lease of nat ", req.nat(), " for MAC ", req.mac(),
            " (has the guest run its DHCP client on that eth?)"));
        return;
      }
    }
    auto port = it->second->stack->AddHostForward(
        ip, static_cast<int>(req.guest_port()));
    if (!port.ok()) {
      result = port.status();
      return;
    }
    nat::v1::AddHostForwardResponse r;
    r.set_host_port(static_cast<uint32_t>(*port));
    r.set_guest_ip(ip);
    result = r;
  });
  return result;
}

absl::Status NatWorker::RemoveHostForward(const std::string& nat,
                                          int host_port) {
  absl::Status result;
  OnLoop([&] {
    auto it = nats_.find(nat);
    result = it == nats_.end()
                 ? absl::NotFoundError(absl::StrCat("no nat ", nat))
                 : it->second->stack->RemoveHostForward(host_port);
  });
  return result;
}

void NatWorker::Stop() {
  stop_ = true;
  Wake();
}

void NatWorker::Run() {
  running_ = true;
  std::vector<pollfd> fds;
  VnetFrame* in[VnetPort::kMaxBurst];
  while (!stop_) {
    fds.clear();
    fds.push_back({wake_fd_, POLLIN, 0});
    uint32_t timeout = 1000;
    for (auto& [n, e] : nats_) {
      if (e->port.poll_fd() >= 0) {
        fds.push_back({e->port.poll_fd(), POLLIN, 0});
      } else {
        timeout = 1;  // no pollable socket: check the ring every ms
      }
    }
    for (auto& [n, e] : nats_) {
      timeout = std::min(timeout, e->stack->RunTimers());
      e->stack->FillPoll(&fds, &timeout);
      Flush(e.get());  // what the timers sent, before sleeping
    }
    int r = poll(fds.data(), fds.size(), static_cast<int>(timeout));
    if (fds[0].revents & POLLIN) {
      uint64_t v;
      (void)!read(wake_fd_, &v, sizeof(v));
    }
    // Frames from the lans: super-frames get their checksum completed
    // (slirp checks it), then go to slirp whole.
    for (auto& [n, e] : nats_) {
      size_t got;
      do {
        got = e->port.Receive(in, VnetPort::kMaxBurst);
        for (size_t i = 0; i < got; ++i) {
          // slirp takes whole TCP segments, not a UDP super-datagram
          // (GSO_UDP_L4): anything but none or TCPv4 is dropped.
          uint8_t gso = in[i]->hdr.gso_type & 0x7f;  // minus the ECN bit
          if ((gso == 0 || gso == 1) && CompleteChecksum(in[i])) {
            e->segments.FromGuest(in[i]->data(), in[i]->len);
            e->stack->Input(in[i]->data(), in[i]->len);
          }
          VnetFrame::Free(in[i]);
        }
      } while (got == VnetPort::kMaxBurst);
    }
    for (auto& [n, e] : nats_) e->stack->Poll(&fds, r < 0);
    std::deque<std::function<void()>> tasks;
    {
      absl::MutexLock l(&mu_);
      tasks.swap(tasks_);
    }
    for (auto& t : tasks) t();
    for (auto& [n, e] : nats_) Flush(e.get());
  }
  running_ = false;
  // Control calls that raced with the stop still get an answer.
  std::deque<std::function<void()>> tasks;
  {
    absl::MutexLock l(&mu_);
    tasks.swap(tasks_);
  }
  for (auto& t : tasks) t();
}

void NatWorker::Cleanup() {
  for (auto& [n, e] : nats_) {
    e->stack.reset();
    Flush(e.get());
    e->port.Close();
  }
  nats_.clear();
  if (wake_fd_ >= 0) close(wake_fd_);
  wake_fd_ = -1;
  CleanupEal(opts_.file_prefix);
}

}  // namespace cloonix
