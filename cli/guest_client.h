// `cloonix ssh` and `cloonix scp` over the Guest API, and the parsing of
// their arguments and of `add kvm`'s.
#ifndef CLOONIX_CLI_GUEST_CLIENT_H_
#define CLOONIX_CLI_GUEST_CLIENT_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cloonix/v1/guest.grpc.pb.h"
#include "cloonix/v1/topology.pb.h"

namespace cloonix::cli {

// "name:path" -> {name, path}; nullopt for a local path (no ':' or a '/'
// before it, like scp).
struct GuestPath {
  std::string item;
  std::string path;
};
std::optional<GuestPath> ParseGuestPath(const std::string& arg);

// add kvm <name> ram=<MB> cpu=<n> eth=<n|letters> <image> with options
// --persistent and --mac_addr=ethN:xx:xx:xx:xx:xx:xx (Cloonix's spelling).
// Cloonix's eth=<letters> (one letter per eth, e.g. "sss") counts eths.
absl::StatusOr<cloonix::v1::Item> ParseAddKvm(
    const std::string& name, const std::vector<std::string>& args,
    bool persistent, const std::vector<std::string>& mac_addrs);

// Runs a command (argv empty: a login shell). tty: allocate a pty and put
// the local terminal in raw mode. x11: forward the guest's X clients to
// $DISPLAY (x11_forward.h; INVALID_ARGUMENT without $DISPLAY). Returns the
// remote exit code, or -1 with *error set when the call failed.
int RunSsh(cloonix::v1::Guest::Stub* stub, const std::string& item,
           const std::vector<std::string>& argv, bool tty, grpc::Status* error,
           bool x11 = false);

// `sh -c script` in a guest with its output kept (for scripts of the CLI
// itself: apply's addresses and exec, sav's sync). code -1: the call failed
// (status says why).
struct CapturedRun {
  int code = -1;
  std::string out, err;
  grpc::Status status;
};
CapturedRun RunCaptured(cloonix::v1::Guest::Stub* stub, const std::string& item,
                        const std::string& script, absl::Duration timeout);

// stdin/stdout <-> a TCP port of a guest through its nat. Returns 0, or -1
// with *error set.
int RunTunnel(cloonix::v1::Guest::Stub* stub, const std::string& item,
              uint32_t port, grpc::Status* error);

// Attaches to a kvm's serial console: a raw terminal when stdin is one,
// Ctrl-] detaches; `seconds` > 0 detaches after that long (scripts). Returns
// 0, or -1 with *error set.
int RunConsole(cloonix::v1::Guest::Stub* stub, const std::string& item,
               int seconds, grpc::Status* error);

struct CopyReport {
  uint32_t files = 0;
  uint64_t bytes = 0;
  double seconds = 0;
};

// Local src -> guest. `progress`: print progress on stderr.
absl::StatusOr<CopyReport> CopyToGuest(cloonix::v1::Guest::Stub* stub,
                                       const std::string& src,
                                       const GuestPath& dst, bool recursive,
                                       bool progress, grpc::Status* rpc);
// Guest -> local dst.
absl::StatusOr<CopyReport> CopyFromGuest(cloonix::v1::Guest::Stub* stub,
                                         const GuestPath& src,
                                         const std::string& dst, bool recursive,
                                         bool progress, grpc::Status* rpc);

}  // namespace cloonix::cli

#endif  // CLOONIX_CLI_GUEST_CLIENT_H_
