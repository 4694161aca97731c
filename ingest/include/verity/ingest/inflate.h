#pragma once

#include <cstddef>
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

}  // namespace verity::ingest
