// Model quality's write side (quality/): the aggregate key schema's bins and buckets on generated
// numbers of every magnitude, and the contributor on generated documents nobody designed for
// (Unicode and control characters in member names, huge and tiny numbers, deep nesting, long
// names, wrong types). The reports built from these keys are tested in tests/query/.

#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "seed.h"
#include "verity/document/json_writer.h"
#include "verity/quality/aggregate_keys.h"
#include "verity/quality/contributor.h"

namespace verity::quality {
namespace {

using store::Aggregate;
using store::AggregateSum;
using store::JoinSide;

// A finite double of any magnitude and sign: uniform in [0, 1), powers of ten from 1e-320
// (subnormal) to 1e308, integers, and values near 0 and 1.
double any_number(std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0, 1);
  const double sign = rng() % 2 ? 1 : -1;
  switch (rng() % 5) {
    case 0:
      return sign * u(rng);
    case 1:
      return sign * std::pow(10.0, -320 + 628 * u(rng));
    case 2:
      return sign * static_cast<double>(rng() % 1'000'000);
    case 3:
      return sign * std::pow(10.0, -12 * u(rng));
    default:
      return sign * (1 - std::pow(10.0, -15 * u(rng)));
  }
}

TEST(AggregateKeys, ScoreBinsContainTheirScoresAndIncrease) {
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  std::mt19937_64 rng(seed);
  for (int b = 1; b < kScoreBins; ++b) {
    ASSERT_LT(score_bin_lower_bound(b - 1), score_bin_lower_bound(b)) << b;
  }
  std::vector<double> scores = {0,         std::numeric_limits<double>::denorm_min(),
                                1e-12,     0.01,
                                0.5,       0.99,
                                1 - 1e-12, std::nextafter(1.0, 0.0),
                                1};
  for (int i = 0; i < 100'000; ++i) scores.push_back(std::fabs(any_number(rng)));
  int previous_bin = -1;
  double previous = -1;
  std::sort(scores.begin(), scores.end());
  for (double s : scores) {
    if (s > 1) continue;
    const int b = score_bin(s);
    ASSERT_GE(b, 0) << s;
    ASSERT_LT(b, kScoreBins) << s;
    // Monotone: a greater score never lands in a lower bin.
    if (s > previous) {
      ASSERT_GE(b, previous_bin) << s << " after " << previous;
    }
    previous = s;
    previous_bin = b;
    // Edges are computed in floating point: within 1e-12 of an edge a score may fall either side.
    EXPECT_LE(score_bin_lower_bound(b), s + 1e-12) << s;
    if (b + 1 < kScoreBins) {
      EXPECT_GT(score_bin_lower_bound(b + 1), s - 1e-12) << s;
    }
    // The mirror of a score's bin is (up to an edge) the bin of 1 - s.
    EXPECT_LE(std::abs(mirror_bin(b) - score_bin(1 - s)), 1) << s;
  }
  EXPECT_EQ(score_bin(-0.5), 0);
  EXPECT_EQ(score_bin(std::nan("")), 0);
  EXPECT_EQ(score_bin(2), kScoreBins - 1);
}

TEST(AggregateKeys, CalibrationBinsAreScikitLearnsUniformBins) {
  // calibration_curve(strategy="uniform"): bins = linspace(0, 1, 11); binids =
  // searchsorted(bins[1:-1], p) (side left): the number of inner edges strictly below p.
  const std::array<double, 9> edges = {
      0.1, 0.2, 0.30000000000000004, 0.4, 0.5, 0.6000000000000001, 0.7000000000000001, 0.8, 0.9};
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<double> ps = {0, 1, 0.3, 0.6, 0.7};
  for (double e : edges) ps.insert(ps.end(), {e, std::nextafter(e, 0.0), std::nextafter(e, 1.0)});
  for (int i = 0; i < 10'000; ++i) ps.push_back(u(rng));
  for (double p : ps) {
    int expected = 0;
    for (double e : edges) expected += e < p;
    EXPECT_EQ(calibration_bin(p), expected) << p;
  }
}

TEST(AggregateKeys, NumericBucketsContainTheirNumbersInOrder) {
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  std::mt19937_64 rng(seed);
  std::vector<double> xs = {0,
                            -0.0,
                            1e-9,
                            -1e-9,
                            1,
                            -1,
                            1.1,
                            -1.1,
                            1e308,
                            -1e308,
                            std::numeric_limits<double>::max(),
                            std::numeric_limits<double>::denorm_min()};
  for (int i = 0; i < 100'000; ++i) xs.push_back(any_number(rng));
  std::sort(xs.begin(), xs.end());
  double previous_lower = -std::numeric_limits<double>::infinity();
  for (double x : xs) {
    std::array<char, 16> buf;
    const std::string_view b = numeric_bucket(x, buf);
    ASSERT_FALSE(b.empty()) << x;
    if (std::fabs(x) < 1e-9) {
      EXPECT_EQ(b, "z") << x;
      EXPECT_EQ(bucket_value(b), 0);
    } else {
      ASSERT_TRUE(b[0] == (x > 0 ? 'p' : 'n')) << x << " " << b;
      // x is in [1.1^i, 1.1^(i+1)) (or its negative), up to the rounding of log and pow.
      const double lower = bucket_value(b);
      const double upper = b[0] == 'p' ? lower * kBucketBase : lower / kBucketBase;
      EXPECT_LE(lower, x + std::fabs(x) * 1e-9) << x << " " << b;
      EXPECT_GE(upper, x - std::fabs(x) * 1e-9) << x << " " << b;
    }
    // Buckets order as their numbers do: a report lists drift buckets by value.
    const double lower = bucket_value(b);
    EXPECT_GE(lower, previous_lower) << x << " " << b;
    previous_lower = lower;
  }
}

// A JSON document of generated shape: strings with quotes, escapes, control characters and 2-4
// byte UTF-8, numbers of any magnitude, nesting up to `depth`.
std::string any_string(std::mt19937_64& rng, size_t max_len) {
  static const std::vector<std::string> pieces = {"a",    "Z",    "7",    " ", "\"", "\\", "\n",
                                                  "\x1f", "\x01", "\x7f", "é", "€",  "𝄞",  "ü",
                                                  "名",   "-",    "_",    "@", "."};
  std::string s;
  const size_t n = rng() % (max_len + 1);
  for (size_t i = 0; i < n; ++i) s += pieces[rng() % pieces.size()];
  return s;
}

void any_value(document::JsonWriter& w, std::mt19937_64& rng, int depth) {
  switch (rng() % (depth > 0 ? 8 : 6)) {
    case 0:
      w.number(any_number(rng));
      break;
    case 1:
      w.integer(static_cast<int64_t>(rng()));
      break;
    case 2:
      w.string(any_string(rng, 12));
      break;
    case 3:
      w.boolean(rng() % 2);
      break;
    case 4:
      w.null();
      break;
    case 5:
      if (rng() % 4 == 0) {
        w.raw(rng() % 2 ? "123456789012345678901234567890" : "-98765432109876543210");
      } else {
        w.uinteger(rng());
      }
      break;
    case 6: {
      w.begin_array();
      for (size_t i = rng() % 4; i > 0; --i) any_value(w, rng, depth - 1);
      w.end_array();
      break;
    }
    default: {
      w.begin_object();
      for (size_t i = rng() % 4; i > 0; --i) {
        w.key(any_string(rng, 6));
        any_value(w, rng, depth - 1);
      }
      w.end_object();
    }
  }
}

std::string any_json(std::mt19937_64& rng, int depth) {
  std::string out;
  document::JsonWriter w(out);
  any_value(w, rng, depth);
  return out;
}

// A prediction whose predicted value (prediction.label) is `label` (JSON text).
std::string any_prediction(std::mt19937_64& rng, const std::string& label) {
  std::string doc;
  document::JsonWriter w(doc);
  w.begin_object();
  w.key("prediction").begin_object();
  w.member_raw("label", label);
  if (rng() % 2) w.member("score", any_number(rng));
  w.end_object();
  if (rng() % 2) w.member("confidence", any_number(rng));
  w.key("input_features").begin_object();
  const size_t members = rng() % 80;
  for (size_t i = 0; i < members; ++i) {
    // Long names, names with separators and control characters, Unicode names.
    w.key(rng() % 10 == 0 ? std::string(60 + rng() % 10, 'n') : any_string(rng, 8));
    any_value(w, rng, static_cast<int>(rng() % 6));
  }
  w.end_object();
  w.end_object();
  return doc;
}

// Whether simdjson's DOM reads `json` (it refuses integers beyond 64 bits).
bool dom_reads(const std::string& json) {
  simdjson::dom::parser p;
  simdjson::dom::element e;
  return p.parse(json).get(e) == simdjson::SUCCESS;
}

// Splits a key at its separators.
std::vector<std::string_view> parts_of(std::string_view key) {
  std::vector<std::string_view> parts;
  while (true) {
    const size_t at = key.find(kSep);
    parts.push_back(key.substr(0, at));
    if (at == std::string_view::npos) return parts;
    key.remove_prefix(at + 1);
  }
}

TEST(Contributor, GeneratedPredictionsKeepTheKeySchema) {
  auto fields = std::make_shared<document::FieldMappingSet>();
  auto config = std::make_shared<QualityConfig>();
  config->defaults.max_features = 50;
  const ModelContributor contributor(fields, config);
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 3000; ++i) {
    const std::string label = any_json(rng, 1);
    const std::string doc = any_prediction(rng, label);
    Aggregate a;
    contributor.prediction(JoinSide{"m", "v", 1'000'000, doc}, a);
    ASSERT_EQ(a.get("n"), 1) << doc;
    // A scalar predicted value is counted by its kind, whatever else the document holds (unless
    // simdjson's DOM refuses the document: DocumentsTheDomRefusesContributeTheirCountsOnly).
    const bool scalar = label[0] != '{' && label[0] != '[' && label != "null";
    const bool readable = dom_reads(doc);
    ASSERT_EQ(a.get("pn") + a.get("pc"), scalar && readable ? 1 : 0) << doc;
    if (!readable) {
      ASSERT_EQ(a.size(), 1u) << doc;
    }
    double typed = 0;
    a.for_each([&](const std::string& key, double v) {
      const std::vector<std::string_view> parts = parts_of(key);
      if (parts[0] == "qt") {
        ASSERT_EQ(parts.size(), 3u) << key;
        // A feature name is at most 64 bytes without control characters, or "__other__".
        ASSERT_LE(parts[1].size(), 64u) << key;
        for (char ch : parts[1]) ASSERT_FALSE(static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f);
        typed += v;
      } else if (parts[0] == "qh") {
        ASSERT_EQ(parts.size(), 3u) << key;
      } else if (parts[0] == "conf") {
        ASSERT_EQ(parts.size(), 2u) << key;
        ASSERT_GE(std::stoi(std::string(parts[1])), 0);
        ASSERT_LT(std::stoi(std::string(parts[1])), kConfidenceBins);
      } else {
        ASSERT_EQ(parts.size(), 1u) << key;
        ASSERT_TRUE(key == "n" || key == "pn" || key == "pc" || key == "conf_sum" ||
                    key == "conf_n")
            << key;
      }
    });
    // One type per present member, and no more members than max_features.
    ASSERT_LE(typed, 50) << doc;
    // The same document contributes the same, bit for bit.
    Aggregate again;
    contributor.prediction(JoinSide{"m", "v", 1'000'000, doc}, again);
    ASSERT_EQ(a.encode(), again.encode());
  }
}

TEST(Contributor, AGeneratedLabelAndItsCorrectionCancelExactly) {
  auto fields = std::make_shared<document::FieldMappingSet>();
  auto config = std::make_shared<QualityConfig>();
  const ModelContributor contributor(fields, config);
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 3000; ++i) {
    const std::string doc = any_prediction(rng, any_json(rng, 1));
    std::string label;
    document::JsonWriter w(label);
    w.begin_object().key("ground_truth");
    any_value(w, rng, 1);
    w.end_object();
    const JoinSide p{"m", "v", 1'000'000, doc};
    const JoinSide l{"m", "", 1'000'000 + static_cast<EpochMillis>(rng() % 10'000'000'000), label};
    Aggregate joined;
    contributor.join(p, l, joined);
    // Whatever the values, a join adds at most one of each outcome, and a correction (the same
    // contribution subtracted) leaves nothing behind, exactly.
    ASSERT_LE(joined.get("labelled"), 1) << doc << " " << label;
    ASSERT_LE(joined.get("cls") + joined.get("reg") + joined.get("mismatch"), 1) << label;
    if (joined.get("labelled") == 1 && dom_reads(doc)) {
      ASSERT_EQ(joined.get("cls") + joined.get("reg") + joined.get("mismatch"), 1)
          << doc << " " << label;
    }
    // A correction recomputes the old pair's contribution (the parsers in between having read
    // other documents) and subtracts it: nothing may be left behind, bit for bit.
    Aggregate other;
    contributor.join(JoinSide{"m", "v", 0, any_prediction(rng, any_json(rng, 2))},
                     JoinSide{"m", "", 5, R"({"ground_truth":"x"})"}, other);
    Aggregate again;
    contributor.join(p, l, again);
    Aggregate sum = joined;
    sum.add(again, -1);
    sum.for_each_fixed([&](const std::string& key, Aggregate::Fixed v) {
      ASSERT_TRUE(v == 0) << key << " in " << doc << " " << label;
    });
    // The submitting thread joins into its batch's AggregateSum (bins kept as (stem, bin)); a
    // correction on the commit thread subtracts an Aggregate of the same pair (bins as keys):
    // the two sinks hold the same entries, and they cancel.
    AggregateSum batch;
    contributor.join(p, l, batch);
    ASSERT_EQ(batch.encode(), joined.encode()) << doc << " " << label;
    batch.add(again, -1);
    ASSERT_TRUE(batch.result().empty()) << doc << " " << label;
  }
}

TEST(Contributor, DocumentsTheDomRefusesContributeTheirCountsOnly) {
  // An integer beyond 64 bits: valid JSON the decoder accepts and simdjson's DOM refuses. Such a
  // document contributes what it always has (its count; a join its label count and lag), so that
  // corrections and erasures of pairs joined by earlier versions subtract exactly what was added.
  auto fields = std::make_shared<document::FieldMappingSet>();
  auto config = std::make_shared<QualityConfig>();
  const ModelContributor contributor(fields, config);
  const std::string doc =
      R"({"prediction":{"label":"fraud","score":0.9},"confidence":0.9,)"
      R"("input_features":{"account":123456789012345678901234567890,"amount":12.5}})";
  Aggregate a;
  const JoinSide p{"m", "v", 1'000'000, doc};
  contributor.prediction(p, a);
  EXPECT_EQ(a.get("n"), 1);
  EXPECT_EQ(a.size(), 1u);
  Aggregate joined;
  contributor.join(p, JoinSide{"m", "", 2'000'000, R"({"ground_truth":"legit"})"}, joined);
  EXPECT_EQ(joined.get("labelled"), 1);
  EXPECT_EQ(joined.get("lag_sum"), 1000);
  EXPECT_EQ(joined.get("cls") + joined.get("reg") + joined.get("mismatch"), 0);
  Aggregate label_refused;
  const std::string plain = R"({"prediction":{"label":"fraud"}})";
  contributor.join(JoinSide{"m", "v", 1'000'000, plain},
                   JoinSide{"m", "", 2'000'000, R"({"ground_truth":1234567890123456789012})"},
                   label_refused);
  EXPECT_TRUE(label_refused.empty());
}

}  // namespace
}  // namespace verity::quality
