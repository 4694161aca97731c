// Model quality: what a prediction and a joined label contribute to a model's aggregates, and the
// report computed from a sum of them.
//
// Aggregate keys (store::Aggregate, summed per model, version and minute of prediction time;
// <t> and <p> are class values as JSON text, <b> a bin number; \x1f separates parts):
//   n                 predictions
//   pn, pc            predictions whose predicted value is a number / a class (task inference)
//   conf\x1f<b>       predictions by confidence, 20 bins of 0.05; conf_sum, conf_n
//   labelled          predictions with a (non-null) label
//   mismatch          labelled, but the predicted value is missing or of another kind than the
//   label lag\x1f<b>        labelled by label lag (kLagBoundsSeconds buckets); lag_sum (seconds)
//   cls               labelled classification pairs
//   cm\x1f<t>\x1f<p>  the confusion matrix
//   scored            classification pairs with a score (probability of the positive class)
//   sc\x1f<t>\x1f<b>  scores by true class, 1000 bins of 0.001 (ROC AUC, average precision)
//   ll1\x1f<t>, ll0\x1f<t>   sums of -ln(p) and -ln(1-p), p clipped to [eps, 1-eps] (log loss)
//   b1\x1f<t>, b0\x1f<t>     sums of (1-p)^2 and p^2 (Brier score)
//   cal\x1f<t>\x1f<b>  scores by true class in 10 calibration bins; calp\x1f<b> sums of p
//   reg               labelled regression pairs; ae, se, ape: sums of |e|, e^2, |e|/max(|y|, eps);
//                     y, yy: sums of y and y^2 (R2)
//   qt\x1f<f>\x1f<t>  predictions where input feature <f> is present and not null, by JSON type
//                     (number, string, boolean, object, array)
//   qr\x1f<f>         ... numbers outside the configured bounds
//   qh\x1f<f>\x1f<b>  ... numbers by logarithmic bucket (drift): b = z (|x| < 1e-9), or p<i> / n<i>
//                     for x in +-[1.1^i, 1.1^(i+1))
//   qc\x1f<f>\x1f<v>  ... values of a categorical feature (JSON text, at most 64 bytes)
// Because the label side is kept per true class, the positive class can be chosen (or inferred)
// when the report is built, and a correction subtracts exactly what the old label added.

#include "verity/query/model_quality.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <set>

#include <simdjson.h>

#include "verity/core/http.h"
#include "verity/document/json_value.h"
#include "verity/document/json_writer.h"

namespace verity::query {
namespace {

constexpr char kSep = '\x1f';
constexpr int kScoreBins = 1000;
constexpr int kCalibrationBins = 10;
constexpr int kConfidenceBins = 20;
constexpr double kEps = std::numeric_limits<double>::epsilon();

std::string key(std::string_view a, std::string_view b) {
  std::string k(a);
  k += kSep;
  k += b;
  return k;
}
std::string key(std::string_view a, std::string_view b, std::string_view c) {
  return key(key(a, b), c);
}

// Class values compare as JSON text; numbers are written one way (1 and 1.0 are one class).
std::string class_text(const document::FoundValue& v) {
  if (!v.is_number()) return v.json;
  const double d = std::strtod(v.json.c_str(), nullptr);
  char buf[40];
  if (std::fabs(d) < 9007199254740992.0 && d == std::floor(d)) {
    std::snprintf(buf, sizeof buf, "%.0f", d);
  } else {
    std::snprintf(buf, sizeof buf, "%.17g", d);
  }
  return buf;
}

std::optional<double> number_at(simdjson::dom::element doc,
                                const std::vector<document::JsonPointer>& pointers) {
  for (const auto& p : pointers) {
    simdjson::dom::element v;
    if (doc.at_pointer(p.text).get(v) || v.is_null()) continue;
    double d;
    if (v.get_double().get(d)) continue;
    return d;
  }
  return std::nullopt;
}

// simdjson DOM parsers are reused per thread (the commit thread does all joins).
simdjson::dom::parser& thread_parser(int which) {
  thread_local simdjson::dom::parser parsers[2];
  return parsers[which];
}

// Calibration bin as sklearn.calibration.calibration_curve(strategy="uniform") assigns it: the
// number of inner edges i/10 strictly below p.
int calibration_bin(double p) {
  int b = 0;
  for (int i = 1; i < kCalibrationBins; ++i) b += (i * (1.0 / kCalibrationBins)) < p;
  return b;
}

}  // namespace

const std::vector<double> kLagBoundsSeconds = {
    60, 300, 900, 3600, 21600, 86400, 3 * 86400, 7 * 86400, 14 * 86400, 30 * 86400, 90 * 86400};

const char* task_name(Task t) {
  switch (t) {
    case Task::kBinary:
      return "binary";
    case Task::kMulticlass:
      return "multiclass";
    case Task::kRegression:
      return "regression";
  }
  return "unknown";
}

std::optional<Task> parse_task(std::string_view name) {
  if (name == "binary") return Task::kBinary;
  if (name == "multiclass") return Task::kMulticlass;
  if (name == "regression") return Task::kRegression;
  return std::nullopt;
}

ModelContributor::ModelContributor(std::shared_ptr<const document::FieldMappingSet> fields,
                                   std::shared_ptr<const QualityConfig> config)
    : fields_(std::move(fields)), config_(std::move(config)) {}

namespace {

document::FoundValue predicted_of(simdjson::dom::element doc, const document::FieldMapping& m,
                                  const ModelQualityConfig& c) {
  if (!c.predicted.empty()) return document::first_value(doc, c.predicted, true);
  return document::predicted_value(doc, m);
}

}  // namespace

namespace {

constexpr double kBucketBase = 1.1;

std::string numeric_bucket(double x) {
  if (std::fabs(x) < 1e-9) return "z";
  const int i = static_cast<int>(std::floor(std::log(std::fabs(x)) / std::log(kBucketBase)));
  return (x > 0 ? "p" : "n") + std::to_string(i);
}

const char* type_of(const simdjson::dom::element& v) {
  switch (v.type()) {
    case simdjson::dom::element_type::INT64:
    case simdjson::dom::element_type::UINT64:
    case simdjson::dom::element_type::DOUBLE:
      return "number";
    case simdjson::dom::element_type::STRING:
      return "string";
    case simdjson::dom::element_type::BOOL:
      return "boolean";
    case simdjson::dom::element_type::ARRAY:
      return "array";
    default:
      return "object";
  }
}

// Data quality and drift of one input member.
void add_feature(std::string_view name, simdjson::dom::element v,
                 const ModelQualityConfig::Feature* spec, store::Aggregate& out) {
  std::string n(name);
  std::replace(n.begin(), n.end(), kSep, '?');
  if (v.is_null()) return;  // counted as null: predictions without a qt entry
  const char* t = type_of(v);
  out.add(key("qt", n, t), 1);
  double x;
  if (!v.get_double().get(x)) {
    if (spec != nullptr && ((spec->min && x < *spec->min) || (spec->max && x > *spec->max))) {
      out.add(key("qr", n), 1);
    }
    out.add(key("qh", n, numeric_bucket(x)), 1);
  } else if (spec != nullptr && spec->categorical && (v.is_string() || v.is_bool())) {
    std::string text(simdjson::minify(v));
    if (text.size() > 64) text.resize(64);
    std::replace(text.begin(), text.end(), kSep, '?');
    out.add(key("qc", n, text), 1);
  }
}

}  // namespace

void ModelContributor::prediction(const store::JoinSide& p, store::Aggregate& out) const {
  out.add("n", 1);
  simdjson::dom::element doc;
  if (thread_parser(0).parse(p.document).get(doc)) return;  // stored documents are valid JSON
  const document::FieldMapping& m = fields_->for_model(p.model);
  const ModelQualityConfig& c = config_->for_model(p.model);
  const document::FoundValue predicted = predicted_of(doc, m, c);
  if (predicted.found()) out.add(predicted.is_number() ? "pn" : "pc", 1);
  if (auto conf = number_at(doc, m.pointers(document::Field::kConfidence));
      conf && *conf >= 0 && *conf <= 1) {
    const int b = std::min(kConfidenceBins - 1, static_cast<int>(*conf * kConfidenceBins));
    out.add(key("conf", std::to_string(b)), 1);
    out.add("conf_sum", *conf);
    out.add("conf_n", 1);
  }
  simdjson::dom::object inputs;
  bool found = false;
  for (const auto& ptr : m.pointers(document::Field::kInputs)) {
    simdjson::dom::element v;
    if (!doc.at_pointer(ptr.text).get(v) && !v.get_object().get(inputs)) {
      found = true;
      break;
    }
  }
  if (!found) return;
  if (!c.features.empty()) {
    for (const auto& [name, spec] : c.features) {
      simdjson::dom::element v;
      if (!inputs.at_key(name).get(v)) add_feature(name, v, &spec, out);
    }
    return;
  }
  size_t seen = 0;
  for (auto [name, v] : inputs) {
    if (seen++ == c.max_features) break;
    add_feature(name, v, nullptr, out);
  }
}

void ModelContributor::join(const store::JoinSide& p, const store::JoinSide& l,
                            store::Aggregate& out) const {
  const document::FieldMapping& m = fields_->for_model(p.model);
  const ModelQualityConfig& c = config_->for_model(p.model);
  simdjson::dom::element ldoc, pdoc;
  if (thread_parser(1).parse(l.document).get(ldoc)) return;
  const document::FoundValue truth =
      document::first_value(ldoc, m.pointers(document::Field::kGroundTruth), true);
  if (!truth.found()) return;  // null means unknown: no contribution
  out.add("labelled", 1);
  const double lag = static_cast<double>(l.time_ms - p.time_ms) / 1000.0;
  const size_t lag_bucket =
      std::lower_bound(kLagBoundsSeconds.begin(), kLagBoundsSeconds.end(), lag) -
      kLagBoundsSeconds.begin();
  out.add(key("lag", std::to_string(lag_bucket)), 1);
  out.add("lag_sum", lag);

  if (thread_parser(0).parse(p.document).get(pdoc)) return;
  const document::FoundValue predicted = predicted_of(pdoc, m, c);
  const bool numbers = truth.is_number() && predicted.is_number();
  const bool classes =
      c.task ? *c.task != Task::kRegression : !truth.is_number() && !predicted.is_number();
  if (!predicted.found() || (c.task == Task::kRegression && !numbers) ||
      (!c.task && !numbers && !classes)) {
    out.add("mismatch", 1);
    return;
  }
  if (!classes) {
    const double y = std::strtod(truth.json.c_str(), nullptr);
    const double e = std::strtod(predicted.json.c_str(), nullptr) - y;
    out.add("reg", 1);
    out.add("ae", std::fabs(e));
    out.add("se", e * e);
    out.add("ape", std::fabs(e) / std::max(std::fabs(y), kEps));
    out.add("y", y);
    out.add("yy", y * y);
    return;
  }
  const std::string t = class_text(truth);
  out.add("cls", 1);
  out.add(key("cm", t, class_text(predicted)), 1);
  const std::vector<document::JsonPointer>& score_at =
      c.score.empty() ? m.pointers(document::Field::kScore) : c.score;
  auto s = number_at(pdoc, score_at);
  if (!s || *s < 0 || *s > 1) return;
  const double clipped = std::clamp(*s, kEps, 1 - kEps);
  out.add("scored", 1);
  out.add(key("sc", t, std::to_string(std::min(kScoreBins - 1, static_cast<int>(*s * kScoreBins)))),
          1);
  out.add(key("ll1", t), -std::log(clipped));
  out.add(key("ll0", t), -std::log(1 - clipped));
  out.add(key("b1", t), (1 - *s) * (1 - *s));
  out.add(key("b0", t), *s * *s);
  const int cb = calibration_bin(*s);
  out.add(key("cal", t, std::to_string(cb)), 1);
  out.add(key("calp", std::to_string(cb)), *s);
}

// ---------------------------------------------------------------------------------------------
// Reports.

namespace {

struct Parsed {
  std::map<std::pair<std::string, std::string>, double> cm;
  std::map<std::string, std::vector<double>> scores;       // true class -> kScoreBins counts
  std::map<std::string, std::vector<double>> calibration;  // true class -> kCalibrationBins
  std::vector<double> calibration_p = std::vector<double>(kCalibrationBins);
  std::map<std::string, double> ll1, ll0, b1, b0;
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

// The lower bound of a numeric bucket ("z", "p<i>", "n<i>"), which orders buckets by value.
double bucket_value(std::string_view b) {
  if (b.empty() || b == "z") return 0;
  const double i = std::strtod(std::string(b.substr(1)).c_str(), nullptr);
  return b[0] == 'p' ? std::pow(kBucketBase, i) : -std::pow(kBucketBase, i + 1);
}

size_t bin_of(std::string_view text, size_t bins) {
  size_t b = 0;
  for (char ch : text) b = b * 10 + static_cast<size_t>(ch - '0');
  return std::min(b, bins - 1);
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
    } else if (head == "sc" && s2 != std::string_view::npos) {
      auto& h = p.scores[std::string(rest.substr(0, s2))];
      h.resize(kScoreBins);
      h[bin_of(rest.substr(s2 + 1), kScoreBins)] += v;
    } else if (head == "cal" && s2 != std::string_view::npos) {
      auto& h = p.calibration[std::string(rest.substr(0, s2))];
      h.resize(kCalibrationBins);
      h[bin_of(rest.substr(s2 + 1), kCalibrationBins)] += v;
    } else if (head == "calp") {
      p.calibration_p[bin_of(rest, kCalibrationBins)] += v;
    } else if (head == "ll1") {
      p.ll1[std::string(rest)] += v;
    } else if (head == "ll0") {
      p.ll0[std::string(rest)] += v;
    } else if (head == "b1") {
      p.b1[std::string(rest)] += v;
    } else if (head == "b0") {
      p.b0[std::string(rest)] += v;
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

double fbeta(double precision, double recall, double beta) {
  const double b2 = beta * beta;
  const double d = b2 * precision + recall;
  return d == 0 ? 0.0 : (1 + b2) * precision * recall / d;
}

const std::string kOther = "\"__other__\"";

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
  if (task == Task::kBinary && !positive.empty()) classes.insert(positive);

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
  if (task != Task::kBinary || positive.empty()) return;

  const size_t pi = index[positive];
  r.positive_class = positive;
  m.emplace_back("precision", per[pi].precision);
  m.emplace_back("recall", per[pi].recall);
  m.emplace_back("f1", per[pi].f1);
  m.emplace_back("fbeta_0.5", per[pi].f05);
  m.emplace_back("fbeta_2", per[pi].f2);

  // Scored binary models: the label side was kept per true class, so "positive" is decided here.
  auto is_positive = [&](const std::string& t) {
    auto it = class_of.find(t);
    return it != class_of.end() && it->second == positive;
  };
  std::vector<double> pos(kScoreBins), neg(kScoreBins);
  double scored = 0, log_loss = 0, brier = 0, ece = 0;
  for (const auto& [t, h] : p.scores) {
    auto& into = is_positive(t) ? pos : neg;
    for (int b = 0; b < kScoreBins; ++b) {
      into[b] += h[b];
      scored += h[b];
    }
  }
  if (scored == 0) return;
  for (const auto& [t, v] : p.ll1) {
    if (is_positive(t)) log_loss += v;
  }
  for (const auto& [t, v] : p.ll0) {
    if (!is_positive(t)) log_loss += v;
  }
  for (const auto& [t, v] : p.b1) {
    if (is_positive(t)) brier += v;
  }
  for (const auto& [t, v] : p.b0) {
    if (!is_positive(t)) brier += v;
  }
  std::vector<double> cal_pos(kCalibrationBins);
  for (const auto& [t, h] : p.calibration) {
    if (is_positive(t)) {
      for (int b = 0; b < kCalibrationBins; ++b) cal_pos[b] += h[b];
    }
  }
  for (int b = 0; b < kCalibrationBins; ++b) ece += std::fabs(cal_pos[b] - p.calibration_p[b]);
  m.emplace_back("log_loss", log_loss / scored);
  m.emplace_back("brier_score_loss", brier / scored);
  m.emplace_back("expected_calibration_error", ece / scored);
  double P = 0, N = 0;
  for (int b = 0; b < kScoreBins; ++b) {
    P += pos[b];
    N += neg[b];
  }
  if (P == 0 || N == 0) return;  // AUCs need both classes
  // Thresholds from the highest bin down, ties within a bin as one threshold (as scikit-learn
  // treats equal scores).
  double tp = 0, fp = 0, area = 0, ap = 0;
  for (int b = kScoreBins - 1; b >= 0; --b) {
    if (pos[b] == 0 && neg[b] == 0) continue;
    const double tp2 = tp + pos[b], fp2 = fp + neg[b];
    area += (fp2 - fp) * (tp2 + tp) / 2;
    ap += (pos[b] / P) * (tp2 / (tp2 + fp2));
    tp = tp2;
    fp = fp2;
  }
  m.emplace_back("roc_auc", area / (P * N));
  m.emplace_back("average_precision", ap);
}

void regression(const store::Aggregate& a, Report& r) {
  const double n = a.get("reg");
  if (n == 0) return;
  const double se = a.get("se");
  const double y = a.get("y"), yy = a.get("yy");
  const double sst = yy - y * y / n;
  auto& m = r.metrics;
  m.emplace_back("mean_absolute_error", a.get("ae") / n);
  m.emplace_back("mean_squared_error", se / n);
  m.emplace_back("root_mean_squared_error", std::sqrt(se / n));
  m.emplace_back("mean_absolute_percentage_error", a.get("ape") / n);
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
  if (r.labelled > 0) m.emplace_back("label_lag_seconds_mean", a.get("lag_sum") / r.labelled);
  if (a.get("conf_n") > 0) m.emplace_back("confidence_mean", a.get("conf_sum") / a.get("conf_n"));
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
