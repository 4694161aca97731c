// Curves from the model-quality aggregates (query/model_curves): drawn from the same score
// histograms as the report, so the area under the ROC points is the report's roc_auc, the step
// area under the precision-recall points its average_precision, and the calibration bins give its
// expected_calibration_error; checked on generated data (ties, tails near 0 and 1, every score
// reading), against a brute-force oracle on scores placed inside distinct bins, and on edge cases.

#include "verity/query/model_curves.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cmath>
#include <random>

#include "verity/quality/contributor.h"

namespace verity::query {
namespace {

using namespace quality;  // the contributor, its config and its key schema

using store::Aggregate;
using store::JoinSide;

class CurvesTest : public ::testing::Test {
 protected:
  // One prediction (a document) joined to a label `truth` (JSON), or not labelled when empty.
  void add(const std::string& document, const std::string& truth) {
    Aggregate a;
    ModelContributor c(fields_, config_);
    const JoinSide p{"m", "v1", 1'000'000, document};
    c.prediction(p, a);
    if (!truth.empty())
      c.join(p, JoinSide{"", "", 1'060'000, "{\"ground_truth\":" + truth + "}"}, a);
    agg_.add(a);
  }
  // A binary prediction: predicted class, and the score as the document carries it.
  void binary(bool predicted, bool truth, double score) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", score);
    add(std::string("{\"prediction\":{\"label\":") + (predicted ? "true" : "false") +
            ",\"score\":" + buf + "},\"confidence\":0.8}",
        truth ? "true" : "false");
  }
  Report report() {
    Report r = build_report(agg_, config_->for_model("m"));
    r.model = "m";
    r.from_ms = 0;
    r.to_ms = 60'000;
    return r;
  }

  std::shared_ptr<document::FieldMappingSet> fields_ =
      std::make_shared<document::FieldMappingSet>();
  std::shared_ptr<QualityConfig> config_ = std::make_shared<QualityConfig>();
  Aggregate agg_;
};

double trapezoid(const std::vector<RocPoint>& roc) {
  double area = 0;
  for (size_t i = 1; i < roc.size(); ++i) {
    area += (roc[i].fpr - roc[i - 1].fpr) * (roc[i].tpr + roc[i - 1].tpr) / 2;
  }
  return area;
}

double step_area(const std::vector<PrPoint>& pr) {
  double area = 0;
  for (size_t i = 1; i < pr.size(); ++i)
    area += (pr[i].recall - pr[i - 1].recall) * pr[i].precision;
  return area;
}

double ece(const std::vector<CalibrationBin>& bins) {
  double n = 0, sum = 0;
  for (const auto& b : bins) {
    n += b.count;
    sum += b.count * std::fabs(b.observed_frequency - b.mean_predicted);
  }
  return sum / n;
}

// The invariants of any curve pair, and their areas against the report's metrics.
void expect_consistent(const Report& r) {
  ASSERT_TRUE(r.scores.has_value());
  const ScoreCurves c = score_curves(*r.scores);
  ASSERT_GE(c.roc.size(), 2u);
  EXPECT_EQ(c.roc.front().fpr, 0);
  EXPECT_EQ(c.roc.front().tpr, 0);
  EXPECT_FALSE(c.roc.front().threshold.has_value());
  EXPECT_NEAR(c.roc.back().fpr, 1, 1e-12);
  EXPECT_NEAR(c.roc.back().tpr, 1, 1e-12);
  for (size_t i = 1; i < c.roc.size(); ++i) {
    EXPECT_GE(c.roc[i].fpr, c.roc[i - 1].fpr);
    EXPECT_GE(c.roc[i].tpr, c.roc[i - 1].tpr);
    EXPECT_TRUE(c.roc[i].fpr > c.roc[i - 1].fpr || c.roc[i].tpr > c.roc[i - 1].tpr);
    if (i > 1) {
      EXPECT_LT(*c.roc[i].threshold, *c.roc[i - 1].threshold);
    }
    EXPECT_EQ(c.precision_recall[i].threshold, c.roc[i].threshold);
    EXPECT_GE(c.precision_recall[i].recall, c.precision_recall[i - 1].recall);
    EXPECT_GE(c.precision_recall[i].precision, 0);
    EXPECT_LE(c.precision_recall[i].precision, 1);
  }
  ASSERT_TRUE(r.metric("roc_auc").has_value());
  EXPECT_NEAR(trapezoid(c.roc), *r.metric("roc_auc"), 1e-9);
  EXPECT_EQ(c.roc_auc, *r.metric("roc_auc"));
  EXPECT_NEAR(step_area(c.precision_recall), *r.metric("average_precision"), 1e-9);
  EXPECT_EQ(c.average_precision, *r.metric("average_precision"));
  const auto bins = calibration_curve(r);
  ASSERT_FALSE(bins.empty());
  double n = 0;
  for (const auto& b : bins) {
    EXPECT_GT(b.count, 0);
    EXPECT_GE(b.mean_predicted, b.lower - 1e-12);
    EXPECT_LE(b.mean_predicted, b.upper + 1e-12);
    EXPECT_GE(b.observed_frequency, 0);
    EXPECT_LE(b.observed_frequency, 1);
    n += b.count;
  }
  EXPECT_EQ(n, c.positives + c.negatives);
  EXPECT_NEAR(ece(bins), *r.metric("expected_calibration_error"), 1e-9);
}

TEST_F(CurvesTest, AreasEqualTheReportsMetricsOnGeneratedDataWithTiesAndTails) {
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    SCOPED_TRACE(seed);
    agg_ = Aggregate();
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(0, 1);
    const int n = 200 + static_cast<int>(seed) * 50;
    for (int i = 0; i < n; ++i) {
      const bool t = u(rng) < 0.1 + 0.05 * static_cast<double>(seed % 8);
      double s = t ? 0.2 + 0.8 * u(rng) : 0.8 * u(rng);
      if (i % 4 == 0) s = std::round(s * 20) / 20;  // heavy ties
      if (i % 7 == 0) s = t ? 1 - std::pow(10, -11 * u(rng)) : std::pow(10, -11 * u(rng));
      if (i % 11 == 0) s = t ? 1.0 : 0.0;
      binary(s >= 0.5, t, s);
    }
    expect_consistent(report());
  }
}

TEST_F(CurvesTest, EveryScoreReadingGivesCurvesOfThePositiveClassProbability) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(0, 1);
  for (auto semantics :
       {ScoreSemantics::kOtherClassProbability, ScoreSemantics::kPredictedClassConfidence}) {
    agg_ = Aggregate();
    for (int i = 0; i < 600; ++i) {
      const bool t = u(rng) < 0.4;
      double s = t ? 0.3 + 0.7 * u(rng) : 0.7 * u(rng);  // P(true)
      if (i % 5 == 0) s = std::round(s * 10) / 10;
      const bool predicted = s >= 0.5;
      const double carried = semantics == ScoreSemantics::kOtherClassProbability ? 1 - s
                             : predicted                                         ? s
                                                                                 : 1 - s;
      binary(predicted, t, carried);
    }
    const Report r = report();
    ASSERT_EQ(r.score_semantics, semantics);
    expect_consistent(r);
    EXPECT_GT(*r.metric("roc_auc"), 0.8);  // read the right way round
  }
}

TEST_F(CurvesTest, PointsAreExactWhenEveryScoreHasItsOwnBin) {
  // Scores at the middle of distinct bins: the binned curve is the exact one, so the ROC points
  // are those of a brute-force walk over the distinct scores, and the AUC is the Mann-Whitney
  // statistic.
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<std::pair<double, bool>> data;
  for (int i = 0; i < 500; ++i) {
    const int b = static_cast<int>(u(rng) * kScoreBins) % (kScoreBins - 1);
    const double s = (score_bin_lower_bound(b) + score_bin_lower_bound(b + 1)) / 2;
    const bool t = u(rng) < s;
    data.emplace_back(s, t);
    binary(s >= 0.5, t, s);
  }
  double pairs = 0, P = 0, N = 0;
  for (const auto& [s1, t1] : data) {
    (t1 ? P : N) += 1;
    if (!t1) continue;
    for (const auto& [s0, t0] : data) {
      if (!t0) pairs += s1 > s0 ? 1 : s1 == s0 ? 0.5 : 0;
    }
  }
  const Report r = report();
  expect_consistent(r);
  EXPECT_NEAR(*r.metric("roc_auc"), pairs / (P * N), 1e-12);
  const ScoreCurves c = score_curves(*r.scores);
  std::set<double> distinct;
  for (const auto& [s, t] : data) distinct.insert(s);
  ASSERT_EQ(c.roc.size(), distinct.size() + 1);
  size_t i = 1;
  for (auto it = distinct.rbegin(); it != distinct.rend(); ++it, ++i) {
    double tp = 0, fp = 0;
    for (const auto& [s, t] : data) {
      if (s >= *it) (t ? tp : fp) += 1;
    }
    EXPECT_NEAR(c.roc[i].tpr, tp / P, 1e-12);
    EXPECT_NEAR(c.roc[i].fpr, fp / N, 1e-12);
    EXPECT_LE(*c.roc[i].threshold, *it);  // the bin's lower bound
    EXPECT_NEAR(c.precision_recall[i].precision, tp / (tp + fp), 1e-12);
  }
}

TEST_F(CurvesTest, BinLowerBoundsContainTheirScores) {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> u(0, 1);
  for (int i = 1; i < kScoreBins; ++i) {
    ASSERT_LT(score_bin_lower_bound(i - 1), score_bin_lower_bound(i)) << i;
  }
  ModelQualityConfig config;
  config.score_semantics = ScoreSemantics::kPositiveClassProbability;
  config_->models["m"] = config;
  for (int i = 0; i < 300; ++i) {
    agg_ = Aggregate();
    double s = u(rng);
    if (i % 3 == 0) s = std::pow(10, -12 * u(rng));
    if (i % 3 == 1) s = 1 - std::pow(10, -12 * u(rng));
    binary(true, true, s);
    binary(false, false, 0.5);  // both classes: scores are kept
    const Report r = report();
    ASSERT_TRUE(r.scores.has_value());
    int bin = -1;
    for (int b = 0; b < kScoreBins; ++b) {
      if (r.scores->positive[static_cast<size_t>(b)] > 0) bin = b;
    }
    ASSERT_GE(bin, 0);
    // Edges are computed in floating point: a score within 1e-12 of an edge may fall either side.
    EXPECT_LE(score_bin_lower_bound(bin), s + 1e-12) << s;
    if (bin + 1 < kScoreBins) {
      EXPECT_GT(score_bin_lower_bound(bin + 1), s - 1e-12) << s;
    }
  }
}

TEST_F(CurvesTest, OneClassOnlyHasCalibrationButNoCurves) {
  for (int i = 0; i < 20; ++i) binary(i % 2 == 0, true, 0.05 * i);
  const Report r = report();
  ASSERT_TRUE(r.scores.has_value());
  const ScoreCurves c = score_curves(*r.scores);
  EXPECT_TRUE(c.roc.empty());
  EXPECT_TRUE(c.precision_recall.empty());
  EXPECT_FALSE(r.metric("roc_auc").has_value());
  EXPECT_NEAR(ece(calibration_curve(r)), *r.metric("expected_calibration_error"), 1e-12);
  const std::string json = curves_json(r, std::nullopt);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_FALSE(parser.parse(json).get(doc)) << json;
  EXPECT_TRUE(doc["roc"].error());
  EXPECT_FALSE(doc["calibration"]["bins"].error());
  EXPECT_NE(json.find("labels hold one class only"), std::string::npos) << json;
}

TEST_F(CurvesTest, NoScoresAndAnEmptyWindowAnswerWithoutCurves) {
  for (int i = 0; i < 10; ++i) {
    add(std::string("{\"prediction\":{\"label\":") + (i % 2 ? "true" : "false") + "}}",
        i % 3 ? "true" : "false");
  }
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  Report r = report();
  EXPECT_FALSE(r.scores.has_value());
  std::string json = curves_json(r, std::nullopt);
  ASSERT_FALSE(parser.parse(json).get(doc)) << json;
  EXPECT_TRUE(doc["roc"].error());
  EXPECT_TRUE(doc["calibration"].error());
  EXPECT_EQ(std::string_view(doc["task"]), "binary");
  EXPECT_NE(json.find("no labelled prediction carries a score"), std::string::npos);

  agg_ = Aggregate();  // an empty window
  r = report();
  json = curves_json(r, OverTime{"accuracy", 60'000, {}, 0});
  ASSERT_FALSE(parser.parse(json).get(doc)) << json;
  EXPECT_EQ(double(doc["report"]["predictions"]), 0);
  EXPECT_EQ(std::string_view(doc["time_zone"]), "UTC");
  EXPECT_EQ(simdjson::dom::array(doc["accuracy_over_time"]["versions"]).size(), 0u);
}

TEST_F(CurvesTest, MulticlassWithProbabilitiesHasOneVsRestCurves) {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(0, 1);
  const std::vector<std::string> classes = {"a", "b", "c"};
  std::vector<std::pair<double, bool>> of_b;  // P(b), and whether the truth is b
  for (int i = 0; i < 400; ++i) {
    const size_t t = static_cast<size_t>(u(rng) * 3) % 3;
    std::vector<double> p(3);
    double sum = 0;
    for (size_t k = 0; k < 3; ++k) sum += p[k] = u(rng) + (k == t ? 1.0 : 0.0);
    for (auto& x : p) x = std::round(x / sum * 100) / 100;  // ties
    const size_t predicted = static_cast<size_t>(std::max_element(p.begin(), p.end()) - p.begin());
    char buf[160];
    std::snprintf(buf, sizeof buf,
                  "{\"prediction\":{\"class\":\"%s\"},\"probabilities\":{\"a\":%g,\"b\":%g,"
                  "\"c\":%g}}",
                  classes[predicted].c_str(), p[0], p[1], p[2]);
    add(buf, "\"" + classes[t] + "\"");
    of_b.emplace_back(p[1], t == 1);
  }
  const Report r = report();
  ASSERT_EQ(r.task, "multiclass");
  ASSERT_EQ(r.one_vs_rest.size(), 3u);
  EXPECT_EQ(r.one_vs_rest[1].value, "\"b\"");
  // P(b) rounded to 0.01 falls in distinct middle bins (or the tails for 0 and 1), so the binned
  // AUC is the Mann-Whitney statistic of P(b), ties counted half.
  double pairs = 0, P = 0, N = 0;
  for (const auto& [s1, t1] : of_b) {
    (t1 ? P : N) += 1;
    if (!t1) continue;
    for (const auto& [s0, t0] : of_b) {
      if (!t0) pairs += s1 > s0 + 1e-9 ? 1 : std::fabs(s1 - s0) <= 1e-9 ? 0.5 : 0;
    }
  }
  const ScoreCurves c = score_curves(r.one_vs_rest[1]);
  EXPECT_NEAR(c.roc_auc, pairs / (P * N), 1e-12);
  EXPECT_NEAR(trapezoid(c.roc), c.roc_auc, 1e-9);
  EXPECT_NEAR(step_area(c.precision_recall), c.average_precision, 1e-9);
  const std::string json = curves_json(r, std::nullopt);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_FALSE(parser.parse(json).get(doc)) << json;
  EXPECT_EQ(simdjson::dom::array(doc["one_vs_rest"]).size(), 3u);
}

TEST_F(CurvesTest, MulticlassWithoutProbabilitiesSaysSo) {
  for (int i = 0; i < 9; ++i) {
    add("{\"prediction\":{\"class\":\"" + std::string(1, static_cast<char>('a' + i % 3)) + "\"}}",
        "\"" + std::string(1, static_cast<char>('a' + (i / 3) % 3)) + "\"");
  }
  const Report r = report();
  ASSERT_EQ(r.task, "multiclass");
  EXPECT_TRUE(r.one_vs_rest.empty());
  EXPECT_NE(curves_json(r, std::nullopt).find("one_vs_rest: the documents carry no per-class"),
            std::string::npos);
}

TEST_F(CurvesTest, TheJsonCarriesTheReportAndItsReferenceMetrics) {
  std::mt19937_64 rng(9);
  std::uniform_real_distribution<double> u(0, 1);
  for (int i = 0; i < 300; ++i) {
    const bool t = u(rng) < 0.3;
    const double s = t ? 0.3 + 0.7 * u(rng) : 0.7 * u(rng);
    binary(s >= 0.5, t, s);
  }
  const Report r = report();
  OverTime ot{"accuracy", 60'000, {{"v1", {{0, 60'000, 300, 0.9}, {60'000, 120'000, 0, {}}}}}, 2};
  const std::string json = curves_json(r, ot);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_FALSE(parser.parse(json).get(doc)) << json;
  // A second parser: the first one's document is still read below.
  simdjson::dom::parser p2;
  EXPECT_EQ(simdjson::minify(doc["report"]), simdjson::minify(p2.parse(r.to_json()).value()))
      << "the report is embedded unchanged";
  EXPECT_EQ(double(doc["roc"]["auc"]), *r.metric("roc_auc"));
  EXPECT_EQ(double(doc["reference"]["roc_auc"]), *r.metric("roc_auc"));
  EXPECT_EQ(double(doc["precision_recall"]["average_precision"]), *r.metric("average_precision"));
  EXPECT_EQ(double(doc["reference"]["expected_calibration_error"]),
            *r.metric("expected_calibration_error"));
  EXPECT_EQ(bool(doc["roc"]["positive_class"]), true);
  auto points = simdjson::dom::array(doc["roc"]["points"]);
  EXPECT_EQ(points.at(0)["threshold"].is_null(), true);
  auto series = doc["accuracy_over_time"];
  EXPECT_EQ(int64_t(series["step_seconds"]), 60);
  EXPECT_EQ(int64_t(series["versions_omitted"]), 2);
  auto p = simdjson::dom::array(series["versions"].at(0)["points"]);
  EXPECT_EQ(double(p.at(0)["value"]), 0.9);
  EXPECT_TRUE(p.at(1)["value"].is_null());
  EXPECT_EQ(std::string_view(p.at(1)["from"]), "1970-01-01T00:01:00.000Z");
}

TEST(SeriesStepTest, AtMostSixtyAlignedBuckets) {
  constexpr int64_t kMinute = 60'000, kDay = 86'400'000;
  EXPECT_EQ(series_step_ms(0, 30 * kMinute), kMinute);
  EXPECT_EQ(series_step_ms(0, 2 * 60 * kMinute), 5 * kMinute);
  EXPECT_EQ(series_step_ms(0, kDay), 60 * kMinute);
  EXPECT_EQ(series_step_ms(0, 30 * kDay), kDay);
  std::mt19937_64 rng(1);
  std::uniform_int_distribution<int64_t> span(kMinute, 4000 * kDay), start(0, 1000 * kDay);
  for (int i = 0; i < 2000; ++i) {
    const int64_t from = start(rng), to = from + span(rng);
    const int64_t step = series_step_ms(from, to);
    const int64_t first = from - from % step;
    EXPECT_LE((to - first + step - 1) / step, kMaxSeriesBuckets) << from << " " << to;
  }
}

}  // namespace
}  // namespace verity::query
