// Masking never rewrites an identity field (request id, timestamp, model name, model version),
// always masks PII in member names, and numbers of any size read one way. Property tests over
// generated ids and keys in every shape a detector knows.
#include <simdjson.h>

#include <gtest/gtest.h>

#include <random>

#include "generators.h"
#include "verity/core/sha256.h"
#include "verity/document/json_writer.h"
#include "verity/ingest/document_decoder.h"
#include "verity/ingest/masker.h"

namespace verity::ingest {
namespace {

using testing::detector_shape;
using testing::generated_id;

const std::string kKey = "0123456789abcdef0123456789abcdef";

class IdentityTest : public ::testing::Test {
 protected:
  void build(MaskingConfig config = {}) {
    masker_ = Masker::create(config, kKey).value();
    decoder_ = std::make_unique<DocumentDecoder>(
        std::make_shared<const document::FieldMappingSet>(), clock_, DecoderLimits{}, masker_);
  }
  bool decode(const std::string& doc, Event& e, Reject& r) {
    return decoder_->decode(doc, doc.size(), 7, e, r);
  }
  static std::string json_string(std::string_view s) {
    std::string out;
    document::append_json_string(out, s);
    return out;
  }
  static bool contains_token_of(const std::string& doc, const std::string& value) {
    return doc.find(json_string(value)) != std::string::npos;
  }

  ManualClock clock_{0};
  std::shared_ptr<const Masker> masker_;
  std::unique_ptr<DocumentDecoder> decoder_;
};

// Issue 13: ids such as req-555-12-3456 or a UUID whose digits are a Luhn-valid card were stored
// as hmac tokens, and could never be found again under the id that was sent.
TEST_F(IdentityTest, DetectorsNeverRewriteIdentityFieldsWhateverTheirShape) {
  build();
  std::mt19937_64 rng(20261129);
  int masked_elsewhere = 0;
  for (int i = 0; i < 3000; ++i) {
    const std::string id = generated_id(rng);
    const std::string model = rng() % 2 ? "fraud" : generated_id(rng);
    const std::string version = rng() % 2 ? "v1" : generated_id(rng);
    // The same text as an ordinary input is still masked when it is PII.
    const std::string doc =
        "{\"request_id\":" + json_string(id) +
        ",\"@timestamp\":\"2026-11-20T10:30:00Z\",\"model\":{\"name\":" + json_string(model) +
        ",\"version\":" + json_string(version) + "},\"inputs\":{\"copy\":" + json_string(id) +
        "},\"prediction\":{\"label\":\"ok\"}}";
    Event e;
    Reject r;
    ASSERT_TRUE(decode(doc, e, r)) << id << ": " << r.reason;
    EXPECT_EQ(e.request_id, id);
    EXPECT_EQ(e.model_name, model);
    EXPECT_EQ(e.model_version, version);
    EXPECT_EQ(e.document.rfind("{\"request_id\":" + json_string(id) + ",", 0), 0u) << e.document;
    const size_t inputs = e.document.find("\"inputs\":");
    ASSERT_NE(inputs, std::string::npos);
    masked_elsewhere += e.document.find("hmac:", inputs) != std::string::npos;
  }
  EXPECT_GT(masked_elsewhere, 1000);  // the copies in inputs were masked: the detectors ran
}

TEST_F(IdentityTest, IdsFoundAtAnyRequestIdPointerAndIntegerIdsStayAsSent) {
  build();
  for (const char* member : {"request_id", "prediction_id", "inference_id", "id"}) {
    const std::string doc = std::string("{\"") + member +
                            "\":\"555-12-3456\",\"@timestamp\":1795170600000,\"model\":\"m\","
                            "\"prediction\":{\"label\":\"ok\"}}";
    Event e;
    Reject r;
    ASSERT_TRUE(decode(doc, e, r)) << r.reason;
    EXPECT_EQ(e.request_id, "555-12-3456") << member;
    EXPECT_NE(e.document.find("555-12-3456"), std::string::npos);
  }
  // Integers of any size are ids as their decimal text (a card-shaped one too).
  for (const char* id : {"4539578763621486", "9223372036854775808", "18446744073709551615",
                         "123456789012345678901234567890", "-7"}) {
    const std::string doc = std::string("{\"request_id\":") + id +
                            ",\"@timestamp\":1795170600000,\"model\":\"m\",\"prediction\":1}";
    Event e;
    Reject r;
    ASSERT_TRUE(decode(doc, e, r)) << id << ": " << r.reason;
    EXPECT_EQ(e.request_id, id);
  }
}

TEST_F(IdentityTest, PiiInMemberNamesIsMaskedAndNamesStayDistinct) {
  MaskingConfig c;
  // Even with redact (which would make every such name the same), names are hashed.
  c.policy.detectors[static_cast<size_t>(DetectorKind::kEmail)].params.action = MaskAction::kRedact;
  build(c);
  const std::string doc =
      R"({"request_id":"r1","@timestamp":"2026-11-20T10:30:00Z","model":"m",)"
      R"("input_features":{"zed.leak77@example-99.org":1,"card 4539578763621486":2,)"
      R"("other.leak@example.org":{"ssn 123-45-6789":true},"plain":3},"prediction":{"label":"ok"}})";
  Event e;
  Reject r;
  ASSERT_TRUE(decode(doc, e, r)) << r.reason;
  for (const char* secret :
       {"zed.leak77@example-99.org", "4539578763621486", "other.leak@example.org", "123-45-6789"}) {
    EXPECT_EQ(e.document.find(secret), std::string::npos) << secret << " in " << e.document;
  }
  simdjson::dom::parser p;
  simdjson::dom::object inputs;
  ASSERT_EQ(p.parse(e.document)["input_features"].get_object().get(inputs), simdjson::SUCCESS)
      << e.document;
  std::vector<std::string> keys;
  for (auto [k, v] : inputs) keys.emplace_back(k);
  ASSERT_EQ(keys.size(), 4u);
  EXPECT_EQ(keys[0], masker_->hmac_token("zed.leak77@example-99.org"));
  EXPECT_EQ(keys[1], "card " + masker_->hmac_token("4539578763621486"));
  EXPECT_EQ(keys[3], "plain");
  EXPECT_NE(keys[0], keys[2]);
}

TEST_F(IdentityTest, ADroppedMemberWithAPiiNameLeavesValidJson) {
  MaskingConfig c;
  MaskRule drop;
  drop.path = "/inputs/*";
  drop.params.action = MaskAction::kDrop;
  c.policy.rules.push_back(drop);
  build(c);
  const std::string doc =
      R"({"request_id":"r1","@timestamp":"2026-11-20T10:30:00Z","model":"m",)"
      R"("inputs":{"a@example.org":1,"b 4539578763621486":{"x":2}},"prediction":{"label":"ok"}})";
  Event e;
  Reject r;
  ASSERT_TRUE(decode(doc, e, r)) << r.reason;
  simdjson::dom::parser p;
  simdjson::dom::element root;
  ASSERT_EQ(p.parse(e.document).get(root), simdjson::SUCCESS) << e.document;
  EXPECT_NE(e.document.find(R"("inputs":{})"), std::string::npos) << e.document;
}

// Property: generated keys of every detector shape, at any depth: the output is valid JSON, no raw
// shape survives in a name, and two distinct names stay distinct.
TEST_F(IdentityTest, GeneratedKeysAreAlwaysMaskedAndValid) {
  build();
  std::mt19937_64 rng(7);
  simdjson::dom::parser p;
  for (int i = 0; i < 1000; ++i) {
    const std::string k1 = detector_shape(rng), k2 = detector_shape(rng) + "-2";
    const std::string doc = R"({"request_id":"r","@timestamp":"2026-11-20T10:30:00Z","model":"m",)"
                            R"("inputs":{)" +
                            json_string(k1) + ":1,\"deep\":[{" + json_string(k2) + ":{" +
                            json_string(k1) + ":null}}]},\"prediction\":{\"label\":\"ok\"}}";
    Event e;
    Reject r;
    ASSERT_TRUE(decode(doc, e, r)) << r.reason;
    simdjson::dom::element root;
    ASSERT_EQ(p.parse(e.document).get(root), simdjson::SUCCESS) << e.document;
    // Every shape here is one a detector confirms, except SSNs failing the area rules (9xx) and
    // phones the validator refuses: those are not PII and may stay.
    if (e.document.find(json_string(k1) + ":") != std::string::npos) {
      EXPECT_EQ(k1.find('@'), std::string::npos) << k1 << " kept in " << e.document;
    }
  }
}

TEST_F(IdentityTest, ANumberNoDoubleHoldsIsOutOfRangeWithItsPath) {
  build();
  Event e;
  Reject r;
  const std::string doc = R"({"request_id":"r","@timestamp":"2026-11-20T10:30:00Z","model":"m",)"
                          R"("inputs":{"amount":1e400},"prediction":{"label":"ok"}})";
  ASSERT_FALSE(decode(doc, e, r));
  EXPECT_EQ(r.type, "invalid_field");
  EXPECT_EQ(r.reason,
            "line 7: /inputs/amount is a number out of range (beyond what a double holds)");
  // A member name that may be PII is not quoted in the reason.
  const std::string pii = R"({"request_id":"r","@timestamp":"2026-11-20T10:30:00Z","model":"m",)"
                          R"("inputs":{"a@b.org":[1,-2e999]},"prediction":{"label":"ok"}})";
  ASSERT_FALSE(decode(pii, e, r));
  EXPECT_EQ(r.reason, "line 7: /inputs/*/1 is a number out of range (beyond what a double holds)");
  // An epoch-millis timestamp past 64 bits is out of range, not year 0.
  const std::string big_ts =
      R"({"request_id":"r","@timestamp":99999999999999999999999,"model":"m",)"
      R"("prediction":{"label":"ok"}})";
  ASSERT_FALSE(decode(big_ts, e, r));
  EXPECT_NE(r.reason.find("outside years 1970..9999"), std::string::npos) << r.reason;
}

TEST(IdentityRules, RulesThatWouldChangeIdentityFieldsAreConfigErrors) {
  document::FieldMappingSet fields;
  MaskingConfig c;
  auto rule = [](const char* path, MaskAction a) {
    MaskRule r;
    r.path = path;
    r.params.action = a;
    return r;
  };
  EXPECT_TRUE(identity_rule_problems(c, fields).empty());
  c.policy.rules = {rule("/request_id", MaskAction::kHash), rule("**/email", MaskAction::kRedact)};
  EXPECT_TRUE(identity_rule_problems(c, fields).empty());
  EXPECT_TRUE(rules_hash_request_ids(c, fields));
  c.policy.rules = {rule("/request_id", MaskAction::kRedact)};
  auto problems = identity_rule_problems(c, fields);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("masking.rules: the rule on /request_id would change request_id"),
            std::string::npos)
      << problems[0];
  c.policy.rules = {rule("/*", MaskAction::kHash)};  // would hash timestamps and model names too
  EXPECT_GE(identity_rule_problems(c, fields).size(), 3u);
  c.policy.rules = {};
  c.per_model["fraud"].rules = {rule("/id", MaskAction::kHash)};
  problems = identity_rule_problems(c, fields);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("models.fraud.masking.rules"), std::string::npos);
  EXPECT_FALSE(rules_hash_request_ids(c, fields));
}

TEST(CanonicalDigest, WhitespaceOutsideStringsDoesNotCount) {
  EXPECT_EQ(sha256_json_canonical(R"({"a":1,"b":[1,2]})"),
            sha256_json_canonical("{ \"a\" : 1,\n\t\"b\" : [ 1 , 2 ] }\r\n"));
  EXPECT_EQ(sha256_json_canonical(R"({"a":1})"), sha256(R"({"a":1})"));
  EXPECT_NE(sha256_json_canonical(R"({"a":"x y"})"), sha256_json_canonical(R"({"a":"xy"})"));
  EXPECT_NE(sha256_json_canonical(R"({"a":"\" y"})"), sha256_json_canonical(R"({"a":"\"y"})"));
}

}  // namespace
}  // namespace verity::ingest
