#include "cli/pcap_frames.h"

#include <dlfcn.h>
#include <pcap/pcap.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace cloonix::cli {
namespace {

// The libpcap functions the writer calls, resolved once.
struct Pcap {
  decltype(&pcap_open_dead_with_tstamp_precision) open_dead = nullptr;
  decltype(&pcap_dump_open) dump_open = nullptr;
  decltype(&pcap_dump_fopen) dump_fopen = nullptr;
  decltype(&pcap_dump) dump = nullptr;
  decltype(&pcap_dump_flush) dump_flush = nullptr;
  decltype(&pcap_dump_close) dump_close = nullptr;
  decltype(&pcap_close) close = nullptr;
  decltype(&pcap_geterr) geterr = nullptr;
  std::string error;  // why it could not be loaded; empty when loaded
};

template <typename F>
bool Resolve(void* lib, const char* name, F* out) {
  *out = reinterpret_cast<F>(dlsym(lib, name));
  return *out != nullptr;
}

const Pcap& Lib() {
  static const Pcap* lib = [] {
    auto* p = new Pcap;
    void* h = nullptr;
    // Debian's libpcap0.8 package; other distributions' names after it.
    for (const char* so : {"libpcap.so.0.8", "libpcap.so.1", "libpcap.so"}) {
      h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
      if (h != nullptr) break;
    }
    if (h == nullptr) {
      p->error =
          absl::StrCat("cannot load libpcap (install libpcap0.8): ", dlerror());
      return p;
    }
    if (!Resolve(h, "pcap_open_dead_with_tstamp_precision", &p->open_dead) ||
        !Resolve(h, "pcap_dump_open", &p->dump_open) ||
        !Resolve(h, "pcap_dump_fopen", &p->dump_fopen) ||
        !Resolve(h, "pcap_dump", &p->dump) ||
        !Resolve(h, "pcap_dump_flush", &p->dump_flush) ||
        !Resolve(h, "pcap_dump_close", &p->dump_close) ||
        !Resolve(h, "pcap_close", &p->close) ||
        !Resolve(h, "pcap_geterr", &p->geterr)) {
      p->error = absl::StrCat("libpcap too old: ", dlerror());
    }
    return p;
  }();
  return *lib;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PcapWriter>> PcapWriter::OpenPath(
    const cloonix::v1::CaptureStarted& started, const std::string& path) {
  return Open(started, &path, nullptr);
}

absl::StatusOr<std::unique_ptr<PcapWriter>> PcapWriter::OpenFile(
    const cloonix::v1::CaptureStarted& started, FILE* f) {
  return Open(started, nullptr, f);
}

absl::StatusOr<std::unique_ptr<PcapWriter>> PcapWriter::Open(
    const cloonix::v1::CaptureStarted& started, const std::string* path,
    FILE* f) {
  const Pcap& lib = Lib();
  if (!lib.error.empty()) return absl::UnavailableError(lib.error);
  pcap_t* p = lib.open_dead(static_cast<int>(started.link_type()),
                            static_cast<int>(started.snaplen()),
                            PCAP_TSTAMP_PRECISION_NANO);
  if (p == nullptr) return absl::UnknownError("pcap_open_dead failed");
  pcap_dumper_t* d = nullptr;
  if (path == nullptr) {
    d = lib.dump_fopen(p, f);
  } else {
    d = *path == "-" ? lib.dump_fopen(p, stdout)
                     : lib.dump_open(p, path->c_str());
  }
  if (d == nullptr) {
    absl::Status s = absl::UnknownError(lib.geterr(p));
    lib.close(p);
    return s;
  }
  return std::unique_ptr<PcapWriter>(new PcapWriter(p, d));
}

PcapWriter::~PcapWriter() {
  const Pcap& lib = Lib();
  lib.dump_close(static_cast<pcap_dumper_t*>(dumper_));  // flushes, fcloses
  lib.close(static_cast<pcap_t*>(pcap_));
}

void PcapWriter::Dump(const cloonix::v1::CapturedFrame& f) {
  struct pcap_pkthdr h = {};
  h.ts.tv_sec = static_cast<time_t>(f.time_ns() / 1000000000);
  // ns: the dumper's precision
  h.ts.tv_usec = static_cast<suseconds_t>(f.time_ns() % 1000000000);
  h.caplen = static_cast<uint32_t>(f.data().size());
  h.len = f.orig_len();
  Lib().dump(static_cast<u_char*>(dumper_), &h,
             reinterpret_cast<const u_char*>(f.data().data()));
}

void PcapWriter::Flush() {
  Lib().dump_flush(static_cast<pcap_dumper_t*>(dumper_));
}

}  // namespace cloonix::cli
