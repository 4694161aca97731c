// Fuzzes the parser of Elasticsearch's _bulk answers (untrusted bytes from the network).
#include <cstdint>
#include <string_view>

#include "verity/shippers/bulk_response.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using verity::shippers::BulkItemOutcome;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  std::vector<BulkItemOutcome> out;
  const size_t actions = size % 7;
  if (!verity::shippers::parse_bulk_response(body, actions, out)) {
    if (!out.empty()) __builtin_trap();
    return 0;
  }
  if (out.size() != actions) __builtin_trap();
  for (const auto& r : out) {
    if (r.status != 0 && (r.status < 100 || r.status > 599)) __builtin_trap();
    if (r.kind == BulkItemOutcome::Kind::kDelivered && r.status != 409 &&
        (r.status < 200 || r.status >= 300)) {
      __builtin_trap();
    }
    if (r.kind == BulkItemOutcome::Kind::kDead && (r.status < 400 || r.status >= 500)) {
      __builtin_trap();
    }
    if (r.reason.size() > 500 || r.type.size() > 200) __builtin_trap();
  }
  return 0;
}
