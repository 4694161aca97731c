#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "verity/core/status.h"

namespace verity::ingest {

enum class InflateFormat {
  kZlib,  // RFC 1950 (Lumberjack's compressed frames)
  kGzip,  // RFC 1952 (HTTP Content-Encoding: gzip); several concatenated members are accepted
};

// Appends the decompressed form of `in` to `out`, refusing to produce more than `max_out` bytes so
// that a small bomb cannot exhaust memory. Errors: kResourceExhausted (the output would exceed
// max_out), kInvalidArgument (corrupt, truncated, or trailing bytes after the stream). On error
// `out` may hold a partial result.
Status inflate(std::string_view in, InflateFormat format, size_t max_out, std::string& out);

// One zlib or gzip stream inflated piece by piece, for input that arrives in reads and output
// that must stay in bounded buffers (a compressed Lumberjack frame is never held whole, nor all it
// inflates to). Not thread-safe.
class Inflater {
 public:
  explicit Inflater(InflateFormat format);
  ~Inflater();
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  // Inflates from `in` into `out`: `consumed` bytes of in were read, `produced` bytes of out
  // written; `finished` once the stream's end was reached (no input after it is consumed).
  // Errors: kInvalidArgument (corrupt stream).
  Status step(std::string_view in, std::span<char> out, size_t& consumed, size_t& produced,
              bool& finished);
  // Starts a new stream.
  void reset();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace verity::ingest
