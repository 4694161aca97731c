#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "verity/core/time_format.h"

namespace verity {

// What a decoded document is. DESIGN.md: a document with a ground truth and no outputs is a label.
enum class EventKind : uint8_t { kPrediction = 1, kLabel = 2 };

// What the decoder read of the fields model quality aggregates, exactly as the stored document
// holds them, so the contribution of a prediction needs no second parse (quality/contributor.cpp).
// `mapping` is null when the decoder cannot vouch for them (masking changed one of them, a
// pointer may cross an array, an integer past 64 bits, a label): readers then parse the document.
struct ObservedFields {
  enum class Type : uint8_t { kNone, kNull, kNumber, kString, kBoolean, kArray, kObject };
  struct Member {
    std::string name;  // unescaped
    Type type = Type::kNull;
    double number = 0;  // numbers as a DOM reads them (integers of 64 bits converted)
  };
  const void* mapping = nullptr;  // the document::FieldMapping they were read with
  Type predicted = Type::kNone;   // the predicted value (first scalar predicted value, then output)
  bool has_confidence = false;    // the first confidence pointer holding a number
  double confidence = 0;
  bool has_inputs = false;  // the first inputs pointer holding an object, and its members in order
  std::vector<Member> inputs;
};

// One decoded, validated document on its way to the store. `document` holds the document as it will
// be stored: the original JSON text (masked, once masking is configured). Plain value type,
// movable.
struct Event {
  EventKind kind = EventKind::kPrediction;
  std::string request_id;        // 1..256 bytes
  EpochMillis timestamp_ms = 0;  // prediction time (labels: label time, or ingest time if absent)
  std::string model_name;        // required for predictions, "" allowed for labels
  std::string model_version;     // "" if absent
  std::string document;
  std::string masking_version;  // the masking policy version that masked `document` ("" if none)
  // Metadata of the envelope the document came in (Filebeat's host, agent, log.file.path), as a
  // JSON object kept beside the document, never mixed into it; "" when there was none.
  std::string source;
  uint64_t line = 0;        // 1-based line (or item) number within its source, for error reports
  ObservedFields observed;  // predictions decoded from bytes; empty otherwise
};

// An input that could not become an Event. `type` is a stable machine name (invalid_json,
// missing_field, invalid_field, line_too_long, ...); `reason` names the field path and line, never
// a payload value. `document` is the parsed JSON text when it was valid JSON, otherwise empty:
// unparseable bytes are kept only as their length and SHA-256 digest.
struct Reject {
  std::string type;
  std::string reason;
  uint64_t line = 0;
  std::string document;
  uint64_t raw_length = 0;
  std::string raw_sha256_hex;
};

}  // namespace verity
