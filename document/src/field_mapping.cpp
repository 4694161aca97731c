#include "verity/document/field_mapping.h"

#include <initializer_list>

namespace verity::document {

std::string_view field_name(Field f) {
  switch (f) {
    case Field::kRequestId:
      return "request_id";
    case Field::kTimestamp:
      return "timestamp";
    case Field::kModelName:
      return "model_name";
    case Field::kModelVersion:
      return "model_version";
    case Field::kInputs:
      return "inputs";
    case Field::kOutputs:
      return "outputs";
    case Field::kPredictedValue:
      return "predicted_value";
    case Field::kScore:
      return "score";
    case Field::kConfidence:
      return "confidence";
    case Field::kExplanations:
      return "explanations";
    case Field::kGroundTruth:
      return "ground_truth";
    case Field::kLatency:
      return "latency";
    case Field::kLabelTime:
      return "label_time";
  }
  return "unknown";
}

Result<JsonPointer> parse_json_pointer(std::string_view text) {
  if (text.empty() || text.front() != '/') {
    return Status::invalid_argument("a JSON pointer starts with '/'");
  }
  JsonPointer p;
  p.text = std::string(text);
  size_t pos = 1;
  while (true) {
    const size_t slash = text.find('/', pos);
    const std::string_view raw =
        text.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
    std::string token;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] != '~') {
        token += raw[i];
        continue;
      }
      if (i + 1 >= raw.size() || (raw[i + 1] != '0' && raw[i + 1] != '1')) {
        return Status::invalid_argument("'~' in a JSON pointer must be followed by 0 or 1");
      }
      token += raw[i + 1] == '0' ? '~' : '/';
      ++i;
    }
    if (token.empty()) return Status::invalid_argument("a JSON pointer has an empty member name");
    p.tokens.push_back(std::move(token));
    if (slash == std::string_view::npos) break;
    pos = slash + 1;
  }
  return p;
}

std::vector<JsonPointer> envelope_metadata_defaults() {
  std::vector<JsonPointer> out;
  for (std::string_view t :
       {"/@metadata/beat", "/@metadata/version", "/agent/type", "/agent/version", "/agent/name",
        "/host/name", "/log/file/path", "/log/offset", "/input/type"}) {
    auto p = parse_json_pointer(t);
    assert(p.is_ok());
    out.push_back(std::move(p).value());
  }
  return out;
}

FieldMapping FieldMapping::defaults() {
  FieldMapping m;
  auto set = [&m](Field f, std::initializer_list<std::string_view> texts) {
    std::vector<JsonPointer> ps;
    for (std::string_view t : texts) {
      auto p = parse_json_pointer(t);
      assert(p.is_ok());
      ps.push_back(std::move(p).value());
    }
    m.set_pointers(f, std::move(ps));
  };
  set(Field::kRequestId, {"/request_id", "/prediction_id", "/inference_id", "/id"});
  set(Field::kTimestamp, {"/@timestamp", "/timestamp"});
  set(Field::kModelName, {"/model/name", "/model_name", "/model"});
  set(Field::kModelVersion, {"/model/version", "/model_version"});
  set(Field::kInputs, {"/inputs", "/input_features", "/features"});
  set(Field::kOutputs, {"/outputs", "/prediction", "/output"});
  set(Field::kPredictedValue, {"/prediction/label", "/prediction/class", "/prediction/value"});
  set(Field::kScore, {"/prediction/score", "/prediction/probability"});
  set(Field::kConfidence, {"/confidence", "/prediction/confidence"});
  set(Field::kExplanations, {"/explanations", "/explainability_data"});
  set(Field::kGroundTruth, {"/ground_truth", "/label", "/actual"});
  set(Field::kLatency, {"/latency_ms"});
  set(Field::kLabelTime, {"/label_time"});
  return m;
}

}  // namespace verity::document
