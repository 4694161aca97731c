#include "verity/shippers/retry_policy.h"

#include <algorithm>

namespace verity::shippers {

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::kDone:
      return "ok";
    case Verdict::kRetry:
      return "retryable";
    case Verdict::kRefused:
      return "refused";
    case Verdict::kTooLarge:
      return "too_large";
    case Verdict::kUnauthorized:
      return "unauthorized";
  }
  return "unknown";
}

Verdict classify_request(long status) {
  if (status >= 200 && status < 300) return Verdict::kDone;
  if (status == 413) return Verdict::kTooLarge;
  if (status == 401 || status == 403) return Verdict::kUnauthorized;
  if (status >= 400 && status < 500 && status != 408 && status != 409 && status != 429) {
    return Verdict::kRefused;  // 400, 404, 405, 415, ...: this request will never be taken
  }
  return Verdict::kRetry;  // 408, 409, 429, 5xx, and anything not understood (1xx, 3xx)
}

Verdict classify_bulk_item(int status) {
  if ((status >= 200 && status < 300) || status == 409) return Verdict::kDone;
  if (status >= 400 && status < 500 && status != 408 && status != 429) return Verdict::kRefused;
  return Verdict::kRetry;
}

Verdict classify_by_query_failure(int status) {
  if (status >= 200 && status < 300) return Verdict::kDone;
  if (status >= 400 && status < 500 && status != 408 && status != 409 && status != 429) {
    return Verdict::kRefused;
  }
  return Verdict::kRetry;
}

Backoff::Backoff(Duration initial, Duration max, uint64_t seed)
    : initial_(std::max(initial, Duration(1))),
      max_(std::max(max, initial_)),
      current_(initial_),
      rng_(seed) {}

Duration Backoff::next() {
  const int64_t d = current_.count();
  std::uniform_int_distribution<int64_t> jitter(d / 2, d);
  current_ = std::min(max_, Duration(d * 2));
  return Duration(jitter(rng_));
}

}  // namespace verity::shippers
