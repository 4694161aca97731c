#pragma once

#include <memory>
#include <string>

#include "verity/core/clock.h"
#include "verity/ingest/document_decoder.h"
#include "verity/ingest/masking_metrics.h"
#include "verity/ingest/ndjson_framer.h"
#include "verity/store/ingest_batch.h"

namespace verity::ingest {

// Decodes framed NDJSON lines into a batch of events and rejects for the store. Used by every input
// that carries NDJSON. Not thread-safe (owns a decoder): one per connection or request.
class LineBatcher {
 public:
  // `masker` (may be null) masks every document; `masking_metrics` (may be null) counts it.
  LineBatcher(std::string input, std::shared_ptr<const FieldMappingSet> mappings,
              const Clock& clock, DecoderLimits limits,
              std::shared_ptr<const Masker> masker = nullptr,
              MaskingMetrics* masking_metrics = nullptr);

  ~LineBatcher();  // flushes masking counts not yet flushed by take()
  LineBatcher(const LineBatcher&) = delete;
  LineBatcher& operator=(const LineBatcher&) = delete;

  void add(const FramedLine& line);
  bool empty() const { return batch_.events.empty() && batch_.rejects.empty(); }
  size_t size() const { return batch_.events.size() + batch_.rejects.size(); }
  // Hands over the batch built so far and starts a new one; flushes the batch's masking counts.
  store::IngestBatch take();

 private:
  std::string input_;
  size_t max_line_;
  MaskingMetrics* masking_metrics_;
  MaskingMetrics::Counts mask_counts_;  // this batch's masking counts, flushed by take()
  uint64_t luhn_rejected_ = 0;
  DocumentDecoder decoder_;
  store::IngestBatch batch_;
  Event event_;
  Reject reject_;
};

}  // namespace verity::ingest
