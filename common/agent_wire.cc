#include "common/agent_wire.h"

#include <cstring>

namespace cloonix::wire {
namespace {

void PutU32(uint32_t v, std::string* out) {
  char b[4] = {static_cast<char>(v), static_cast<char>(v >> 8),
               static_cast<char>(v >> 16), static_cast<char>(v >> 24)};
  out->append(b, 4);
}

uint32_t GetU32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return u[0] | (u[1] << 8) | (u[2] << 16) |
         (static_cast<uint32_t>(u[3]) << 24);
}

}  // namespace

void AppendFrame(const Frame& f, std::string* out) {
  PutU32(static_cast<uint32_t>(f.payload.size()), out);
  out->push_back(static_cast<char>(f.type));
  out->push_back(0);
  out->push_back(0);
  out->push_back(0);
  PutU32(f.session, out);
  out->append(f.payload);
}

bool FrameParser::Next(Frame* f, std::string* error) {
  // Drop what was consumed once it is worth a copy (frames arrive in reads
  // smaller than a frame: the buffer must not keep every byte ever read).
  if (pos_ > 0 && (buf_.size() - pos_ < kHeaderSize || pos_ >= 65536)) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  if (buf_.size() - pos_ < kHeaderSize) return false;
  const char* h = buf_.data() + pos_;
  uint32_t len = GetU32(h);
  if (len > kMaxPayload) {
    *error = "frame of " + std::to_string(len) + " bytes exceeds the limit";
    return false;
  }
  if (buf_.size() - pos_ < kHeaderSize + len) return false;
  f->type = static_cast<Type>(static_cast<unsigned char>(h[4]));
  f->session = GetU32(h + 8);
  f->payload.assign(h + kHeaderSize, len);
  pos_ += kHeaderSize + len;
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  }
  return true;
}

WireWriter& WireWriter::U32(uint32_t v) {
  PutU32(v, &out_);
  return *this;
}

WireWriter& WireWriter::U64(uint64_t v) {
  PutU32(static_cast<uint32_t>(v), &out_);
  PutU32(static_cast<uint32_t>(v >> 32), &out_);
  return *this;
}

WireWriter& WireWriter::Str(const std::string& s) {
  PutU32(static_cast<uint32_t>(s.size()), &out_);
  out_.append(s);
  return *this;
}

uint32_t WireReader::U32() {
  if (!ok_ || in_.size() - pos_ < 4) {
    ok_ = false;
    return 0;
  }
  uint32_t v = GetU32(in_.data() + pos_);
  pos_ += 4;
  return v;
}

uint64_t WireReader::U64() {
  uint64_t lo = U32();
  uint64_t hi = U32();
  return lo | (hi << 32);
}

std::string WireReader::Str() {
  uint32_t n = U32();
  if (!ok_ || in_.size() - pos_ < n) {
    ok_ = false;
    return "";
  }
  std::string s = in_.substr(pos_, n);
  pos_ += n;
  return s;
}

std::string EncodeExecStart(const ExecStart& e) {
  WireWriter w;
  w.U32(e.tty ? 1 : 0).U32(e.rows).U32(e.cols).Str(e.term);
  w.U32(static_cast<uint32_t>(e.argv.size()));
  for (const auto& a : e.argv) w.Str(a);
  w.U32(static_cast<uint32_t>(e.env.size()));
  for (const auto& a : e.env) w.Str(a);
  if (e.x11) w.U32(1).Str(e.x11_proto).Str(e.x11_cookie);
  return w.Take();
}

bool DecodeExecStart(const std::string& p, ExecStart* e) {
  WireReader r(p);
  e->tty = r.U32() != 0;
  e->rows = r.U32();
  e->cols = r.U32();
  e->term = r.Str();
  uint32_t n = r.U32();
  if (!r.ok() || n > 4096) return false;
  for (uint32_t i = 0; i < n && r.ok(); ++i) e->argv.push_back(r.Str());
  n = r.U32();
  if (!r.ok() || n > 4096) return false;
  for (uint32_t i = 0; i < n && r.ok(); ++i) e->env.push_back(r.Str());
  if (r.ok() && !r.done()) {
    e->x11 = r.U32() != 0;
    e->x11_proto = r.Str();
    e->x11_cookie = r.Str();
  }
  return r.ok();
}

std::string EncodeX11Data(uint32_t channel, const std::string& data) {
  std::string out = WireWriter().U32(channel).Take();
  out += data;
  return out;
}

bool DecodeX11Data(const std::string& p, uint32_t* channel, std::string* data) {
  if (p.size() < 4) return false;
  WireReader r(p);
  *channel = r.U32();
  data->assign(p, 4, std::string::npos);
  return r.ok();
}

}  // namespace cloonix::wire
