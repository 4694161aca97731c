#include "verity/document/config_keys.h"

namespace verity::document {
namespace {

constexpr Field kAllFields[] = {Field::kRequestId,      Field::kTimestamp,   Field::kModelName,
                                Field::kModelVersion,   Field::kInputs,      Field::kOutputs,
                                Field::kPredictedValue, Field::kScore,       Field::kConfidence,
                                Field::kExplanations,   Field::kGroundTruth, Field::kLatency,
                                Field::kLabelTime};

std::vector<std::string> texts_of(const std::vector<JsonPointer>& v) {
  std::vector<std::string> out;
  for (const auto& p : v) out.push_back(p.text);
  return out;
}

// Parses every text; "" or the first problem.
std::string parse_all(const std::vector<std::string>& texts, std::string_view example,
                      std::vector<JsonPointer>& out) {
  std::string problems;
  for (const auto& t : texts) {
    auto p = parse_json_pointer(t);
    if (!p || (t.empty() && !example.empty())) {
      const std::string why = example.empty()
                                  ? p.status().message()
                                  : "expected a JSON pointer such as " + std::string(example);
      problems += (problems.empty() ? "'" : "; '") + t + "': " + why;
      continue;
    }
    out.push_back(std::move(p).value());
  }
  return problems;
}

const char* field_doc(Field f) {
  switch (f) {
    case Field::kRequestId:
      return "the prediction's id (idempotency, lookups, label joins)";
    case Field::kTimestamp:
      return "when the prediction was made (RFC 3339 or epoch ms); else arrival time";
    case Field::kModelName:
      return "the model's name (top level only: it picks the model's own mapping)";
    case Field::kLabelTime:
      return "a label's own time (labels are ordered by it; else timestamp, else arrival)";
    default:
      return "";
  }
}

}  // namespace

void pointer_key(config::Section& s, std::string_view name, JsonPointer& p, std::string_view doc,
                 std::string_view example) {
  config::Key k;
  k.name = std::string(name);
  k.type = config::Type::kString;
  k.range = "a JSON pointer";
  k.doc = std::string(doc);
  k.get = [&p]() -> std::optional<config::Value> { return p.text; };
  k.set = [&p, ex = std::string(example)](const config::Value& v) -> std::string {
    const std::string* text = config::scalar_of(v);
    if (text == nullptr) return "expected a JSON pointer such as " + ex;
    std::vector<JsonPointer> one;
    if (auto e = parse_all({*text}, ex, one); !e.empty()) return e;
    p = std::move(one.front());
    return "";
  };
  s.custom(std::move(k));
}

void pointers_key(config::Section& s, std::string_view name, std::vector<JsonPointer>& v,
                  std::string_view doc, std::string_view example) {
  config::Key k;
  k.name = std::string(name);
  k.type = config::Type::kStrings;
  k.range = "JSON pointers";
  k.doc = std::string(doc);
  k.get = [&v]() -> std::optional<config::Value> { return texts_of(v); };
  k.set = [&v, ex = std::string(example)](const config::Value& value) -> std::string {
    const auto* texts = std::get_if<std::vector<std::string>>(&value);
    if (texts == nullptr) return "expected a string or a list of strings";
    std::vector<JsonPointer> parsed;
    if (auto e = parse_all(*texts, ex, parsed); !e.empty()) return e;
    v = std::move(parsed);
    return "";
  };
  s.custom(std::move(k));
}

void declare_keys(config::Section& s, FieldMapping& m, const FieldMapping* base) {
  for (Field f : kAllFields) {
    config::Key k;
    k.name = std::string(field_name(f));
    k.type = config::Type::kStrings;
    k.range = "JSON pointers";
    k.doc = field_doc(f);
    // Per model, the model name is refused with its reason; the docs leave it out.
    k.documented = base == nullptr || f != Field::kModelName;
    k.get = [&m, base, f]() -> std::optional<config::Value> {
      auto texts = texts_of(m.pointers(f));
      if (base != nullptr && texts == texts_of(base->pointers(f))) return std::nullopt;
      return texts;
    };
    k.set = [&m, base, f](const config::Value& value) -> std::string {
      if (base != nullptr && f == Field::kModelName) {
        return "the model name is located with the top-level fields.model_name only";
      }
      const auto* texts = std::get_if<std::vector<std::string>>(&value);
      if (texts == nullptr) return "expected a string or a list of strings";
      if (texts->empty()) return "needs at least one JSON pointer";
      std::vector<JsonPointer> parsed;
      if (auto e = parse_all(*texts, "", parsed); !e.empty()) return e;
      m.set_pointers(f, std::move(parsed));
      return "";
    };
    s.custom(std::move(k));
  }
}

void declare_keys(config::Section& s, EnvelopeSettings& e) {
  s.flag("enabled", e.enabled, "unwrap Filebeat's {\"message\": \"<the line>\"} documents");
  pointers_key(
      s, "keep", e.keep,
      "the envelope's members stored beside the document as its source metadata (as they are, "
      "not masked: keep only metadata)");
}

}  // namespace verity::document
