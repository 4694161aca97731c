#include "verity/ingest/line_batcher.h"

namespace verity::ingest {

LineBatcher::LineBatcher(std::string input, std::shared_ptr<const FieldMappingSet> mappings,
                         const Clock& clock, DecoderLimits limits,
                         std::shared_ptr<const Masker> masker, MaskingMetrics* masking_metrics)
    : input_(std::move(input)),
      max_line_(limits.max_document_bytes),
      masking_metrics_(masking_metrics),
      decoder_(std::move(mappings), clock, limits, std::move(masker)) {
  batch_.input = input_;
}

void LineBatcher::add(const FramedLine& line) {
  if (line.too_long) {
    Reject r;
    r.type = "line_too_long";
    r.reason = "line " + std::to_string(line.number) + ": " + std::to_string(line.length) +
               " bytes exceed max_line of " + std::to_string(max_line_) + " bytes";
    r.line = line.number;
    r.raw_length = line.length;
    batch_.rejects.push_back(std::move(r));
    return;
  }
  const bool ok = decoder_.decode(line.text, line.readable, line.number, event_, reject_);
  if (masking_metrics_ != nullptr) {
    for (const auto& [name, n] : decoder_.mask_counts()) {
      mask_counts_[{ok ? event_.model_name : std::string(), name}] += n;
    }
    luhn_rejected_ += decoder_.luhn_rejected();
  }
  if (ok) {
    batch_.events.push_back(std::move(event_));
  } else {
    batch_.rejects.push_back(std::move(reject_));
  }
}

LineBatcher::~LineBatcher() {
  if (masking_metrics_ != nullptr) masking_metrics_->flush(mask_counts_, luhn_rejected_);
}

store::IngestBatch LineBatcher::take() {
  if (masking_metrics_ != nullptr) masking_metrics_->flush(mask_counts_, luhn_rejected_);
  store::IngestBatch out = std::move(batch_);
  batch_ = store::IngestBatch{};
  batch_.input = input_;
  return out;
}

}  // namespace verity::ingest
