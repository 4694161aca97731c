// Model quality reads a decoded prediction's fields from what the decoder captured
// (ObservedFields) instead of parsing the stored document again. Property: on generated
// documents of every shape (Unicode, escaped and PII member names, masking rules and detectors
// inside and outside the inputs, numbers of any size, nesting, per-model mappings), what a
// prediction contributes from the captures is exactly what it contributes from a DOM of the
// stored document.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "generators.h"
#include "seed.h"
#include "verity/document/json_writer.h"
#include "verity/ingest/document_decoder.h"
#include "verity/ingest/masker.h"
#include "verity/quality/contributor.h"
#include "verity/store/aggregate.h"

namespace verity {
namespace {

const std::string kKey = "0123456789abcdef0123456789abcdef";

document::JsonPointer ptr(std::string_view text) {
  return document::parse_json_pointer(text).value();
}

std::shared_ptr<const document::FieldMappingSet> mappings() {
  auto set = std::make_shared<document::FieldMappingSet>();
  document::FieldMapping alt = document::FieldMapping::defaults();
  alt.set_pointers(document::Field::kInputs, {ptr("/feat"), ptr("/in/puts"), ptr("/inputs")});
  alt.set_pointers(document::Field::kPredictedValue, {ptr("/out/cls"), ptr("/prediction/label")});
  alt.set_pointers(document::Field::kOutputs, {ptr("/out"), ptr("/prediction")});
  alt.set_pointers(document::Field::kConfidence, {ptr("/conf"), ptr("/out/conf")});
  set->per_model["alt"] = alt;
  document::FieldMapping indexed = document::FieldMapping::defaults();
  // An inputs pointer through an array index: the decoder does not capture through arrays.
  indexed.set_pointers(document::Field::kInputs, {ptr("/batch/0"), ptr("/inputs")});
  set->per_model["indexed"] = indexed;
  document::FieldMapping pii = document::FieldMapping::defaults();
  // A pointer through a member name a detector masks: the stored document has a token there.
  pii.set_pointers(document::Field::kInputs, {ptr("/who@example.org"), ptr("/inputs")});
  set->per_model["pii"] = pii;
  return set;
}

std::shared_ptr<const quality::QualityConfig> quality_config() {
  auto c = std::make_shared<quality::QualityConfig>();
  quality::ModelQualityConfig few;
  few.max_features = 3;
  c->models["few"] = few;
  quality::ModelQualityConfig listed;  // listed features: read from the document
  listed.features["amount"] = {"number", 0.0, 100.0, false};
  listed.features["country"] = {"string", std::nullopt, std::nullopt, true};
  c->models["listed"] = listed;
  return c;
}

ingest::MaskingConfig masking() {
  ingest::MaskingConfig m;
  m.policy.rules.push_back({"/inputs/secret", {ingest::MaskAction::kHash}});
  m.policy.rules.push_back({"/input_features/drop_me", {ingest::MaskAction::kDrop}});
  m.policy.rules.push_back({"**/ssn", {ingest::MaskAction::kRedact}});
  m.policy.rules.push_back(
      {"/prediction/value", {ingest::MaskAction::kHash}});           // a predicted value
  m.policy.rules.push_back({"/conf", {ingest::MaskAction::kDrop}});  // alt's confidence
  m.policy.rules.push_back({"/x*", {ingest::MaskAction::kDrop}});    // neighbours dropped together
  return m;
}

// Generated prediction documents, written as JSON text with random spacing.
class DocumentGenerator {
 public:
  explicit DocumentGenerator(uint64_t seed) : rng_(seed) {}

  std::string next(uint64_t n) {
    out_.clear();
    first_.clear();
    open('{');
    member("request_id");
    str("r-" + std::to_string(n));
    member("@timestamp");
    str("2026-11-18T11:06:40.007Z");
    static const char* kModels[] = {"m", "alt", "few", "listed", "indexed", "pii"};
    member("model");
    open('{');
    member("name");
    str(kModels[pick(6)]);
    close('}');
    // Inputs at one or more of the pointers any of the mappings reads.
    static const char* kInputs[] = {"inputs", "input_features", "features", "feat",
                                    "who@example.org"};
    for (const char* at : kInputs) {
      if (pick(3) != 0) continue;
      member(at);
      if (pick(12) == 0) {
        value(2);  // not necessarily an object: rejected, or passed over
      } else {
        inputs();
      }
    }
    if (pick(6) == 0) {
      member("in");
      open('{');
      member("puts");
      inputs();
      close('}');
    }
    if (pick(6) == 0) {
      member("batch");
      open('[');
      element();
      inputs();
      close(']');
    }
    prediction();
    static const char* kConfidence[] = {"confidence", "conf"};
    for (const char* at : kConfidence) {
      if (pick(2) != 0) continue;
      member(at);
      switch (pick(5)) {
        case 0:
          out_ += "null";
          break;
        case 1:
          out_ += "1";
          break;
        default:
          number_in_unit();
      }
    }
    for (int i = 0; i < 3; ++i) {
      if (pick(3) != 0) continue;
      member("x" + std::to_string(i));
      value(1);
    }
    if (pick(4) == 0) {
      member("note");
      str(testing::detector_shape(rng_));
    }
    close('}');
    return out_;
  }

 private:
  size_t pick(size_t n) { return rng_() % n; }

  void space() {
    if (pick(5) == 0) out_ += pick(2) ? " " : "\n\t ";
  }
  void open(char c) {
    space();
    out_ += c;
    first_.push_back(true);
  }
  void close(char c) {
    space();
    out_ += c;
    first_.pop_back();
  }
  void comma() {
    if (!first_.back()) out_ += ',';
    first_.back() = false;
    space();
  }
  void member(std::string_view name) {
    comma();
    document::append_json_string(out_, name);
    space();
    out_ += ':';
    space();
  }
  void element() { comma(); }
  void str(std::string_view s) { document::append_json_string(out_, s); }

  std::string name() {
    switch (pick(14)) {
      case 0:
        return "gr\xc3\xb6\xc3\x9f"
               "e";  // UTF-8
      case 1:
        return "caf\xc3\xa9 \xe2\x82\xac";
      case 2:
        return "quote\"back\\slash";
      case 3:
        return std::string("ctl\x01") + "x";
      case 4:
        return std::string(70, 'n');  // past the 64 bytes of a feature name
      case 5:
        return "";
      case 6:
        return testing::detector_shape(rng_);  // masked as a member name
      case 7:
        return "secret";
      case 8:
        return "drop_me";
      case 9:
        return "ssn";
      case 10:
        return "tab\there";
      default:
        return "f" + std::to_string(pick(40));
    }
  }

  void inputs() {
    open('{');
    const size_t n = pick(10);
    std::vector<std::string> names;
    for (size_t i = 0; i < n; ++i) {
      std::string nm = name();
      if (std::find(names.begin(), names.end(), nm) != names.end()) continue;
      names.push_back(nm);
      member(nm);
      value(3);
    }
    close('}');
  }

  void number() {
    static const char* kNumbers[] = {"0",
                                     "-0",
                                     "0.0",
                                     "-0.0",
                                     "1e-300",
                                     "5e-324",
                                     "1.7976931348623157e308",
                                     "-1.5E+10",
                                     "9007199254740993",
                                     "9223372036854775807",
                                     "-9223372036854775808",
                                     "18446744073709551615",
                                     "18446744073709551616",  // past 64 bits
                                     "-123456789012345678901234567890",
                                     "4111111111111111",  // a card number as a number
                                     "3.14159",
                                     "1e15",
                                     "100",
                                     "99.5",
                                     "-7"};
    if (pick(3) == 0) {
      out_ += kNumbers[pick(std::size(kNumbers))];
    } else {
      std::uniform_real_distribution<double> d(-1e6, 1e6);
      char buf[40];
      std::snprintf(buf, sizeof buf, "%.*g", static_cast<int>(1 + pick(17)), d(rng_));
      out_ += buf;
    }
  }

  void number_in_unit() {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.*g", static_cast<int>(1 + pick(17)),
                  std::uniform_real_distribution<double>(0, 1)(rng_));
    out_ += buf;
  }

  void value(int depth) {
    switch (pick(depth > 0 ? 8 : 5)) {
      case 0:
      case 1:
        number();
        break;
      case 2:
        if (pick(8) == 0) {
          str(testing::detector_shape(rng_));
        } else if (pick(4) == 0) {
          out_ += "\"esc\\u00e9\\n\\\"\"";
        } else {
          str(std::string("v") + std::to_string(pick(100)));
        }
        break;
      case 3:
        out_ += pick(2) ? "true" : "false";
        break;
      case 4:
        out_ += "null";
        break;
      case 5:
      case 6: {
        open('{');
        const size_t n = pick(4);
        for (size_t i = 0; i < n; ++i) {
          member(i == 0 && pick(3) == 0 ? "ssn" : "k" + std::to_string(i));
          value(depth - 1);
        }
        close('}');
        break;
      }
      default: {
        open('[');
        const size_t n = pick(4);
        for (size_t i = 0; i < n; ++i) {
          element();
          value(depth - 1);
        }
        close(']');
      }
    }
  }

  void prediction() {
    switch (pick(6)) {
      case 0:
        member("prediction");
        value(1);  // a scalar, null, an object or an array
        return;
      case 1:
        member("out");
        open('{');
        if (pick(2)) {
          member("cls");
          value(1);
        }
        if (pick(2)) {
          member("conf");
          number_in_unit();
        }
        close('}');
        [[fallthrough]];
      default: {
        member("prediction");
        open('{');
        static const char* kPredicted[] = {"label", "class", "value"};
        for (const char* at : kPredicted) {
          if (pick(2) != 0) continue;
          member(at);
          value(1);
        }
        if (pick(2)) {
          member("score");
          number_in_unit();
        }
        if (pick(3) == 0) {
          member("confidence");
          number_in_unit();
        }
        close('}');
      }
    }
  }

  std::mt19937_64 rng_;
  std::string out_;
  std::vector<bool> first_;
};

std::string contribution(const quality::ModelContributor& c, const Event& e, bool observed) {
  store::AggregateSum sum;
  c.prediction(
      {e.model_name, e.model_version, e.timestamp_ms, e.document, observed ? &e.observed : nullptr},
      sum);
  return sum.encode();
}

class Observed : public ::testing::Test {
 protected:
  void SetUp() override {
    fields_ = mappings();
    contributor_ = std::make_unique<quality::ModelContributor>(fields_, quality_config());
    masked_ = std::make_unique<ingest::DocumentDecoder>(
        fields_, clock_, ingest::DecoderLimits{}, ingest::Masker::create(masking(), kKey).value());
    plain_ = std::make_unique<ingest::DocumentDecoder>(fields_, clock_);
  }

  ManualClock clock_{1795000000000};
  std::shared_ptr<const document::FieldMappingSet> fields_;
  std::unique_ptr<quality::ModelContributor> contributor_;
  std::unique_ptr<ingest::DocumentDecoder> masked_, plain_;
};

TEST_F(Observed, CapturesAreWhatTheStoredDocumentHolds) {
  Event e;
  Reject r;
  const std::string doc =
      R"({"request_id":"a","@timestamp":"2026-11-18T11:06:40Z","model":{"name":"m"},)"
      R"("inputs":{"amount":38.5,"caf\u00e9":"x","n":null,"big":9223372036854775807,)"
      R"("deep":{"a":[1]}},"prediction":{"label":{"x":1},"class":true},"confidence":0.25})";
  ASSERT_TRUE(masked_->decode(doc, doc.size(), 1, e, r)) << r.reason;
  const ObservedFields& o = e.observed;
  ASSERT_EQ(o.mapping, &fields_->default_mapping);
  EXPECT_EQ(o.predicted, ObservedFields::Type::kBoolean);  // the first scalar: the label is not
  EXPECT_TRUE(o.has_confidence);
  EXPECT_EQ(o.confidence, 0.25);
  ASSERT_TRUE(o.has_inputs);
  ASSERT_EQ(o.inputs.size(), 5u);
  EXPECT_EQ(o.inputs[0].name, "amount");
  EXPECT_EQ(o.inputs[0].number, 38.5);
  EXPECT_EQ(o.inputs[1].name, "caf\xc3\xa9");
  EXPECT_EQ(o.inputs[1].type, ObservedFields::Type::kString);
  EXPECT_EQ(o.inputs[2].type, ObservedFields::Type::kNull);
  EXPECT_EQ(o.inputs[3].number, 9223372036854775807.0);
  EXPECT_EQ(o.inputs[4].type, ObservedFields::Type::kObject);
  EXPECT_EQ(contribution(*contributor_, e, true), contribution(*contributor_, e, false));
}

// Found by fuzz_observed: a number of 120 digits in the inputs, then (2026-12-04) one of exactly
// 19 (133333333333333332.5). On-Demand's get_number() reads a decimal of 19 digits or more as 0
// about half the time at 19 digits and always past it (a check of 2M generated decimals: none of
// 10-18 digits differed from the DOM), so the captures must not be vouched for.
TEST_F(Observed, ANumberOfManyDigitsContributesTheSameBothWays) {
  for (size_t threes : {118, 16, 17, 15}) {
    const std::string doc =
        R"({"request_id":"r0","@timestamp":"2026-11-20T10:30:00Z","model_name":"fraud",)"
        R"("input_features":{"amount":1)" +
        std::string(threes, '3') +
        R"(2.5},"trediction":{"label":"fraud","score":5.91},)"
        R"("confidence":0.91})";
    for (auto* d : {masked_.get(), plain_.get()}) {
      Event e;
      Reject r;
      ASSERT_TRUE(d->decode(doc, doc.size(), 1, e, r)) << r.reason;
      EXPECT_EQ(contribution(*contributor_, e, true), contribution(*contributor_, e, false))
          << threes + 3 << " digits";
    }
  }
}

TEST_F(Observed, NothingIsVouchedForWhereMaskingChangedWhatModelQualityReads) {
  const std::string head =
      R"({"request_id":"a","@timestamp":"2026-11-18T11:06:40Z","model":{"name":"m"},)";
  for (const std::string body : {
           // a detector inside the inputs: the stored member is a token
           R"("inputs":{"email":"someone@example.org","n":1}})",
           // a PII member name
           R"("inputs":{"someone@example.org":1}})",
           // a rule on a predicted-value pointer: an object becomes a string
           R"("prediction":{"value":{"a":1}}})",
           // an integer past 64 bits anywhere
           R"("inputs":{"n":1},"x":123456789012345678901234567890})",
       }) {
    Event e;
    Reject r;
    const std::string doc = head + body;
    ASSERT_TRUE(masked_->decode(doc, doc.size(), 1, e, r)) << r.reason;
    EXPECT_EQ(e.observed.mapping, nullptr) << doc;
    EXPECT_EQ(contribution(*contributor_, e, true), contribution(*contributor_, e, false)) << doc;
  }
  {
    Event e;
    Reject r;
    const std::string doc =
        R"({"request_id":"a","@timestamp":"2026-11-18T11:06:40Z","model":{"name":"pii"},)"
        R"("who@example.org":{"a":1},"inputs":{"b":"x"}})";
    ASSERT_TRUE(masked_->decode(doc, doc.size(), 1, e, r)) << r.reason;
    EXPECT_EQ(e.document.find("who@"), std::string::npos);
    EXPECT_EQ(e.observed.mapping, nullptr);
    EXPECT_EQ(contribution(*contributor_, e, true), contribution(*contributor_, e, false));
    ASSERT_TRUE(plain_->decode(doc, doc.size(), 1, e, r)) << r.reason;
    EXPECT_EQ(e.observed.mapping, &fields_->per_model.at("pii"));  // unmasked: read as sent
    EXPECT_EQ(contribution(*contributor_, e, true), contribution(*contributor_, e, false));
  }
  // Masking elsewhere in the document leaves the captures usable.
  Event e;
  Reject r;
  const std::string doc = head + R"("user":"someone@example.org","inputs":{"n":1}})";
  ASSERT_TRUE(masked_->decode(doc, doc.size(), 1, e, r)) << r.reason;
  EXPECT_NE(e.document, doc);
  EXPECT_EQ(e.observed.mapping, &fields_->default_mapping);
}

TEST_F(Observed, GeneratedDocumentsContributeTheSameFromCapturesAsFromTheDocument) {
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  DocumentGenerator gen(seed);
  size_t accepted = 0, observed = 0;
  for (uint64_t n = 0; n < 20000; ++n) {
    const std::string doc = gen.next(n);
    for (ingest::DocumentDecoder* d : {masked_.get(), plain_.get()}) {
      Event e;
      Reject r;
      if (!d->decode(doc, doc.size(), n, e, r) || e.kind != EventKind::kPrediction) continue;
      ++accepted;
      if (e.observed.mapping != nullptr) ++observed;
      ASSERT_EQ(contribution(*contributor_, e, true), contribution(*contributor_, e, false))
          << (d == masked_.get() ? "masked: " : "plain: ") << doc << "\nstored: " << e.document;
    }
  }
  // Both ways are exercised: most documents are read from their captures, some are not.
  EXPECT_GT(accepted, 20000u);
  EXPECT_GT(observed, accepted / 3);
  EXPECT_LT(observed, accepted - accepted / 20);
}

}  // namespace
}  // namespace verity
