#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "verity/core/time_format.h"
#include "verity/document/field_mapping.h"

namespace verity::quality {

enum class Task { kBinary, kMulticlass, kRegression };
const char* task_name(Task t);
std::optional<Task> parse_task(std::string_view name);

// What a binary model's `score` means. Models disagree: scikit-learn's predict_proba[:, 1] is the
// probability of the greater class, many services log the probability of "their" class or the
// confidence of the label they predicted. Read the wrong way, ROC AUC 0.98 reads 0.02.
enum class ScoreSemantics {
  kPositiveClassProbability,  // P(positive class)
  kOtherClassProbability,     // P(the other class): P(positive) = 1 - score
  kPredictedClassConfidence,  // P(predicted class): P(positive) = score or 1 - score
  kClassProbabilities,        // a per-class probability object: P(positive) read from it
};
const char* score_semantics_name(ScoreSemantics s);
std::optional<ScoreSemantics> parse_score_semantics(std::string_view name);

// models.<name>.quality.* (README.md, "Configuration reference"). The contributor reads where the
// values are and which features to keep; the reports (query/model_quality.h) read the rest.
struct ModelQualityConfig {
  std::optional<Task> task;  // nullopt: inferred from the predicted and label values
  // Where the predicted value and the score (the probability of the positive class) are; empty:
  // the model's field mapping (predicted_value, then scalar outputs; score).
  std::vector<document::JsonPointer> predicted;
  std::vector<document::JsonPointer> score;
  // A per-class probability object ({"fraud": 0.26, "legit": 0.74}); empty: the defaults
  // /prediction/probabilities and /probabilities.
  std::vector<document::JsonPointer> probabilities;
  // nullopt: inferred from the data, per report (the document's own per-class probabilities when
  // it has them; otherwise whichever reading of the score agrees with the predicted labels).
  std::optional<ScoreSemantics> score_semantics;
  // The positive class as JSON text (true, "fraud", 1). "": true for booleans, otherwise the
  // greater of the two classes (scikit-learn's convention).
  std::string positive_class;
  // Distinct classes a report keeps (the most frequent); the rest are counted as "__other__".
  size_t max_classes = 50;

  // Data quality and drift of the input features (the members of the inputs object).
  struct Feature {
    std::string type;  // number | string | boolean | "" (any: the most frequent type is expected)
    std::optional<double> min, max;  // a number outside is out of range
    bool categorical = false;        // drift over category frequencies (strings, booleans)
  };
  std::map<std::string, Feature, std::less<>> features;  // none: every member, unconfigured
  // Most input members aggregated per prediction (in document order) when `features` is empty.
  size_t max_features = 50;
  // The drift baseline: [baseline_from, baseline_to) when set, otherwise the first
  // `baseline_days` days of the model (or version) from its first prediction.
  std::optional<EpochMillis> baseline_from, baseline_to;
  uint32_t baseline_days = 7;
};

struct QualityConfig {
  std::map<std::string, ModelQualityConfig, std::less<>> models;
  ModelQualityConfig defaults;  // for models without their own section

  const ModelQualityConfig& for_model(std::string_view model) const {
    auto it = models.find(model);
    return it != models.end() ? it->second : defaults;
  }
};

}  // namespace verity::quality
