// X11 forwarding for `cloonix ssh -X`, as ssh does it. The client makes a
// fake cookie for the session; the agent offers the guest a display whose
// xauth holds it (guest.proto ExecStart.x11). Each connection a guest X
// client opens arrives as a channel of the Exec stream: the client checks
// that its connection setup presents the fake cookie, puts the local
// display's real cookie (xauth list $DISPLAY) in its place, and relays the
// bytes between the channel and the local display ($DISPLAY: a unix socket
// or TCP). The real cookie never leaves this process.
#ifndef CLOONIX_CLI_X11_FORWARD_H_
#define CLOONIX_CLI_X11_FORWARD_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "cloonix/v1/guest.pb.h"

namespace cloonix::cli {

// Where $DISPLAY points: ":0", ":0.0", "unix:0" (a unix socket
// /tmp/.X11-unix/X0), "/path/socket:0" (that socket), "host:10.0" (TCP
// port 6010). INVALID_ARGUMENT otherwise.
struct X11Display {
  std::string unix_path;  // set for a local display
  std::string host;       // else TCP host
  int port = 0;
};
absl::StatusOr<X11Display> ParseDisplay(const std::string& display);

// An authorization: protocol name and data (e.g. MIT-MAGIC-COOKIE-1 and 16
// bytes); both empty for none.
struct X11Auth {
  std::string proto, cookie;
};

// The cookie of `display` from `xauth list` (honours $XAUTHORITY); empty
// when xauth is missing or has no entry (a display without access control).
X11Auth LocalAuth(const std::string& display);
// A fresh MIT-MAGIC-COOKIE-1 of 16 random bytes.
X11Auth MakeFakeAuth();

// The connection setup a client sends first (X11 protocol, "Connection
// Setup": byte order, version, authorization name and data, each padded to
// 4 bytes). kNeedMore: `in` does not hold all of it yet; kBad: its
// authorization is not `fake`; kOk: *out is the setup carrying `real`
// instead, *consumed the bytes of `in` it replaces.
enum class SetupResult { kNeedMore, kBad, kOk };
SetupResult RewriteSetup(const std::string& in, const X11Auth& fake,
                         const X11Auth& real, std::string* out,
                         size_t* consumed);

// The channels of one Exec stream. `send` writes into the stream (it must
// be safe to call from the channels' threads; false when the stream ended).
class X11Forwarder {
 public:
  X11Forwarder(X11Display display, X11Auth fake, X11Auth real,
               std::function<bool(const cloonix::v1::ExecRequest&)> send);
  ~X11Forwarder();
  X11Forwarder(const X11Forwarder&) = delete;
  X11Forwarder& operator=(const X11Forwarder&) = delete;

  // From the stream's responses (one thread).
  void Open(uint32_t channel);
  void Data(uint32_t channel, const std::string& data);
  void Close(uint32_t channel);

 private:
  struct Channel {
    int fd = -1;
    bool set_up = false;  // the setup went through (cookie checked)
    std::string pending;  // setup bytes until complete
    std::thread reader;   // display -> guest
  };
  void SendClose(uint32_t channel);
  void Drop(uint32_t channel);

  X11Display display_;
  X11Auth fake_, real_;
  std::function<bool(const cloonix::v1::ExecRequest&)> send_;
  std::map<uint32_t, std::unique_ptr<Channel>> channels_;
  bool warned_ = false;
};

}  // namespace cloonix::cli

#endif  // CLOONIX_CLI_X11_FORWARD_H_
