#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "verity/core/status.h"

namespace verity::document {

// The fields Verity reads out of a prediction document (DESIGN.md, "The document").
enum class Field : uint8_t {
  kRequestId,
  kTimestamp,
  kModelName,
  kModelVersion,
  kInputs,
  kOutputs,
  kPredictedValue,
  kScore,
  kConfidence,
  kExplanations,
  kGroundTruth,
  kLatency,
  kLabelTime,  // a label's own time (labels are ordered by it); else its timestamp, else arrival
};
inline constexpr size_t kFieldCount = 13;

// The config name of a field ("request_id", "timestamp", ...), as used in `fields:` config and
// messages.
std::string_view field_name(Field f);

// A parsed JSON pointer (RFC 6901) that addresses nested object members: "/model/name" ->
// {"model","name"}. Array indices are not supported in field pointers: members only.
struct JsonPointer {
  std::string text;                 // as written, for messages
  std::vector<std::string> tokens;  // unescaped (~1 -> '/', ~0 -> '~')
};
Result<JsonPointer> parse_json_pointer(std::string_view text);

// Where each field is looked for, in order; the first pointer present wins.
class FieldMapping {
 public:
  // The defaults of DESIGN.md.
  static FieldMapping defaults();

  const std::vector<JsonPointer>& pointers(Field f) const {
    return pointers_[static_cast<size_t>(f)];
  }
  void set_pointers(Field f, std::vector<JsonPointer> p) {
    pointers_[static_cast<size_t>(f)] = std::move(p);
  }

 private:
  std::array<std::vector<JsonPointer>, kFieldCount> pointers_;
};

// Shippers such as Filebeat wrap each log line: {"message": "<the service's JSON line>", "host":
// ..., "agent": ..., "log": {"file": {"path": ...}}}. When a document has no request id and its
// top-level `message` is a string holding a JSON object, that object is decoded as the document
// and the members at `keep` are kept beside it as its source metadata.
std::vector<JsonPointer> envelope_metadata_defaults();
struct EnvelopeSettings {
  bool enabled = true;
  std::vector<JsonPointer> keep = envelope_metadata_defaults();
};

// The default mapping plus per-model overrides (a model's mapping is the default with some fields
// replaced). The model name itself is always located with the default mapping.
struct FieldMappingSet {
  FieldMapping default_mapping = FieldMapping::defaults();
  std::map<std::string, FieldMapping, std::less<>> per_model;
  EnvelopeSettings envelope;

  // The mapping of `model`: its own, or the default.
  const FieldMapping& for_model(std::string_view model) const {
    auto it = per_model.find(model);
    return it != per_model.end() ? it->second : default_mapping;
  }
};

}  // namespace verity::document
