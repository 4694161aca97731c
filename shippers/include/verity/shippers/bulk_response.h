#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "verity/shippers/retry_policy.h"

namespace verity::shippers {

// What to do with one bulk item, from Elasticsearch's answer.
struct BulkItemOutcome {
  Verdict verdict = Verdict::kRetry;  // kDone, kRetry (also: an item the answer does not describe)
                                      // or kRefused
  int status = 0;
  std::string type, reason;  // error.type and error.reason (valid UTF-8, at most 200 and 500
                             // bytes), when given
};

// Parses the body of a 200 answer to a _bulk request of `actions` items. False (and `out` empty)
// when the body is not JSON or does not list exactly one item per action; the caller then retries
// them all. Never throws; the body is untrusted (fuzzed: tests/fuzz/bulk_response_fuzz.cpp).
bool parse_bulk_response(std::string_view body, size_t actions, std::vector<BulkItemOutcome>& out);

// A 2xx answer to _update_by_query or _delete_by_query.
struct ByQueryAnswer {
  bool timed_out = false;
  struct Failure {
    std::string id;  // the document's _id, when the failure names one
    int status = 0;
    Verdict verdict = Verdict::kRetry;
    std::string type, reason;  // cause.type and cause.reason, bounded like bulk items'
  };
  std::vector<Failure> failures;
};
// Parses a by-query answer. False when the body is not a JSON object with a `failures` array (the
// caller retries). Never throws; fuzzed with the bulk answers.
bool parse_by_query_response(std::string_view body, ByQueryAnswer& out);

}  // namespace verity::shippers
