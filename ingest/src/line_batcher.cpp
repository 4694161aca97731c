#include "verity/ingest/line_batcher.h"

#include "message_envelope.h"

namespace verity::ingest {

LineBatcher::LineBatcher(std::string input,
                         std::shared_ptr<const document::FieldMappingSet> mappings,
                         const Clock& clock, DecoderLimits limits,
                         std::shared_ptr<const Masker> masker, MaskingMetrics* masking_metrics)
    : input_(std::move(input)),
      max_line_(limits.max_document_bytes),
      masking_metrics_(masking_metrics),
      decoder_(mappings, clock, limits, std::move(masker)) {
  if (mappings->envelope.enabled) {
    envelope_ = std::make_unique<MessageEnvelope>(
        mappings->envelope, mappings->default_mapping.pointers(document::Field::kRequestId));
  }
  batch_.input = input_;
}

bool LineBatcher::add(const FramedLine& line) {
  if (line.too_long) {
    Reject r;
    r.type = "line_too_long";
    r.reason = "line " + std::to_string(line.number) + ": " + std::to_string(line.length) +
               " bytes exceed max_line of " + std::to_string(max_line_) + " bytes";
    r.line = line.number;
    r.raw_length = line.length;
    keep(std::move(r));
    return false;
  }
  // A Filebeat envelope is opened before decoding, so that its outer document is not decoded and
  // masked for nothing.
  bool ok;
  if (envelope_ && MessageEnvelope::may_be_envelope(line.text) &&
      envelope_->open(line.text, line.readable, message_, source_)) {
    const size_t size = message_.size();
    message_.resize(size + kJsonPadding, ' ');
    ok = decode(std::string_view(message_.data(), size), message_.size(), line.number);
    if (ok) {
      // The envelope's kept members (host.name, log.file.path, agent.*) are masked like the
      // document: an email in a host name or a card number in a file path stays out of `source`.
      std::string masked;
      decoder_.mask_object(source_, masked);
      event_.source = std::move(masked);
    } else {
      // "line 3: missing ..." -> "line 3: in message: missing ..."
      const size_t colon = reject_.reason.find(": ");
      reject_.reason.insert(colon == std::string::npos ? 0 : colon + 2, "in message: ");
    }
  } else {
    ok = decode(line.text, line.readable, line.number);
  }
  if (ok) {
    batch_.events.push_back(std::move(event_));
  } else {
    keep(std::move(reject_));
    reject_ = Reject{};
  }
  return ok;
}

bool LineBatcher::decode(std::string_view json, size_t readable, uint64_t line) {
  const bool ok = decoder_.decode(json, readable, line, event_, reject_);
  if (masking_metrics_ != nullptr) {
    for (const auto& [name, n] : decoder_.mask_counts()) {
      mask_counts_[{ok ? event_.model_name : std::string(), name}] += n;
    }
    luhn_rejected_ += decoder_.luhn_rejected();
  }
  return ok;
}

void LineBatcher::add_reject(Reject reject) { keep(std::move(reject)); }

void LineBatcher::keep(Reject r) {
  if (batch_.rejects.size() < max_rejects_) {
    batch_.rejects.push_back(std::move(r));
    return;
  }
  for (auto& [type, n] : batch_.omitted_rejects) {
    if (type == r.type) {
      ++n;
      return;
    }
  }
  batch_.omitted_rejects.emplace_back(std::move(r.type), 1);
}

void LineBatcher::reject_last_event(std::string type, std::string reason) {
  Event& e = batch_.events.back();
  Reject r;
  r.type = std::move(type);
  r.reason = std::move(reason);
  r.line = e.line;
  r.raw_length = e.document.size();
  r.document = std::move(e.document);
  batch_.events.pop_back();
  keep(std::move(r));
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
