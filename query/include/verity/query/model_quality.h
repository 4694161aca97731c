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
#include "verity/quality/aggregate_keys.h"
#include "verity/quality/quality_config.h"
#include "verity/store/aggregate.h"

namespace verity::query {

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
  std::optional<quality::ScoreSemantics> score_semantics;
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
  // average_precision). Counts per score bin (quality::kScoreBins bins,
  // quality::score_bin_lower_bound), of scores read as P(class): of the predictions whose true
  // class is `value`, and of the others.
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

// `baseline`: the aggregate of the drift baseline window (no PSI without it).
Report build_report(const store::Aggregate& a, const quality::ModelQualityConfig& config,
                    const store::Aggregate* baseline = nullptr);

// Windows by name: 5m, 1h, 24h, 7d, 30d (also any <n>m|h|d). nullopt when malformed.
std::optional<Duration> parse_window(std::string_view text);

}  // namespace verity::query
