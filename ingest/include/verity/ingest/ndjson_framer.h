#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>

#include "verity/ingest/document_decoder.h"
#include "verity/ingest/memory_budget.h"

namespace verity::ingest {

// One line cut from a byte stream. `text` excludes the '\n' and a trailing '\r'. When `too_long` is
// set the line exceeded max_line, its bytes were dropped, and only `length` is known.
struct FramedLine {
  std::string_view text;
  size_t readable = 0;  // bytes readable from text.data() (>= text.size() + kJsonPadding)
  uint64_t number = 0;  // 1-based line number in the stream
  uint64_t length = 0;  // bytes in the line as sent (without the '\n')
  bool too_long = false;
};

// Splits a stream into newline-delimited lines without copying them. Owns a buffer that grows up to
// max_line + read_chunk + kJsonPadding bytes; a line longer than max_line is dropped as it streams
// in (bounded memory) and reported once, as too_long, when its newline arrives. Blank lines are
// skipped but counted in line numbers. Not thread-safe.
// With a MemoryBudget, the buffer is reserved from it before it grows: an idle connection holds
// 4 KiB, and when the budget refuses, write_area() is empty (stop reading; retry later).
class NdjsonFramer {
 public:
  NdjsonFramer(size_t max_line, size_t read_chunk = 64 * 1024, MemoryBudget* budget = nullptr);

  // Where the next read should write; at most read_chunk bytes (4 KiB while the connection is
  // idle). Empty when the memory budget grants no room.
  std::span<char> write_area();
  // Gives back buffer memory while no incomplete line is buffered.
  void trim();
  // Records that `n` bytes were written at the start of write_area().
  void commit(size_t n);

  // Calls on_line(const FramedLine&) for every complete line received so far. Lines stay valid only
  // during the call.
  template <typename F>
  void drain(F&& on_line);
  // At end of stream: a final line without '\n' counts as a line.
  template <typename F>
  void finish(F&& on_line);

  // Bytes buffered for an incomplete line.
  size_t pending_bytes() const { return end_ - begin_; }
  size_t capacity() const { return capacity_; }

 private:
  bool reserve_for_read();
  bool emit(size_t line_end, FramedLine& out);  // false for a blank line

  size_t max_line_;
  size_t read_chunk_;
  std::unique_ptr<char[]> buf_;
  size_t capacity_ = 0;
  size_t begin_ = 0;  // start of the current (incomplete) line
  size_t scan_ = 0;   // bytes before this were searched for '\n'
  size_t end_ = 0;    // end of the bytes received
  uint64_t line_no_ = 0;
  uint64_t discarded_ = 0;  // bytes dropped from the current too-long line
  bool discarding_ = false;
  size_t area_ = 0;  // size of the last write_area()
  bool last_read_full_ = false;
  MemoryLease lease_;
};

template <typename F>
void NdjsonFramer::drain(F&& on_line) {
  while (scan_ < end_) {
    const void* nl = std::memchr(buf_.get() + scan_, '\n', end_ - scan_);
    if (nl == nullptr) break;
    const size_t pos = static_cast<size_t>(static_cast<const char*>(nl) - buf_.get());
    FramedLine line;
    if (emit(pos, line)) on_line(static_cast<const FramedLine&>(line));
    begin_ = scan_ = pos + 1;
  }
  scan_ = end_;
  if (end_ - begin_ > max_line_) {  // the current line is too long: stop buffering it
    discarding_ = true;
    discarded_ += end_ - begin_;
    begin_ = scan_ = end_;
  }
}

template <typename F>
void NdjsonFramer::finish(F&& on_line) {
  drain(on_line);
  if (end_ > begin_ || discarding_) {
    FramedLine line;
    if (emit(end_, line)) on_line(static_cast<const FramedLine&>(line));
    begin_ = scan_ = end_;
  }
}

}  // namespace verity::ingest
