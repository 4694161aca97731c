#pragma once

#include <cstddef>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "verity/core/clock.h"
#include "verity/core/event.h"
#include "verity/document/field_mapping.h"
#include "verity/ingest/masker.h"

namespace verity::ingest {

// Bytes simdjson may read past the end of a document. A caller that can guarantee this many
// readable bytes after a document passes them as `readable` to decode() and saves a copy.
inline constexpr size_t kJsonPadding = 64;

// Limits on one document, enforced before and while parsing.
struct DecoderLimits {
  size_t max_document_bytes = 1 << 20;
  int max_depth = 64;
  size_t max_id_bytes = 256;
};

// Decodes one JSON document (one NDJSON line, one bulk source) into an Event, or explains in a
// Reject why it cannot. Uses simdjson On-Demand with error codes; visits every value once, so the
// whole document is validated, and captures the mapped fields in the same pass.
//
// Not thread-safe: it owns a parser. Use one per thread. The mapping set is shared and immutable.
class DocumentDecoder {
 public:
  // With a masker, every document is masked in the same pass (rules, then detectors) and the
  // stored document, captured fields and rejects all carry masked values only.
  DocumentDecoder(std::shared_ptr<const document::FieldMappingSet> mappings, const Clock& clock,
                  DecoderLimits limits = {}, std::shared_ptr<const Masker> masker = nullptr);
  ~DocumentDecoder();
  DocumentDecoder(const DocumentDecoder&) = delete;
  DocumentDecoder& operator=(const DocumentDecoder&) = delete;

  // Decodes `json` (line `line` of its source). On success fills `event` and returns true;
  // otherwise fills `reject` and returns false. `readable` is how many bytes from json.data() may
  // be read
  // (>= json.size() + kJsonPadding avoids a copy; pass json.size() when unsure).
  bool decode(std::string_view json, size_t readable, uint64_t line, Event& event, Reject& reject);

  // Masks a JSON object that is not a document (an envelope's metadata) with the default policy:
  // rules on its paths and every detector, values and member names. Without a masker, or when
  // `json` is not a JSON object, `out` is `json` unchanged (the latter returns false).
  bool mask_object(std::string_view json, std::string& out);

  // What masking did to the last document: counts by "rule:<path>" / "detector:<name>", valid until
  // the next decode; and card-shaped numbers left alone because they failed Luhn.
  const std::vector<std::pair<std::string_view, uint32_t>>& mask_counts() const;
  uint64_t luhn_rejected() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace verity::ingest
