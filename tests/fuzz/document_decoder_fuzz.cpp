// Fuzzes the document decoder on one document: it must never crash, and an accepted document must
// carry a request id of 1..256 bytes and, for predictions, a model name, and its idempotency digest
// (SIMD minify, then hash) must equal the plain walk's.
#include <cstdint>
#include <string_view>

#include "verity/core/sha256.h"
#include "verity/ingest/document_decoder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace verity;
  static ManualClock clock(1795000000000);
  static ingest::DocumentDecoder decoder(std::make_shared<const document::FieldMappingSet>(), clock,
                                         ingest::DecoderLimits{64 * 1024, 64, 256});
  Event event;
  Reject reject;
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  if (decoder.decode(json, size, 1, event, reject)) {
    if (event.request_id.empty() || event.request_id.size() > 256) __builtin_trap();
    if (event.kind == EventKind::kPrediction && event.model_name.empty()) __builtin_trap();
    if (event.document != json) __builtin_trap();
    if (sha256_json_canonical(json) != sha256_json_canonical_reference(json)) __builtin_trap();
  } else {
    if (reject.type.empty() || reject.reason.rfind("line 1: ", 0) != 0) __builtin_trap();
  }
  return 0;
}
