#include "verity/ingest/document_decoder.h"

#include <gtest/gtest.h>

namespace verity::ingest {
namespace {

constexpr EpochMillis kNow = 1795000000000;

class DecoderTest : public ::testing::Test {
 protected:
  DecoderTest() : clock_(kNow) {}

  bool decode(std::string_view json,
              std::shared_ptr<const document::FieldMappingSet> set = nullptr) {
    if (!set) set = std::make_shared<const document::FieldMappingSet>();
    DocumentDecoder d(set, clock_);
    return d.decode(json, json.size(), 7, event_, reject_);
  }
  // Decodes and expects a reject of `type` whose reason contains `fragment`.
  void expect_reject(std::string_view json, const std::string& type, const std::string& fragment) {
    ASSERT_FALSE(decode(json)) << json;
    EXPECT_EQ(reject_.type, type) << json;
    EXPECT_NE(reject_.reason.find(fragment), std::string::npos)
        << "reason: " << reject_.reason << " lacks: " << fragment;
    EXPECT_EQ(reject_.reason.rfind("line 7: ", 0), 0u) << reject_.reason;
    EXPECT_EQ(reject_.line, 7u);
  }

  ManualClock clock_;
  Event event_;
  Reject reject_;
};

TEST_F(DecoderTest, IssueExampleDecodes) {
  const std::string doc =
      R"({"request_id":"r1","@timestamp":"2026-11-20T10:30:00Z","model_name":"fraud",)"
      R"("input_features":{"amount":12.5},"prediction":{"label":"fraud","score":0.91},"confidence":0.91})";
  ASSERT_TRUE(decode(doc)) << reject_.reason;
  EXPECT_EQ(event_.kind, EventKind::kPrediction);
  EXPECT_EQ(event_.request_id, "r1");
  EXPECT_EQ(event_.timestamp_ms, parse_rfc3339("2026-11-20T10:30:00Z").value());
  EXPECT_EQ(event_.model_name, "fraud");
  EXPECT_EQ(event_.model_version, "");
  EXPECT_EQ(event_.document, doc);
  EXPECT_EQ(event_.line, 7u);
}

// Every default pointer for the three required fields is found on its own.
TEST_F(DecoderTest, EveryDefaultPointerOfRequiredFields) {
  for (const char* id : {"request_id", "prediction_id", "inference_id", "id"}) {
    const std::string doc =
        std::string(R"({")") + id + R"(":"x1","timestamp":1700000000000,"model":"m","output":1})";
    ASSERT_TRUE(decode(doc)) << id << ": " << reject_.reason;
    EXPECT_EQ(event_.request_id, "x1");
  }
  for (const char* ts : {"@timestamp", "timestamp"}) {
    const std::string doc = std::string(R"({"id":"a",")") + ts +
                            R"(":"2026-01-02T03:04:05Z","model_name":"m","outputs":{}})";
    ASSERT_TRUE(decode(doc)) << ts << ": " << reject_.reason;
    EXPECT_EQ(event_.timestamp_ms, parse_rfc3339("2026-01-02T03:04:05Z").value());
  }
  ASSERT_TRUE(
      decode(R"({"id":"a","timestamp":1,"model":{"name":"nested","version":"v3"},"outputs":1})"));
  EXPECT_EQ(event_.model_name, "nested");
  EXPECT_EQ(event_.model_version, "v3");
  ASSERT_TRUE(
      decode(R"({"id":"a","timestamp":1,"model_name":"flat","model_version":7,"outputs":1})"));
  EXPECT_EQ(event_.model_name, "flat");
  EXPECT_EQ(event_.model_version, "7");
}

TEST_F(DecoderTest, FirstPointerWinsRegardlessOfMemberOrder) {
  ASSERT_TRUE(decode(
      R"({"id":"late","request_id":"early","timestamp":2,"@timestamp":1,"model":"m","outputs":1})"));
  EXPECT_EQ(event_.request_id, "early");
  EXPECT_EQ(event_.timestamp_ms, 1);
  // /model/name beats /model_name even when it comes later.
  ASSERT_TRUE(decode(
      R"({"id":"a","timestamp":1,"model_name":"flat","model":{"name":"nested"},"outputs":1})"));
  EXPECT_EQ(event_.model_name, "nested");
}

TEST_F(DecoderTest, IntegerRequestIdIsRenderedAsText) {
  ASSERT_TRUE(decode(R"({"request_id":123456789012,"timestamp":1,"model":"m","outputs":1})"));
  EXPECT_EQ(event_.request_id, "123456789012");
}

TEST_F(DecoderTest, LabelsAreDocumentsWithTruthAndNoOutputs) {
  ASSERT_TRUE(decode(R"({"request_id":"r1","ground_truth":"fraud"})"));
  EXPECT_EQ(event_.kind, EventKind::kLabel);
  EXPECT_EQ(event_.timestamp_ms, kNow);  // no timestamp: label time is ingest time
  ASSERT_TRUE(decode(R"({"request_id":"r1","label":true,"@timestamp":"2026-11-21T00:00:00Z"})"));
  EXPECT_EQ(event_.kind, EventKind::kLabel);
  ASSERT_TRUE(decode(R"({"request_id":"r1","actual":3.5,"timestamp":5})"));
  EXPECT_EQ(event_.kind, EventKind::kLabel);
  // Truth next to outputs: a prediction that carries its own label.
  ASSERT_TRUE(decode(R"({"request_id":"r1","timestamp":1,"model":"m","outputs":1,"actual":1})"));
  EXPECT_EQ(event_.kind, EventKind::kPrediction);
  // A null truth is unknown: this is a prediction, and it needs its fields.
  expect_reject(R"({"request_id":"r1","ground_truth":null})", "missing_field", "timestamp");
}

TEST_F(DecoderTest, MissingRequiredFieldsNameTheFieldAndPointers) {
  expect_reject(R"({"@timestamp":"2026-11-20T10:30:00Z","model_name":"m"})", "missing_field",
                "missing required field request_id (looked at /request_id, /prediction_id, "
                "/inference_id, /id)");
  expect_reject(R"({"request_id":"r","model_name":"m"})", "missing_field",
                "missing required field timestamp (looked at /@timestamp, /timestamp)");
  expect_reject(R"({"request_id":"r","timestamp":1})", "missing_field", "model_name");
}

TEST_F(DecoderTest, InvalidFieldsNameThePointerNeverTheValue) {
  expect_reject(R"({"request_id":"","timestamp":1,"model":"m"})", "invalid_field", "/request_id");
  expect_reject(R"({"request_id":{"a":1},"timestamp":1,"model":"m"})", "invalid_field",
                "/request_id (request_id) must be a string");
  expect_reject(R"({"request_id":")" + std::string(257, 'x') + R"(","timestamp":1,"model":"m"})",
                "invalid_field", "1 to 256 bytes");
  expect_reject(R"({"request_id":"r","@timestamp":"yesterday-secret","model":"m"})",
                "invalid_field", "/@timestamp (timestamp) is not an RFC 3339");
  EXPECT_EQ(reject_.reason.find("yesterday-secret"), std::string::npos);
  expect_reject(R"({"request_id":"r","timestamp":1.5,"model":"m"})", "invalid_field",
                "RFC 3339 string or integer epoch milliseconds");
  expect_reject(R"({"request_id":"r","timestamp":-5,"model":"m"})", "invalid_field", "1970..9999");
  expect_reject(R"({"request_id":"r","timestamp":1,"model":42})", "invalid_field", "/model");
  expect_reject(R"({"request_id":"r","timestamp":1,"model":"m","confidence":1.5})", "invalid_field",
                "/confidence (confidence) must be a number from 0 to 1");
  expect_reject(R"({"request_id":"r","timestamp":1,"model":"m","prediction":{"score":"high"}})",
                "invalid_field", "/prediction/score (score)");
  expect_reject(R"({"request_id":"r","timestamp":1,"model":"m","prediction":{"probability":-0.1}})",
                "invalid_field", "/prediction/probability");
  expect_reject(R"({"request_id":"r","timestamp":1,"model":"m","inputs":[1,2]})", "invalid_field",
                "/inputs (inputs) must be an object");
  expect_reject(R"({"request_id":"r","timestamp":1,"model":"m","latency_ms":-3})", "invalid_field",
                "/latency_ms (latency) must be a number >= 0");
  expect_reject(R"({"request_id":"r","timestamp":1,"model":"m","explanations":"because"})",
                "invalid_field", "/explanations");
  // A valid JSON document that was rejected is kept (for the dead-letter store).
  EXPECT_FALSE(reject_.document.empty());
}

TEST_F(DecoderTest, InvalidJsonIsRejectedWithLengthAndDigestOnly) {
  for (const char* bad :
       {R"({"request_id":"r1",)", R"({"a":tru})", R"({"a":1} trailing)", R"({"a":1}{"b":2})",
        R"({"a":"\x"})", R"({"a":[1,2,}})", "{\"a\":\"\xff\"}", R"({"a":01})", R"({"a":1,"a"})"}) {
    ASSERT_FALSE(decode(bad)) << bad;
    EXPECT_EQ(reject_.type, "invalid_json") << bad;
    EXPECT_TRUE(reject_.document.empty()) << bad;
    EXPECT_EQ(reject_.raw_length, std::string_view(bad).size());
    EXPECT_EQ(reject_.raw_sha256_hex.size(), 64u);
  }
  expect_reject("[1,2,3]", "not_an_object", "not a JSON object");
  expect_reject("\"just a string\"", "not_an_object", "not a JSON object");
}

// Regression (found by fuzz_ndjson_framer): unclosed and unbalanced documents are rejected without
// reading past the input. The root must be entered through the document, where simdjson checks the
// closing bracket.
TEST_F(DecoderTest, UnclosedDocumentsAreRejectedSafely) {
  for (const char* bad : {"[", "[[[[[[", "[[[[[[rue}[", "[{", "{", "{\"a\":[", "{\"a\":[[[[",
                          "[1,[2,[3", "{\"a\":{\"b\":{", "[]]", "{}}", "{\"a\":1}]"}) {
    EXPECT_FALSE(decode(bad)) << bad;
    EXPECT_TRUE(reject_.type == "invalid_json" || reject_.type == "not_an_object") << bad;
  }
}

TEST_F(DecoderTest, GarbageInsideUnmappedFieldsIsStillCaught) {
  // The whole document is validated, not just the fields Verity reads.
  ASSERT_FALSE(
      decode(R"({"request_id":"r","timestamp":1,"model":"m","extra":{"deep":[1,2,nope]}})"));
  EXPECT_EQ(reject_.type, "invalid_json");
}

TEST_F(DecoderTest, DepthIsLimited) {
  std::string deep = R"({"request_id":"r","timestamp":1,"model":"m","x":)";
  for (int i = 0; i < 100; ++i) deep += "[";
  for (int i = 0; i < 100; ++i) deep += "]";
  deep += "}";
  expect_reject(deep, "invalid_json", "deeper than 64");
}

TEST_F(DecoderTest, DocumentSizeIsLimited) {
  auto set = std::make_shared<const document::FieldMappingSet>();
  DocumentDecoder d(set, clock_, DecoderLimits{100, 64, 256});
  const std::string big =
      R"({"request_id":"r","timestamp":1,"model":"m","pad":")" + std::string(200, 'x') + R"("})";
  ASSERT_FALSE(d.decode(big, big.size(), 1, event_, reject_));
  EXPECT_EQ(reject_.type, "document_too_large");
}

TEST_F(DecoderTest, EscapedKeysAndUnicodeValues) {
  ASSERT_TRUE(
      decode(R"({"request\u005fid":"r\u00e9","timestamp":1,"model":"m\u00fcnchen","outputs":1})"));
  EXPECT_EQ(event_.request_id, "r\xc3\xa9");
  EXPECT_EQ(event_.model_name,
            "m\xc3\xbc"
            "nchen");
}

TEST_F(DecoderTest, PerModelOverridesApplyOnlyToThatModel) {
  auto set = std::make_shared<document::FieldMappingSet>();
  document::FieldMapping custom = set->default_mapping;
  custom.set_pointers(document::Field::kRequestId,
                      {document::parse_json_pointer("/meta/trace").value()});
  custom.set_pointers(document::Field::kConfidence,
                      {document::parse_json_pointer("/meta/conf").value()});
  set->per_model.emplace("special", custom);
  const std::string special =
      R"({"meta":{"trace":"t-9","conf":0.5},"request_id":"ignored","timestamp":1,"model":"special","outputs":1})";
  ASSERT_TRUE(decode(special, set)) << reject_.reason;
  EXPECT_EQ(event_.request_id, "t-9");
  // Other models keep the defaults.
  ASSERT_TRUE(decode(
      R"({"meta":{"trace":"t-9"},"request_id":"plain","timestamp":1,"model":"other","outputs":1})",
      set));
  EXPECT_EQ(event_.request_id, "plain");
  // The override's validation uses its pointers in the message.
  ASSERT_FALSE(decode(
      R"({"meta":{"trace":"t","conf":7},"timestamp":1,"model":"special","outputs":1})", set));
  EXPECT_NE(reject_.reason.find("/meta/conf"), std::string::npos) << reject_.reason;
}

TEST_F(DecoderTest, PaddedInputIsParsedInPlace) {
  std::string buf = R"({"request_id":"p","timestamp":1,"model":"m","outputs":1})";
  const size_t n = buf.size();
  buf.append(kJsonPadding, 'X');  // readable garbage after the document must not matter
  DocumentDecoder d(std::make_shared<const document::FieldMappingSet>(), clock_);
  ASSERT_TRUE(d.decode(std::string_view(buf.data(), n), buf.size(), 1, event_, reject_));
  EXPECT_EQ(event_.document.size(), n);
}

}  // namespace
}  // namespace verity::ingest
