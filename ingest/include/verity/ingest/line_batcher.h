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
class MessageEnvelope;

class LineBatcher {
 public:
  // `masker` (may be null) masks every document; `masking_metrics` (may be null) counts it.
  LineBatcher(std::string input, std::shared_ptr<const document::FieldMappingSet> mappings,
              const Clock& clock, DecoderLimits limits,
              std::shared_ptr<const Masker> masker = nullptr,
              MaskingMetrics* masking_metrics = nullptr);

  ~LineBatcher();  // flushes masking counts not yet flushed by take()
  LineBatcher(const LineBatcher&) = delete;
  LineBatcher& operator=(const LineBatcher&) = delete;

  // Decodes a line into an event (true) or a reject (false). A document without a request id whose
  // `message` holds a JSON object (a Filebeat envelope) is decoded from the message, and the
  // envelope's kept members become the event's source metadata.
  bool add(const FramedLine& line);
  // Adds a reject that is not about a line's content (an unsupported bulk action, say).
  void add_reject(Reject reject);
  // The event the last add() produced. REQUIRES: that add() returned true.
  const Event& last_event() const { return batch_.events.back(); }
  // Turns the last event into a reject of the given type (the document is kept, as for every
  // reject of valid JSON). REQUIRES: the last add() returned true.
  void reject_last_event(std::string type, std::string reason);

  bool empty() const {
    return batch_.events.empty() && batch_.rejects.empty() && batch_.omitted_rejects.empty();
  }
  size_t size() const { return batch_.events.size() + batch_.rejects.size() + batch_.omitted(); }
  // Most rejects a batch keeps (for the dead-letter store); beyond, they are only counted by type
  // (IngestBatch::omitted_rejects). Default 1000.
  void set_max_rejects(size_t n) { max_rejects_ = n; }
  // Hands over the batch built so far and starts a new one; flushes the batch's masking counts.
  store::IngestBatch take();

 private:
  bool decode(std::string_view json, size_t readable, uint64_t line);  // into event_ or reject_
  void keep(Reject r);  // into the batch, or counted when it holds max_rejects_ already

  std::string input_;
  size_t max_line_;
  MaskingMetrics* masking_metrics_;
  MaskingMetrics::Counts mask_counts_;  // this batch's masking counts, flushed by take()
  uint64_t luhn_rejected_ = 0;
  DocumentDecoder decoder_;
  std::unique_ptr<MessageEnvelope> envelope_;
  std::string message_;  // the unwrapped message, padded for the decoder
  std::string source_;   // the envelope's metadata
  store::IngestBatch batch_;
  size_t max_rejects_ = 1000;
  Event event_;
  Reject reject_;
};

}  // namespace verity::ingest
