#pragma once

#include <cstdint>
#include <random>

#include "verity/core/units.h"

namespace verity::shippers {

// What to do about an answer, for whole requests (_bulk, _update_by_query, _delete_by_query) and
// for the items of a _bulk answer alike. The one place outcomes are classified.
enum class Verdict {
  kDone,          // delivered (2xx; for a bulk item also 409 on our own _id: already there)
  kRetry,         // try again later: connection errors, timeouts, 408, 429, 5xx, conflicts
  kRefused,       // refused for good (any other 4xx): dead-letter it and move on
  kTooLarge,      // 413: split the request
  kUnauthorized,  // 401/403: pause until the credentials are accepted; nothing is dropped
};
const char* verdict_name(Verdict v);

// A whole request's HTTP status. 2xx is kDone (then read the answer's items or failures).
Verdict classify_request(long status);
// One item of a _bulk answer to our `create` actions (409: the _id is there already).
Verdict classify_bulk_item(int status);
// One entry of a by-query answer's `failures` (409 is a version conflict there: retried).
Verdict classify_by_query_failure(int status);

// Capped exponential backoff with jitter: each delay is drawn from [d/2, d], then d doubles up to
// `max`. reset() after a success. Deterministic for a given seed (tests).
class Backoff {
 public:
  Backoff(Duration initial, Duration max, uint64_t seed);
  Duration next();
  void reset() { current_ = initial_; }

 private:
  Duration initial_, max_, current_;
  std::mt19937_64 rng_;
};

}  // namespace verity::shippers
