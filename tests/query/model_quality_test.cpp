// Contributions and reports (query/model_quality). Every metric is also compared with
// scikit-learn on generated data by tests/integration/model_metrics_test.cpp; these tests pin the
// semantics: task inference, positive class, class cap, corrections, edge cases.

#include "verity/query/model_quality.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "verity/quality/contributor.h"

namespace verity::query {
namespace {

using namespace quality;  // the contributor, its config and its key schema

using store::Aggregate;
using store::JoinSide;

class ReportTest : public ::testing::Test {
 protected:
  // A prediction with `predicted` (JSON) and optional score, joined to a label `truth` (JSON).
  void add(const std::string& predicted, const std::string& truth, double score = -1,
           const std::string& model = "m", int sign = 1) {
    std::string doc = "{\"prediction\":{\"label\":" + predicted;
    if (score >= 0) doc += ",\"score\":" + std::to_string(score);
    doc += "},\"confidence\":0.8}";
    const std::string label = "{\"ground_truth\":" + truth + "}";
    Aggregate a;
    ModelContributor c(fields_, config_);
    const JoinSide p{model, "v1", 1'000'000, doc};
    c.prediction(p, a);
    if (!truth.empty()) c.join(p, JoinSide{"", "", 1'060'000, label}, a);
    agg_.add(a, sign);
  }
  Report report(const std::string& model = "m") {
    return build_report(agg_, config_->for_model(model));
  }
  static double metric(const Report& r, const std::string& name) {
    auto v = r.metric(name);
    EXPECT_TRUE(v.has_value()) << name;
    return v.value_or(NAN);
  }

  std::shared_ptr<document::FieldMappingSet> fields_ =
      std::make_shared<document::FieldMappingSet>();
  std::shared_ptr<QualityConfig> config_ = std::make_shared<QualityConfig>();
  Aggregate agg_;
};

TEST_F(ReportTest, BinaryFromBooleansInfersTheTaskAndTrueAsPositive) {
  // true positives 2, false negatives 1, false positives 1, true negatives 3
  add("true", "true");
  add("true", "true");
  add("false", "true");
  add("true", "false");
  add("false", "false");
  add("false", "false");
  add("false", "false");
  const Report r = report();
  EXPECT_EQ(r.task, "binary");
  EXPECT_EQ(r.task_source, "inferred");
  EXPECT_EQ(r.positive_class, "true");
  EXPECT_EQ(r.predictions, 7);
  EXPECT_EQ(r.labelled, 7);
  EXPECT_DOUBLE_EQ(metric(r, "accuracy"), 5.0 / 7);
  EXPECT_DOUBLE_EQ(metric(r, "precision"), 2.0 / 3);
  EXPECT_DOUBLE_EQ(metric(r, "recall"), 2.0 / 3);
  EXPECT_DOUBLE_EQ(metric(r, "baseline_accuracy"), 4.0 / 7);
  EXPECT_DOUBLE_EQ(metric(r, "label_coverage"), 1.0);
  EXPECT_DOUBLE_EQ(metric(r, "label_lag_seconds_mean"), 60.0);
  ASSERT_EQ(r.classes, (std::vector<std::string>{"false", "true"}));
  EXPECT_EQ(r.matrix, (std::vector<std::vector<double>>{{3, 1}, {1, 2}}));
  EXPECT_FALSE(r.metric("roc_auc").has_value());  // no scores
}

TEST_F(ReportTest, RocAucCountsRankedPairsAndTiesAsHalf) {
  // positives at 0.9, 0.7, 0.35; negatives at 0.8, 0.35, 0.1: of 9 pairs, 6 are ranked right
  // (0.9 > all three, 0.7 > 0.35 and 0.1, 0.35 > 0.1) and one is tied (0.35 = 0.35).
  add("true", "true", 0.9);
  add("true", "true", 0.7);
  add("false", "true", 0.35);
  add("true", "false", 0.8);
  add("false", "false", 0.35);
  add("false", "false", 0.1);
  const Report r = report();
  EXPECT_DOUBLE_EQ(metric(r, "roc_auc"), 6.5 / 9);
  // Brier: mean of (1-p)^2 for positives and p^2 for negatives.
  const double brier = (0.01 + 0.09 + 0.4225 + 0.64 + 0.1225 + 0.01) / 6;
  EXPECT_NEAR(metric(r, "brier_score_loss"), brier, 1e-12);
  const double log_loss = -(std::log(0.9) + std::log(0.7) + std::log(0.35) + std::log(0.2) +
                            std::log(0.65) + std::log(0.9)) /
                          6;
  EXPECT_NEAR(metric(r, "log_loss"), log_loss, 1e-12);
}

TEST_F(ReportTest, ConfiguredPositiveClassAndStrings) {
  ModelQualityConfig c;
  c.positive_class = "\"legit\"";
  config_->models["m"] = c;
  add("\"fraud\"", "\"fraud\"");
  add("\"legit\"", "\"fraud\"");
  add("\"legit\"", "\"legit\"");
  Report r = report();
  EXPECT_EQ(r.positive_class, "\"legit\"");
  EXPECT_DOUBLE_EQ(metric(r, "precision"), 0.5);
  EXPECT_DOUBLE_EQ(metric(r, "recall"), 1.0);
  config_->models.clear();  // inferred: the greater class, as scikit-learn
  r = report();
  EXPECT_EQ(r.positive_class, "\"legit\"");
}

TEST_F(ReportTest, MulticlassMacroAndWeightedAveragesAndZeroDivision) {
  add("\"a\"", "\"a\"");
  add("\"a\"", "\"b\"");
  add("\"c\"", "\"b\"");
  add("\"a\"", "\"a\"");
  const Report r = report();
  EXPECT_EQ(r.task, "multiclass");
  // a: precision 2/3, recall 1; b: precision 0 (never predicted), recall 0; c: precision 0,
  // recall 0 (never true).
  EXPECT_DOUBLE_EQ(metric(r, "precision_macro"), (2.0 / 3) / 3);
  EXPECT_DOUBLE_EQ(metric(r, "recall_macro"), 1.0 / 3);
  EXPECT_DOUBLE_EQ(metric(r, "recall_weighted"), 0.5);  // (1*2 + 0*2) / 4
  EXPECT_DOUBLE_EQ(metric(r, "f1_macro"), 0.8 / 3);
  EXPECT_FALSE(r.metric("precision").has_value());  // binary only
}

TEST_F(ReportTest, ClassesBeyondTheCapAreCountedAsOther) {
  ModelQualityConfig c;
  c.max_classes = 3;
  config_->models["m"] = c;
  for (int i = 0; i < 5; ++i) add("\"x\"", "\"x\"");
  for (int i = 0; i < 4; ++i) add("\"y\"", "\"y\"");
  add("\"p\"", "\"q\"");
  add("\"r\"", "\"r\"");
  const Report r = report();
  ASSERT_EQ(r.classes, (std::vector<std::string>{"\"__other__\"", "\"x\"", "\"y\""}));
  EXPECT_EQ(r.matrix[0][0], 2);  // p->q and r->r both became other->other
  EXPECT_DOUBLE_EQ(metric(r, "accuracy"), 1.0);
}

TEST_F(ReportTest, RegressionFromNumbers) {
  add("2.5", "3");
  add("0", "-1");
  add("10", "8");
  const Report r = report();
  EXPECT_EQ(r.task, "regression");
  EXPECT_DOUBLE_EQ(metric(r, "mean_absolute_error"), (0.5 + 1 + 2) / 3);
  EXPECT_DOUBLE_EQ(metric(r, "mean_squared_error"), (0.25 + 1 + 4) / 3);
  const double mean = 10.0 / 3;
  const double sst = std::pow(3 - mean, 2) + std::pow(-1 - mean, 2) + std::pow(8 - mean, 2);
  EXPECT_NEAR(metric(r, "r2"), 1 - 5.25 / sst, 1e-12);
  // A sum of n fixed-point values is exact to n x 2^-41 and is rounded to the decade above that
  // (1e-11 here) before dividing: 1/6 is no decimal.
  EXPECT_NEAR(metric(r, "mean_absolute_percentage_error"), (0.5 / 3 + 1 + 2.0 / 8) / 3, 1e-11);
}

TEST_F(ReportTest, SumsCarryNoFixedPointResidue) {
  // Issue 13: one confidence of 0.91 read back 0.9099999999998545.
  store::Aggregate a;
  a.add("n", 1);
  a.add("conf_n", 1);
  a.add("conf_sum", 0.91);
  a.add("labelled", 1);
  a.add("lag_sum", 77400.123);
  a.add("reg", 1);
  a.add("ae", 0.3);
  a.add("se", 0.09);
  a.add("ape", 0.1);
  a.add("y", 3);
  a.add("yy", 9);
  const Report r = build_report(a, ModelQualityConfig{});
  EXPECT_EQ(r.metric("confidence_mean"), 0.91);
  EXPECT_EQ(r.metric("label_lag_seconds_mean"), 77400.123);
  EXPECT_EQ(r.metric("mean_absolute_error"), 0.3);
  EXPECT_EQ(r.metric("mean_squared_error"), 0.09);
  EXPECT_NE(r.to_json().find(R"("confidence_mean":0.91,)"), std::string::npos) << r.to_json();
}

TEST_F(ReportTest, ConstantTargetsR2AsScikitLearn) {
  add("1", "1");
  add("1", "1");
  EXPECT_EQ(metric(report(), "r2"), 1.0);
  add("2", "1");
  EXPECT_EQ(metric(report(), "r2"), 0.0);
}

TEST_F(ReportTest, ACorrectionLeavesExactlyWhatACleanRunHas) {
  add("true", "true", 0.9);
  add("false", "false", 0.2);
  add("true", "false", 0.6);  // this label is corrected below
  add("true", "false", 0.6, "m", -1);
  add("true", "true", 0.6);
  const std::string corrected = report().to_json();
  agg_ = Aggregate();
  add("true", "true", 0.9);
  add("false", "false", 0.2);
  add("true", "true", 0.6);
  EXPECT_EQ(report().to_json(), corrected);
}

TEST_F(ReportTest, UnlabelledAndMismatchedPredictions) {
  add("true", "");   // no label
  add("true", "1");  // a boolean prediction, a number label: counted as a mismatch
  const Report r = report();
  EXPECT_EQ(r.predictions, 2);
  EXPECT_EQ(r.labelled, 1);
  EXPECT_DOUBLE_EQ(metric(r, "label_coverage"), 0.5);
  EXPECT_DOUBLE_EQ(metric(r, "label_mismatch_ratio"), 1.0);
  EXPECT_EQ(r.confidence_histogram[16], 2);  // confidence 0.8
}

TEST_F(ReportTest, ConfiguredTaskTreatsNumbersAsClasses) {
  ModelQualityConfig c;
  c.task = Task::kBinary;
  config_->models["m"] = c;
  add("1", "1.0");
  add("0", "1");
  const Report r = report();
  EXPECT_EQ(r.task, "binary");
  EXPECT_EQ(r.task_source, "config");
  EXPECT_EQ(r.classes, (std::vector<std::string>{"0", "1"}));
  EXPECT_DOUBLE_EQ(metric(r, "accuracy"), 0.5);
}

class FeatureTest : public ReportTest {
 protected:
  void predict(const std::string& inputs, Aggregate& into) {
    Aggregate a;
    ModelContributor(fields_, config_)
        .prediction(JoinSide{"m", "v1", 0, "{\"inputs\":" + inputs + ",\"prediction\":1}"}, a);
    into.add(a);
  }
  static const Report::FeatureQuality& feature(const Report& r, const std::string& name) {
    for (const auto& f : r.features) {
      if (f.name == name) return f;
    }
    ADD_FAILURE() << "no feature " << name;
    static Report::FeatureQuality none;
    return none;
  }
};

TEST_F(FeatureTest, NullTypeMismatchAndOutOfRangeRates) {
  predict(R"({"age":30,"country":"FR"})", agg_);
  predict(R"({"age":null,"country":"DE"})", agg_);
  predict(R"({"country":"FR"})", agg_);
  predict(R"({"age":"thirty","country":7})", agg_);
  predict(R"({"age":130,"country":"FR"})", agg_);
  Report r = report();
  EXPECT_DOUBLE_EQ(feature(r, "age").null_ratio, 2.0 / 5);  // null and missing
  EXPECT_EQ(feature(r, "age").expected_type, "number");     // the most frequent
  EXPECT_DOUBLE_EQ(feature(r, "age").type_mismatch_ratio, 1.0 / 3);
  EXPECT_FALSE(feature(r, "age").out_of_range_ratio.has_value());
  EXPECT_DOUBLE_EQ(feature(r, "country").type_mismatch_ratio, 1.0 / 5);
  ModelQualityConfig c;
  c.features["age"] = {"number", 0.0, 120.0, false};
  config_->models["m"] = c;
  agg_ = Aggregate();
  predict(R"({"age":30,"country":"FR"})", agg_);
  predict(R"({"age":130})", agg_);
  predict(R"({"age":-1})", agg_);
  predict(R"({"age":"x"})", agg_);
  r = report();
  ASSERT_EQ(r.features.size(), 1u);  // configured features only
  EXPECT_DOUBLE_EQ(*feature(r, "age").out_of_range_ratio, 2.0 / 4);
  EXPECT_DOUBLE_EQ(feature(r, "age").type_mismatch_ratio, 1.0 / 4);
}

TEST_F(FeatureTest, NumericPsiIsZeroForTheSameDistributionAndLargeForAShift) {
  std::mt19937_64 rng(1);
  std::normal_distribution<double> normal(50, 10);
  Aggregate baseline, same, shifted;
  for (int i = 0; i < 5000; ++i) {
    const double x = normal(rng);
    predict("{\"x\":" + std::to_string(x) + "}", baseline);
    predict("{\"x\":" + std::to_string(x) + "}", same);
    predict("{\"x\":" + std::to_string(x + 15) + "}", shifted);
  }
  EXPECT_EQ(*feature(build_report(same, config_->defaults, &baseline), "x").psi, 0.0);
  const double psi = *feature(build_report(shifted, config_->defaults, &baseline), "x").psi;
  EXPECT_GT(psi, 0.2);
  Aggregate slightly;  // a 1% shift stays well below the usual 0.1 "investigate" level
  for (int i = 0; i < 5000; ++i)
    predict("{\"x\":" + std::to_string(normal(rng) + 0.1) + "}", slightly);
  EXPECT_LT(*feature(build_report(slightly, config_->defaults, &baseline), "x").psi, 0.1);
}

TEST_F(FeatureTest, CategoricalPsiOverCategoryShares) {
  ModelQualityConfig c;
  c.features["country"] = {"string", std::nullopt, std::nullopt, true};
  config_->models["m"] = c;
  Aggregate baseline, current;
  for (int i = 0; i < 100; ++i) {
    predict(i < 50 ? R"({"country":"a"})" : R"({"country":"b"})", baseline);
    predict(i < 80 ? R"({"country":"a"})" : R"({"country":"b"})", current);
  }
  const double expected = 0.3 * std::log(0.8 / 0.5) + (-0.3) * std::log(0.2 / 0.5);
  EXPECT_NEAR(*feature(build_report(current, c, &baseline), "country").psi, expected, 1e-12);
}

TEST(WindowTest, Parses) {
  EXPECT_EQ(parse_window("5m")->count(), 300'000);
  EXPECT_EQ(parse_window("24h")->count(), 86'400'000);
  EXPECT_EQ(parse_window("30d")->count(), 30ll * 86'400'000);
  EXPECT_FALSE(parse_window("0m").has_value());
  EXPECT_FALSE(parse_window("5").has_value());
  EXPECT_FALSE(parse_window("5w").has_value());
  EXPECT_FALSE(parse_window("-5m").has_value());
}

// Issue 13: a binary model's score read the wrong way turned ROC AUC 0.98 into 0.02. Scores of
// every convention, generated from one hidden P(positive), must give the same metrics.
class ScoreSemanticsTest : public ::testing::Test {
 protected:
  // n predictions of classes "fraud" (positive here: the greater) / "alpha" whose true P(fraud) is
  // drawn from a good model; the document carries it as `convention` says.
  void generate(const std::string& convention, int n = 2000) {
    std::mt19937_64 rng(42);
    std::uniform_real_distribution<double> u(0, 1);
    for (int i = 0; i < n; ++i) {
      const bool fraud = u(rng) < 0.3;
      double p = fraud ? 0.4 + 0.6 * u(rng) : 0.6 * u(rng);  // P(fraud)
      if (i % 7 == 0) p = fraud ? 1 - std::pow(10, -8 * u(rng)) : std::pow(10, -8 * u(rng));
      const bool predicted_fraud = p >= 0.5;
      const std::string predicted = predicted_fraud ? "\"fraud\"" : "\"alpha\"";
      char buf[160];
      std::string doc = "{\"prediction\":{\"label\":" + predicted;
      if (convention == "positive") {
        std::snprintf(buf, sizeof buf, ",\"score\":%.17g", p);
      } else if (convention == "other") {
        std::snprintf(buf, sizeof buf, ",\"score\":%.17g", 1 - p);
      } else if (convention == "confidence") {
        std::snprintf(buf, sizeof buf, ",\"score\":%.17g", predicted_fraud ? p : 1 - p);
      } else {  // per-class probabilities, and a misleading score
        std::snprintf(buf, sizeof buf,
                      ",\"score\":%.17g,\"probabilities\":{\"alpha\":%.17g,\"fraud\":%.17g}",
                      predicted_fraud ? p : 1 - p, 1 - p, p);
      }
      doc += buf;
      doc += "}}";
      const JoinSide ps{"m", "v1", 1'000'000, doc};
      const std::string label =
          std::string("{\"ground_truth\":") + (fraud ? "\"fraud\"" : "\"alpha\"") + "}";
      Aggregate a;
      contributor_.join(ps, JoinSide{"", "", 1'060'000, label}, a);
      agg_.add(a);
      ps_.push_back(p);
      truth_.push_back(fraud);
    }
  }
  double exact_auc() const {
    double pairs = 0, good = 0;
    for (size_t i = 0; i < ps_.size(); ++i) {
      for (size_t j = 0; j < ps_.size(); ++j) {
        if (!truth_[i] || truth_[j]) continue;
        ++pairs;
        good += ps_[i] > ps_[j] ? 1 : ps_[i] == ps_[j] ? 0.5 : 0;
      }
    }
    return good / pairs;
  }
  double exact_log_loss() const {
    double s = 0;
    for (size_t i = 0; i < ps_.size(); ++i) {
      const double p = std::clamp(ps_[i], 2.220446049250313e-16, 1 - 2.220446049250313e-16);
      s -= truth_[i] ? std::log(p) : std::log(1 - p);
    }
    return s / static_cast<double>(ps_.size());
  }

  std::shared_ptr<document::FieldMappingSet> fields_ =
      std::make_shared<document::FieldMappingSet>();
  std::shared_ptr<QualityConfig> config_ = std::make_shared<QualityConfig>();
  ModelContributor contributor_{fields_, config_};
  Aggregate agg_;
  std::vector<double> ps_;
  std::vector<bool> truth_;
};

TEST_F(ScoreSemanticsTest, EveryConventionIsInferredAndGivesTheSameMetrics) {
  for (const auto& [convention, expected] : std::vector<std::pair<std::string, ScoreSemantics>>{
           {"positive", ScoreSemantics::kPositiveClassProbability},
           {"other", ScoreSemantics::kOtherClassProbability},
           {"confidence", ScoreSemantics::kPredictedClassConfidence},
           {"probabilities", ScoreSemantics::kClassProbabilities}}) {
    SCOPED_TRACE(convention);
    agg_ = Aggregate();
    ps_.clear();
    truth_.clear();
    generate(convention);
    const Report r = build_report(agg_, ModelQualityConfig{});
    EXPECT_EQ(r.positive_class, "\"fraud\"");
    ASSERT_TRUE(r.score_semantics.has_value());
    EXPECT_EQ(*r.score_semantics, expected);
    EXPECT_EQ(r.score_semantics_source, "inferred");
    EXPECT_EQ(r.score_label_disagreement_ratio, 0.0);
    EXPECT_TRUE(r.warnings.empty());
    EXPECT_GT(exact_auc(), 0.9);
    EXPECT_NEAR(*r.metric("roc_auc"), exact_auc(), 2e-3);
    EXPECT_NEAR(*r.metric("log_loss"), exact_log_loss(), 1e-9);
  }
}

TEST_F(ScoreSemanticsTest, AConfiguredReadingIsUsedAndItsDisagreementReported) {
  generate("other");
  ModelQualityConfig c;
  c.score_semantics = ScoreSemantics::kPositiveClassProbability;  // wrong on purpose
  const Report r = build_report(agg_, c);
  EXPECT_EQ(r.score_semantics_source, "configured");
  EXPECT_LT(*r.metric("roc_auc"), 0.1);  // read the wrong way, as configured
  EXPECT_EQ(r.score_label_disagreement_ratio, 1.0);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("contradict the predicted label"), std::string::npos);
  EXPECT_NE(r.to_json().find(
                R"("score_semantics":{"value":"positive_class_probability","source":"configured",)"
                R"("score_label_disagreement_ratio":1})"),
            std::string::npos)
      << r.to_json();
}

TEST_F(ScoreSemanticsTest, ManyScoresInTheLowestBinsKeepAveragePrecisionExact) {
  generate("positive", 3000);
  // Average precision from the exact scores (scikit-learn's definition: ties as one threshold).
  std::vector<std::pair<double, bool>> v;
  for (size_t i = 0; i < ps_.size(); ++i) v.emplace_back(ps_[i], truth_[i]);
  std::sort(v.begin(), v.end(), [](auto& a, auto& b) { return a.first > b.first; });
  double P = 0;
  for (auto& [p, t] : v) P += t;
  double tp = 0, fp = 0, ap = 0;
  for (size_t i = 0; i < v.size();) {
    size_t j = i;
    double bp = 0;
    while (j < v.size() && v[j].first == v[i].first) bp += v[j++].second;
    tp += bp;
    fp += static_cast<double>(j - i) - bp;
    ap += bp / P * tp / (tp + fp);
    i = j;
  }
  const Report r = build_report(agg_, ModelQualityConfig{});
  EXPECT_NEAR(*r.metric("average_precision"), ap, 2e-3);
}

TEST_F(ReportTest, AConfiguredPositiveClassThatNeverOccursIsNoPhantomClass) {
  ModelQualityConfig c;
  c.positive_class = "\"fraud\"";
  c.task = Task::kBinary;
  config_->models["m"] = c;
  add("\"spam\"", "\"spam\"", 0.9);
  add("\"ham\"", "\"spam\"", 0.2);
  const Report r = report();
  EXPECT_TRUE(r.positive_class_missing);
  EXPECT_EQ(r.classes, (std::vector<std::string>{"\"ham\"", "\"spam\""}));
  EXPECT_FALSE(r.metric("precision").has_value());
  EXPECT_FALSE(r.metric("roc_auc").has_value());
  ASSERT_FALSE(r.warnings.empty());
  EXPECT_NE(r.to_json().find(R"("positive_class_missing":true)"), std::string::npos);
}

}  // namespace
}  // namespace verity::query
