#include "verity/shippers/es_encoder.h"

#include <simdjson.h>

#include "verity/document/field_mapping.h"
#include "verity/document/json_value.h"
#include "verity/document/json_writer.h"
#include "verity/store/store.h"

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
  thread_local Parsing p[2];
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
  const document::LabelOutcome o = document::label_outcome(predicted, truth);
  if (o.has_error) w.member("error", o.error);
  if (o.has_correct) w.member("correct", o.correct);
  w.end_object();
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

Result<std::string> es_source(const store::StoredRecord& r, const store::StoredRecord* label,
                              const document::FieldMappingSet* fields) {
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
  std::string out;
  out.reserve(r.document.size() + labelled.size() + 400);
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
  w.end_object();
  // A raw line break (whitespace in a pretty-printed document, which Beats may carry) would end
  // the bulk source line: such a document is sent minified.
  if (r.document.find_first_of("\n\r") == std::string::npos) {
    w.member_raw("document", r.document);
  } else {
    w.member_raw("document", simdjson::minify(pdoc));
  }
  if (label != nullptr) w.member_raw("label", labelled);
  w.end_object();
  return out;
}

Result<std::string> bulk_create(const EsShipperOptions& options, const store::OutboxEntry& e,
                                const document::FieldMappingSet* fields) {
  const store::StoredRecord& r = e.record;
  auto source = es_source(r, e.label ? &*e.label : nullptr, fields);
  if (!source) return source.status();
  std::string out;
  out.reserve(source->size() + 128);
  {
    document::JsonWriter w(out);
    w.begin_object().key("create").begin_object();
    w.member("_index", options.index_for(r.timestamp_ms)).member("_id", r.request_id);
    w.end_object().end_object();
  }
  out += '\n';
  out += *source;
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
