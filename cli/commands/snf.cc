// cloonix snf: packet capture at points of the net (Cloonix's snf), streamed
// by the net (Topology.Capture, through the doorway, so --remote works the
// same) and written here with libpcap: one point -> a pcap file or stdout
// (`-w -`, for `| tshark -r -` or `| wireshark -k -i -`); several points ->
// one pcap per point, merged at the end into one pcapng with one interface
// per point by Wireshark's mergecap (`-I none`), so both ends of an a2b show
// in one window with the delay between them. Without -w: one line per frame.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <iostream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "cli/commands/commands.h"
#include "cli/output.h"
#include "cli/pcap_frames.h"
#include "common/exec.h"

namespace cloonix::cli {
namespace {

// "eth3" or "3" -> 3.
bool ParseEth(const std::string& s, uint32_t* eth) {
  std::string n = absl::StartsWith(s, "eth") ? s.substr(3) : s;
  return !n.empty() && absl::SimpleAtoi(n, eth) && *eth < 64;
}

// Cloonix's `snf <item> <eth>`, or points `item:ethN` / `lan` (an item's
// plain name is its eth0).
absl::StatusOr<std::vector<v1::CapturePoint>> ParsePoints(
    const std::vector<std::string>& args, std::vector<bool>* plain) {
  std::vector<v1::CapturePoint> out;
  plain->clear();
  uint32_t eth = 0;
  if (args.size() == 2 && args[0].find(':') == std::string::npos &&
      args[1].find(':') == std::string::npos && ParseEth(args[1], &eth)) {
    v1::CapturePoint p;
    p.set_item(args[0]);
    p.set_eth(eth);
    out.push_back(p);
    plain->push_back(false);
    return out;
  }
  for (const auto& a : args) {
    v1::CapturePoint p;
    size_t colon = a.find(':');
    p.set_item(a.substr(0, colon));
    if (colon != std::string::npos) {
      if (!ParseEth(a.substr(colon + 1), &eth))
        return absl::InvalidArgumentError(
            absl::StrCat("\"", a, "\": the eth after ':' is ethN or N"));
      p.set_eth(eth);
    }
    if (p.item().empty())
      return absl::InvalidArgumentError(absl::StrCat("\"", a, "\": no item"));
    out.push_back(p);
    plain->push_back(colon == std::string::npos);
  }
  return out;
}

// As the user named it: item:ethN, or a plain name (a lan, or an item's
// eth0).
std::string PointName(const v1::CapturePoint& p, bool plain) {
  return plain ? p.item() : absl::StrCat(p.item(), ":eth", p.eth());
}

struct Options {
  std::vector<std::string> points;
  std::string write;
  uint64_t count = 0;
  double duration_s = 0;
  uint32_t snaplen = 0;
  std::string filter;
};

// Cancels `ctx` on SIGINT/SIGTERM (Ctrl-C ends a capture cleanly: the
// files are completed and merged); Stop() ends the watch.
class SignalCancel {
 public:
  explicit SignalCancel(grpc::ClientContext* ctx) {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGUSR1);
    // A shell starts background jobs with SIGINT ignored, and an ignored
    // signal never reaches sigwait: take it back, as tcpdump does.
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
    thread_ = std::thread([this, ctx] {
      int sig = 0;
      sigwait(&set_, &sig);
      if (sig != SIGUSR1) {
        interrupted_ = true;
        ctx->TryCancel();
      }
    });
  }
  ~SignalCancel() {
    pthread_kill(thread_.native_handle(), SIGUSR1);
    thread_.join();
  }
  bool interrupted() const { return interrupted_; }

 private:
  sigset_t set_;
  std::atomic<bool> interrupted_{false};
  std::thread thread_;
};

int Snf(const Globals& g, const Options& o) {
  std::vector<bool> plain;
  auto points = ParsePoints(o.points, &plain);
  if (!points.ok())
    return Fail(std::string(points.status().message()), kExitUsage);
  if (o.write == "-" && points->size() > 1) {
    return Fail(
        "several points are written to a file (-w FILE.pcapng), merged when "
        "the capture ends; stream one point to stdout",
        kExitUsage);
  }
  if (o.duration_s < 0 || o.duration_s > 86400 * 7)
    return Fail("--duration is 0..604800 seconds", kExitUsage);
  // Before any thread exists (gRPC's own): a thread that does not block
  // SIGINT would take it with the default action, ending the process
  // before the file is complete.
  grpc::ClientContext ctx;
  SignalCancel on_signal(&ctx);
  Client c(g);
  if (!c.Exists()) return NotRunning(g);
  v1::CaptureRequest req;
  for (const auto& p : *points) *req.add_points() = p;
  req.set_snaplen(o.snaplen);
  req.set_filter(o.filter);
  req.set_count(o.count);
  req.set_duration_ms(static_cast<uint32_t>(o.duration_s * 1000));

  auto reader = c.topo()->Capture(&ctx, req);

  // One libpcap dumper per point (per-point temp files when merging).
  const bool merge = !o.write.empty() && points->size() > 1;
  std::vector<std::string> paths;
  std::vector<std::unique_ptr<PcapWriter>> dumpers;  // cleared: closed
  uint64_t frames = 0;
  v1::CaptureMessage m;
  bool stats_seen = false;
  v1::CaptureStats stats;
  while (reader->Read(&m)) {
    if (m.has_started()) {
      if (o.write.empty()) continue;
      for (size_t i = 0; i < points->size(); ++i) {
        std::string path =
            merge ? absl::StrCat(o.write, ".", i, ".pcap") : o.write;
        auto d = PcapWriter::OpenPath(m.started(), path);
        if (!d.ok()) {
          dumpers.clear();
          ctx.TryCancel();
          return Fail(
              absl::StrCat("cannot write ", path, ": ", d.status().message()));
        }
        dumpers.push_back(*std::move(d));
        paths.push_back(path);
        if (!merge) break;
      }
      continue;
    }
    if (m.has_stats()) {
      stats_seen = true;
      stats = m.stats();
      continue;
    }
    for (const auto& f : m.frames().frames()) {
      ++frames;
      if (o.write.empty()) {
        const auto& p = (*points)[f.point() < points->size() ? f.point() : 0];
        absl::Time t = absl::FromUnixNanos(f.time_ns());
        if (g.Json()) {
          std::cout << absl::StrFormat(
                           "{\"point\":\"%s\",\"time_ns\":%d,\"len\":%d}",
                           PointName(
                               p,
                               plain[f.point() < plain.size() ? f.point() : 0]),
                           f.time_ns(), f.orig_len())
                    << std::endl;
        } else {
          std::cout << absl::FormatTime("%H:%M:%E6S", t, absl::LocalTimeZone())
                    << "  "
                    << PointName(
                           p, plain[f.point() < plain.size() ? f.point() : 0])
                    << "  " << f.orig_len() << " bytes" << std::endl;
        }
        continue;
      }
      size_t i = merge ? f.point() : 0;
      if (i >= dumpers.size()) continue;
      dumpers[i]->Dump(f);
    }
    for (auto& d : dumpers) d->Flush();
  }
  grpc::Status s = reader->Finish();
  dumpers.clear();
  if (!s.ok() && !(s.error_code() == grpc::StatusCode::CANCELLED &&
                   on_signal.interrupted())) {
    for (const auto& p : paths)
      if (merge) unlink(p.c_str());
    return FailRpc(g, s);
  }
  if (merge) {
    std::vector<std::string> argv = {"mergecap", "-I", "none", "-F",
                                     "pcapng",   "-w", o.write};
    argv.insert(argv.end(), paths.begin(), paths.end());
    auto r = Exec(argv);
    for (const auto& p : paths) unlink(p.c_str());
    if (!r.ok() || r->exit_code != 0) {
      return Fail(absl::StrCat(
          "mergecap (Wireshark's, package tshark) could not merge the points "
          "into ",
          o.write, ": ", r.ok() ? r->err : std::string(r.status().message())));
    }
  }
  // The summary goes to stderr: stdout may carry the pcap.
  std::string summary = absl::StrCat(frames, " frame(s) captured");
  if (stats_seen) {
    for (int i = 0;
         i < stats.points_size() && i < static_cast<int>(points->size()); ++i) {
      const auto& ps = stats.points(i);
      absl::StrAppend(
          &summary, "; ", PointName((*points)[i], plain[i]), ": ",
          ps.received(), " received, ", ps.dropped(), " dropped",
          ps.if_dropped()
              ? absl::StrCat(", ", ps.if_dropped(), " dropped by the interface")
              : "");
    }
  }
  std::cerr << summary << std::endl;
  return 0;
}

std::string RecordingLine(const v1::Recording& r) {
  const std::string& point = r.name();
  if (r.file().empty()) return point + ": not recording";
  std::string line = absl::StrCat(
      point, ": ", r.active() ? "recording" : "recorded", " into ", r.file(),
      ", ", r.frames(), " frame(s), ", r.bytes(), " bytes");
  if (!r.active()) absl::StrAppend(&line, " (", r.ended(), ")");
  if (r.has_stats())
    absl::StrAppend(&line, "; pcap: ", r.stats().received(), " received, ",
                    r.stats().dropped(), " dropped");
  return line;
}

// Cloonix's switch: `snf <item> <eth> on|off`, `snf <lan|item:ethN> on|off`.
int Switch(const Globals& g, const Options& o, bool on) {
  std::vector<std::string> args(o.points.begin(), o.points.end() - 1);
  std::vector<bool> plain;
  auto points = ParsePoints(args, &plain);
  if (!points.ok())
    return Fail(std::string(points.status().message()), kExitUsage);
  if (points->size() != 1)
    return Fail(
        "snf ... on|off takes one point: <item> <eth>, item:ethN or a "
        "lan",
        kExitUsage);
  if (!o.write.empty() || o.count || o.duration_s > 0)
    return Fail(
        "snf ... on|off writes to the net's work dir (snf/) until off: "
        "-w, --count and --duration are for a live capture",
        kExitUsage);
  Client c(g);
  if (!c.Exists()) return NotRunning(g);
  v1::SetRecordingRequest req;
  *req.mutable_point() = (*points)[0];
  req.set_on(on);
  req.set_snaplen(o.snaplen);
  req.set_filter(o.filter);
  v1::Recording rec;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  grpc::Status s = c.topo()->SetRecording(&ctx, req, &rec);
  if (!s.ok()) return FailRpc(g, s);
  if (g.Json()) {
    std::cout << ToJsonLine(rec) << std::endl;
  } else {
    std::cout << RecordingLine(rec) << std::endl;
  }
  return 0;
}

int ListRecordings(const Globals& g) {
  Client c(g);
  if (!c.Exists()) return NotRunning(g);
  v1::ListRecordingsResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  grpc::Status s = c.topo()->ListRecordings(&ctx, {}, &resp);
  if (!s.ok()) return FailRpc(g, s);
  if (g.Json()) {
    std::cout << ToJsonLine(resp) << std::endl;
    return 0;
  }
  if (resp.recordings_size() == 0) std::cout << "no recording" << std::endl;
  for (const auto& r : resp.recordings())
    std::cout << RecordingLine(r) << std::endl;
  return 0;
}

}  // namespace

void AddSnfCommands(CLI::App* app, Context& ctx) {
  static Options o;
  static bool list = false;
  auto* snf = app->add_subcommand(
      "snf",
      "snf <item> <eth> | snf <item:ethN|lan>...: capture the frames at "
      "points of the net (Cloonix's snf), as pcap with -w FILE or -w - "
      "(stdout, e.g. | tshark -r -); several points -> one pcapng (-w "
      "FILE), one interface per point. Ctrl-C ends the capture.\n"
      "snf <item> <eth> on|off, snf <lan|item:ethN> on|off: Cloonix's "
      "switch: the net records that point by itself into "
      "<work_dir>/snf/<item>.eth<N>.pcap (or <lan>.pcap) until off; "
      "snf --list shows the recordings.");
  snf->add_option("points", o.points,
                  "<item> <eth>, or item:ethN / lan ...; then on|off for "
                  "Cloonix's switch");
  snf->add_flag("--list", list, "list the net's recordings (snf ... on)");
  snf->add_option("-w,--write", o.write,
                  "pcap file, - for stdout; without it one line per frame");
  snf->add_option("-c,--count", o.count, "stop after N frames (all points)");
  snf->add_option("--duration", o.duration_s, "stop after S seconds");
  snf->add_option("-s,--snaplen", o.snaplen,
                  "bytes kept per frame (default: whole frames)")
      ->check(CLI::Range(1, 262144));
  snf->add_option("--filter", o.filter,
                  "BPF filter, pcap-filter(7) syntax (e.g. \"icmp\")");
  snf->callback([&] {
    ctx.action = [&]() -> int {
      if (list) return ListRecordings(ctx.g);
      if (o.points.empty())
        return Fail("snf needs a point (or --list)", kExitUsage);
      if (o.points.size() >= 2 &&
          (o.points.back() == "on" || o.points.back() == "off"))
        return Switch(ctx.g, o, o.points.back() == "on");
      return Snf(ctx.g, o);
    };
  });
}

}  // namespace cloonix::cli
