#include "verity/ingest/lumberjack.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "verity/ingest/document_decoder.h"
#include "verity/ingest/inflate.h"
#include "verity/ingest/memory_budget.h"

namespace verity::ingest {

namespace {

uint32_t be32(const char* p) {
  return (static_cast<uint32_t>(static_cast<uint8_t>(p[0])) << 24) |
         (static_cast<uint32_t>(static_cast<uint8_t>(p[1])) << 16) |
         (static_cast<uint32_t>(static_cast<uint8_t>(p[2])) << 8) |
         static_cast<uint32_t>(static_cast<uint8_t>(p[3]));
}

constexpr size_t kIdleRead = 4096;             // an idle connection's read area
constexpr size_t kInflateChunk = 64 * 1024;    // inflated bytes decoded at a time
constexpr size_t kInflaterMemory = 48 * 1024;  // zlib's inflate state and window, about

std::string hex(char c) {
  static constexpr char kDigits[] = "0123456789abcdef";
  const auto u = static_cast<uint8_t>(c);
  return {kDigits[u >> 4], kDigits[u & 15]};
}

// A byte buffer [begin, end) with kJsonPadding readable bytes after end, whose memory comes from a
// lease shared by the decoder's buffers.
struct Buffer {
  std::vector<char> bytes;
  size_t begin = 0, end = 0;

  size_t size() const { return end - begin; }
  const char* data() const { return bytes.data() + begin; }
  void compact() {
    if (begin == 0) return;
    std::memmove(bytes.data(), bytes.data() + begin, end - begin);
    end -= begin;
    begin = 0;
  }
};

}  // namespace

struct LumberjackDecoder::Impl {
  LumberjackLimits limits;
  size_t read_chunk = 64 * 1024;
  MemoryLease lease;
  Buffer outer;          // bytes as read
  size_t last_area = 0;  // size of the last write_area()
  bool last_read_full = false;
  uint32_t window_size = 0;  // of the current window (0: none yet)
  uint32_t window_seen = 0;  // data frames of the current window so far
  // An oversized data frame being skipped, in the outer stream or in a compressed frame.
  uint64_t skip = 0, inner_skip = 0;
  uint32_t skip_seq = 0, inner_skip_seq = 0;
  uint64_t skip_len = 0, inner_skip_len = 0;
  // A compressed frame being inflated.
  bool in_compressed = false;
  uint64_t compressed_left = 0;  // its bytes not read yet
  uint64_t inflated_total = 0;
  bool inflate_done = false;
  std::unique_ptr<Inflater> inflater;
  Buffer inner;  // inflated bytes not decoded yet
  bool failed = false;
  bool starved = false;
  bool stopped = false;  // the last drain() stopped early (handler full, or starved)

  size_t footprint(size_t outer_cap, size_t inner_cap) const {
    return outer_cap + inner_cap + (inflater ? kInflaterMemory : 0);
  }
  size_t footprint() const { return footprint(outer.bytes.size(), inner.bytes.size()); }
  // Makes `b` hold at least `n` bytes, within the budget; false when refused.
  bool ensure(Buffer& b, size_t n) {
    if (b.bytes.size() >= n) return true;
    const size_t want = std::max(n, b.bytes.size() * 2);
    const size_t total = footprint() - b.bytes.size() + want;
    if (!lease.resize(total)) {
      const size_t exact = footprint() - b.bytes.size() + n;
      if (!lease.resize(exact)) return false;
      b.bytes.resize(n);
      return true;
    }
    b.bytes.resize(want);
    return true;
  }
  void shrink(Buffer& b, size_t n) {
    if (b.size() != 0 || b.bytes.size() <= n) return;
    std::vector<char>(n).swap(b.bytes);
    b.begin = b.end = 0;
    lease.resize(footprint());
  }

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

  // Decodes the frames in [p, p + n) (`nested`: inside a compressed frame, where only data frames
  // may be). Stops at a partial frame, at a compressed frame's header (its data is inflated by
  // drain), and when the handler is full. Returns the bytes consumed.
  Result<size_t> frames(const char* p, size_t n, size_t readable, bool nested,
                        LumberjackHandler& h) {
    size_t pos = 0;
    while (pos < n && !h.full()) {
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
        if (len <= limits.max_event && left - 10 < len) break;  // wait for the rest
        if (auto s = data_frame(seq); !s) return s;
        if (len > limits.max_event) {
          // Skipped as it streams in (bounded memory); reported once skipped.
          pos += 10;
          const size_t now = std::min<size_t>(len, n - pos);
          pos += now;
          if (now == len) {
            h.on_oversized_event(seq, len);
          } else {
            (nested ? inner_skip : skip) = len - now;
            (nested ? inner_skip_seq : skip_seq) = seq;
            (nested ? inner_skip_len : skip_len) = len;
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
        if (len == 0) return Status::invalid_argument("compressed frame: empty zlib stream");
        in_compressed = true;
        compressed_left = len;
        inflated_total = 0;
        inflate_done = false;
        if (!inflater) inflater = std::make_unique<Inflater>(InflateFormat::kZlib);
        inflater->reset();
        lease.force(footprint());  // zlib's state: counted, never refused half-way
        pos += 6;
        break;  // drain() inflates its data as it arrives
      } else {
        std::string what = "unexpected frame type ";
        what += (type >= 0x20 && type < 0x7f) ? std::string("'") + type + "'" : "0x" + hex(type);
        if (nested) what += " inside a compressed frame";
        return Status::invalid_argument(what);
      }
    }
    return pos;
  }

  // Skips what remains of an oversized event in `b`; true when it is all skipped.
  static bool skip_in(Buffer& b, uint64_t& left, uint32_t seq, uint64_t len, LumberjackHandler& h) {
    if (left == 0) return true;
    const size_t now = std::min<size_t>(left, b.size());
    left -= now;
    b.begin += now;
    if (left > 0) return false;
    h.on_oversized_event(seq, len);
    return true;
  }

  // One step inside a compressed frame. `progress`: something was done (decoded, inflated).
  Status compressed_step(LumberjackHandler& h, bool& progress) {
    progress = false;
    if (inner_skip > 0) {
      const size_t before = inner.size();
      skip_in(inner, inner_skip, inner_skip_seq, inner_skip_len, h);
      progress = inner.size() != before;
    }
    if (inner_skip == 0 && inner.size() > 0) {
      auto used = frames(inner.data(), inner.size(), inner.bytes.size() - inner.begin, true, h);
      if (!used) return used.status();
      inner.begin += *used;
      progress = progress || *used > 0;
      if (h.full()) return Status::ok();
    }
    if (inner.size() == 0) inner.begin = inner.end = 0;
    if (inflate_done) {
      if (compressed_left != 0) {
        return Status::invalid_argument("compressed frame: zlib stream is followed by " +
                                        std::to_string(compressed_left) + " unexpected bytes");
      }
      if (inner_skip != 0 || inner.size() >= 10) {
        return Status::invalid_argument("compressed frame ends inside a data frame");
      }
      if (inner.size() != 0) {
        return Status::invalid_argument("compressed frame ends inside a frame header");
      }
      in_compressed = false;
      inflater.reset();  // its memory goes back
      lease.resize(footprint());
      progress = true;
      return Status::ok();
    }
    const size_t available = std::min<uint64_t>(compressed_left, outer.size());
    if (available == 0) {
      if (compressed_left == 0) return Status::invalid_argument("compressed frame is truncated");
      return Status::ok();  // wait for more of it
    }
    // Room for what inflates: a chunk, or what the partial data frame at the head still needs.
    inner.compact();
    size_t need = inner.end + kInflateChunk + kJsonPadding;
    if (inner.size() >= 10 && inner_skip == 0) {
      const uint32_t len = be32(inner.data() + 6);
      if (len <= limits.max_event) need = std::max<size_t>(need, 10 + len + kJsonPadding);
    }
    if (!ensure(inner, need)) {
      starved = true;
      return Status::ok();
    }
    size_t consumed = 0, produced = 0;
    bool finished = false;
    const size_t room = inner.bytes.size() - inner.end - kJsonPadding;
    if (auto s = inflater->step(std::string_view(outer.data(), available),
                                std::span<char>(inner.bytes.data() + inner.end, room), consumed,
                                produced, finished);
        !s) {
      return Status(s.code(), "compressed frame: " + s.message());
    }
    outer.begin += consumed;
    compressed_left -= consumed;
    inner.end += produced;
    inflated_total += produced;
    if (inflated_total > limits.max_inflated) {
      return Status::resource_exhausted(
          "compressed frame: zlib data inflates beyond the limit of " +
          std::to_string(limits.max_inflated) + " bytes");
    }
    inflate_done = finished;
    progress = progress || consumed > 0 || produced > 0 || finished;
    return Status::ok();
  }

  Status drain(LumberjackHandler& h) {
    starved = false;
    while (!h.full()) {
      if (in_compressed) {
        bool progress = false;
        if (auto s = compressed_step(h, progress); !s) return s;
        if (starved || !progress) return Status::ok();
        continue;
      }
      if (!skip_in(outer, skip, skip_seq, skip_len, h)) return Status::ok();
      if (outer.size() == 0) return Status::ok();
      auto used = frames(outer.data(), outer.size(), outer.bytes.size() - outer.begin, false, h);
      if (!used) return used.status();
      outer.begin += *used;
      if (!in_compressed && (*used == 0 || skip > 0)) return Status::ok();
    }
    return Status::ok();
  }
};

LumberjackDecoder::LumberjackDecoder(LumberjackLimits limits, size_t read_chunk,
                                     MemoryBudget* budget)
    : impl_(std::make_unique<Impl>()) {
  impl_->limits = limits;
  impl_->read_chunk = std::max<size_t>(read_chunk, 64);
  impl_->lease = MemoryLease(budget);
}

LumberjackDecoder::~LumberjackDecoder() = default;

std::span<char> LumberjackDecoder::write_area() {
  Impl& im = *impl_;
  Buffer& b = im.outer;
  if (b.size() == 0) b.begin = b.end = 0;
  // Idle connections read into a small area; one that fills its reads gets read_chunk.
  size_t want = im.last_read_full ? im.read_chunk : std::min(kIdleRead, im.read_chunk);
  // A partial data frame at the head needs its whole length buffered.
  if (!im.in_compressed && im.skip == 0 && b.size() >= 10 && b.data()[0] == '2' &&
      b.data()[1] == 'J') {
    const uint32_t len = be32(b.data() + 6);
    if (len <= im.limits.max_event && 10 + len > b.size()) {
      want = std::max(want, std::min(10 + len - b.size(), im.read_chunk * 4));
    }
  }
  if (b.bytes.size() - b.end < want + kJsonPadding) {
    b.compact();
    if (!im.ensure(b, b.end + want + kJsonPadding)) {
      want = std::min(want, kIdleRead);
      if (!im.ensure(b, b.end + want + kJsonPadding)) return {};
    }
  }
  want = std::min(want, b.bytes.size() - b.end - kJsonPadding);
  im.last_area = want;
  return {b.bytes.data() + b.end, want};
}

void LumberjackDecoder::commit(size_t n) {
  impl_->outer.end += n;
  impl_->last_read_full = n == impl_->last_area;
}

Status LumberjackDecoder::drain(LumberjackHandler& h) {
  Impl& im = *impl_;
  if (im.failed) return Status::failed_precondition("the decoder failed earlier");
  Status s = im.drain(h);
  if (!s) im.failed = true;
  im.stopped = im.starved || h.full();
  return s;
}

bool LumberjackDecoder::pending() const { return impl_->stopped; }

bool LumberjackDecoder::starved() const { return impl_->starved; }

void LumberjackDecoder::trim() {
  Impl& im = *impl_;
  im.shrink(im.outer, kIdleRead + kJsonPadding);
  if (!im.in_compressed) im.shrink(im.inner, 0);
  im.last_read_full = false;
}

size_t LumberjackDecoder::memory() const { return impl_->footprint(); }

uint32_t LumberjackDecoder::window_remaining() const {
  return impl_->window_size - impl_->window_seen;
}

std::string lumberjack_ack(uint32_t seq) {
  std::string out = "2A";
  for (int i = 3; i >= 0; --i) out += static_cast<char>((seq >> (8 * i)) & 0xff);
  return out;
}

}  // namespace verity::ingest
