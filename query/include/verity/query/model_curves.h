#pragma once

#include <optional>
#include <string>
#include <vector>

#include "verity/core/time_format.h"
#include "verity/query/model_quality.h"

namespace verity::query {

// Curves drawn from a report's score histograms (Report::scores, one_vs_rest, calibration_*),
// computed as build_report computes roc_auc, average_precision and expected_calibration_error:
// a threshold per non-empty score bin, from the highest down, scores in one bin tied (as
// scikit-learn ties equal scores). So the trapezoid area under `roc` is the report's roc_auc and
// sum (recall_i - recall_i-1) x precision_i over `precision_recall` its average_precision.

struct RocPoint {
  double fpr = 0, tpr = 0;
  // The lower bound of the lowest score bin counted positive (a score at or above it is, to bin
  // resolution); nullopt for the first point (0, 0): above every score.
  std::optional<double> threshold;
};

struct PrPoint {
  double recall = 0, precision = 1;
  std::optional<double> threshold;  // as RocPoint's; nullopt for the first point (0, 1)
};

struct ScoreCurves {
  std::string value;  // the class the scores are P() of (JSON text)
  double positives = 0, negatives = 0;
  std::vector<RocPoint> roc;              // fpr and tpr non-decreasing, from (0, 0) to (1, 1)
  std::vector<PrPoint> precision_recall;  // recall non-decreasing, from (0, 1)
  double roc_auc = 0;                     // trapezoid area under roc (0 without both classes)
  double average_precision = 0;           // step area under precision_recall
};

// Empty roc and precision_recall when either class has no scores (no curve is defined then; the
// report has no roc_auc either).
ScoreCurves score_curves(const Report::ScoreHistogram& h);

struct CalibrationBin {
  double lower = 0,
         upper = 0;  // [lower, upper) of P(positive); the first bin includes 0, the last 1
  double count = 0;
  double mean_predicted = 0;      // mean P(positive) of the bin's predictions
  double observed_frequency = 0;  // share of them whose label is the positive class
};

// The report's non-empty calibration bins (sklearn.calibration.calibration_curve, 10 uniform
// bins); their count-weighted mean |observed_frequency - mean_predicted| is the report's
// expected_calibration_error.
std::vector<CalibrationBin> calibration_curve(const Report& r);

// One version's metric over consecutive time buckets.
struct VersionSeries {
  std::string version;
  struct Point {
    EpochMillis from_ms = 0, to_ms = 0;
    double labelled = 0;
    std::optional<double> value;  // nullopt: no labelled prediction in the bucket
  };
  std::vector<Point> points;
};

struct OverTime {
  std::string metric;  // accuracy (classification) or mean_absolute_error (regression)
  int64_t step_ms = 0;
  std::vector<VersionSeries> versions;
  size_t versions_omitted = 0;  // versions over the cap (kMaxSeriesVersions), the least recent
};

// Most versions drawn over time in one answer (the most recent ones), and most buckets.
inline constexpr size_t kMaxSeriesVersions = 8;
inline constexpr int64_t kMaxSeriesBuckets = 60;

// The bucket width for a window: the smallest of 1m, 5m, 15m, 1h, 6h, 1d, 7d, 30d giving at most
// kMaxSeriesBuckets buckets (wider windows: whole days, as many as needed for that).
int64_t series_step_ms(EpochMillis from_ms, EpochMillis to_ms);

// {"model","version","from","to","time_zone":"UTC","task",
//  "report":<Report::to_json(), the /metrics answer>,
//  "roc":{"positive_class","positives","negatives","auc","points":[{"fpr","tpr","threshold"}]},
//  "precision_recall":{"positive_class","average_precision","points":[{"recall","precision",
//  "threshold"}]},
//  "calibration":{"expected_calibration_error","bins":[{"lower","upper","count",
//  "mean_predicted","observed_frequency"}]},
//  "reference":{"roc_auc","average_precision","expected_calibration_error"},
//  "one_vs_rest":[{"class","positives","negatives","roc_auc","average_precision","roc":[...],
//  "precision_recall":[...]}],
//  "accuracy_over_time":{"metric","step_seconds","versions":[{"version","points":[{"from","to",
//  "labelled","value"}]}],"versions_omitted"},
//  "not_available":["..."]}
// Sections without data are absent (roc, precision_recall, calibration: binary models with scores
// of both classes; one_vs_rest: multiclass models with per-class probabilities).
std::string curves_json(const Report& r, const std::optional<OverTime>& over_time);

}  // namespace verity::query
