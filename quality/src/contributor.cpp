// What a stored prediction and a joined label contribute to a model's aggregates (the keys:
// aggregate_keys.h).

#include "verity/quality/contributor.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>

#include <simdjson.h>

#include "verity/document/json_value.h"
#include "verity/document/json_writer.h"
#include "verity/quality/aggregate_keys.h"

namespace verity::quality {
namespace {

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

// Parses a stored document with a DOM parser reused per thread (`which` keeps a prediction and
// its label apart; the I/O threads' prepare and the commit thread both call in). simdjson's DOM
// refuses integers beyond 64 bits, which are valid JSON and which the decoder accepts: such a
// prediction contributes its count only, and a join with such a document its label count and lag
// only, as since aggregates were first written. The rule may not change for documents already
// joined: a correction subtracts what the same rule computes now for the old pair, so reading them
// differently needs a contributor generation kept with the aggregates (design notes, Known
// limits). False: not JSON to the DOM.
bool parse_stored(int which, std::string_view json, simdjson::dom::element& out) {
  thread_local simdjson::dom::parser parsers[2];
  return parsers[which].parse(json).get(out) == simdjson::SUCCESS;
}

// Longest input member name aggregated as a feature of its own.
constexpr size_t kMaxFeatureName = 64;

// Most members of a per-class probability object that are aggregated (binary models have two).
constexpr size_t kMaxProbabilityClasses = 16;

}  // namespace

ModelContributor::ModelContributor(std::shared_ptr<const document::FieldMappingSet> fields,
                                   std::shared_ptr<const QualityConfig> config)
    : fields_(std::move(fields)), config_(std::move(config)) {}

namespace {

document::FoundValue predicted_of(simdjson::dom::element doc, const document::FieldMapping& m,
                                  const ModelQualityConfig& c) {
  if (!c.predicted.empty()) return document::first_value(doc, c.predicted, true);
  return document::predicted_value(doc, m);
}

// Builds aggregate keys in one reused buffer: a prediction's contribution allocates nothing once
// the buffer has grown (the batch's sum already holds its keys).
class KeyBuffer {
 public:
  std::string_view operator()(std::string_view a, std::string_view b) {
    buf_.assign(a);
    buf_ += kSep;
    buf_ += b;
    return buf_;
  }
  std::string_view operator()(std::string_view a, std::string_view b, std::string_view c) {
    (*this)(a, b);
    buf_ += kSep;
    buf_ += c;
    return buf_;
  }

 private:
  std::string buf_;
};

KeyBuffer& thread_keys() {
  thread_local KeyBuffer keys;
  return keys;
}

// The keys one score of a group adds (aggregate_keys.h), by prefix: scores 's', probabilities 'p'.
enum ScoredKey : uint32_t { kH, kU, kD, kL1, kL0, kQ1, kQ0, kC1, kC1s, kC0, kC0s };
const store::KeyFamily& scored_keys(char prefix) {
  auto names = [](char p) {
    std::vector<std::string> n;
    for (const char* k : {"h", "u", "d", "l1", "l0", "q1", "q0", "c1", "c1s", "c0", "c0s"})
      n.push_back(p + std::string(k));
    return n;
  };
  static const store::KeyFamily scores(names('s')), probabilities(names('p'));
  return prefix == 's' ? scores : probabilities;
}

// What one score s of group g (scores: 's', probabilities: 'p') adds (aggregate_keys.h): one
// family of keys with suffix g, which a batch's sum numbers once per g.
void add_scored(store::AggregateSink& out, char prefix, std::string_view g, double s) {
  const double clipped = std::clamp(s, kEps, 1 - kEps);
  const auto b1 = static_cast<uint32_t>(calibration_bin(s));
  const auto b0 = static_cast<uint32_t>(calibration_bin(1 - s));
  std::array<store::FamilyValue, 11> v;
  size_t n = 0;
  v[n++] = {kH, true, static_cast<uint32_t>(score_bin(s)), 1};
  // Exact counts on each side of 0.5 (bins cannot tell 0.5 from 0.5004, nor 0.5 from its mirror).
  if (s >= 0.5) v[n++] = {kU, false, 0, 1};
  if (s <= 0.5) v[n++] = {kD, false, 0, 1};
  v[n++] = {kL1, false, 0, -std::log(clipped)};
  v[n++] = {kL0, false, 0, -std::log(1 - clipped)};
  v[n++] = {kQ1, false, 0, (1 - s) * (1 - s)};
  v[n++] = {kQ0, false, 0, s * s};
  v[n++] = {kC1, true, b1, 1};
  v[n++] = {kC1s, true, b1, s};
  v[n++] = {kC0, true, b0, 1};
  v[n++] = {kC0s, true, b0, 1 - s};
  out.add_family(scored_keys(prefix), g, std::span(v.data(), n));
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

// Feature names become report entries and Prometheus label values: at most 64 bytes of printable
// UTF-8 (names holding PII were masked into tokens before storage). Any other name is counted
// under "__other__".
std::string_view feature_name(std::string_view n) {
  const bool printable = std::none_of(n.begin(), n.end(), [](char ch) {
    return static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f;
  });
  return n.size() > kMaxFeatureName || !printable ? "__other__" : n;
}

// Data quality and drift of one input member that is not null: its JSON type name, and its value
// when it is a number.
void add_typed_feature(std::string_view n, const char* type, const double* number,
                       const ModelQualityConfig::Feature* spec, store::AggregateSink& out) {
  KeyBuffer& key = thread_keys();
  out.add(key("qt", n, type), 1);
  if (number == nullptr) return;
  const double x = *number;
  if (spec != nullptr && ((spec->min && x < *spec->min) || (spec->max && x > *spec->max))) {
    out.add(key("qr", n), 1);
  }
  std::array<char, 16> bucket;
  out.add(key("qh", n, numeric_bucket(x, bucket)), 1);
}

// Data quality and drift of one input member.
void add_feature(std::string_view name, simdjson::dom::element v,
                 const ModelQualityConfig::Feature* spec, store::AggregateSink& out) {
  const std::string_view n = feature_name(name);
  if (v.is_null()) return;  // counted as null: predictions without a qt entry
  double x;
  const bool number = !v.get_double().get(x);
  add_typed_feature(n, type_of(v), number ? &x : nullptr, spec, out);
  if (!number && spec != nullptr && spec->categorical && (v.is_string() || v.is_bool())) {
    KeyBuffer& key = thread_keys();
    std::string text(simdjson::minify(v));
    if (text.size() > 64) text.resize(64);
    std::replace(text.begin(), text.end(), kSep, '?');
    out.add(key("qc", n, text), 1);
  }
}

const char* type_name(ObservedFields::Type t) {
  switch (t) {
    case ObservedFields::Type::kNumber:
      return "number";
    case ObservedFields::Type::kString:
      return "string";
    case ObservedFields::Type::kBoolean:
      return "boolean";
    case ObservedFields::Type::kArray:
      return "array";
    default:
      return "object";
  }
}

void add_confidence(double conf, store::AggregateSink& out) {
  if (!(conf >= 0 && conf <= 1)) return;
  const int b = std::min(kConfidenceBins - 1, static_cast<int>(conf * kConfidenceBins));
  out.add_bin("conf", static_cast<uint32_t>(b), 1);
  out.add("conf_sum", conf);
  out.add("conf_n", 1);
}

// What prediction() adds from the DOM, from the values the decoder read instead (the same
// entries: tests/quality/observed_test.cpp compares the two on generated documents).
void add_observed(const ObservedFields& o, const ModelQualityConfig& c, store::AggregateSink& out) {
  if (o.predicted != ObservedFields::Type::kNone) {
    out.add(o.predicted == ObservedFields::Type::kNumber ? "pn" : "pc", 1);
  }
  if (o.has_confidence) add_confidence(o.confidence, out);
  if (!o.has_inputs) return;
  size_t seen = 0;
  for (const ObservedFields::Member& member : o.inputs) {
    if (seen++ == c.max_features) break;
    if (member.type == ObservedFields::Type::kNull) continue;
    add_typed_feature(feature_name(member.name), type_name(member.type),
                      member.type == ObservedFields::Type::kNumber ? &member.number : nullptr,
                      nullptr, out);
  }
}

}  // namespace

void ModelContributor::prediction(const store::JoinSide& p, store::AggregateSink& out) const {
  out.add("n", 1);
  const document::FieldMapping& m = fields_->for_model(p.model);
  const ModelQualityConfig& c = config_->for_model(p.model);
  // Straight from the decoder, read with this mapping: no second parse. Configured predicted
  // pointers and listed features are read from the document (the decoder knows neither).
  if (p.observed != nullptr && p.observed->mapping == &m && c.predicted.empty() &&
      c.features.empty()) {
    add_observed(*p.observed, c, out);
    return;
  }
  simdjson::dom::element doc;
  if (!parse_stored(0, p.document, doc)) return;
  const document::FoundValue predicted = predicted_of(doc, m, c);
  if (predicted.found()) out.add(predicted.is_number() ? "pn" : "pc", 1);
  if (auto conf = number_at(doc, m.pointers(document::Field::kConfidence))) {
    add_confidence(*conf, out);
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
                            store::AggregateSink& out) const {
  const document::FieldMapping& m = fields_->for_model(p.model);
  const ModelQualityConfig& c = config_->for_model(p.model);
  simdjson::dom::element ldoc, pdoc;
  if (!parse_stored(1, l.document, ldoc)) return;
  const document::FoundValue truth =
      document::first_value(ldoc, m.pointers(document::Field::kGroundTruth), true);
  if (!truth.found()) return;  // null means unknown: no contribution
  out.add("labelled", 1);
  const double lag = static_cast<double>(l.time_ms - p.time_ms) / 1000.0;
  const size_t lag_bucket =
      std::lower_bound(kLagBoundsSeconds.begin(), kLagBoundsSeconds.end(), lag) -
      kLagBoundsSeconds.begin();
  out.add_bin("lag", static_cast<uint32_t>(lag_bucket), 1);
  out.add("lag_sum", lag);

  if (!parse_stored(0, p.document, pdoc)) return;
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
  const std::string pt = class_text(predicted);
  out.add("cls", 1);
  out.add(thread_keys()("cm", t, pt), 1);
  const std::vector<document::JsonPointer>& score_at =
      c.score.empty() ? m.pointers(document::Field::kScore) : c.score;
  bool scored = false;
  if (auto s = number_at(pdoc, score_at); s && *s >= 0 && *s <= 1) {
    add_scored(out, 's', key(t, pt), *s);
    scored = true;
  }
  // A per-class probability object: P(c) for each class c it names (a few; numbers in [0, 1]).
  static const std::vector<document::JsonPointer> kProbabilities = {
      document::parse_json_pointer("/prediction/probabilities").value(),
      document::parse_json_pointer("/probabilities").value()};
  for (const auto& ptr : c.probabilities.empty() ? kProbabilities : c.probabilities) {
    simdjson::dom::object probs;
    if (pdoc.at_pointer(ptr.text).get_object().get(probs)) continue;
    if (probs.size() > kMaxProbabilityClasses) break;
    for (auto [name, v] : probs) {
      double x;
      if (v.get_double().get(x) || !(x >= 0 && x <= 1)) continue;
      std::string ck;
      document::append_json_string(ck, name);
      if (ck.find(kSep) != std::string::npos) continue;  // cannot be a key part (never JSON)
      add_scored(out, 'p', key(t, pt, ck), x);
      scored = true;
    }
    break;
  }
  if (scored) out.add("scored", 1);
}

}  // namespace verity::quality
