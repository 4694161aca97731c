#include "verity/quality/config_keys.h"

#include <cstdio>
#include <cstdlib>

#include <simdjson.h>

#include "verity/document/config_keys.h"
#include "verity/document/json_writer.h"

namespace verity::quality {
namespace {

// A class value as JSON text: YAML's true/false and numbers as they are, anything else a string.
std::string class_json(const std::string& v) {
  if (v.empty()) return "";
  if (v == "true" || v == "false") return v;
  char* end = nullptr;
  std::strtod(v.c_str(), &end);
  if (end == v.c_str() + v.size()) return v;
  std::string out;
  document::append_json_string(out, v);
  return out;
}

void time_key(config::Section& s, std::string_view name, std::optional<EpochMillis>& t) {
  config::Key k;
  k.name = std::string(name);
  k.type = config::Type::kString;
  k.range = "RFC 3339 time";
  k.get = [&t]() -> std::optional<config::Value> {
    if (!t) return std::nullopt;
    return format_rfc3339(*t);
  };
  k.set = [&t](const config::Value& v) -> std::string {
    const std::string* text = config::scalar_of(v);
    std::optional<EpochMillis> parsed;
    if (text != nullptr) {
      if (auto p = parse_rfc3339(*text); p) parsed = *p;
    }
    if (!parsed) {
      return "'" + (text ? *text : std::string()) +
             "': expected an RFC 3339 time such as 2026-01-01T00:00:00Z";
    }
    t = parsed;
    return "";
  };
  s.custom(std::move(k));
}

void declare_feature(config::Section& s, ModelQualityConfig::Feature& f) {
  s.flow();
  s.choice("type", f.type, {"", "number", "string", "boolean"},
           "the expected type (\"\": the most frequent one)");
  for (const auto& bound : {std::pair{"min", &f.min}, std::pair{"max", &f.max}}) {
    std::optional<double>* target = bound.second;  // (clang before 16 cannot capture a binding)
    config::Key k;
    k.name = bound.first;
    k.type = config::Type::kNumber;
    k.doc = "a number outside is out of range";
    k.get = [target]() -> std::optional<config::Value> {
      if (!*target) return std::nullopt;
      return config::format_number(**target);
    };
    k.set = [target](const config::Value& v) -> std::string {
      const std::string* text = config::scalar_of(v);
      char* end = nullptr;
      const double d = text ? std::strtod(text->c_str(), &end) : 0;
      if (text == nullptr || end == text->c_str() || *end != '\0') return "expected a number";
      *target = d;
      return "";
    };
    s.custom(std::move(k));
  }
  s.flag("categorical", f.categorical, "drift over category frequencies");
}

}  // namespace

void declare_keys(config::Section& s, ModelQualityConfig& q) {
  std::vector<std::pair<std::string, Task>> tasks;
  for (Task t : {Task::kBinary, Task::kMulticlass, Task::kRegression}) {
    tasks.emplace_back(task_name(t), t);
  }
  s.choice<Task>("task", q.task, "inferred", std::move(tasks),
                 "inferred: strings and booleans classify (two classes: binary), numbers regress");
  document::pointers_key(s, "predicted", q.predicted,
                         "where the predicted value is ([]: fields.predicted_value, then scalar "
                         "outputs)",
                         "/prediction/label");
  document::pointers_key(s, "score", q.score, "where the score is ([]: fields.score)",
                         "/prediction/label");
  document::pointers_key(s, "probabilities", q.probabilities,
                         "where a per-class probability object is ({\"fraud\": 0.26, \"legit\": "
                         "0.74}); []: /prediction/probabilities, then /probabilities",
                         "/prediction/label");
  std::vector<std::pair<std::string, ScoreSemantics>> readings;
  for (ScoreSemantics r :
       {ScoreSemantics::kPositiveClassProbability, ScoreSemantics::kOtherClassProbability,
        ScoreSemantics::kPredictedClassConfidence, ScoreSemantics::kClassProbabilities}) {
    readings.emplace_back(score_semantics_name(r), r);
  }
  s.choice<ScoreSemantics>(
      "score_semantics", q.score_semantics, "inferred", std::move(readings),
      "what the score of a binary model means; inferred: from the document's per-class "
      "probabilities when it has them, else from how scores agree with predicted labels");
  config::Key positive;
  positive.name = "positive_class";
  positive.type = config::Type::kString;
  positive.quoted = true;
  positive.doc = "\"\": true for booleans, else the greater of the two classes (as sklearn)";
  positive.get = [&q]() -> std::optional<config::Value> {
    // A string class is held as JSON text: written back as the string it encodes.
    const std::string& p = q.positive_class;
    if (p.size() >= 2 && p.front() == '"') {
      simdjson::dom::parser parser;
      std::string_view text;
      if (parser.parse(p).get_string().get(text) == simdjson::SUCCESS) return std::string(text);
    }
    return p;
  };
  positive.set = [&q](const config::Value& v) -> std::string {
    const std::string* text = config::scalar_of(v);
    if (text == nullptr) return "expected a string";
    if (!text->empty()) q.positive_class = class_json(*text);
    return "";
  };
  s.custom(std::move(positive));
  s.count("max_classes", q.max_classes, 2, 10000,
          "classes a report keeps; the least frequent beyond it count as __other__");
  s.count("max_features", q.max_features, 0, 10000,
          "input members aggregated per prediction (data quality, drift)");
  s.count("baseline_days", q.baseline_days, 1, 3650,
          "drift baseline: the first days from the model's first prediction (unless baseline is "
          "set)");
  s.example("baseline: {from: 2026-01-01T00:00:00Z, to: 2026-01-08T00:00:00Z}");
  auto& baseline = s.child("baseline", "a fixed drift baseline [from, to)");
  time_key(baseline, "from", q.baseline_from);
  time_key(baseline, "to", q.baseline_to);
  baseline.check([&q](config::Problems& p) {
    if (q.baseline_from && !q.baseline_to) p.add("to", "is required with baseline.from");
    if (q.baseline_to && !q.baseline_from) p.add("from", "is required with baseline.to");
    if (q.baseline_from && q.baseline_to && *q.baseline_to <= *q.baseline_from) {
      p.add("to", "must be after baseline.from");
    }
  });
  s.map(
      "features", q.features,
      [](config::Section& item, ModelQualityConfig::Feature& f) { declare_feature(item, f); },
      "per input feature (once any is listed, only listed features are aggregated); none: every "
      "member of inputs, its expected type the most frequent one");
  s.example("age: {type: number, min: 0, max: 120}\nregion: {type: string, categorical: true}");
}

}  // namespace verity::quality
