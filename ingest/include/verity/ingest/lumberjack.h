#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "verity/core/status.h"

namespace verity::ingest {

struct LumberjackLimits {
  size_t max_event = 1 << 20;         // a larger JSON data frame becomes an event_too_large reject
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
};

// Decoder for the Lumberjack v2 protocol Beats speak (elastic/go-lumber): frames '2W' (window:
// u32 size), '2J' (JSON data: u32 seq, u32 length, payload), '2C' (u32 length, zlib data holding
// complete 2J frames); integers big-endian. It checks the protocol as it goes: every data frame
// lies inside a window (1 <= seq <= size, at most size frames), a new window starts only when the
// previous one is complete, nothing is nested in a compressed frame but data frames, and every
// limit holds. A violation is a Status (the connection must close); an oversized event is not.
// Bounded memory: at most max_frame + a read chunk buffered, max_inflated per compressed frame.
class LumberjackDecoder {
 public:
  explicit LumberjackDecoder(LumberjackLimits limits, size_t read_chunk = 64 * 1024);
  ~LumberjackDecoder();
  LumberjackDecoder(const LumberjackDecoder&) = delete;
  LumberjackDecoder& operator=(const LumberjackDecoder&) = delete;

  // Where the next read should write (at least one byte).
  std::span<char> write_area();
  void commit(size_t n);
  // Decodes every complete frame received so far. After an error the decoder is unusable.
  Status drain(LumberjackHandler& handler);

  // Events of the current window still to come (0 between windows).
  uint32_t window_remaining() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Encodes an ACK frame ('2A', u32 sequence).
std::string lumberjack_ack(uint32_t seq);

}  // namespace verity::ingest
