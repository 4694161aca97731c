#include "verity/shippers/es_encoder.h"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "verity/document/field_mapping.h"
#include "verity/document/json_value.h"
#include "verity/document/json_writer.h"
#include "verity/store/outbox_source.h"

namespace verity::shippers {
namespace {

const document::FieldMapping& mapping_for(const document::FieldMappingSet* fields,
                                          std::string_view model) {
  static const document::FieldMapping defaults = document::FieldMapping::defaults();
  return fields == nullptr ? defaults : fields->for_model(model);
}

// Stored documents are parsed with one parser (and one scratch copy) per thread.
struct Parsing {
  simdjson::dom::parser parser;
  std::string scratch;
};
Parsing& parsing(int which) {
  thread_local Parsing p[3];  // the prediction, its label, a found string
  return p[which];
}

Status not_an_object(const store::StoredRecord& r, const char* what) {
  return Status::invalid_argument("sequence " + std::to_string(r.sequence) + ": the stored " +
                                  what + " is not a JSON object");
}

// Parses a stored document that must be a JSON object.
bool parse_object(int which, std::string_view text, simdjson::dom::element& out) {
  Parsing& p = parsing(which);
  return document::parse_document(p.parser, text, p.scratch, out) == simdjson::SUCCESS &&
         out.is_object();
}

// A scalar found in a document as keyword text: a string's contents, else its JSON text.
std::string keyword_text(const document::FoundValue& v) {
  if (v.type != simdjson::dom::element_type::STRING) return v.json;
  // A string literal without escapes is its contents between the quotes.
  const std::string_view j = v.json;
  if (j.size() >= 2 && j.front() == '"' && j.back() == '"' &&
      j.find('\\') == std::string_view::npos) {
    return std::string(j.substr(1, j.size() - 2));
  }
  std::string_view text;
  if (parsing(2).parser.parse(v.json).get(text)) return v.json;
  return std::string(text);
}

void write_label(document::JsonWriter& w, const store::StoredRecord& label,
                 const document::FoundValue& truth, const document::FoundValue& predicted) {
  w.begin_object();
  w.key("ground_truth");
  if (truth.found()) {
    w.raw(truth.json);
  } else {
    w.null();
  }
  w.member("label_time", format_rfc3339(label.timestamp_ms));
  if (predicted.found()) w.member("predicted", keyword_text(predicted));
  const document::LabelOutcome o = document::label_outcome(predicted, truth);
  if (o.has_error) {
    // Averages of these are the bias, MAE and MSE of what a dashboard selects.
    w.member("error", o.error).member("abs_error", std::fabs(o.error));
    if (std::isfinite(o.error * o.error)) w.member("squared_error", o.error * o.error);
  }
  if (o.has_correct) {
    // The average of `accuracy` (1 right, 0 wrong) is the accuracy of what a dashboard selects.
    w.member("correct", o.correct).member("accuracy", o.correct ? 1 : 0);
  }
  w.end_object();
}

const char* type_name(simdjson::dom::element_type t) {
  switch (t) {
    case simdjson::dom::element_type::OBJECT:
      return "object";
    case simdjson::dom::element_type::ARRAY:
      return "array";
    case simdjson::dom::element_type::STRING:
      return "string";
    case simdjson::dom::element_type::BOOL:
      return "boolean";
    case simdjson::dom::element_type::NULL_VALUE:
      return "null";
    default:
      return "number";
  }
}

// A finite number as a double (false for anything else).
bool number_of(simdjson::dom::element e, double& out) {
  if (e.is_int64()) {
    out = static_cast<double>(e.get_int64().value_unsafe());
  } else if (e.is_uint64()) {
    out = static_cast<double>(e.get_uint64().value_unsafe());
  } else if (e.is_double()) {
    out = e.get_double().value_unsafe();
  } else {
    return false;
  }
  return std::isfinite(out);
}

// Feature importances from an explanation, in the shapes explainers write: a member named
// feature_importances, feature_importance, shap_values or importances (an object of numbers, or
// an array of objects); else the object's own numeric members ({"amount": 0.3, ...}); else the
// first member holding numbers; or [{"feature": "amount", "importance": 0.3}, ...] (name:
// feature|name, value: importance|value|weight|shap_value). At most kMaxImportances are read.
constexpr size_t kMaxFeatures = 64;
constexpr size_t kMaxValueBytes = 256;  // a longer categorical value is not listed
constexpr size_t kMaxImportances = 4096;

void numeric_members(simdjson::dom::object o, std::vector<std::pair<std::string, double>>& out) {
  for (auto [k, v] : o) {
    double x = 0;
    if (out.size() < kMaxImportances && number_of(v, x)) out.emplace_back(std::string(k), x);
  }
}

std::vector<std::pair<std::string, double>> importances(simdjson::dom::element e, int depth = 0) {
  std::vector<std::pair<std::string, double>> out;
  if (depth > 2) return out;
  simdjson::dom::object o;
  simdjson::dom::array a;
  if (!e.get(o)) {
    for (const char* named :
         {"feature_importances", "feature_importance", "shap_values", "importances"}) {
      simdjson::dom::element inner;
      if (!o[named].get(inner) && (inner.is_object() || inner.is_array())) {
        out = importances(inner, depth + 1);
        if (!out.empty()) return out;
      }
    }
    numeric_members(o, out);
    if (!out.empty()) return out;
    for (auto [k, v] : o) {
      simdjson::dom::element inner = v;
      if (inner.is_object() || inner.is_array()) {
        out = importances(inner, depth + 1);
        if (!out.empty()) return out;
      }
    }
    return out;
  }
  if (!e.get(a)) {
    for (simdjson::dom::element item : a) {
      simdjson::dom::object io;
      if (item.get(io) || out.size() >= kMaxImportances) continue;
      std::string_view name;
      double x = 0;
      bool named = false, valued = false;
      for (const char* n : {"feature", "name"}) {
        if (!named && !io[n].get(name)) named = true;
      }
      for (const char* n : {"importance", "value", "weight", "shap_value"}) {
        simdjson::dom::element v;
        if (!valued && !io[n].get(v) && number_of(v, x)) valued = true;
      }
      if (named && valued) out.emplace_back(std::string(name), x);
    }
  }
  return out;
}

// What Kibana aggregates on whatever shape the model's document has (field names that exist in
// mappings/): the predicted value, confidence and score found through the model's field mapping,
// the explanation's most important features, each input's type (so nulls and type mismatches
// show per feature and version) and each categorical (string or boolean) input as "name=value"
// (accuracy and distributions by feature value, whatever the model's features are called).
void write_summary(document::JsonWriter& w, simdjson::dom::element pdoc,
                   const document::FieldMapping& m) {
  const document::FoundValue predicted = document::predicted_value(pdoc, m);
  if (predicted.found()) w.member("predicted", keyword_text(predicted));
  for (auto [field, name] : {std::pair{document::Field::kConfidence, "confidence"},
                             std::pair{document::Field::kScore, "score"}}) {
    const document::FoundValue v = document::first_value(pdoc, m.pointers(field), true);
    double x = 0;
    if (v.is_number() && document::finite_number(v.json, x)) w.member(name, x);
  }
  for (const auto& p : m.pointers(document::Field::kExplanations)) {
    simdjson::dom::element e;
    if (pdoc.at_pointer(p.text).get(e) || e.is_null()) continue;
    auto imp = importances(e);
    if (imp.empty()) break;
    const size_t top = std::min<size_t>(3, imp.size());
    std::partial_sort(imp.begin(), imp.begin() + top, imp.end(), [](const auto& a, const auto& b) {
      const double x = std::fabs(a.second), y = std::fabs(b.second);
      return x != y ? x > y : a.first < b.first;
    });
    w.key("explanation").begin_object();
    w.member("top_feature", imp.front().first);
    w.key("top_features").begin_array();
    for (size_t i = 0; i < imp.size() && i < 3; ++i) w.string(imp[i].first);
    w.end_array().end_object();
    break;
  }
  for (const auto& p : m.pointers(document::Field::kInputs)) {
    simdjson::dom::element e;
    simdjson::dom::object inputs;
    if (pdoc.at_pointer(p.text).get(e) || e.get(inputs)) continue;
    std::vector<std::string_view> nulls;
    std::vector<std::string> values;
    std::string typed;  // "name:type", one buffer for every input
    w.key("input_types").begin_array();
    size_t n = 0;
    for (auto [k, v] : inputs) {
      if (n++ == kMaxFeatures) break;
      typed.assign(k).append(1, ':').append(type_name(v.type()));
      w.string(typed);
      if (v.is_null()) nulls.push_back(k);
      std::string_view text;
      if (!v.get(text) && text.size() <= kMaxValueBytes) {
        values.push_back(std::string(k) + "=" + std::string(text));
      } else if (v.is_bool()) {
        values.push_back(std::string(k) + (v.get_bool().value_unsafe() ? "=true" : "=false"));
      }
    }
    w.end_array();
    w.key("input_nulls").begin_array();
    for (auto k : nulls) w.string(k);
    w.end_array();
    w.key("input_values").begin_array();
    for (const auto& kv : values) w.string(kv);
    w.end_array();
    break;
  }
}

Result<std::string> label_json(const store::StoredRecord& prediction, simdjson::dom::element pdoc,
                               const store::StoredRecord& label,
                               const document::FieldMappingSet* fields) {
  const document::FieldMapping& m = mapping_for(fields, prediction.model_name);
  simdjson::dom::element ldoc;
  if (!parse_object(1, label.document, ldoc)) return not_an_object(label, "label");
  const document::FoundValue truth =
      document::first_value(ldoc, m.pointers(document::Field::kGroundTruth), false);
  const document::FoundValue predicted = document::predicted_value(pdoc, m);
  std::string out;
  document::JsonWriter w(out);
  write_label(w, label, truth, predicted);
  return out;
}

}  // namespace

Result<std::string> label_fields(const store::StoredRecord& prediction,
                                 const store::StoredRecord& label,
                                 const document::FieldMappingSet* fields) {
  simdjson::dom::element pdoc;
  if (!parse_object(0, prediction.document, pdoc)) return not_an_object(prediction, "prediction");
  return label_json(prediction, pdoc, label, fields);
}

namespace {

// es_source's text appended to `out` (left as it was on an error).
Status append_es_source(std::string& out, const store::StoredRecord& r,
                        const store::StoredRecord* label, const document::FieldMappingSet* fields) {
  // The document is embedded as it is: it must be one JSON object, or the whole _bulk body would
  // be refused.
  simdjson::dom::element pdoc;
  if (!parse_object(0, r.document, pdoc)) return not_an_object(r, "prediction");
  std::string labelled;
  if (label != nullptr) {
    auto l = label_json(r, pdoc, *label, fields);
    if (!l) return l.status();
    labelled = std::move(*l);
  }
  out.reserve(out.size() + r.document.size() + labelled.size() + 600);
  document::JsonWriter w(out);
  w.begin_object();
  w.member("@timestamp", format_rfc3339(r.timestamp_ms));
  w.key("verity").begin_object();
  w.member("request_id", r.request_id)
      .member("model", r.model_name)
      .member("version", r.model_version)
      .member("input", r.input)
      .member("partition", r.partition)
      .member("sequence", r.sequence)
      .member("ingest_time", format_rfc3339(r.ingest_time_ms))
      .member("masking_version", r.masking_version)
      .member("digest", "sha256:" + to_hex(r.digest));
  write_summary(w, pdoc, mapping_for(fields, r.model_name));
  w.end_object();
  // A raw line break (whitespace in a pretty-printed document, which Beats may carry) would end
  // the bulk source line: such a document is sent minified.
  // (Two memchr scans: find_first_of with a set calls memchr once per byte of the document.)
  const std::string& doc = r.document;
  if (std::memchr(doc.data(), '\n', doc.size()) == nullptr &&
      std::memchr(doc.data(), '\r', doc.size()) == nullptr) {
    w.member_raw("document", r.document);
  } else {
    w.member_raw("document", simdjson::minify(pdoc));
  }
  if (label != nullptr) w.member_raw("label", labelled);
  w.end_object();
  return Status::ok();
}

}  // namespace

Result<std::string> es_source(const store::StoredRecord& r, const store::StoredRecord* label,
                              const document::FieldMappingSet* fields) {
  std::string out;
  if (auto s = append_es_source(out, r, label, fields); !s) return s;
  return out;
}

Result<std::string> bulk_create(const EsShipperOptions& options, const store::OutboxEntry& e,
                                const document::FieldMappingSet* fields) {
  const store::StoredRecord& r = e.record;
  std::string out;
  {
    document::JsonWriter w(out);
    w.begin_object().key("create").begin_object();
    w.member("_index", options.index_for(r.timestamp_ms)).member("_id", r.request_id);
    w.end_object().end_object();
  }
  out += '\n';
  // The source is written after the action line in the same string (no copy of the document).
  if (auto s = append_es_source(out, r, e.label ? &*e.label : nullptr, fields); !s) return s;
  out += '\n';
  return out;
}

namespace {
void write_ids_query(document::JsonWriter& w, const std::vector<std::string>& ids) {
  w.key("query").begin_object().key("ids").begin_object().key("values").begin_array();
  for (const auto& id : ids) w.string(id);
  w.end_array().end_object().end_object();
}
}  // namespace

std::string delete_by_ids_body(const std::vector<std::string>& ids) {
  std::string out;
  document::JsonWriter w(out);
  w.begin_object();
  write_ids_query(w, ids);
  w.end_object();
  return out;
}

std::string update_labels_body(const std::vector<std::pair<std::string, std::string>>& labels) {
  std::vector<std::string> ids;
  ids.reserve(labels.size());
  for (const auto& [id, fields] : labels) ids.push_back(id);
  std::string out;
  document::JsonWriter w(out);
  w.begin_object();
  write_ids_query(w, ids);
  w.key("script").begin_object();
  w.member("lang", "painless").member("source", "ctx._source.label = params.labels[ctx._id]");
  w.key("params").begin_object().key("labels").begin_object();
  for (const auto& [id, fields] : labels) w.member_raw(id, fields);
  w.end_object().end_object().end_object();
  w.end_object();
  return out;
}

std::string EsShipperOptions::index_for(EpochMillis timestamp_ms) const {
  if (index_mode == IndexMode::kDataStream) return data_stream;
  const std::string d = format_rfc3339(timestamp_ms);  // 2026-11-20T...
  return dated_prefix + d.substr(0, 4) + "." + d.substr(5, 2) + "." + d.substr(8, 2);
}

std::string EsShipperOptions::by_query_target() const {
  return index_mode == IndexMode::kDataStream ? data_stream : dated_prefix + "*";
}

}  // namespace verity::shippers
