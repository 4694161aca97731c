#include "verity/ingest/ndjson_framer.h"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace verity::ingest {

namespace {
constexpr size_t kIdleRead = 4096;
}  // namespace

NdjsonFramer::NdjsonFramer(size_t max_line, size_t read_chunk, MemoryBudget* budget)
    : max_line_(max_line), read_chunk_(std::max<size_t>(read_chunk, 1)), lease_(budget) {}

bool NdjsonFramer::reserve_for_read() {
  // Idle connections, and those holding part of a line that trickles in, read into a small area;
  // one whose reads fill it gets read_chunk.
  area_ = last_read_full_ ? read_chunk_ : std::min(kIdleRead, read_chunk_);
  // Keep kJsonPadding spare bytes after the data so every line can be parsed in place.
  if (capacity_ - end_ >= area_ + kJsonPadding) return true;
  if (begin_ > 0) {  // move the incomplete line to the front
    const size_t n = end_ - begin_;
    std::memmove(buf_.get(), buf_.get() + begin_, n);
    scan_ -= begin_;
    end_ = n;
    begin_ = 0;
    if (capacity_ - end_ >= area_ + kJsonPadding) return true;
  }
  // The incomplete line is at most max_line bytes (drain() drops longer ones), so this is bounded
  // by max_line + read_chunk + kJsonPadding.
  const size_t need = end_ + area_ + kJsonPadding;
  size_t cap = std::max(need, std::min(capacity_ * 2, max_line_ + read_chunk_ + kJsonPadding));
  if (!lease_.resize(cap)) {
    cap = need;
    if (!lease_.resize(cap)) return false;
  }
  auto grown = std::make_unique<char[]>(cap);
  if (end_ > 0) std::memcpy(grown.get(), buf_.get(), end_);
  buf_ = std::move(grown);
  capacity_ = cap;
  return true;
}

std::span<char> NdjsonFramer::write_area() {
  if (!reserve_for_read()) return {};
  return {buf_.get() + end_, area_};
}

void NdjsonFramer::commit(size_t n) {
  assert(n <= area_ && end_ + n + kJsonPadding <= capacity_);
  end_ += n;
  last_read_full_ = n == area_;
}

void NdjsonFramer::trim() {
  if (end_ != begin_ || discarding_ || capacity_ <= kIdleRead + kJsonPadding) return;
  buf_.reset();
  capacity_ = 0;
  begin_ = scan_ = end_ = 0;
  lease_.resize(0);
}

bool NdjsonFramer::emit(size_t line_end, FramedLine& out) {
  ++line_no_;
  out.number = line_no_;
  if (discarding_) {
    out.too_long = true;
    out.length = discarded_ + (line_end - begin_);
    discarding_ = false;
    discarded_ = 0;
    return true;
  }
  size_t n = line_end - begin_;
  out.length = n;
  if (n > max_line_) {
    out.too_long = true;
    return true;
  }
  const char* p = buf_.get() + begin_;
  if (n > 0 && p[n - 1] == '\r') --n;
  // Blank (whitespace-only) lines are keep-alives and separators, not events.
  size_t i = 0;
  while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r')) ++i;
  if (i == n) return false;
  out.text = std::string_view(p, n);
  out.readable = capacity_ - begin_;
  return true;
}

}  // namespace verity::ingest
