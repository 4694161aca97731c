#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "verity/core/status.h"
#include "verity/shippers/es_config.h"

namespace verity::store {
struct StoredRecord;
struct OutboxEntry;
}  // namespace verity::store
namespace verity::document {
struct FieldMappingSet;
}  // namespace verity::document

namespace verity::shippers {

// What the shipper sends, built from stored records: pure functions of their inputs, never
// throwing, whatever the stored bytes hold (fuzzed from arbitrary records:
// tests/fuzz/es_encoder_fuzz.cpp). Every text they return is valid JSON; a record that cannot be
// turned into one is an error (kInvalidArgument, naming the sequence, never a value), which the
// shipper dead-letters before moving on.

// The source of a stored prediction: {"@timestamp", "verity": {request_id, model, version, input,
// partition, sequence, ingest_time, masking_version, digest, and a summary for dashboards found
// through the model's field mapping: predicted, confidence, score, explanation.{top_feature,
// top_features} (the three largest |importance|), input_types ("name:type" for each of the first
// 64 inputs), input_nulls, input_values ("name=value" for string and boolean inputs)},
// "document": <the stored (masked)
// document>[, "label": label_fields(...)]}. The document is nested, never merged, so its own
// fields cannot collide with ours; mappings/ maps every field of it. Errors: the stored document
// is not a JSON object.
Result<std::string> es_source(const store::StoredRecord& record,
                              const store::StoredRecord* label = nullptr,
                              const document::FieldMappingSet* fields = nullptr);

// {"ground_truth": <the label's ground truth>, "label_time", "predicted" (the predicted value as
// text, when there is one), and "correct" and "accuracy" (1 or 0: the predicted value
// equals the ground truth; both strings or booleans) or "error" (predicted minus ground truth; both
// numbers, omitted when the difference is not a finite double) with "abs_error" and
// "squared_error" (omitted when not finite)}. The predicted value and the
// ground truth are found with the model's field mapping (`fields`, or DESIGN.md's defaults when
// null). Errors: either document is not a JSON object.
Result<std::string> label_fields(const store::StoredRecord& prediction,
                                 const store::StoredRecord& label,
                                 const document::FieldMappingSet* fields);

// The two NDJSON lines of a `create` for a prediction entry:
// {"create":{"_index","_id"}}\n<source>\n.
Result<std::string> bulk_create(const EsShipperOptions& options, const store::OutboxEntry& entry,
                                const document::FieldMappingSet* fields);

// {"query":{"ids":{"values":[...]}}}: the body of the _delete_by_query of erased predictions.
std::string delete_by_ids_body(const std::vector<std::string>& ids);
// The body of the _update_by_query that sets each indexed prediction's `label` from a map of
// request id -> label_fields JSON (data streams take no update by _id through _bulk).
std::string update_labels_body(const std::vector<std::pair<std::string, std::string>>& labels);

}  // namespace verity::shippers
