#pragma once

#include <string>
#include <vector>

#include <simdjson.h>

#include "verity/document/field_mapping.h"

namespace verity::document {

// Whether `token` is a JSON number by RFC 8259's grammar
// (-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?).
bool json_number_syntax(std::string_view token);
// A JSON integer simdjson 3.0 cannot read: integer syntax, and more digits than 64 bits hold.
// Valid JSON, which Verity keeps as its decimal text.
bool is_big_integer(std::string_view token);

// Parses a stored document into `out` with a DOM parser. simdjson 3.0 refuses integers beyond 64
// bits, which are valid JSON and which the decoder accepts; such a document is parsed again with
// each of those integers read as a string of its digits (`scratch` holds that copy, and must
// outlive `out`). Returns simdjson's error for anything else that is not JSON. Never throws.
simdjson::error_code parse_document(simdjson::dom::parser& parser, std::string_view json,
                                    std::string& scratch, simdjson::dom::element& out);

// A value found in a stored document: its minified JSON text and type.
struct FoundValue {
  std::string json;  // "" when nothing was found
  simdjson::dom::element_type type = simdjson::dom::element_type::NULL_VALUE;
  bool found() const { return !json.empty(); }
  bool is_number() const {
    return type == simdjson::dom::element_type::INT64 ||
           type == simdjson::dom::element_type::UINT64 ||
           type == simdjson::dom::element_type::DOUBLE;
  }
};

// The first of `pointers` present and not null in `doc`; with `scalar_only`, objects and arrays
// are passed over.
inline FoundValue first_value(simdjson::dom::element doc, const std::vector<JsonPointer>& pointers,
                              bool scalar_only) {
  for (const auto& p : pointers) {
    simdjson::dom::element v;
    if (doc.at_pointer(p.text).get(v)) continue;
    if (v.is_null()) continue;
    if (scalar_only && (v.is_object() || v.is_array())) continue;
    return {simdjson::minify(v), v.type()};
  }
  return {};
}

// The predicted value of a prediction document: the first predicted-value pointer, else scalar
// outputs (DESIGN.md, "The document").
inline FoundValue predicted_value(simdjson::dom::element doc, const FieldMapping& m) {
  FoundValue v = first_value(doc, m.pointers(Field::kPredictedValue), true);
  if (!v.found()) v = first_value(doc, m.pointers(Field::kOutputs), true);
  return v;
}

// A JSON number as a double, without exceptions: false when the text is not a number or its value
// is not finite (1e400). Denormals (4e-320) are read.
bool finite_number(std::string_view json, double& out);

// The rule that says whether a prediction was right, shared by everything that shows it
// (Elasticsearch's `label` fields, search): "correct" when the predicted value and the ground truth
// are both strings or booleans (equal JSON), "error" (predicted minus ground truth) when both are
// numbers and the difference is a finite double; neither otherwise.
struct LabelOutcome {
  bool has_correct = false;
  bool correct = false;
  bool has_error = false;
  double error = 0;
};
LabelOutcome label_outcome(const FoundValue& predicted, const FoundValue& truth);

}  // namespace verity::document
