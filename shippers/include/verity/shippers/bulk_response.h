#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace verity::shippers {

// What to do with one bulk item, from Elasticsearch's answer.
struct BulkItemOutcome {
  enum class Kind {
    kDelivered,  // 2xx, or 409 on our own _id (already there)
    kRetry,      // 429, 5xx, or an item the answer does not describe
    kDead,       // any other 4xx: refused for good
  };
  Kind kind = Kind::kRetry;
  int status = 0;
  std::string type, reason;  // error.type and error.reason (at most 500 bytes), when given
};

// Parses the body of a 200 answer to a _bulk request of `actions` items. False (and `out` empty)
// when the body is not JSON or does not list exactly one item per action; the caller then retries
// them all. Never throws; the body is untrusted (fuzzed: tests/fuzz/bulk_response_fuzz.cpp).
bool parse_bulk_response(std::string_view body, size_t actions, std::vector<BulkItemOutcome>& out);

}  // namespace verity::shippers
