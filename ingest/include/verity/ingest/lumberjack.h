#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "verity/core/status.h"

namespace verity::ingest {

class MemoryBudget;

struct LumberjackLimits {
  size_t max_event = 1 << 20;         // a larger JSON data frame becomes a line_too_long reject
  size_t max_frame = 32ull << 20;     // a larger compressed frame is a protocol error
  size_t max_inflated = 64ull << 20;  // bytes one compressed frame may inflate to (zlib bombs)
  uint32_t max_window = 65536;        // a larger window size is a protocol error
};

// What the decoder found, in stream order.
class LumberjackHandler {
 public:
  virtual ~LumberjackHandler() = default;
  virtual void on_window(uint32_t size) = 0;
  // One event. `json` stays valid during the call; json.data() has `readable` readable bytes
  // (at least json.size() + kJsonPadding).
  virtual void on_event(uint32_t seq, std::string_view json, size_t readable) = 0;
  // An event whose data frame exceeded max_event; its bytes were skipped.
  virtual void on_oversized_event(uint32_t seq, uint64_t length) = 0;
  // True when the handler takes no more events for now: drain() stops, keeping what it has not
  // decoded (a compressed frame stays half-inflated), and decodes on at the next drain().
  virtual bool full() const { return false; }
};

// Decoder for the Lumberjack v2 protocol Beats speak (elastic/go-lumber): frames '2W' (window:
// u32 size), '2J' (JSON data: u32 seq, u32 length, payload), '2C' (u32 length, zlib data holding
// complete 2J frames); integers big-endian. It checks the protocol as it goes: every data frame
// lies inside a window (1 <= seq <= size, at most size frames), a new window starts only when the
// previous one is complete, nothing is nested in a compressed frame but data frames, and every
// limit holds. A violation is a Status (the connection must close); an oversized event is not.
//
// Bounded memory, as bytes arrive: a compressed frame is inflated as its bytes are read (never
// held whole), into a buffer that holds at most one partial data frame (max_event) besides what
// is being decoded; an oversized event is skipped as it streams, compressed or not. An idle
// decoder holds 4 KiB; trim() gives buffers back. With a MemoryBudget, every buffer is reserved
// from it first: when it refuses, write_area() is empty and drain() stops (starved()), and the
// connection must wait (stop reading) rather than grow.
class LumberjackDecoder {
 public:
  explicit LumberjackDecoder(LumberjackLimits limits, size_t read_chunk = 64 * 1024,
                             MemoryBudget* budget = nullptr);
  ~LumberjackDecoder();
  LumberjackDecoder(const LumberjackDecoder&) = delete;
  LumberjackDecoder& operator=(const LumberjackDecoder&) = delete;

  // Where the next read should write: small while the connection is idle, read_chunk once reads
  // fill it. Empty when the memory budget grants no room (do not read now).
  std::span<char> write_area();
  void commit(size_t n);
  // Decodes what it can of what was received. After an error the decoder is unusable. Returns
  // early (ok) when the handler is full() or memory is short (starved()).
  Status drain(LumberjackHandler& handler);
  // Received bytes drain() has not decoded yet (it stopped for the handler or for memory): drain
  // again before reading more.
  bool pending() const;
  // The last drain() stopped because the memory budget refused a buffer.
  bool starved() const;
  // Gives back buffer memory while nothing is buffered.
  void trim();
  // Bytes of buffers the decoder holds now.
  size_t memory() const;

  // Events of the current window still to come (0 between windows).
  uint32_t window_remaining() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Encodes an ACK frame ('2A', u32 sequence).
std::string lumberjack_ack(uint32_t seq);

}  // namespace verity::ingest
