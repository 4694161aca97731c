// Fuzzes the Elasticsearch bulk parser and the decoding of every source it yields, as POST /_bulk
// does.
#include <cstdint>
#include <string_view>

#include "verity/ingest/bulk_request.h"
#include "verity/ingest/line_batcher.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace verity;
  static ManualClock clock(1795000000000);
  static auto mappings = std::make_shared<const document::FieldMappingSet>();
  static ingest::BulkParser parser(1024);
  ingest::LineBatcher batcher("fuzz", mappings, clock, ingest::DecoderLimits{1024, 64, 256});
  std::vector<ingest::BulkItem> items;
  ingest::BulkError error;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  if (!parser.parse(body, size % 2 ? "idx" : "", items, error)) {
    if (error.type.empty() || error.reason.empty() || !items.empty()) __builtin_trap();
    return 0;
  }
  for (const auto& item : items) {
    if (item.index.empty() || item.action_line == 0) __builtin_trap();
    if (item.op == ingest::BulkOp::kDelete) {
      if (item.source.number != 0) __builtin_trap();
      continue;
    }
    if (item.source.number <= item.action_line) __builtin_trap();
    if (!item.source.too_long && item.source.text.size() > 1024) __builtin_trap();
    batcher.add(item.source);
  }
  batcher.take();
  return 0;
}
