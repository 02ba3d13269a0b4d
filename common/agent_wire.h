// The guest channel: the framed protocol spoken between a runner
// (vm_runner, over the VM's virtio-serial unix socket) and cloonix-agent
// inside the guest. Standard C++ only: the agent is a static binary.
//
// A frame is a 12-byte header then `length` bytes of payload:
//   u32 length | u8 type | u8 flags (0) | u16 reserved (0) | u32 session
// all little-endian. Session 0 is the channel itself (hello, heartbeat);
// every exec or copy picks its own session id (chosen by the host).
// Payload fields are encoded with WireWriter/WireReader: u32/i32/u64 as
// little-endian integers, strings and byte blobs as u32 length + bytes.
//
// Conversation (H = host, A = agent):
//   A: kHello{version, hostname} on every (re)connect, kHeartbeat every 1 s.
//   exec: H kExecStart{argv..., tty, rows, cols, term} ; H kStdin / kStdinEof /
//         kResize / kKill ; A kStdout / kStderr ... then kExit{code, signal}
//         or kError{message} (e.g. the command does not exist: code 127).
//   put:  H kPutBegin{dest} ; A kOk or kError ; H (kEntry, kData*)* ;
//         H kPutEnd ; A kOk{files, bytes} or kError.
//   get:  H kGetBegin{path} ; A (kEntry, kData*)* then kGetEnd, or kError.
//   x11 (an exec started with x11): A kX11Open{chan} when a guest X client
//         connects; then kX11Data{chan, bytes} both ways and kX11Close{chan}
//         from either side. Channels end with their exec session.
// A host that disconnects ends every session: the agent kills their
// processes.
#ifndef CLOONIX_COMMON_AGENT_WIRE_H_
#define CLOONIX_COMMON_AGENT_WIRE_H_

#include <cstdint>
#include <string>
#include <vector>

namespace cloonix::wire {

// Name of the virtio-serial port of the agent channel.
inline constexpr char kAgentPortName[] = "org.cloonix.agent.0";
inline constexpr uint32_t kProtocolVersion = 1;
inline constexpr size_t kHeaderSize = 12;
// Frames larger than this are a protocol error (the channel is reset).
inline constexpr uint32_t kMaxPayload = 1 << 20;
// File data travels in chunks of at most this many bytes.
inline constexpr size_t kChunk = 64 * 1024;

enum class Type : uint8_t {
  kHello = 1,
  kHeartbeat = 2,
  kExecStart = 10,
  kStdin = 11,
  kStdinEof = 12,
  kResize = 13,
  kKill = 14,
  kStdout = 20,
  kStderr = 21,
  kExit = 22,
  kError = 23,
  kOk = 24,
  kPutBegin = 30,
  kEntry = 31,
  kData = 32,
  kPutEnd = 33,
  kGetBegin = 40,
  kGetEnd = 41,
  kX11Open = 50,
  kX11Data = 51,
  kX11Close = 52,
};

struct Frame {
  Type type = Type::kHeartbeat;
  uint32_t session = 0;
  std::string payload;
};

// Appends the encoded frame to `out`.
void AppendFrame(const Frame& f, std::string* out);

// Incremental decoder: Feed bytes, then Next until it returns false.
class FrameParser {
 public:
  void Feed(const char* data, size_t n) { buf_.append(data, n); }
  // Returns true and fills `f` when a whole frame is buffered. Sets `error`
  // (and returns false) on a frame longer than kMaxPayload.
  bool Next(Frame* f, std::string* error);

 private:
  std::string buf_;
  size_t pos_ = 0;
};

class WireWriter {
 public:
  WireWriter& U32(uint32_t v);
  WireWriter& I32(int32_t v) { return U32(static_cast<uint32_t>(v)); }
  WireWriter& U64(uint64_t v);
  WireWriter& Str(const std::string& s);
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

// Reads fields in order; any read past the end sets ok() to false.
class WireReader {
 public:
  explicit WireReader(const std::string& in) : in_(in) {}
  uint32_t U32();
  int32_t I32() { return static_cast<int32_t>(U32()); }
  uint64_t U64();
  std::string Str();
  bool ok() const { return ok_; }
  bool done() const { return pos_ == in_.size(); }

 private:
  const std::string& in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

// Exec request, encoded in kExecStart.
struct ExecStart {
  std::vector<std::string> argv;  // empty: the guest's login shell
  std::vector<std::string> env;   // extra KEY=VALUE
  bool tty = false;
  uint32_t rows = 0, cols = 0;
  std::string term;  // TERM for tty sessions
  // X11 forwarding: the agent offers a display whose xauth holds this
  // cookie (trailing fields: an older host sends none, x11 stays false).
  bool x11 = false;
  std::string x11_proto;   // MIT-MAGIC-COOKIE-1
  std::string x11_cookie;  // 16 bytes
};
std::string EncodeExecStart(const ExecStart& e);
bool DecodeExecStart(const std::string& p, ExecStart* e);

// kX11Data: u32 channel then the bytes (the rest of the payload).
std::string EncodeX11Data(uint32_t channel, const std::string& data);
bool DecodeX11Data(const std::string& p, uint32_t* channel, std::string* data);

}  // namespace cloonix::wire

#endif  // CLOONIX_COMMON_AGENT_WIRE_H_
