#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "verity/core/status.h"
#include "verity/core/time_format.h"
#include "verity/core/units.h"
#include "verity/document/field_mapping.h"
#include "verity/store/aggregate.h"

namespace verity::query {

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

// models.<name>.quality.* (README.md, "Configuration reference").
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

// Turns documents into aggregate contributions (the keys are listed in model_quality.cpp).
class ModelContributor final : public store::Contributor {
 public:
  ModelContributor(std::shared_ptr<const document::FieldMappingSet> fields,
                   std::shared_ptr<const QualityConfig> config);
  void prediction(const store::JoinSide& prediction, store::AggregateSink& out) const override;
  void join(const store::JoinSide& prediction, const store::JoinSide& label,
            store::Aggregate& out) const override;

 private:
  std::shared_ptr<const document::FieldMappingSet> fields_;
  std::shared_ptr<const QualityConfig> config_;
};

// A model-quality report over one aggregate.
struct Report {
  std::string model;
  std::optional<std::string> version;  // nullopt: every version
  EpochMillis from_ms = 0, to_ms = 0;
  std::string task;         // binary | multiclass | regression | unknown
  std::string task_source;  // config | inferred
  double predictions = 0;
  double labelled = 0;
  // Metric name (scikit-learn's where one exists) -> value; only metrics defined for the data.
  std::vector<std::pair<std::string, double>> metrics;
  std::string positive_class;           // binary: the class precision/recall/AUC are of
  bool positive_class_missing = false;  // the configured positive class never occurs
  // Binary models with scores: how the score was read, and the share of scored predictions whose
  // predicted label that reading contradicts (high: the reading, or the model, is suspect).
  std::optional<ScoreSemantics> score_semantics;
  std::string score_semantics_source;  // configured | inferred
  std::optional<double> score_label_disagreement_ratio;
  std::vector<std::string> warnings;  // e.g. a high disagreement ratio, a missing positive class
  std::vector<std::string> classes;   // confusion-matrix order (JSON text)
  std::vector<std::vector<double>> matrix;  // [true][predicted]
  struct ClassMetrics {
    std::string value;  // JSON text
    double precision, recall, f1, f05, f2, support;
  };
  std::vector<ClassMetrics> per_class;
  struct FeatureQuality {
    std::string name;
    double present = 0;                        // predictions with a non-null value
    double null_ratio = 0;                     // missing or null, of all predictions
    std::string expected_type;                 // configured, or the most frequent
    double type_mismatch_ratio = 0;            // of the present values
    std::optional<double> out_of_range_ratio;  // when bounds are configured
    std::optional<double> psi;                 // against the baseline, when both have data
  };
  std::vector<FeatureQuality> features;
  std::optional<EpochMillis> baseline_from_ms, baseline_to_ms;
  std::vector<double> confidence_histogram;  // 20 bins of 0.05 over [0, 1]
  std::vector<double> label_lag_histogram;   // counts per kLagBoundsSeconds bucket (+Inf last)

  // The distributions the score metrics are computed from (not part of to_json(); the curves of
  // query/model_curves.h are drawn from them, so their areas are the report's roc_auc and
  // average_precision). Counts per score bin (kScoreBinCount bins, score_bin_lower_bound), of
  // scores read as P(class): of the predictions whose true class is `value`, and of the others.
  struct ScoreHistogram {
    std::string value;  // the class the scores are the probability of (JSON text)
    std::vector<double> positive, negative;
  };
  // Binary models with scores: P(positive_class) as the report read it.
  std::optional<ScoreHistogram> scores;
  // ... and its calibration bins (10 uniform bins, as sklearn's calibration_curve): count, sum
  // of P(positive) and count of positive labels per bin. expected_calibration_error is
  // sum |positives - sum| / scored.
  std::vector<double> calibration_count, calibration_sum, calibration_positives;
  // Multiclass models whose documents carry per-class probabilities: one-vs-rest, per class
  // (classes without any probability are absent).
  std::vector<ScoreHistogram> one_vs_rest;

  std::optional<double> metric(std::string_view name) const;
  std::string to_json() const;
};

// Bucket upper bounds of the label lag histogram kept in the aggregates, in seconds.
extern const std::vector<double> kLagBoundsSeconds;

// Score bins of the aggregates: 100 per decade within 0.01 of 0 and 1 (down to 1e-12), 0.001
// between, increasing with the score. A score s is in bin b when score_bin_lower_bound(b) <= s <
// score_bin_lower_bound(b + 1) (bin 0 starts at 0; the last bin ends at 1, inclusive).
extern const int kScoreBinCount;
double score_bin_lower_bound(int b);

// `baseline`: the aggregate of the drift baseline window (no PSI without it).
Report build_report(const store::Aggregate& a, const ModelQualityConfig& config,
                    const store::Aggregate* baseline = nullptr);

// Windows by name: 5m, 1h, 24h, 7d, 30d (also any <n>m|h|d). nullopt when malformed.
std::optional<Duration> parse_window(std::string_view text);

}  // namespace verity::query
