#pragma once

#include <string>

namespace verity::testing {

// Compresses `in` (zlib; gzip framing when `gzip`), for test request bodies and Lumberjack frames.
std::string compress(const std::string& in, bool gzip);

}  // namespace verity::testing
