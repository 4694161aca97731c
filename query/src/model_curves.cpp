// Curves from a report's score histograms, and the JSON of GET /v1/models/{model}/curves.

#include "verity/query/model_curves.h"

#include <algorithm>
#include <cmath>

#include "verity/document/json_writer.h"

namespace verity::query {

ScoreCurves score_curves(const Report::ScoreHistogram& h) {
  ScoreCurves c;
  c.value = h.value;
  const size_t bins = std::min(h.positive.size(), h.negative.size());
  for (size_t b = 0; b < bins; ++b) {
    c.positives += h.positive[b];
    c.negatives += h.negative[b];
  }
  const double P = c.positives, N = c.negatives;
  if (P == 0 || N == 0) return c;
  // The same walk as build_report's roc_auc and average_precision (model_quality.cpp).
  c.roc.push_back({0, 0, std::nullopt});
  c.precision_recall.push_back({0, 1, std::nullopt});
  double tp = 0, fp = 0, area = 0, ap = 0;
  for (size_t i = bins; i-- > 0;) {
    const double bp = h.positive[i], bn = h.negative[i];
    if (bp == 0 && bn == 0) continue;
    const double tp2 = tp + bp, fp2 = fp + bn;
    area += (fp2 - fp) * (tp2 + tp) / 2;
    ap += (bp / P) * (tp2 / (tp2 + fp2));
    const double threshold = quality::score_bin_lower_bound(static_cast<int>(i));
    c.roc.push_back({fp2 / N, tp2 / P, threshold});
    c.precision_recall.push_back({tp2 / P, tp2 / (tp2 + fp2), threshold});
    tp = tp2;
    fp = fp2;
  }
  c.roc_auc = area / (P * N);
  c.average_precision = ap;
  return c;
}

std::vector<CalibrationBin> calibration_curve(const Report& r) {
  std::vector<CalibrationBin> out;
  const size_t bins = r.calibration_count.size();
  if (r.calibration_sum.size() != bins || r.calibration_positives.size() != bins) return out;
  for (size_t b = 0; b < bins; ++b) {
    const double n = r.calibration_count[b];
    if (n <= 0) continue;
    out.push_back({static_cast<double>(b) / static_cast<double>(bins),
                   static_cast<double>(b + 1) / static_cast<double>(bins), n,
                   r.calibration_sum[b] / n, r.calibration_positives[b] / n});
  }
  return out;
}

int64_t series_step_ms(EpochMillis from_ms, EpochMillis to_ms) {
  constexpr int64_t kMinute = 60'000, kDay = 86'400'000;
  static constexpr int64_t kSteps[] = {kMinute,       5 * kMinute, 15 * kMinute, 60 * kMinute,
                                       360 * kMinute, kDay,        7 * kDay,     30 * kDay};
  auto buckets = [&](int64_t step) {
    const EpochMillis first = from_ms - ((from_ms % step) + step) % step;
    return (to_ms - first + step - 1) / step;
  };
  if (to_ms <= from_ms) return kMinute;
  for (int64_t step : kSteps) {
    if (buckets(step) <= kMaxSeriesBuckets) return step;
  }
  // Whole days, for one bucket fewer than the cap: alignment can add one.
  const int64_t per = (kMaxSeriesBuckets - 1) * kDay;
  return (to_ms - from_ms + per - 1) / per * kDay;
}

namespace {

using document::JsonWriter;

void optional_number(JsonWriter& w, std::string_view key, const std::optional<double>& v) {
  w.key(key);
  if (v) {
    w.number(*v);
  } else {
    w.null();
  }
}

void roc_points(JsonWriter& w, const ScoreCurves& c) {
  w.begin_array();
  for (const auto& p : c.roc) {
    w.begin_object().member("fpr", p.fpr).member("tpr", p.tpr);
    optional_number(w, "threshold", p.threshold);
    w.end_object();
  }
  w.end_array();
}

void pr_points(JsonWriter& w, const ScoreCurves& c) {
  w.begin_array();
  for (const auto& p : c.precision_recall) {
    w.begin_object().member("recall", p.recall).member("precision", p.precision);
    optional_number(w, "threshold", p.threshold);
    w.end_object();
  }
  w.end_array();
}

}  // namespace

std::string curves_json(const Report& r, const std::optional<OverTime>& over_time) {
  std::string out;
  JsonWriter w(out);
  w.begin_object();
  w.member("model", r.model);
  w.key("version");
  if (r.version) {
    w.string(*r.version);
  } else {
    w.null();
  }
  w.member("from", format_rfc3339(r.from_ms)).member("to", format_rfc3339(r.to_ms));
  w.member("time_zone", "UTC").member("task", r.task);
  w.member_raw("report", r.to_json());
  std::vector<std::string> not_available;

  if (r.scores) {
    const ScoreCurves c = score_curves(*r.scores);
    if (!c.roc.empty()) {
      w.key("roc").begin_object().member_raw("positive_class", c.value);
      w.member("positives", c.positives).member("negatives", c.negatives);
      w.member("auc", c.roc_auc).key("points");
      roc_points(w, c);
      w.end_object();
      w.key("precision_recall").begin_object().member_raw("positive_class", c.value);
      w.member("average_precision", c.average_precision).key("points");
      pr_points(w, c);
      w.end_object();
    } else {
      not_available.push_back(
          "roc, precision_recall: the scored predictions' labels hold one class only");
    }
    const auto bins = calibration_curve(r);
    w.key("calibration").begin_object();
    optional_number(w, "expected_calibration_error", r.metric("expected_calibration_error"));
    w.key("bins").begin_array();
    for (const auto& b : bins) {
      w.begin_object().member("lower", b.lower).member("upper", b.upper).member("count", b.count);
      w.member("mean_predicted", b.mean_predicted)
          .member("observed_frequency", b.observed_frequency);
      w.end_object();
    }
    w.end_array().end_object();
    w.key("reference").begin_object();
    for (const char* name : {"roc_auc", "average_precision", "expected_calibration_error"}) {
      if (auto v = r.metric(name)) w.member(name, *v);
    }
    w.end_object();
  } else if (r.task == "binary") {
    not_available.push_back(
        "roc, precision_recall, calibration: no labelled prediction carries a score");
  }

  if (r.task == "multiclass") {
    if (r.one_vs_rest.empty()) {
      not_available.push_back(
          "one_vs_rest: the documents carry no per-class probabilities (a probability object "
          "such as {\"probabilities\": {\"a\": 0.7, ...}}), so the aggregates hold no score per "
          "class");
    } else {
      w.key("one_vs_rest").begin_array();
      for (const auto& h : r.one_vs_rest) {
        const ScoreCurves c = score_curves(h);
        w.begin_object().member_raw("class", c.value);
        w.member("positives", c.positives).member("negatives", c.negatives);
        if (!c.roc.empty()) {
          w.member("roc_auc", c.roc_auc).member("average_precision", c.average_precision);
        }
        w.key("roc");
        roc_points(w, c);
        w.key("precision_recall");
        pr_points(w, c);
        w.end_object();
      }
      w.end_array();
    }
  }
  if (r.task == "regression") {
    not_available.push_back(
        "error_histogram: the aggregates keep sums of errors (MAE, MSE, MAPE, R2), not their "
        "distribution");
  }

  if (over_time) {
    w.key("accuracy_over_time").begin_object();
    w.member("metric", over_time->metric)
        .member("step_seconds", static_cast<int64_t>(over_time->step_ms / 1000));
    w.key("versions").begin_array();
    for (const auto& v : over_time->versions) {
      w.begin_object().member("version", v.version).key("points").begin_array();
      for (const auto& p : v.points) {
        w.begin_object().member("from", format_rfc3339(p.from_ms));
        w.member("to", format_rfc3339(p.to_ms)).member("labelled", p.labelled);
        optional_number(w, "value", p.value);
        w.end_object();
      }
      w.end_array().end_object();
    }
    w.end_array();
    w.member("versions_omitted", static_cast<uint64_t>(over_time->versions_omitted));
    w.end_object();
  }
  w.key("not_available").begin_array();
  for (const auto& n : not_available) w.string(n);
  w.end_array();
  w.end_object();
  return out;
}

}  // namespace verity::query
