#include "verity/ingest/lumberjack.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "verity/ingest/document_decoder.h"
#include "verity/ingest/inflate.h"

namespace verity::ingest {

namespace {

uint32_t be32(const char* p) {
  return (static_cast<uint32_t>(static_cast<uint8_t>(p[0])) << 24) |
         (static_cast<uint32_t>(static_cast<uint8_t>(p[1])) << 16) |
         (static_cast<uint32_t>(static_cast<uint8_t>(p[2])) << 8) |
         static_cast<uint32_t>(static_cast<uint8_t>(p[3]));
}

}  // namespace

struct LumberjackDecoder::Impl {
  LumberjackLimits limits;
  size_t read_chunk;
  std::vector<char> buf;
  size_t begin = 0, end = 0;
  uint32_t window_size = 0;  // of the current window (0: none yet)
  uint32_t window_seen = 0;  // data frames of the current window so far
  uint64_t skip = 0;         // bytes of an oversized event still to discard
  uint32_t skip_seq = 0;
  uint64_t skip_len = 0;
  std::string inflated;
  bool failed = false;

  Status data_frame(uint32_t seq) {
    if (window_size == 0 || window_seen >= window_size) {
      return Status::invalid_argument("data frame (seq " + std::to_string(seq) +
                                      ") outside a window");
    }
    if (seq == 0 || seq > window_size) {
      return Status::invalid_argument("data frame seq " + std::to_string(seq) +
                                      " is outside the window of " + std::to_string(window_size));
    }
    ++window_seen;
    return Status::ok();
  }

  // Parses frames in [p, p + n). `nested` (inside a compressed frame): only complete data frames.
  // Returns the bytes consumed (a partial frame at the end is left unless nested).
  Result<size_t> frames(const char* p, size_t n, size_t readable, bool nested,
                        LumberjackHandler& h) {
    size_t pos = 0;
    while (pos < n) {
      const size_t left = n - pos;
      if (left < 2) break;
      const char* f = p + pos;
      if (f[0] != '2') {
        return Status::invalid_argument("unsupported protocol version byte 0x" + hex(f[0]) +
                                        " (Lumberjack v2 frames start with '2')");
      }
      const char type = f[1];
      if (type == 'W' && !nested) {
        if (left < 6) break;
        const uint32_t size = be32(f + 2);
        if (window_size != 0 && window_seen < window_size) {
          return Status::invalid_argument("window frame before the previous window's " +
                                          std::to_string(window_size) + " events arrived");
        }
        if (size == 0 || size > limits.max_window) {
          return Status::invalid_argument("window size " + std::to_string(size) +
                                          " is outside 1.." + std::to_string(limits.max_window));
        }
        window_size = size;
        window_seen = 0;
        h.on_window(size);
        pos += 6;
      } else if (type == 'J') {
        if (left < 10) break;
        const uint32_t seq = be32(f + 2);
        const uint32_t len = be32(f + 6);
        if (len <= limits.max_event && left - 10 < len) {
          if (nested) return Status::invalid_argument("compressed frame ends inside a data frame");
          break;  // wait for the rest
        }
        if (auto s = data_frame(seq); !s) return s;
        if (len > limits.max_event) {
          if (nested) {
            if (left - 10 < len) {
              return Status::invalid_argument("compressed frame ends inside a data frame");
            }
            h.on_oversized_event(seq, len);
            pos += 10 + len;
            continue;
          }
          // Skip the payload as it streams in (bounded memory); report it once skipped.
          pos += 10;
          const size_t now = std::min<size_t>(len, n - pos);
          pos += now;
          if (now == len) {
            h.on_oversized_event(seq, len);
          } else {
            skip = len - now;
            skip_seq = seq;
            skip_len = len;
            break;
          }
          continue;
        }
        h.on_event(seq, std::string_view(f + 10, len), readable - pos - 10);
        pos += 10 + len;
      } else if (type == 'C' && !nested) {
        if (left < 6) break;
        const uint32_t len = be32(f + 2);
        if (len > limits.max_frame) {
          return Status::invalid_argument("compressed frame of " + std::to_string(len) +
                                          " bytes exceeds max_frame of " +
                                          std::to_string(limits.max_frame));
        }
        if (left - 6 < len) break;
        inflated.clear();
        const Status s = inflate(std::string_view(f + 6, len), InflateFormat::kZlib,
                                 limits.max_inflated, inflated);
        if (!s) return Status(s.code(), "compressed frame: " + s.message());
        const size_t size = inflated.size();
        inflated.append(kJsonPadding, '\0');
        auto inner = frames(inflated.data(), size, inflated.size(), true, h);
        if (!inner) return inner.status();
        if (*inner != size) {
          return Status::invalid_argument("compressed frame ends inside a frame header");
        }
        pos += 6 + len;
      } else {
        std::string what = "unexpected frame type ";
        what += (type >= 0x20 && type < 0x7f) ? std::string("'") + type + "'" : "0x" + hex(type);
        if (nested) what += " inside a compressed frame";
        return Status::invalid_argument(what);
      }
    }
    return pos;
  }

  static std::string hex(char c) {
    static constexpr char kDigits[] = "0123456789abcdef";
    const auto u = static_cast<uint8_t>(c);
    return {kDigits[u >> 4], kDigits[u & 15]};
  }
};

LumberjackDecoder::LumberjackDecoder(LumberjackLimits limits, size_t read_chunk)
    : impl_(std::make_unique<Impl>()) {
  impl_->limits = limits;
  impl_->read_chunk = read_chunk;
  impl_->buf.resize(read_chunk + kJsonPadding);
}

LumberjackDecoder::~LumberjackDecoder() = default;

std::span<char> LumberjackDecoder::write_area() {
  Impl& im = *impl_;
  if (im.begin == im.end) im.begin = im.end = 0;
  // Keep room for a read chunk plus padding after the data; move data down or grow when short.
  if (im.buf.size() - im.end < im.read_chunk + kJsonPadding) {
    if (im.begin > 0) {
      std::memmove(im.buf.data(), im.buf.data() + im.begin, im.end - im.begin);
      im.end -= im.begin;
      im.begin = 0;
    }
    if (im.buf.size() - im.end < im.read_chunk + kJsonPadding) {
      im.buf.resize(im.end + im.read_chunk + kJsonPadding);
    }
  }
  return {im.buf.data() + im.end, im.read_chunk};
}

void LumberjackDecoder::commit(size_t n) { impl_->end += n; }

Status LumberjackDecoder::drain(LumberjackHandler& h) {
  Impl& im = *impl_;
  if (im.failed) return Status::failed_precondition("the decoder failed earlier");
  if (im.skip > 0) {
    const size_t now = std::min<size_t>(im.skip, im.end - im.begin);
    im.skip -= now;
    im.begin += now;
    if (im.skip > 0) return Status::ok();
    h.on_oversized_event(im.skip_seq, im.skip_len);
  }
  auto used =
      im.frames(im.buf.data() + im.begin, im.end - im.begin, im.buf.size() - im.begin, false, h);
  if (!used) {
    im.failed = true;
    return used.status();
  }
  im.begin += *used;
  return Status::ok();
}

uint32_t LumberjackDecoder::window_remaining() const {
  return impl_->window_size - impl_->window_seen;
}

std::string lumberjack_ack(uint32_t seq) {
  std::string out = "2A";
  for (int i = 3; i >= 0; --i) out += static_cast<char>((seq >> (8 * i)) & 0xff);
  return out;
}

}  // namespace verity::ingest
