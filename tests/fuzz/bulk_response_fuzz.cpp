// Fuzzes the parsers of Elasticsearch's answers (untrusted bytes from the network): _bulk answers
// and by-query answers. Never a crash; every outcome is consistent with its status; every text kept
// is bounded and valid UTF-8.
#include <cstdint>
#include <string_view>

#include "verity/document/json_writer.h"
#include "verity/shippers/bulk_response.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace verity::shippers;
  using verity::document::is_valid_utf8;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  std::vector<BulkItemOutcome> out;
  const size_t actions = size % 7;
  if (!parse_bulk_response(body, actions, out)) {
    if (!out.empty()) __builtin_trap();
  } else {
    if (out.size() != actions) __builtin_trap();
    for (const auto& r : out) {
      if (r.status != 0 && (r.status < 100 || r.status > 599)) __builtin_trap();
      if (r.verdict == Verdict::kDone && r.status != 409 && (r.status < 200 || r.status >= 300)) {
        __builtin_trap();
      }
      if (r.verdict == Verdict::kRefused && (r.status < 400 || r.status >= 500)) __builtin_trap();
      if (r.reason.size() > 500 || r.type.size() > 200) __builtin_trap();
      if (!is_valid_utf8(r.reason) || !is_valid_utf8(r.type)) __builtin_trap();
    }
  }
  ByQueryAnswer a;
  if (parse_by_query_response(body, a)) {
    for (const auto& f : a.failures) {
      if (f.status == 0 && f.verdict != Verdict::kRetry) __builtin_trap();
      if (f.verdict == Verdict::kRefused && (f.status < 400 || f.status >= 500 || f.status == 409 ||
                                             f.status == 408 || f.status == 429)) {
        __builtin_trap();
      }
      if (f.id.size() > 512 || f.type.size() > 200 || f.reason.size() > 500) __builtin_trap();
      if (!is_valid_utf8(f.id) || !is_valid_utf8(f.reason)) __builtin_trap();
    }
  } else if (!a.failures.empty()) {
    __builtin_trap();
  }
  return 0;
}
