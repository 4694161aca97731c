// Model quality reports: computed from a sum of the aggregates that quality/'s contributor wrote
// (the keys: verity/quality/aggregate_keys.h).

#include "verity/query/model_quality.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <set>

#include <simdjson.h>

#include "verity/core/http.h"
#include "verity/document/json_value.h"
#include "verity/document/json_writer.h"
#include "verity/quality/aggregate_keys.h"

namespace verity::query {

using quality::bucket_value;
using quality::kCalibrationBins;
using quality::kConfidenceBins;
using quality::kLagBoundsSeconds;
using quality::kLegacyScoreBins;
using quality::kScoreBins;
using quality::kSep;
using quality::mirror_bin;
using quality::ModelQualityConfig;
using quality::score_bin;
using quality::score_semantics_name;
using quality::ScoreSemantics;
using quality::Task;
using quality::task_name;

// ---------------------------------------------------------------------------------------------
// Reports.

namespace {

// The sums of one group of scores (one true class and predicted class, and for probabilities one
// class named by the probability object).
struct ScoreGroup {
  std::string t, p, c;              // p is "" for legacy sums (predicted class not kept)
  std::map<int, double> histogram;  // score_bin -> count
  double l1 = 0, l0 = 0, q1 = 0, q0 = 0;
  std::optional<double> up, down;  // scores >= 0.5 and <= 0.5 (not in legacy sums)
  std::array<double, kCalibrationBins> c1{}, c1s{}, c0{}, c0s{};
};

struct Parsed {
  std::map<std::pair<std::string, std::string>, double> cm;
  std::map<std::string, ScoreGroup> scores;         // by "<t>\x1f<p>"
  std::map<std::string, ScoreGroup> probabilities;  // by "<t>\x1f<p>\x1f<c>"
  std::vector<double> confidence = std::vector<double>(kConfidenceBins);
  std::vector<double> lag = std::vector<double>(kLagBoundsSeconds.size() + 1);
  struct Feature {
    double present = 0, out_of_range = 0;
    std::map<std::string, double> types;
    std::map<double, double> buckets;          // bucket lower bound -> count
    std::map<std::string, double> categories;  // JSON text -> count
  };
  std::map<std::string, Feature> features;
};

size_t bin_of(std::string_view text, size_t bins) {
  size_t b = 0;
  for (char ch : text) {
    if (ch < '0' || ch > '9' || b > bins) break;  // aggregates are ours, but never trusted blindly
    b = b * 10 + static_cast<size_t>(ch - '0');
  }
  return std::min(b, bins - 1);
}

enum class ScorePart { kNone, kHistogram, kL1, kL0, kQ1, kQ0, kC1, kC1s, kC0, kC0s, kUp, kDown };
ScorePart score_part(std::string_view name) {
  if (name == "h") return ScorePart::kHistogram;
  if (name == "u") return ScorePart::kUp;
  if (name == "d") return ScorePart::kDown;
  if (name == "l1") return ScorePart::kL1;
  if (name == "l0") return ScorePart::kL0;
  if (name == "q1") return ScorePart::kQ1;
  if (name == "q0") return ScorePart::kQ0;
  if (name == "c1") return ScorePart::kC1;
  if (name == "c1s") return ScorePart::kC1s;
  if (name == "c0") return ScorePart::kC0;
  if (name == "c0s") return ScorePart::kC0s;
  return ScorePart::kNone;
}

// Splits "a\x1fb\x1fc..." into its parts.
std::vector<std::string_view> split_key(std::string_view rest) {
  std::vector<std::string_view> parts;
  while (true) {
    const size_t at = rest.find(kSep);
    parts.push_back(rest.substr(0, at));
    if (at == std::string_view::npos) return parts;
    rest.remove_prefix(at + 1);
  }
}

ScoreGroup& legacy_group(Parsed& p, std::string_view t) {
  ScoreGroup& g = p.scores[std::string(t) + kSep];
  g.t = std::string(t);
  return g;
}

// One entry of a score group: head is s|p + part, rest the group (and a bin for binned parts).
void add_score_entry(Parsed& p, std::string_view head, std::string_view rest, double v) {
  const bool probability = head[0] == 'p';
  const ScorePart part = score_part(head.substr(1));
  const bool binned = part == ScorePart::kHistogram || part == ScorePart::kC1 ||
                      part == ScorePart::kC1s || part == ScorePart::kC0 || part == ScorePart::kC0s;
  std::vector<std::string_view> parts = split_key(rest);
  const size_t group_parts = probability ? 3 : 2;
  if (parts.size() != group_parts + (binned ? 1 : 0)) return;
  const std::string_view bin = binned ? parts.back() : std::string_view();
  const size_t group_len = binned ? rest.size() - bin.size() - 1 : rest.size();
  auto& groups = probability ? p.probabilities : p.scores;
  ScoreGroup& g = groups[std::string(rest.substr(0, group_len))];
  g.t = std::string(parts[0]);
  g.p = std::string(parts[1]);
  if (probability) g.c = std::string(parts[2]);
  switch (part) {
    case ScorePart::kHistogram:
      g.histogram[static_cast<int>(bin_of(bin, kScoreBins))] += v;
      break;
    case ScorePart::kL1:
      g.l1 += v;
      break;
    case ScorePart::kL0:
      g.l0 += v;
      break;
    case ScorePart::kQ1:
      g.q1 += v;
      break;
    case ScorePart::kQ0:
      g.q0 += v;
      break;
    case ScorePart::kC1:
      g.c1[bin_of(bin, kCalibrationBins)] += v;
      break;
    case ScorePart::kC1s:
      g.c1s[bin_of(bin, kCalibrationBins)] += v;
      break;
    case ScorePart::kC0:
      g.c0[bin_of(bin, kCalibrationBins)] += v;
      break;
    case ScorePart::kC0s:
      g.c0s[bin_of(bin, kCalibrationBins)] += v;
      break;
    case ScorePart::kUp:
      g.up = g.up.value_or(0) + v;
      break;
    case ScorePart::kDown:
      g.down = g.down.value_or(0) + v;
      break;
    case ScorePart::kNone:
      break;
  }
}

Parsed parse(const store::Aggregate& a) {
  Parsed p;
  a.for_each([&p](const std::string& k, double v) {
    const size_t s1 = k.find(kSep);
    if (s1 == std::string::npos) return;
    const std::string_view head = std::string_view(k).substr(0, s1);
    const std::string_view rest = std::string_view(k).substr(s1 + 1);
    const size_t s2 = rest.rfind(kSep);
    if (head == "cm" && s2 != std::string_view::npos) {
      // A class text is JSON: it holds no raw separator, so the last one splits true from
      // predicted.
      p.cm[{std::string(rest.substr(0, s2)), std::string(rest.substr(s2 + 1))}] += v;
    } else if (head.size() >= 2 && (head[0] == 's' || head[0] == 'p') &&
               score_part(head.substr(1)) != ScorePart::kNone) {
      add_score_entry(p, head, rest, v);
    } else if (head == "sc" && s2 != std::string_view::npos) {  // legacy: by true class only
      ScoreGroup& g = legacy_group(p, rest.substr(0, s2));
      const double s = (static_cast<double>(bin_of(rest.substr(s2 + 1), kLegacyScoreBins)) + 0.5) /
                       kLegacyScoreBins;
      g.histogram[score_bin(s)] += v;
    } else if (head == "cal" && s2 != std::string_view::npos) {
      legacy_group(p, rest.substr(0, s2)).c1[bin_of(rest.substr(s2 + 1), kCalibrationBins)] += v;
    } else if (head == "calp") {
      legacy_group(p, "").c1s[bin_of(rest, kCalibrationBins)] += v;
    } else if (head == "ll1") {
      legacy_group(p, rest).l1 += v;
    } else if (head == "ll0") {
      legacy_group(p, rest).l0 += v;
    } else if (head == "b1") {
      legacy_group(p, rest).q1 += v;
    } else if (head == "b0") {
      legacy_group(p, rest).q0 += v;
    } else if (head == "conf") {
      p.confidence[bin_of(rest, kConfidenceBins)] += v;
    } else if (head == "lag") {
      p.lag[bin_of(rest, p.lag.size())] += v;
    } else if (head == "qr") {
      p.features[std::string(rest)].out_of_range += v;
    } else if (head == "qt" && s2 != std::string_view::npos) {
      auto& f = p.features[std::string(rest.substr(0, s2))];
      f.types[std::string(rest.substr(s2 + 1))] += v;
      f.present += v;  // present values are counted once, by type
    } else if (head == "qh" && s2 != std::string_view::npos) {
      p.features[std::string(rest.substr(0, s2))].buckets[bucket_value(rest.substr(s2 + 1))] += v;
    } else if (head == "qc" && s2 != std::string_view::npos) {
      p.features[std::string(rest.substr(0, s2))].categories[std::string(rest.substr(s2 + 1))] += v;
    }
  });
  return p;
}

double ratio(double a, double b) { return b == 0 ? 0.0 : a / b; }

// A sum of `n` values kept in fixed point, rounded to the precision it actually has: each value
// added was rounded to a multiple of 2^-40, so the sum is exact to n x 2^-41 and no better. Rounded
// to the decade above that, before dividing, one 0.91 reads back 0.91 (not 0.9099999999998545).
double exact_sum(double sum, double n) {
  const double error = std::max(n, 1.0) * 0x1p-41;
  const int decimals = static_cast<int>(std::floor(-std::log10(error)));  // 10^-decimals >= error
  if (decimals <= 0 || decimals > 22 || !std::isfinite(sum)) return sum;
  const double scale = std::pow(10.0, decimals);  // exact: powers of ten up to 1e22 are doubles
  if (std::fabs(sum) * scale > 9007199254740992.0) return sum;  // already as precise as a double
  return std::nearbyint(sum * scale) / scale;
}

double fbeta(double precision, double recall, double beta) {
  const double b2 = beta * beta;
  const double d = b2 * precision + recall;
  return d == 0 ? 0.0 : (1 + b2) * precision * recall / d;
}

const std::string kOther = "\"__other__\"";

// Whether a probability object's member (as a JSON string) names class `cls` (JSON text): "fraud"
// names the string class "fraud", and "true" or "1" the boolean or number class.
bool names_class(const std::string& member, const std::string& cls) {
  return member == cls || member == "\"" + cls + "\"";
}

// The score metrics of a binary model: how its scores (or per-class probabilities) are read, then
// log loss, Brier score, calibration error, ROC AUC and average precision of P(positive).
void binary_scores(const Parsed& p, const ModelQualityConfig& config,
                   const std::map<std::string, std::string>& class_of, const std::string& positive,
                   Report& r) {
  auto is_positive = [&](const std::string& cls) {
    auto it = class_of.find(cls);
    return it != class_of.end() && it->second == positive;
  };
  auto total = [](const ScoreGroup& g) {
    double n = 0;
    for (const auto& [b, v] : g.histogram) n += v;
    return n;
  };
  // Scores >= 0.5 (flip: whose 1 - s is, i.e. s <= 0.5); from the bins for legacy sums.
  const int half = score_bin(0.5);
  auto high = [&](const ScoreGroup& g, bool flip) {
    if (g.up && g.down) return flip ? *g.down : *g.up;
    double n = 0;
    for (auto it = g.histogram.lower_bound(half); it != g.histogram.end(); ++it) n += it->second;
    return flip ? total(g) - n : n;
  };
  bool have_probabilities = false;
  for (const auto& [k, g] : p.probabilities) have_probabilities |= names_class(g.c, positive);

  // Evidence for each reading of the score: how often it agrees with the predicted label.
  double hi_pos = 0, hi_neg = 0, lo_pos = 0, lo_neg = 0;
  for (const auto& [k, g] : p.scores) {
    if (g.p.empty()) continue;  // legacy sums: the predicted class is not known
    const double hi = high(g, false), lo = total(g) - hi;
    (is_positive(g.p) ? hi_pos : hi_neg) += hi;
    (is_positive(g.p) ? lo_pos : lo_neg) += lo;
  }
  const double agree_positive = hi_pos + lo_neg, agree_other = hi_neg + lo_pos,
               agree_confidence = hi_pos + hi_neg;

  std::optional<ScoreSemantics> semantics = config.score_semantics;
  r.score_semantics_source = "configured";
  if (!semantics) {
    r.score_semantics_source = "inferred";
    if (have_probabilities) {
      semantics = ScoreSemantics::kClassProbabilities;
    } else if (!p.scores.empty()) {
      // A confidence is never below 0.5 and agrees with either predicted class; a probability of
      // one class is high exactly when that class is predicted. When only one class is ever
      // predicted, confidence and that class's probability are the same reading.
      const bool both_predicted = hi_pos + lo_pos > 0 && hi_neg + lo_neg > 0;
      if (both_predicted && agree_confidence > std::max(agree_positive, agree_other)) {
        semantics = ScoreSemantics::kPredictedClassConfidence;
      } else if (agree_other > agree_positive) {
        semantics = ScoreSemantics::kOtherClassProbability;
      } else {
        semantics = ScoreSemantics::kPositiveClassProbability;
      }
    }
  }
  if (!semantics) return;
  r.score_semantics = semantics;

  std::vector<double> pos(kScoreBins), neg(kScoreBins);
  std::array<double, kCalibrationBins> cal_count{}, cal_sum{}, cal_true{};
  double scored = 0, log_loss = 0, brier = 0, disagree = 0, judged = 0;
  auto add = [&](const ScoreGroup& g, bool flip) {
    const bool truth = is_positive(g.t);
    for (const auto& [b, v] : g.histogram) {
      (truth ? pos : neg)[static_cast<size_t>(flip ? mirror_bin(b) : b)] += v;
      scored += v;
    }
    log_loss += truth ? (flip ? g.l0 : g.l1) : (flip ? g.l1 : g.l0);
    brier += truth ? (flip ? g.q0 : g.q1) : (flip ? g.q1 : g.q0);
    for (int b = 0; b < kCalibrationBins; ++b) {
      const double n = flip ? g.c0[b] : g.c1[b];
      cal_count[b] += n;
      cal_sum[b] += flip ? g.c0s[b] : g.c1s[b];
      if (truth) cal_true[b] += n;
    }
    if (!g.p.empty()) {  // P(positive) >= 0.5 should go with predicting the positive class
      const double hi = high(g, flip);
      disagree += is_positive(g.p) ? total(g) - hi : hi;
      judged += total(g);
    }
  };
  if (*semantics == ScoreSemantics::kClassProbabilities) {
    for (const auto& [k, g] : p.probabilities) {
      if (names_class(g.c, positive)) add(g, false);
    }
    if (scored == 0)
      r.warnings.push_back(
          "score_semantics class_probabilities: no prediction "
          "carries a probability of the positive class");
  } else {
    for (const auto& [k, g] : p.scores) {
      const bool flip = *semantics == ScoreSemantics::kOtherClassProbability ||
                        (*semantics == ScoreSemantics::kPredictedClassConfidence && !g.p.empty() &&
                         !is_positive(g.p));
      add(g, flip);
    }
  }
  if (judged > 0) {
    r.score_label_disagreement_ratio = disagree / judged;
    if (*r.score_label_disagreement_ratio > 0.05) {
      char buf[160];
      std::snprintf(buf, sizeof buf,
                    "read as %s, %.1f%% of the scores contradict the predicted label: check "
                    "models.<name>.quality.score_semantics and positive_class",
                    score_semantics_name(*semantics), 100 * *r.score_label_disagreement_ratio);
      r.warnings.emplace_back(buf);
    }
  }
  if (scored == 0) return;
  r.scores = Report::ScoreHistogram{positive, pos, neg};
  r.calibration_count.assign(cal_count.begin(), cal_count.end());
  r.calibration_positives.assign(cal_true.begin(), cal_true.end());
  for (int b = 0; b < kCalibrationBins; ++b) {
    r.calibration_sum.push_back(exact_sum(cal_sum[b], cal_count[b]));
  }
  auto& m = r.metrics;
  double ece = 0;
  for (int b = 0; b < kCalibrationBins; ++b) {
    ece += std::fabs(cal_true[b] - exact_sum(cal_sum[b], cal_count[b]));
  }
  m.emplace_back("log_loss", exact_sum(log_loss, scored) / scored);
  m.emplace_back("brier_score_loss", exact_sum(brier, scored) / scored);
  m.emplace_back("expected_calibration_error", ece / scored);
  double P = 0, N = 0;
  for (int b = 0; b < kScoreBins; ++b) {
    P += pos[static_cast<size_t>(b)];
    N += neg[static_cast<size_t>(b)];
  }
  if (P == 0 || N == 0) return;  // AUCs need both classes
  // Thresholds from the highest bin down, ties within a bin as one threshold (as scikit-learn
  // treats equal scores).
  double tp = 0, fp = 0, area = 0, ap = 0;
  for (int b = kScoreBins - 1; b >= 0; --b) {
    const double bp = pos[static_cast<size_t>(b)], bn = neg[static_cast<size_t>(b)];
    if (bp == 0 && bn == 0) continue;
    const double tp2 = tp + bp, fp2 = fp + bn;
    area += (fp2 - fp) * (tp2 + tp) / 2;
    ap += (bp / P) * (tp2 / (tp2 + fp2));
    tp = tp2;
    fp = fp2;
  }
  m.emplace_back("roc_auc", area / (P * N));
  m.emplace_back("average_precision", ap);
}

// Multiclass models with per-class probabilities: for each reported class c, the histogram of
// P(c) over the predictions whose true class is c and over the others (one-vs-rest).
void one_vs_rest(const Parsed& p, const std::map<std::string, std::string>& class_of, Report& r) {
  for (const std::string& c : r.classes) {
    if (c == kOther) continue;  // merged classes have no probability of their own
    Report::ScoreHistogram h{c, std::vector<double>(kScoreBins), std::vector<double>(kScoreBins)};
    bool any = false;
    for (const auto& [k, g] : p.probabilities) {
      if (!names_class(g.c, c)) continue;
      auto it = class_of.find(g.t);
      const bool truth = it != class_of.end() && it->second == c;
      for (const auto& [b, v] : g.histogram) {
        (truth ? h.positive : h.negative)[static_cast<size_t>(b)] += v;
        any = true;
      }
    }
    if (any) r.one_vs_rest.push_back(std::move(h));
  }
}

void classification(const Parsed& p, const ModelQualityConfig& config, Task task, Report& r) {
  // Classes: the union of true and predicted values; beyond max_classes the least frequent are
  // merged into "__other__".
  std::map<std::string, double> frequency;
  for (const auto& [tp, n] : p.cm) {
    frequency[tp.first] += n;
    frequency[tp.second] += n;
  }
  std::map<std::string, std::string> class_of;  // value -> reported class
  if (frequency.size() > std::max<size_t>(config.max_classes, 1)) {
    std::vector<std::pair<double, std::string>> ranked;
    for (const auto& [c, n] : frequency) ranked.emplace_back(-n, c);
    std::sort(ranked.begin(), ranked.end());
    const size_t keep = std::max<size_t>(config.max_classes, 2) - 1;
    for (size_t i = 0; i < ranked.size(); ++i) {
      class_of[ranked[i].second] = i < keep ? ranked[i].second : kOther;
    }
  } else {
    for (const auto& [c, n] : frequency) class_of[c] = c;
  }
  std::set<std::string> classes;
  for (const auto& [c, reported] : class_of) classes.insert(reported);

  // The positive class of a binary model.
  std::string positive = config.positive_class;
  if (task == Task::kBinary && positive.empty()) {
    positive = classes.count("true") ? "true" : (classes.empty() ? "" : *classes.rbegin());
  }
  if (task == Task::kBinary && !positive.empty() && !classes.count(positive)) {
    // A configured positive class that never occurs: said so, never a phantom class of zeros.
    r.positive_class_missing = true;
    r.warnings.push_back("the configured positive_class " + positive +
                         " never occurs among the labels and predictions");
    positive.clear();
  }

  r.classes.assign(classes.begin(), classes.end());
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < r.classes.size(); ++i) index[r.classes[i]] = i;
  const size_t k = r.classes.size();
  r.matrix.assign(k, std::vector<double>(k, 0.0));
  for (const auto& [tp, n] : p.cm) {
    r.matrix[index[class_of[tp.first]]][index[class_of[tp.second]]] += n;
  }
  double total = 0, correct = 0, best_constant = 0;
  std::vector<double> true_count(k), predicted_count(k);
  for (size_t i = 0; i < k; ++i) {
    for (size_t j = 0; j < k; ++j) {
      total += r.matrix[i][j];
      true_count[i] += r.matrix[i][j];
      predicted_count[j] += r.matrix[i][j];
    }
    correct += r.matrix[i][i];
  }
  for (size_t i = 0; i < k; ++i) best_constant = std::max(best_constant, true_count[i]);
  auto& m = r.metrics;
  m.emplace_back("accuracy", ratio(correct, total));
  m.emplace_back("baseline_accuracy", ratio(best_constant, total));

  struct PerClass {
    double precision, recall, f1, f05, f2, support;
  };
  std::vector<PerClass> per(k);
  for (size_t i = 0; i < k; ++i) {
    const double precision = ratio(r.matrix[i][i], predicted_count[i]);
    const double recall = ratio(r.matrix[i][i], true_count[i]);
    per[i] = {precision,
              recall,
              fbeta(precision, recall, 1),
              fbeta(precision, recall, 0.5),
              fbeta(precision, recall, 2),
              true_count[i]};
  }
  auto averages = [&](const char* name, double PerClass::*field) {
    double macro = 0, weighted = 0;
    for (size_t i = 0; i < k; ++i) {
      macro += per[i].*field;
      weighted += per[i].*field * per[i].support;
    }
    m.emplace_back(std::string(name) + "_macro", ratio(macro, static_cast<double>(k)));
    m.emplace_back(std::string(name) + "_weighted", ratio(weighted, total));
  };
  averages("precision", &PerClass::precision);
  averages("recall", &PerClass::recall);
  averages("f1", &PerClass::f1);
  averages("fbeta_0.5", &PerClass::f05);
  averages("fbeta_2", &PerClass::f2);
  for (size_t i = 0; i < k; ++i) {
    const std::string& c = r.classes[i];
    r.per_class.push_back(
        {c, per[i].precision, per[i].recall, per[i].f1, per[i].f05, per[i].f2, per[i].support});
  }
  if (task == Task::kMulticlass) one_vs_rest(p, class_of, r);
  if (task != Task::kBinary || positive.empty()) return;

  const size_t pi = index[positive];
  r.positive_class = positive;
  m.emplace_back("precision", per[pi].precision);
  m.emplace_back("recall", per[pi].recall);
  m.emplace_back("f1", per[pi].f1);
  m.emplace_back("fbeta_0.5", per[pi].f05);
  m.emplace_back("fbeta_2", per[pi].f2);

  binary_scores(p, config, class_of, positive, r);
}

void regression(const store::Aggregate& a, Report& r) {
  const double n = a.get("reg");
  if (n == 0) return;
  const double se = exact_sum(a.get("se"), n);
  const double y = exact_sum(a.get("y"), n), yy = exact_sum(a.get("yy"), n);
  const double sst = yy - y * y / n;
  auto& m = r.metrics;
  m.emplace_back("mean_absolute_error", exact_sum(a.get("ae"), n) / n);
  m.emplace_back("mean_squared_error", se / n);
  m.emplace_back("root_mean_squared_error", std::sqrt(se / n));
  m.emplace_back("mean_absolute_percentage_error", exact_sum(a.get("ape"), n) / n);
  // scikit-learn's r2_score with force_finite: 1 for a perfect fit of constant targets, else 0.
  m.emplace_back("r2", sst > 0 ? 1 - se / sst : (se == 0 ? 1.0 : 0.0));
}

// Population stability index of `current` against `baseline` over the same bins:
// sum of (c - b) ln(c / b) over the bins' shares, each share at least 1e-4 (empty bins).
double psi(const std::vector<double>& baseline, const std::vector<double>& current) {
  double nb = 0, nc = 0;
  for (double v : baseline) nb += v;
  for (double v : current) nc += v;
  double out = 0;
  for (size_t i = 0; i < baseline.size(); ++i) {
    const double b = std::max(baseline[i] / nb, 1e-4);
    const double c = std::max(current[i] / nc, 1e-4);
    out += (c - b) * std::log(c / b);
  }
  return out;
}

// Numeric drift: ten bins with edges at the baseline's deciles (bucket boundaries), fixed by the
// baseline, then the PSI of the current counts in those bins.
std::optional<double> numeric_psi(const std::map<double, double>& baseline,
                                  const std::map<double, double>& current) {
  double nb = 0, nc = 0;
  for (const auto& [b, n] : baseline) nb += n;
  for (const auto& [b, n] : current) nc += n;
  if (baseline.size() < 2 || nb == 0 || nc == 0) return std::nullopt;
  std::vector<double> edges;  // a bin starts at each edge (bucket lower bound)
  double cumulative = 0;
  int next = 1;
  for (const auto& [b, n] : baseline) {
    if (edges.empty()) edges.push_back(-INFINITY);
    if (cumulative >= next * nb / 10 && b > edges.back()) {
      edges.push_back(b);
      while (cumulative >= next * nb / 10) ++next;
    }
    cumulative += n;
  }
  auto bin = [&](double b) {
    return static_cast<size_t>(std::upper_bound(edges.begin(), edges.end(), b) - edges.begin()) - 1;
  };
  std::vector<double> bh(edges.size()), ch(edges.size());
  for (const auto& [b, n] : baseline) bh[bin(b)] += n;
  for (const auto& [b, n] : current) ch[bin(b)] += n;
  return psi(bh, ch);
}

std::optional<double> categorical_psi(const std::map<std::string, double>& baseline,
                                      const std::map<std::string, double>& current) {
  if (baseline.empty() || current.empty()) return std::nullopt;
  std::set<std::string> all;
  for (const auto& [c, n] : baseline) all.insert(c);
  for (const auto& [c, n] : current) all.insert(c);
  std::vector<double> bh, ch;
  for (const auto& c : all) {
    auto b = baseline.find(c);
    auto k = current.find(c);
    bh.push_back(b == baseline.end() ? 0 : b->second);
    ch.push_back(k == current.end() ? 0 : k->second);
  }
  return psi(bh, ch);
}

void feature_quality(const Parsed& p, const Parsed* baseline, const ModelQualityConfig& config,
                     double predictions, Report& r) {
  std::set<std::string> names;
  for (const auto& [name, f] : p.features) names.insert(name);
  for (const auto& [name, f] : config.features) names.insert(name);
  static const Parsed::Feature kNone;
  for (const auto& name : names) {
    auto it = p.features.find(name);
    const Parsed::Feature& f = it == p.features.end() ? kNone : it->second;
    auto spec = config.features.find(name);
    Report::FeatureQuality q;
    q.name = name;
    q.present = f.present;
    q.null_ratio = predictions > 0 ? std::max(0.0, predictions - f.present) / predictions : 0;
    if (spec != config.features.end() && !spec->second.type.empty()) {
      q.expected_type = spec->second.type;
    } else {
      double most = 0;
      for (const auto& [t, n] : f.types) {
        if (n > most) {
          most = n;
          q.expected_type = t;
        }
      }
    }
    auto expected = f.types.find(q.expected_type);
    const double matching = expected == f.types.end() ? 0 : expected->second;
    q.type_mismatch_ratio = ratio(f.present - matching, f.present);
    if (spec != config.features.end() && (spec->second.min || spec->second.max)) {
      q.out_of_range_ratio = ratio(f.out_of_range, f.present);
    }
    if (baseline != nullptr) {
      auto b = baseline->features.find(name);
      if (b != baseline->features.end()) {
        q.psi = !f.buckets.empty() || !b->second.buckets.empty()
                    ? numeric_psi(b->second.buckets, f.buckets)
                    : categorical_psi(b->second.categories, f.categories);
      }
    }
    r.features.push_back(std::move(q));
  }
}

}  // namespace

Report build_report(const store::Aggregate& a, const ModelQualityConfig& config,
                    const store::Aggregate* baseline) {
  Report r;
  const Parsed p = parse(a);
  std::optional<Parsed> b;
  if (baseline != nullptr) b = parse(*baseline);
  feature_quality(p, b ? &*b : nullptr, config, a.get("n"), r);
  r.predictions = a.get("n");
  r.labelled = a.get("labelled");
  std::set<std::string> seen;
  for (const auto& [tp, n] : p.cm) {
    seen.insert(tp.first);
    seen.insert(tp.second);
  }
  std::optional<Task> task = config.task;
  r.task_source = task ? "config" : "inferred";
  if (!task) {
    const double reg = a.get("reg"), cls = a.get("cls");
    if (reg > 0 || cls > 0) {
      task = reg > cls ? Task::kRegression : seen.size() <= 2 ? Task::kBinary : Task::kMulticlass;
    } else if (a.get("pn") > a.get("pc")) {
      task = Task::kRegression;
    }
  }
  r.task = task ? task_name(*task) : (a.get("pc") > 0 ? "classification" : "unknown");
  auto& m = r.metrics;
  if (r.predictions > 0) m.emplace_back("label_coverage", r.labelled / r.predictions);
  if (r.labelled > 0) {
    m.emplace_back("label_lag_seconds_mean", exact_sum(a.get("lag_sum"), r.labelled) / r.labelled);
  }
  if (const double n = a.get("conf_n"); n > 0) {
    m.emplace_back("confidence_mean", exact_sum(a.get("conf_sum"), n) / n);
  }
  if (r.labelled > 0) m.emplace_back("label_mismatch_ratio", a.get("mismatch") / r.labelled);
  if (task == Task::kRegression) {
    regression(a, r);
  } else if (a.get("cls") > 0) {
    classification(p, config, task.value_or(Task::kMulticlass), r);
  }
  r.confidence_histogram = p.confidence;
  r.label_lag_histogram = p.lag;
  return r;
}

std::optional<double> Report::metric(std::string_view name) const {
  for (const auto& [n, v] : metrics) {
    if (n == name) return v;
  }
  return std::nullopt;
}

namespace {
void append_number(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[40];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);  // shortest text that reads back as v
  out.append(buf, ec == std::errc() ? end : buf);
}
void append_array(std::string& out, const std::vector<double>& values) {
  out += '[';
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    append_number(out, values[i]);
  }
  out += ']';
}
}  // namespace

std::string Report::to_json() const {
  std::string out = "{\"model\":";
  document::append_json_string(out, model);
  out += ",\"version\":";
  if (version) {
    document::append_json_string(out, *version);
  } else {
    out += "null";
  }
  out += ",\"from\":\"" + format_rfc3339(from_ms) + "\",\"to\":\"" + format_rfc3339(to_ms) + "\"";
  out += ",\"task\":\"" + task + "\",\"task_source\":\"" + task_source + "\"";
  out += ",\"predictions\":";
  append_number(out, predictions);
  out += ",\"labelled\":";
  append_number(out, labelled);
  if (!positive_class.empty()) out += ",\"positive_class\":" + positive_class;
  if (positive_class_missing) out += ",\"positive_class_missing\":true";
  if (score_semantics) {
    out += ",\"score_semantics\":{\"value\":\"";
    out += score_semantics_name(*score_semantics);
    out += "\",\"source\":\"" + score_semantics_source + "\"";
    if (score_label_disagreement_ratio) {
      out += ",\"score_label_disagreement_ratio\":";
      document::append_json_number(out, *score_label_disagreement_ratio);
    }
    out += '}';
  }
  if (!warnings.empty()) {
    out += ",\"warnings\":[";
    for (size_t i = 0; i < warnings.size(); ++i) {
      if (i) out += ',';
      document::append_json_string(out, warnings[i]);
    }
    out += ']';
  }
  out += ",\"metrics\":{";
  for (size_t i = 0; i < metrics.size(); ++i) {
    if (i) out += ',';
    document::append_json_string(out, metrics[i].first);
    out += ':';
    append_number(out, metrics[i].second);
  }
  out += '}';
  if (!classes.empty()) {
    out += ",\"confusion_matrix\":{\"labels\":[";
    for (size_t i = 0; i < classes.size(); ++i) {
      if (i) out += ',';
      out += classes[i];
    }
    out += "],\"matrix\":[";
    for (size_t i = 0; i < matrix.size(); ++i) {
      if (i) out += ',';
      append_array(out, matrix[i]);
    }
    out += "]},\"per_class\":[";
    for (size_t i = 0; i < per_class.size(); ++i) {
      const auto& c = per_class[i];
      if (i) out += ',';
      out += "{\"class\":" + c.value + ",\"precision\":";
      append_number(out, c.precision);
      out += ",\"recall\":";
      append_number(out, c.recall);
      out += ",\"f1\":";
      append_number(out, c.f1);
      out += ",\"fbeta_0.5\":";
      append_number(out, c.f05);
      out += ",\"fbeta_2\":";
      append_number(out, c.f2);
      out += ",\"support\":";
      append_number(out, c.support);
      out += '}';
    }
    out += ']';
  }
  out += ",\"features\":[";
  for (size_t i = 0; i < features.size(); ++i) {
    const auto& f = features[i];
    if (i) out += ',';
    out += "{\"name\":";
    document::append_json_string(out, f.name);
    out += ",\"present\":";
    append_number(out, f.present);
    out += ",\"null_ratio\":";
    append_number(out, f.null_ratio);
    out += ",\"expected_type\":";
    document::append_json_string(out, f.expected_type);
    out += ",\"type_mismatch_ratio\":";
    append_number(out, f.type_mismatch_ratio);
    if (f.out_of_range_ratio) {
      out += ",\"out_of_range_ratio\":";
      append_number(out, *f.out_of_range_ratio);
    }
    if (f.psi) {
      out += ",\"psi\":";
      append_number(out, *f.psi);
    }
    out += '}';
  }
  out += ']';
  if (baseline_from_ms && baseline_to_ms) {
    out += ",\"drift_baseline\":{\"from\":\"" + format_rfc3339(*baseline_from_ms) + "\",\"to\":\"" +
           format_rfc3339(*baseline_to_ms) + "\"}";
  }
  out += ",\"confidence_histogram\":{\"upper_bounds\":[";
  for (int b = 1; b <= kConfidenceBins; ++b) {
    if (b > 1) out += ',';
    append_number(out, static_cast<double>(b) / kConfidenceBins);
  }
  out += "],\"counts\":";
  append_array(out, confidence_histogram);
  out += "},\"label_lag_histogram\":{\"upper_bounds_seconds\":";
  append_array(out, kLagBoundsSeconds);
  out += ",\"counts\":";
  append_array(out, label_lag_histogram);
  out += "}}";
  return out;
}

std::optional<Duration> parse_window(std::string_view text) {
  if (text.size() < 2 || text.size() > 8) return std::nullopt;
  uint64_t n = 0;
  for (char c : text.substr(0, text.size() - 1)) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  if (n == 0) return std::nullopt;
  switch (text.back()) {
    case 'm':
      return Duration(static_cast<int64_t>(n) * 60'000);
    case 'h':
      return Duration(static_cast<int64_t>(n) * 3'600'000);
    case 'd':
      return Duration(static_cast<int64_t>(n) * 86'400'000);
    default:
      return std::nullopt;
  }
}

}  // namespace verity::query
