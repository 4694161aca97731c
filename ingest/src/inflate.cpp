#include "verity/ingest/inflate.h"

#include <zlib.h>

#include <algorithm>

namespace verity::ingest {

namespace {

class Stream {
 public:
  explicit Stream(int window_bits) { ok_ = inflateInit2(&z_, window_bits) == Z_OK; }
  ~Stream() {
    if (ok_) inflateEnd(&z_);
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  bool ok() const { return ok_; }
  z_stream& z() { return z_; }

 private:
  z_stream z_{};
  bool ok_ = false;
};

}  // namespace

Status inflate(std::string_view in, InflateFormat format, size_t max_out, std::string& out) {
  const char* name = format == InflateFormat::kGzip ? "gzip" : "zlib";
  const int window_bits = format == InflateFormat::kGzip ? 16 + MAX_WBITS : MAX_WBITS;
  const size_t start = out.size();
  auto too_big = [&] {
    return Status::resource_exhausted(std::string(name) + " data inflates beyond the limit of " +
                                      std::to_string(max_out) + " bytes");
  };
  const auto* next = reinterpret_cast<const Bytef*>(in.data());
  size_t left = in.size();
  if (left == 0) return Status::invalid_argument(std::string("empty ") + name + " stream");
  while (left > 0) {  // one iteration per gzip member (zlib has exactly one stream)
    Stream s(window_bits);
    if (!s.ok()) return Status::internal("zlib: inflateInit2 failed");
    z_stream& z = s.z();
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
      const size_t produced = out.size() - start;
      // One byte of room beyond max_out tells "exactly max_out" from "more than max_out".
      if (produced > max_out) {
        return too_big();
      }
      const size_t room = std::min<size_t>({max_out + 1 - produced, 1u << 20, UINT32_MAX});
      const size_t before = out.size();
      out.resize(before + room);
      z.next_in = const_cast<Bytef*>(next);
      z.avail_in = static_cast<uInt>(std::min<size_t>(left, UINT32_MAX));
      z.next_out = reinterpret_cast<Bytef*>(out.data() + before);
      z.avail_out = static_cast<uInt>(room);
      rc = ::inflate(&z, Z_NO_FLUSH);
      const size_t consumed = static_cast<size_t>(z.next_in - next);
      next += consumed;
      left -= consumed;
      out.resize(before + (room - z.avail_out));
      if (rc == Z_STREAM_END) break;
      if (rc == Z_BUF_ERROR && left == 0) {
        return Status::invalid_argument(std::string(name) + " stream is truncated");
      }
      if (rc != Z_OK && rc != Z_BUF_ERROR) {
        return Status::invalid_argument(std::string(name) + " stream is corrupt" +
                                        (z.msg != nullptr ? std::string(": ") + z.msg : ""));
      }
    }
    if (out.size() - start > max_out) {
      return too_big();
    }
    if (format == InflateFormat::kZlib && left > 0) {
      return Status::invalid_argument("zlib stream is followed by " + std::to_string(left) +
                                      " unexpected bytes");
    }
  }
  return Status::ok();
}

}  // namespace verity::ingest
