// cloonix apply | validate | save | destroy | graph: labs as files
// (cli/lab/, docs/LABS.md).
#include "cli/lab/lab.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cli/commands/commands.h"
#include "cli/context.h"
#include "cli/guest_client.h"
#include "cli/lab/plan.h"
#include "common/a2b_settings.h"
#include "common/atomic_file.h"
#include "common/exec.h"
#include "common/grpc_status.h"
#include "common/item_kind.h"
#include "common/pki.h"
#include "nlohmann/json.hpp"

namespace cloonix::cli {

namespace {

using lab::Lab;
using lab::LabCable;
using lab::LabError;
using lab::LabItem;
using lab::Plan;
using lab::Wait;

// A file read, parsed (lab or containerlab) and checked. False (errors
// printed as file:line:col) when it is not a valid lab.
bool LoadLab(const std::string& path, const std::string& bulk_dir, Lab* out) {
  std::string text;
  if (path == "-") {
    std::stringstream ss;
    ss << std::cin.rdbuf();
    text = ss.str();
  } else {
    auto t = cloonix::ReadFile(path);
    if (!t.ok()) {
      Fail(absl::StrCat("cannot read ", path, ": ", t.status().message()));
      return false;
    }
    text = *t;
  }
  std::vector<LabError> errors;
  bool clab = absl::EndsWith(path, ".clab.yml") ||
              absl::EndsWith(path, ".clab.yaml") || lab::LooksLikeClab(text);
  *out = clab ? lab::ParseClab(text, path, &errors)
              : lab::ParseLab(text, path, &errors);
  lab::ResolvePaths(path, out);
  if (errors.empty()) lab::CheckLab(*out, bulk_dir, &errors);
  if (!errors.empty()) {
    std::cerr << lab::FormatErrors(path, errors);
    std::cerr << "cloonix: " << path << ": " << errors.size()
              << (errors.size() == 1 ? " error" : " errors") << std::endl;
    return false;
  }
  return true;
}

// --net wins; then the file's net:; then $CLOONIX_NET / nemo.
void PickNet(Globals& g, const Lab& l) {
  if (!g.net_given && !l.net.empty()) g.net = l.net;
}

absl::StatusOr<std::vector<v1::Item>> ListAll(Client& c) {
  v1::ListItemsRequest req;
  v1::ListItemsResponse resp;
  auto ctx = c.Ctx(absl::Seconds(30));
  grpc::Status s = c.topo()->ListItems(ctx.get(), req, &resp);
  if (!s.ok()) return cloonix::FromGrpcStatus(s);
  return std::vector<v1::Item>(resp.items().begin(), resp.items().end());
}

std::string Trimmed(const std::string& s, size_t max = 300) {
  std::string t(absl::StripAsciiWhitespace(s));
  return t.size() > max ? t.substr(0, max) + "..." : t;
}

// Runs a plan against a net, in parallel where the steps allow.
class Applier {
 public:
  struct Options {
    bool wait = false;
    absl::Duration timeout = absl::Seconds(300);
    int parallel = 16;
  };

  Applier(const Globals& g, const Lab& l, const Plan& plan,
          const std::vector<v1::Item>& current, Options opt)
      : g_(g), lab_(l), plan_(plan), opt_(opt), client_(g) {
    for (const auto& it : current) current_[it.name()] = it;
    for (const auto& li : l.items) {
      for (const auto& d : li.depends_on) has_dependents_.insert(d);
      if (li.awaited) has_dependents_.insert(li.item.name());
    }
  }

  // 0 done (and ready with --wait); 1 a step failed; 4 not ready in time.
  int Run() {
    start_ = absl::Now();
    deadline_ = start_ + opt_.timeout;
    // 1. What goes: deletes and uncables.
    ForAll(plan_.deletes, [&](const std::string& n) { Delete(n); });
    ForAll(plan_.uncables, [&](const LabCable& c) { Uncable(c); });
    // 2. Lans, then the lans nothing uses any more.
    ForAll(plan_.lan_creates, [&](const std::string& n) { CreateLan(n); });
    ForAll(plan_.lan_deletes, [&](const std::string& n) { Delete(n, "lan"); });
    // 3. a2b settings and the cables of kept items.
    ForAll(plan_.a2b, [&](const lab::A2bChange& a) { ConfigureA2b(a); });
    std::set<std::string> fresh;
    for (const LabItem* li : plan_.creates) fresh.insert(li->item.name());
    std::vector<LabCable> kept;
    for (const auto& c : plan_.cables) {
      if (!fresh.count(c.item)) kept.push_back(c);
    }
    ForAll(kept, [&](const LabCable& c) { Cable(c); });
    // 4. Every item of the file: created (after what it depends on is
    //    ready), cabled, then waited for, addressed, exec'd as needed.
    for (const auto& li : lab_.items) ready_[li.item.name()];
    std::vector<const LabItem*> all;
    for (const auto& li : lab_.items) {
      // Another net makes a foreign item: nothing to do before it exists.
      if (!li.foreign || current_.count(li.item.name())) all.push_back(&li);
    }
    ForAll(
        all,
        [&](const LabItem* li) {
          ItemTask(*li, fresh.count(li->item.name()) > 0);
        },
        /*limit=*/static_cast<int>(all.size()));
    // 5. Where things are drawn (layout:), for those that exist now.
    if (!lab_.layout.empty()) Layout();
    return Summary();
  }

 private:
  struct Ready {
    absl::Notification done;
    bool ok = false;
  };

  template <typename T, typename F>
  void ForAll(const std::vector<T>& v, F f, int limit = 0) {
    if (limit == 0) limit = opt_.parallel;
    std::atomic<size_t> next{0};
    std::vector<std::thread> threads;
    int n = std::min<int>(limit, static_cast<int>(v.size()));
    for (int i = 0; i < n; ++i) {
      threads.emplace_back([&] {
        for (size_t k; (k = next.fetch_add(1)) < v.size();) f(v[k]);
      });
    }
    for (auto& t : threads) t.join();
  }

  double Secs() const { return absl::ToDoubleSeconds(absl::Now() - start_); }

  void Progress(const nlohmann::json& j, const std::string& human) {
    absl::MutexLock l(&out_mu_);
    if (g_.Json()) {
      std::cout << j.dump() << std::endl;
    } else {
      std::cout << absl::StrFormat("  %-52s %6.2f s", human, Secs())
                << std::endl;
    }
  }

  bool Check(const grpc::Status& s, const std::string& what) {
    if (s.ok()) {
      changes_++;
      return true;
    }
    std::string msg = absl::StrCat(
        what, ": ",
        absl::StatusCodeToString(static_cast<absl::StatusCode>(s.error_code())),
        ": ", s.error_message());
    Progress({{"event", "failed"}, {"step", what}, {"error", msg}},
             "FAILED " + what);
    absl::MutexLock l(&out_mu_);
    failures_.push_back(msg);
    return false;
  }

  void Layout() {
    v1::ListItemsRequest lreq;
    v1::ListItemsResponse items;
    auto lctx = client_.Ctx(absl::Seconds(30));
    if (!Check(client_.topo()->ListItems(lctx.get(), lreq, &items), "layout"))
      return;
    v1::SetLayoutRequest req;
    for (const auto& it : items.items()) {
      auto p = lab_.layout.find(it.name());
      if (p == lab_.layout.end()) continue;
      if (it.has_position() && it.position().x() == p->second.x() &&
          it.position().y() == p->second.y()) {
        continue;
      }
      (*req.mutable_positions())[it.name()] = p->second;
    }
    if (req.positions().empty()) return;
    v1::SetLayoutResponse resp;
    auto ctx = client_.Ctx(absl::Seconds(30));
    std::string what =
        absl::StrCat("~ layout of ", req.positions_size(),
                     req.positions_size() == 1 ? " item" : " items");
    if (Check(client_.topo()->SetLayout(ctx.get(), req, &resp), what)) {
      Progress({{"event", "layout"}, {"items", req.positions_size()}}, what);
    }
  }

  void Delete(const std::string& name, const std::string& kind = "") {
    v1::DeleteItemRequest req;
    req.set_name(name);
    req.set_allow_missing(true);
    v1::DeleteItemResponse resp;
    auto ctx = client_.Ctx();
    std::string k = kind;
    if (k.empty() && current_.count(name)) {
      k = cloonix::KindName(current_[name].kind());
    }
    std::string what = absl::StrCat("- ", k, " ", name);
    if (Check(client_.topo()->DeleteItem(ctx.get(), req, &resp), what)) {
      Progress({{"event", "deleted"}, {"kind", k}, {"name", name}}, what);
    }
  }

  void Uncable(const LabCable& c) {
    v1::DisconnectEthRequest req;
    req.set_item(c.item);
    req.set_eth(c.eth);
    req.set_lan(c.lan);
    v1::Item resp;
    auto ctx = client_.Ctx();
    std::string what =
        absl::StrCat("- cable ", c.item, ":eth", c.eth, " -- ", c.lan);
    if (Check(client_.topo()->DisconnectEth(ctx.get(), req, &resp), what)) {
      Progress({{"event", "uncabled"},
                {"item", c.item},
                {"eth", c.eth},
                {"lan", c.lan}},
               what);
    }
  }

  void CreateLan(const std::string& name) {
    v1::CreateItemRequest req;
    req.mutable_item()->set_name(name);
    req.mutable_item()->mutable_lan();
    v1::Item resp;
    auto ctx = client_.Ctx();
    std::string what = "+ lan " + name;
    grpc::Status s = client_.topo()->CreateItem(ctx.get(), req, &resp);
    // A lan a cable of a kept item made already (create_lan) is fine.
    if (s.error_code() == grpc::StatusCode::ALREADY_EXISTS) return;
    if (Check(s, what)) {
      Progress({{"event", "created"}, {"kind", "lan"}, {"name", name}}, what);
    }
  }

  void Cable(const LabCable& c) {
    v1::ConnectEthRequest req;
    req.set_item(c.item);
    req.set_eth(c.eth);
    req.set_lan(c.lan);
    req.set_create_lan(true);
    v1::Item resp;
    auto ctx = client_.Ctx();
    std::string what =
        absl::StrCat("+ cable ", c.item, ":eth", c.eth, " -- ", c.lan);
    if (Check(client_.topo()->ConnectEth(ctx.get(), req, &resp), what)) {
      Progress({{"event", "cabled"},
                {"item", c.item},
                {"eth", c.eth},
                {"lan", c.lan}},
               what);
    }
  }

  void ConfigureA2b(const lab::A2bChange& a) {
    v1::ConfigureA2bRequest req;
    req.set_name(a.name);
    req.set_dir(a.dir);
    auto* p = req.mutable_patch();
    const auto& s = a.settings;
    p->set_delay_ms(s.delay_ms());
    p->set_jitter_ms(s.jitter_ms());
    p->set_allow_reorder(s.allow_reorder());
    p->set_loss_percent(s.loss_percent());
    p->set_rate_kbps(s.rate_kbps());
    p->set_burst_bytes(s.burst_bytes());
    p->set_queue_packets(s.queue_packets());
    p->set_queue_bytes(s.queue_bytes());
    v1::Item resp;
    auto ctx = client_.Ctx();
    std::string what = absl::StrCat("~ a2b ", a.name, " dir", a.dir, ": ",
                                    cloonix::A2bSettingsText(a.settings));
    if (Check(client_.topo()->ConfigureA2b(ctx.get(), req, &resp), what)) {
      Progress({{"event", "configured"}, {"name", a.name}, {"dir", a.dir}},
               what);
    }
  }

  bool Create(const LabItem& li) {
    v1::CreateItemRequest req;
    *req.mutable_item() = li.item;
    if (!li.c2c_creds.empty()) {
      auto creds = cloonix::LoadClientCreds(li.c2c_creds);
      if (!creds.ok()) {
        absl::MutexLock l(&out_mu_);
        failures_.push_back(absl::StrCat("c2c ", li.item.name(), ": ",
                                         creds.status().message()));
        return false;
      }
      auto* c = req.mutable_item()->mutable_c2c();
      c->set_peer_ca_pem(creds->ca_pem);
      c->set_peer_cert_pem(creds->cert_pem);
      c->set_peer_key_pem(creds->key_pem);
    }
    v1::Item resp;
    auto ctx = client_.Ctx(absl::Minutes(5));
    std::string what =
        absl::StrCat(plan_.recreate.count(li.item.name()) ? "! " : "+ ",
                     cloonix::KindName(li.item.kind()), " ", li.item.name());
    if (!Check(client_.topo()->CreateItem(ctx.get(), req, &resp), what)) {
      return false;
    }
    Progress({{"event", "created"},
              {"kind", cloonix::KindName(li.item.kind())},
              {"name", li.item.name()}},
             what);
    return true;
  }

  // The item's readiness as its wait: says (polls GetItem; a command is
  // run in the guest until it exits 0). False on timeout or failure; the
  // reason in *why.
  bool WaitReady(const LabItem& li, std::string* why) {
    const std::string& name = li.item.name();
    if (li.wait == Wait::kNone) return true;
    while (true) {
      v1::GetItemRequest req;
      req.set_name(name);
      v1::Item it;
      auto ctx = client_.Ctx(absl::Seconds(10));
      grpc::Status s = client_.topo()->GetItem(ctx.get(), req, &it);
      if (s.ok()) {
        if (it.state() == v1::ITEM_STATE_FAILED) {
          *why = "failed: " + it.state_message();
          return false;
        }
        bool running = it.state() == v1::ITEM_STATE_RUNNING;
        bool up = running && (li.wait != Wait::kAgent || !it.has_kvm() ||
                              it.kvm().agent_up());
        if (up && li.wait == Wait::kCommand) {
          CapturedRun r = RunCaptured(client_.guest(), name, li.wait_command,
                                      absl::Seconds(30));
          up = r.code == 0;
          *why = absl::StrCat("wait command exits ", r.code, " ",
                              Trimmed(r.err + r.out, 120));
        } else if (!up) {
          *why = running ? "agent not up" : StateText(it);
        }
        if (up) return true;
      } else {
        *why = s.error_message();
      }
      if (absl::Now() >= deadline_) return false;
      absl::SleepFor(absl::Milliseconds(250));
    }
  }

  // Adds the file's addresses the guest's eths lack (and sets them up).
  bool Addresses(const LabItem& li) {
    std::string script;
    for (const auto& [eth, addrs] : li.addresses) {
      for (const auto& a : addrs) {
        absl::StrAppend(&script, "ip addr show dev eth", eth, " | grep -q ' ",
                        a, " ' || { ip addr add ", a, " dev eth", eth,
                        " && echo ", a, "@eth", eth, "; } || exit 1; ");
      }
      absl::StrAppend(&script, "ip link set eth", eth, " up || exit 1; ");
    }
    CapturedRun r =
        RunCaptured(client_.guest(), li.item.name(), script, absl::Seconds(60));
    std::string what = "addresses of " + li.item.name();
    if (r.code != 0) {
      absl::MutexLock l(&out_mu_);
      failures_.push_back(absl::StrCat(
          what, ": ",
          r.code < 0 ? r.status.error_message() : Trimmed(r.err + r.out)));
      return false;
    }
    std::vector<std::string> added =
        absl::StrSplit(r.out, '\n', absl::SkipWhitespace());
    if (!added.empty()) {
      changes_++;
      Progress(
          {{"event", "addresses"}, {"name", li.item.name()}, {"added", added}},
          absl::StrCat("+ ", li.item.name(), " ", absl::StrJoin(added, " ")));
    }
    return true;
  }

  bool Exec(const LabItem& li) {
    for (const auto& cmd : li.exec) {
      CapturedRun r =
          RunCaptured(client_.guest(), li.item.name(), cmd, absl::Minutes(5));
      std::string what = absl::StrCat("exec ", li.item.name(), ": ", cmd);
      if (r.code != 0) {
        absl::MutexLock l(&out_mu_);
        failures_.push_back(absl::StrCat(
            what, ": ",
            r.code < 0
                ? r.status.error_message()
                : absl::StrCat("exit ", r.code, ": ", Trimmed(r.err + r.out))));
        return false;
      }
      changes_++;
      Progress({{"event", "exec"}, {"name", li.item.name()}, {"command", cmd}},
               Trimmed(what, 52));
    }
    return true;
  }

  void ItemTask(const LabItem& li, bool create) {
    const std::string& name = li.item.name();
    Ready& mine = ready_.at(name);
    bool ok = true;
    for (const auto& d : li.depends_on) {
      Ready& dep = ready_.at(d);
      dep.done.WaitForNotification();
      if (!dep.ok) {
        absl::MutexLock l(&out_mu_);
        failures_.push_back(absl::StrCat(name, ": not made, ", d,
                                         " (depends_on) is not ready"));
        ok = false;
      }
    }
    if (ok && create) {
      ok = Create(li);
      if (ok) {
        for (const auto& c : plan_.cables) {
          if (c.item == name) Cable(c);
        }
      }
    }
    bool guest = li.item.has_kvm() || li.item.has_cnt();
    bool need_ready =
        opt_.wait || has_dependents_.count(name) ||
        (guest && (!li.addresses.empty() || (create && !li.exec.empty())));
    if (ok && need_ready) {
      std::string why;
      if (!WaitReady(li, &why)) {
        ok = false;
        absl::MutexLock l(&out_mu_);
        not_ready_[name] = why;
      } else if (opt_.wait) {
        Progress({{"event", "ready"}, {"name", name}}, "ready " + name);
      }
    }
    if (ok && guest && !li.addresses.empty()) ok = Addresses(li);
    if (ok && create && !li.exec.empty()) ok = Exec(li);
    mine.ok = ok;
    mine.done.Notify();
  }

  int Summary() {
    double secs = Secs();
    bool ready = not_ready_.empty();
    if (g_.Json()) {
      nlohmann::json nr = nlohmann::json::object();
      for (const auto& [n, why] : not_ready_) nr[n] = why;
      std::cout << nlohmann::json{{"net", g_.net},
                                  {"changes", changes_.load()},
                                  {"seconds", secs},
                                  {"ready", ready},
                                  {"not_ready", nr},
                                  {"failed", failures_}}
                       .dump()
                << std::endl;
    } else {
      if (changes_ == 0 && failures_.empty()) {
        std::cout << "no changes: net " << g_.net << " matches " << lab_.file
                  << std::endl;
      } else {
        std::cout << absl::StrFormat("net %s: %d changes in %.1f s", g_.net,
                                     changes_.load(), secs)
                  << std::endl;
      }
      for (const auto& [n, why] : not_ready_) {
        std::cerr << "cloonix: " << n << " is not ready after "
                  << absl::ToInt64Seconds(opt_.timeout) << " s: " << why
                  << std::endl;
      }
      for (const auto& f : failures_) {
        std::cerr << "cloonix: apply: " << f << std::endl;
      }
    }
    if (!failures_.empty()) return kExitFailed;
    if (!ready) return kExitNotReady;
    return 0;
  }

  const Globals& g_;
  const Lab& lab_;
  const Plan& plan_;
  const Options opt_;
  Client client_;
  std::map<std::string, v1::Item> current_;
  std::set<std::string> has_dependents_;
  std::map<std::string, Ready> ready_;
  absl::Time start_, deadline_;
  std::atomic<int> changes_{0};
  absl::Mutex out_mu_;
  std::vector<std::string> failures_ ABSL_GUARDED_BY(out_mu_);
  std::map<std::string, std::string> not_ready_ ABSL_GUARDED_BY(out_mu_);
};

// The worse of two apply exit codes: a failure, then not ready, then done.
int Worse(int a, int b) {
  auto rank = [](int rc) { return rc == 0 ? 0 : rc == kExitNotReady ? 1 : 2; };
  return rank(b) > rank(a) ? b : a;
}

// A host of the lab as the CLI's --remote to its doorway.
Globals HostGlobals(const Globals& g, const lab::LabHost& h) {
  Globals hg = g;
  hg.remote = h.address;
  hg.creds = h.creds;
  hg.net_given = true;
  return hg;
}

// The name of the net that answers at a host's doorway.
absl::StatusOr<std::string> HostNetName(const Globals& hg) {
  Client c(hg);
  v1::GetNetRequest req;
  v1::NetInfo info;
  auto ctx = c.Ctx(absl::Seconds(15));
  grpc::Status s = c.net()->GetNet(ctx.get(), req, &info);
  if (!s.ok()) return cloonix::FromGrpcStatus(s);
  return info.name();
}

// Each host's net name (by its doorway); an error names the host.
bool HostNets(const Globals& g, const Lab& l,
              std::map<std::string, std::string>* nets, int* rc) {
  for (const auto& [name, h] : l.hosts) {
    auto net = HostNetName(HostGlobals(g, h));
    if (!net.ok()) {
      *rc = Fail(absl::StrCat("host ", name, " (", h.address,
                              "): ", net.status().message(),
                              " (its net must run with --listen; start it "
                              "there)"),
                 kExitNotRunning);
      return false;
    }
    (*nets)[name] = *net;
  }
  return true;
}

// Prints a plan under its heading.
void PrintPlan(const Globals& g, const std::string& heading, const Plan& plan,
               const std::vector<v1::Item>& current) {
  if (g.Json()) {
    nlohmann::json j = {
        {"event", "plan"}, {"net", g.net}, {"changes", plan.Changes()}};
    if (!g.remote.empty()) j["remote"] = g.remote;
    j["text"] = plan.Text(current);
    std::cout << j.dump() << std::endl;
    return;
  }
  std::cout << heading << ":\n";
  for (absl::string_view line :
       absl::StrSplit(plan.Text(current), '\n', absl::SkipEmpty())) {
    std::cout << "  " << line << "\n";
  }
}

struct ApplyOptions {
  std::string bulk_dir;
  bool dry_run = false;
  bool wait = false;
  int timeout_s = 300;
  bool quiet_if_none = false;  // no output when there is nothing to do
};

// Applies one net's part of a lab (a whole lab without hosts:). A local net
// that does not run is started (with the lab's listen:).
int ApplyOne(Globals& g, const Lab& l, const ApplyOptions& o,
             const std::string& heading) {
  Client c(g);
  if (!c.Exists()) {
    if (!g.remote.empty()) return NotRunning(g);
    if (o.dry_run) {
      // Nothing runs: the plan is the whole file.
      Plan p = lab::MakePlan(l, {});
      if (!g.Json())
        std::cout << "net " << g.net
                  << " is not running; apply would start it and:\n"
                  << p.Text({});
      return 0;
    }
    if (!g.Json()) std::cout << "starting net " << g.net << std::endl;
    if (int rc = StartNetForLab(g, o.bulk_dir, l.listen); rc != 0) return rc;
  }
  auto current = ListAll(c);
  if (!current.ok()) {
    return Fail(absl::StrCat(g.NetLabel(), ": ", current.status().message()),
                current.status().code() == absl::StatusCode::kUnavailable
                    ? kExitNotRunning
                    : kExitFailed);
  }
  Plan plan = lab::MakePlan(l, *current);
  if (o.quiet_if_none && plan.Changes() == 0) return 0;
  PrintPlan(g, heading, plan, *current);
  if (o.dry_run) return 0;
  Applier::Options opt;
  opt.wait = o.wait;
  opt.timeout = absl::Seconds(o.timeout_s);
  Applier a(g, l, plan, *current, opt);
  return a.Run();
}

int Apply(Globals& g, const std::string& path, const std::string& bulk_dir,
          bool dry_run, bool wait, int timeout_s) {
  Lab l;
  // Images are looked for in the bulk dir of this host's nets.
  if (!LoadLab(path, g.remote.empty() ? bulk_dir : "", &l)) return kExitUsage;
  PickNet(g, l);
  ApplyOptions o{bulk_dir, dry_run, wait, timeout_s};
  std::string here = absl::StrCat("plan for net ", g.net, " (", path, ")");
  if (l.hosts.empty()) return ApplyOne(g, l, o, here);
  // hosts: each host's part first (its net runs there), then this net's
  // (its c2cs make their far ends on the hosts), then the hosts' cables of
  // those ends.
  int rc = 0;
  std::map<std::string, std::string> nets;
  if (!HostNets(g, l, &nets, &rc)) return rc;
  l.net = g.net;
  if (l.listen.empty()) l.listen = "0.0.0.0:0";
  std::map<std::string, Lab> parts = lab::SplitByHost(l, nets);
  auto on_host = [&](const std::string& h, bool second) {
    Globals hg = HostGlobals(g, l.hosts.at(h));
    hg.net = nets[h];
    ApplyOptions ho = o;
    ho.quiet_if_none = second;
    return ApplyOne(hg, parts.at(h), ho,
                    absl::StrCat("plan for host ", h, " (net ", nets[h], " at ",
                                 hg.remote, ")"));
  };
  for (const auto& [h, _] : l.hosts) {
    rc = Worse(rc, on_host(h, false));
    if (rc == kExitNotRunning) return rc;
  }
  if (rc == kExitFailed && !dry_run) {
    return Fail("a host's part failed: this net is left as it was");
  }
  rc = Worse(rc, ApplyOne(g, parts.at(""), o, here));
  if (dry_run || rc == kExitNotRunning) return rc;
  for (const auto& [h, _] : l.hosts) rc = Worse(rc, on_host(h, true));
  return rc;
}

int Validate(Globals& g, const std::string& path, const std::string& bulk_dir) {
  Lab l;
  if (!LoadLab(path, bulk_dir, &l)) return kExitFailed;
  if (g.Json()) {
    std::cout << nlohmann::json{{"file", path},
                                {"valid", true},
                                {"net", l.net},
                                {"items", l.items.size()},
                                {"lans", l.lans.size()},
                                {"cables", l.cables.size()}}
                     .dump()
              << std::endl;
  } else {
    std::cout << path << ": valid (" << l.items.size() << " items, "
              << l.lans.size() << " lans, " << l.cables.size() << " cables)"
              << std::endl;
  }
  return 0;
}

int Save(const Globals& g, const std::string& out) {
  Client c(g);
  if (!c.Exists()) return NotRunning(g);
  auto items = ListAll(c);
  if (!items.ok()) return Fail(std::string(items.status().message()));
  std::string text = lab::SaveLab(g.net, *items);
  if (out.empty() || out == "-") {
    std::cout << text;
    return 0;
  }
  if (auto s = cloonix::WriteFileAtomic(out, text); !s.ok()) {
    return Fail(s.ToString());
  }
  if (g.Json()) {
    std::cout << nlohmann::json{{"net", g.net},
                                {"file", out},
                                {"items", items->size()}}
                     .dump()
              << std::endl;
  } else {
    std::cout << "saved net " << g.net << " (" << items->size() << " items) to "
              << out << std::endl;
  }
  return 0;
}

int Destroy(Globals& g, const std::string& path) {
  if (path.empty()) return StopNetForLab(g);
  Lab l;
  if (!LoadLab(path, "", &l)) return kExitUsage;
  PickNet(g, l);
  if (l.hosts.empty()) return StopNetForLab(g);
  // This net first (its c2cs take their far ends with them), then what the
  // lab made on each host; the hosts' nets keep running.
  int rc = StopNetForLab(g);
  std::map<std::string, std::string> nets;
  for (const auto& [h, host] : l.hosts) nets[h] = h;
  std::map<std::string, Lab> parts = lab::SplitByHost(l, nets);
  for (const auto& [h, host] : l.hosts) {
    Globals hg = HostGlobals(g, host);
    std::vector<std::string> items, lans;
    for (const auto& li : parts.at(h).items) items.push_back(li.item.name());
    for (const auto& [lan, _] : parts.at(h).lans) lans.push_back(lan);
    int hrc = DeleteItems(hg, items, lans, nullptr);
    if (hrc == 0 && !g.Json()) {
      std::cout << "host " << h << " (" << host.address << "): " << items.size()
                << " items and " << lans.size() << " lans of the lab deleted"
                << std::endl;
    }
    rc = rc == 0 ? hrc : rc;
  }
  return rc;
}

// `text` to stdout, or to `output` (written whole, then renamed).
int WriteOut(const std::string& text, const std::string& output) {
  if (output.empty() || output == "-") {
    std::cout << text << std::flush;
    return 0;
  }
  if (auto s = cloonix::WriteFileAtomic(output, text, 0644); !s.ok()) {
    return Fail(std::string(s.message()));
  }
  return 0;
}

int Graph(Globals& g, const std::string& path, const std::string& format,
          const std::string& output) {
  Lab l;
  if (!path.empty()) {
    if (!LoadLab(path, "", &l)) return kExitUsage;
  } else {
    Client c(g);
    if (!c.Exists()) return NotRunning(g);
    auto items = ListAll(c);
    if (!items.ok()) return Fail(std::string(items.status().message()));
    l = lab::LabFromItems(g.net, *items);
  }
  if (format == "mermaid" || format == "dot") {
    return WriteOut(lab::GraphLab(l, format), output);
  }
  // svg, png: Graphviz's neato draws the dot text; nodes placed in the gui
  // (layout) keep their places, the others are laid out around them.
  char tmpl[] = "/tmp/cloonix-graph-XXXXXX.dot";
  int fd = mkstemps(tmpl, 4);
  if (fd < 0) return Fail(absl::StrCat("mkstemps: ", strerror(errno)));
  absl::Cleanup rm = [&] { unlink(tmpl); };
  std::string dot = lab::GraphLab(l, "dot");
  bool wrote =
      write(fd, dot.data(), dot.size()) == static_cast<ssize_t>(dot.size());
  close(fd);
  if (!wrote) return Fail(absl::StrCat("cannot write ", tmpl));
  auto r = cloonix::Exec({"neato", "-T" + format, tmpl});
  if (!r.ok()) {
    return Fail(absl::StrCat(r.status().message(),
                             " (graph --format svg|png needs graphviz: "
                             "tools/install-deps.sh)"));
  }
  if (r->exit_code != 0) return Fail("neato: " + r->err);
  return WriteOut(r->out, output);
}

}  // namespace

void AddLabCommands(CLI::App* app, Context& ctx) {
  Globals& g = ctx.g;
  static std::string file;
  static std::string bulk_dir =
      EnvOr("CLOONIX_BULK_DIR", "/var/lib/cloonix/bulk");
  static bool dry_run = false, wait = false;
  static int timeout_s = 300;
  auto* apply = app->add_subcommand(
      "apply",
      "Bring the net to a lab file (docs/LABS.md), idempotently: creates "
      "what is missing (in parallel, after its depends_on), deletes what the "
      "file no longer has, changes a2b settings live, re-cables; sets "
      "addresses and runs exec: in new guests. Starts the net if it does not "
      "run. containerlab files (.clab.yml) are read too. Exit 0 done, 1 a "
      "step failed, 2 invalid file, 4 not ready before --timeout");
  apply->add_option("-f,--file", file, "Lab file (- for stdin)")->required();
  apply->add_flag("--dry-run", dry_run, "Print the plan and change nothing");
  apply->add_flag("--wait", wait,
                  "Return once every item is ready (kvm: agent up; others: "
                  "running; or the item's wait:)");
  apply
      ->add_option("--timeout", timeout_s,
                   "Seconds to wait for readiness (default 300)")
      ->check(CLI::Range(1, 86400));
  apply->add_option("--bulk-dir", bulk_dir,
                    "Where images are ($CLOONIX_BULK_DIR): checked before "
                    "apply, and given to a net it starts");
  apply->callback([&] {
    ctx.action = [&] {
      return Apply(g, file, bulk_dir, dry_run, wait, timeout_s);
    };
  });

  static std::string vfile;
  auto* validate = app->add_subcommand(
      "validate",
      "Check a lab file without a net: shape, names, cables to unknown "
      "items or eths, eths cabled twice, two nats on a lan, depends_on "
      "cycles, missing images. Errors as file:line:col; exit 0 valid, 1 not");
  validate->add_option("-f,--file", vfile, "Lab file (- for stdin)")
      ->required();
  validate->add_option("--bulk-dir", bulk_dir,
                       "Where images are looked for ($CLOONIX_BULK_DIR)");
  validate->callback(
      [&] { ctx.action = [&] { return Validate(g, vfile, bulk_dir); }; });

  static std::string sfile;
  auto* save = app->add_subcommand(
      "save",
      "Write the running net as a lab file (stdout without -f); apply of it "
      "on an empty net rebuilds the same items, settings and cables");
  save->add_option("-f,--file", sfile, "Output file");
  save->callback([&] { ctx.action = [&] { return Save(g, sfile); }; });

  static std::string dfile;
  auto* destroy = app->add_subcommand(
      "destroy",
      "Remove the lab: stop its net (the file's net:, or --net); nothing to "
      "do is not an error");
  destroy->add_option("-f,--file", dfile, "Lab file naming the net");
  destroy->callback([&] { ctx.action = [&] { return Destroy(g, dfile); }; });

  static std::string gfile, gformat = "mermaid", gout;
  auto* graph = app->add_subcommand(
      "graph",
      "The topology of a lab file (or of the running net) as Mermaid or dot "
      "text, or drawn as SVG or PNG (Graphviz) with the places of nodes "
      "dragged in cloonix gui (layout:)");
  graph->add_option("-f,--file", gfile, "Lab file (default: the running net)");
  graph->add_option("--format", gformat, "mermaid (default), dot, svg or png")
      ->check(CLI::IsMember({"mermaid", "dot", "svg", "png"}));
  graph->add_option("-o,--output", gout, "Write to this file (default stdout)");
  graph->callback(
      [&] { ctx.action = [&] { return Graph(g, gfile, gformat, gout); }; });
}

}  // namespace cloonix::cli
