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

struct Inflater::Impl {
  explicit Impl(InflateFormat f)
      : window_bits(f == InflateFormat::kGzip ? 16 + MAX_WBITS : MAX_WBITS) {}
  ~Impl() {
    if (initialized) inflateEnd(&z);
  }
  int window_bits;
  z_stream z{};
  bool initialized = false;
  bool finished = false;
};

Inflater::Inflater(InflateFormat format) : impl_(std::make_unique<Impl>(format)) {}
Inflater::~Inflater() = default;

void Inflater::reset() {
  if (impl_->initialized) inflateEnd(&impl_->z);
  impl_->z = z_stream{};
  impl_->initialized = false;
  impl_->finished = false;
}

Status Inflater::step(std::string_view in, std::span<char> out, size_t& consumed, size_t& produced,
                      bool& finished) {
  Impl& im = *impl_;
  consumed = produced = 0;
  finished = im.finished;
  if (im.finished) return Status::ok();
  if (!im.initialized) {
    if (inflateInit2(&im.z, im.window_bits) != Z_OK) {
      return Status::internal("zlib: inflateInit2 failed");
    }
    im.initialized = true;
  }
  z_stream& z = im.z;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(std::min<size_t>(in.size(), UINT32_MAX));
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(std::min<size_t>(out.size(), UINT32_MAX));
  const int rc = ::inflate(&z, Z_NO_FLUSH);
  consumed = static_cast<size_t>(reinterpret_cast<const char*>(z.next_in) - in.data());
  produced = static_cast<size_t>(reinterpret_cast<char*>(z.next_out) - out.data());
  if (rc == Z_STREAM_END) {
    im.finished = finished = true;
    return Status::ok();
  }
  if (rc == Z_OK || rc == Z_BUF_ERROR) return Status::ok();  // more input or room needed
  return Status::invalid_argument(std::string("zlib stream is corrupt") +
                                  (z.msg != nullptr ? std::string(": ") + z.msg : ""));
}

}  // namespace verity::ingest
