// Golden masked documents: every action, every detector, nested objects and arrays, unicode.
#include "verity/ingest/masker.h"

#include <gtest/gtest.h>
#include <openssl/hmac.h>
#include <simdjson.h>

#include "verity/core/sha256.h"
#include "verity/ingest/document_decoder.h"

namespace verity::ingest {
namespace {

const std::string kKey = "0123456789abcdef0123456789abcdef";

MaskRule make_rule(std::string path, MaskAction action) {
  MaskRule r;
  r.path = std::move(path);
  r.params.action = action;
  return r;
}

class MaskerTest : public ::testing::Test {
 protected:
  void build(MaskingConfig config = {}) {
    auto m = Masker::create(config, kKey);
    ASSERT_TRUE(m.is_ok()) << m.status().message();
    masker_ = std::move(m).value();
    decoder_ = std::make_unique<DocumentDecoder>(
        std::make_shared<const document::FieldMappingSet>(), clock_, DecoderLimits{}, masker_);
  }
  // Decodes a prediction whose extra members are `body` and returns the stored document.
  std::string mask(const std::string& body) {
    const std::string doc =
        R"({"request_id":"r1","@timestamp":"2026-11-20T10:30:00Z","model_name":"m",)" + body + "}";
    Event e;
    Reject r;
    EXPECT_TRUE(decoder_->decode(doc, doc.size(), 1, e, r)) << r.reason;
    const std::string prefix =
        R"({"request_id":"r1","@timestamp":"2026-11-20T10:30:00Z","model_name":"m",)";
    EXPECT_EQ(e.document.rfind(prefix, 0), 0u) << e.document;
    return e.document.substr(prefix.size(), e.document.size() - prefix.size() - 1);
  }
  std::string token(const std::string& value) { return masker_->hmac_token(value); }

  ManualClock clock_{0};
  std::shared_ptr<const Masker> masker_;
  std::unique_ptr<DocumentDecoder> decoder_;
};

TEST_F(MaskerTest, HmacTokenIsHmacSha256OfTheValue) {
  build();
  unsigned char mac[32];
  unsigned int n = 0;
  const std::string value = "alice@example.com";
  HMAC(EVP_sha256(), kKey.data(), static_cast<int>(kKey.size()),
       reinterpret_cast<const unsigned char*>(value.data()), value.size(), mac, &n);
  EXPECT_EQ(token(value), "hmac:" + to_hex(mac, 12));
  EXPECT_EQ(token(value), token(value));  // stable: joins and counts still work
  EXPECT_NE(token(value), token("bob@example.com"));
}

TEST_F(MaskerTest, DefaultPolicyHashesEveryDetectorKind) {
  build();
  const std::string in =
      R"("notes":"mail alice@example.com or call +14155550123 from 10.1.2.3 or 2001:db8::7",)"
      R"("pay":{"card":"4111 1111 1111 1111","iban":"DE89370400440532013000","ssn":"123-45-6789"},)"
      R"("auth":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",)"
      R"("keys":["AKIAIOSFODNN7EXAMPLE","sk_live_4eC39HqLyjWDarjtT1zdp7dc"])";
  const std::string expected = R"("notes":"mail )" + token("alice@example.com") + " or call " +
                               token("+14155550123") + " from " + token("10.1.2.3") + " or " +
                               token("2001:db8::7") + R"(",)" + R"("pay":{"card":")" +
                               token("4111 1111 1111 1111") + R"(","iban":")" +
                               token("DE89370400440532013000") + R"(","ssn":")" +
                               token("123-45-6789") + R"("},)" + R"("auth":")" +
                               token(
                                   "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
                                   "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U") +
                               R"(",)" + R"("keys":[")" + token("AKIAIOSFODNN7EXAMPLE") + R"(",")" +
                               token("sk_live_4eC39HqLyjWDarjtT1zdp7dc") + R"("])";
  EXPECT_EQ(mask(in), expected);
}

TEST_F(MaskerTest, LookAlikesAreLeftAlone) {
  build();
  // Fails Luhn; a time of day; an invalid IBAN; an SSN with area 000; a version; an epoch.
  const std::string in = R"("a":"4111 1111 1111 1112","b":"10:30:00","c":"DE00370400440532013000",)"
                         R"("d":"000-12-3456","v":"1.2.3","t":1763634600000,"n":4111111111111112)";
  EXPECT_EQ(mask(in), in);
  EXPECT_GE(decoder_->luhn_rejected(), 2u);
}

TEST_F(MaskerTest, CardNumbersSentAsNumbersAreMaskedToStrings) {
  build();
  EXPECT_EQ(mask(R"("pan":4111111111111111)"), R"("pan":")" + token("4111111111111111") + R"(")");
}

// Found by the model-metric tests: a detector matched the digits of a regression output
// (45.305734188037101) and the number was stored as a string. Fractions and exponents hold no
// identifier, whatever their digits.
TEST_F(MaskerTest, NumbersWithAFractionOrExponentAreNeverMasked) {
  build();
  const std::string in = R"("value":45.305734188037101,"score":0.4111111111111111,)"
                         R"("big":4111111111111111e0,"p":4111111111111111.5)";
  EXPECT_EQ(mask(in), in);
}

TEST_F(MaskerTest, EveryRuleAction) {
  MaskingConfig c;
  c.policy.rules.push_back(make_rule("/debug", MaskAction::kDrop));
  c.policy.rules.push_back(make_rule("/inputs/*_email", MaskAction::kHash));
  c.policy.rules.push_back(make_rule("**/ssn", MaskAction::kRedact));
  c.policy.rules.push_back(make_rule("/inputs/phone", MaskAction::kPartial));
  auto trunc = make_rule("/inputs/notes", MaskAction::kTruncate);
  trunc.params.max_length = 5;
  c.policy.rules.push_back(trunc);
  c.policy.rules.push_back(make_rule("/inputs/age", MaskAction::kBucket));
  auto income = make_rule("/inputs/income", MaskAction::kBucket);
  income.params.bucket_width = 2.5;
  c.policy.rules.push_back(income);
  c.policy.rules.push_back(make_rule("/inputs/profile", MaskAction::kHash));
  c.policy.rules.push_back(make_rule("/items/*/secret", MaskAction::kDrop));
  build(c);
  const std::string in =
      R"("debug":{"trace":"x"},"inputs":{"work_email":"a@b.co","home_email":"c@d.co",)"
      R"("ssn":"123-45-6789","phone":"+4915112345678","notes":"Zoë überall","age":37,"income":13.7,)"
      R"("profile":{"k":[1,2]}},"nested":{"deep":{"ssn":"987-65-4321"}},)"
      R"("items":[{"secret":"s1","ok":1},{"secret":"s2"}])";
  const std::string expected =
      R"("inputs":{"work_email":")" + token("a@b.co") + R"(","home_email":")" + token("c@d.co") +
      R"(","ssn":"[REDACTED]","phone":"**********5678","notes":"Zoë ü","age":"30-39",)"
      R"("income":"12.5-15","profile":")" +
      token(R"({"k":[1,2]})") + R"("},)" +
      R"("nested":{"deep":{"ssn":"[REDACTED]"}},"items":[{"ok":1},{}])";
  EXPECT_EQ(mask(in), expected);
}

// Regression (found by fuzz_masker): array indices in deeply nested arrays must stay valid path
// segments while inner arrays are visited.
TEST_F(MaskerTest, RulesMatchInsideNestedArrays) {
  MaskingConfig c;
  c.policy.rules.push_back(make_rule("/m/*/*/*/k", MaskAction::kRedact));
  build(c);
  EXPECT_EQ(
      mask(R"("m":[[[{"k":1},{"j":2}],[{"k":3}]],[[[0]],[{"k":4}]]])"),
      R"("m":[[[{"k":"[REDACTED]"},{"j":2}],[{"k":"[REDACTED]"}]],[[[0]],[{"k":"[REDACTED]"}]]])");
}

TEST_F(MaskerTest, AnyDepthRuleNeverReplacesTheWholeDocument) {
  MaskingConfig c;
  c.policy.rules.push_back(make_rule("**", MaskAction::kRedact));
  build(c);
  // Every member is redacted (the request id too), but the document stays an object.
  const std::string doc =
      R"({"request_id":"r1","@timestamp":"2026-11-20T10:30:00Z","model_name":"m"})";
  Event e;
  Reject rj;
  ASSERT_FALSE(decoder_->decode(doc, doc.size(), 1, e, rj));  // the timestamp is no longer valid
  EXPECT_EQ(rj.document,
            R"({"request_id":"[REDACTED]","@timestamp":"[REDACTED]","model_name":"[REDACTED]"})");
}

TEST_F(MaskerTest, RulesCoverTheirValuesSoDetectorsSkipThem) {
  MaskingConfig c;
  MaskRule keep = make_rule("/contact", MaskAction::kPartial);
  keep.params.keep_last = 3;
  c.policy.rules.push_back(keep);
  build(c);
  EXPECT_EQ(mask(R"("contact":"alice@example.com","other":"bob@example.com")"),
            R"("contact":"**************com","other":")" + token("bob@example.com") + R"(")");
}

TEST_F(MaskerTest, DetectorsCanBeSwitchedOffOrGivenActions) {
  MaskingConfig c;
  c.policy.detectors[static_cast<size_t>(DetectorKind::kEmail)].enabled = false;
  c.policy.detectors[static_cast<size_t>(DetectorKind::kCard)].params.action = MaskAction::kPartial;
  c.policy.detectors[static_cast<size_t>(DetectorKind::kSsn)].params.action = MaskAction::kRedact;
  c.policy.detectors[static_cast<size_t>(DetectorKind::kIpv4)].params.action = MaskAction::kDrop;
  c.policy.redact_token = "<gone>";
  build(c);
  EXPECT_EQ(
      mask(R"("e":"a@b.co","c":"card 4111111111111111!","s":"123-45-6789","ip":"at 10.0.0.1.")"),
      R"("e":"a@b.co","c":"card ************1111!","s":"<gone>","ip":"at .")");
}

TEST_F(MaskerTest, CustomDetectors) {
  MaskingConfig c;
  CustomDetector emp;
  emp.name = "employee_id";
  emp.pattern = "EMP-[0-9]{6}";
  emp.setting.params.action = MaskAction::kRedact;
  c.policy.custom.push_back(emp);
  build(c);
  EXPECT_EQ(mask(R"("who":"by EMP-123456 today")"), R"("who":"by [REDACTED] today")");
}

TEST_F(MaskerTest, EscapedStringsAreUnescapedBeforeDetection) {
  build();
  // "\u0040" is '@': the raw bytes hide the email, the value does not.
  EXPECT_EQ(mask(R"("e":"alice\u0040example.com")"),
            R"("e":")" + token("alice@example.com") + R"(")");
}

TEST_F(MaskerTest, UnmaskedDocumentsKeepTheirBytes) {
  build();
  const std::string in = R"("x":{"a":[1,2.50,-3e2,true,null,"é\n"]},"y":"plain")";
  EXPECT_EQ(mask(in), in);
}

// Edits are spliced into the original bytes: formatting survives, and drops take one comma with
// them whatever the whitespace around it.
TEST_F(MaskerTest, WhitespaceAndFormattingSurviveMasking) {
  MaskingConfig c;
  c.policy.rules.push_back(make_rule("/x/*", MaskAction::kDrop));
  build(c);
  auto run = [&](const std::string& doc) {
    Event e;
    Reject r;
    EXPECT_TRUE(decoder_->decode(doc, doc.size(), 1, e, r)) << r.reason;
    return e.document;
  };
  const std::string head =
      "{ \"request_id\" : \"r1\",\n  \"@timestamp\": \"2026-11-20T10:30:00Z\", "
      "\"model_name\":\"m\" ,\n";
  // Nothing to mask: byte for byte as sent.
  const std::string plain = head + "  \"y\" : [ 1 , 2.50 ] }";
  EXPECT_EQ(run(plain), plain);
  // A detector match inside spaced JSON.
  EXPECT_EQ(run(head + "  \"mail\" :  \"bob@example.com\"  }"),
            head + "  \"mail\" :  \"" + token("bob@example.com") + "\"  }");
  // Dropping every member of an object, the first, the last, or one in the middle (a member
  // leaves with the comma after it, or before it when a kept one precedes it).
  EXPECT_EQ(run(head + "\"x\": { \"a\" : 1 ,\n \"b\":2 , \"c\" :3 } }"),
            head + "\"x\": { \n   } }");
  EXPECT_EQ(run(head + "\"x\": { \"a\" : 1 } }"), head + "\"x\": {  } }");
  EXPECT_EQ(run(head + "\"x\": [ 1 , [2, 3] ,\n {\"k\": 4} ] }"), head + "\"x\": [  \n  ] }");
}

TEST_F(MaskerTest, DropsOfSomeMembersKeepValidJson) {
  MaskingConfig c;
  for (const char* path : {"/o/a", "/o/c", "/arr/1"}) {
    c.policy.rules.push_back(make_rule(path, MaskAction::kDrop));
  }
  build(c);
  EXPECT_EQ(mask(R"("o":{"a":1,"b":2,"c":3},"arr":[10, 11 ,12])"), R"("o":{"b":2},"arr":[10 ,12])");
  EXPECT_EQ(mask(R"("o":{"a":1,"c":3},"arr":[10,11])"), R"("o":{},"arr":[10])");
}

// Property: dropping any subset of an object's members or an array's elements, next to each other
// or not, with or without spaces, leaves valid JSON holding exactly the kept ones in order
// ("[10,11,12]" with the last two dropped once became "[10,]").
TEST_F(MaskerTest, EverySubsetOfDroppedMembersLeavesValidJson) {
  constexpr int kN = 4;
  simdjson::dom::parser parser;
  for (const char* sep : {",", " ,\n "}) {
    for (unsigned subset = 0; subset < (1u << kN); ++subset) {
      MaskingConfig c;
      for (int i = 0; i < kN; ++i) {
        if ((subset & (1u << i)) == 0) continue;
        c.policy.rules.push_back(make_rule("/o/m" + std::to_string(i), MaskAction::kDrop));
        c.policy.rules.push_back(make_rule("/arr/" + std::to_string(i), MaskAction::kDrop));
      }
      build(c);
      std::string o = "{", arr = "[", want_o = "{", want_arr = "[";
      for (int i = 0; i < kN; ++i) {
        if (i > 0) {
          o += sep;
          arr += sep;
        }
        o += "\"m" + std::to_string(i) + "\":" + std::to_string(i);
        arr += std::to_string(10 + i);
        if ((subset & (1u << i)) != 0) continue;
        if (want_o.size() > 1) {
          want_o += ',';
          want_arr += ',';
        }
        want_o += "\"m" + std::to_string(i) + "\":" + std::to_string(i);
        want_arr += std::to_string(10 + i);
      }
      o += "}";
      arr += "]";
      want_o += "}";
      want_arr += "]";
      const std::string got = mask("\"o\":" + o + ",\"arr\":" + arr);
      simdjson::dom::element e;
      ASSERT_EQ(parser.parse("{" + got + "}").get(e), simdjson::SUCCESS)
          << "subset " << subset << ": " << got;
      EXPECT_EQ(simdjson::minify(e["o"]), want_o) << got;
      EXPECT_EQ(simdjson::minify(e["arr"]), want_arr) << got;
    }
  }
}

TEST_F(MaskerTest, PerModelPoliciesAndVersions) {
  MaskingConfig c;
  MaskingPolicy strict = c.policy;
  strict.rules.push_back(make_rule("/inputs", MaskAction::kRedact));
  c.per_model.emplace("strict", strict);
  build(c);
  const auto& dflt = masker_->default_policy();
  const auto& model = masker_->policy_for("strict");
  EXPECT_NE(Masker::version(dflt), Masker::version(model));
  EXPECT_EQ(&masker_->policy_for("other"), &dflt);
  EXPECT_EQ(Masker::version(dflt).rfind("mv1-", 0), 0u);

  const std::string doc =
      R"({"request_id":"r","@timestamp":"2026-11-20T10:30:00Z","model_name":"strict","inputs":{"a":1}})";
  Event e;
  Reject rj;
  ASSERT_TRUE(decoder_->decode(doc, doc.size(), 1, e, rj));
  EXPECT_NE(e.document.find(R"("inputs":"[REDACTED]")"), std::string::npos) << e.document;
  EXPECT_EQ(e.masking_version, Masker::version(model));
  // The same policy and key always give the same version; another key gives another.
  auto again = Masker::create(c, kKey).value();
  EXPECT_EQ(Masker::version(again->default_policy()), Masker::version(dflt));
  auto other_key = Masker::create(c, "another key of sufficient length").value();
  EXPECT_NE(Masker::version(other_key->default_policy()), Masker::version(dflt));
}

TEST_F(MaskerTest, RejectedDocumentsAreMaskedToo) {
  build();
  const std::string doc = R"({"@timestamp":"2026-11-20T10:30:00Z","email":"alice@example.com"})";
  Event e;
  Reject r;
  ASSERT_FALSE(decoder_->decode(doc, doc.size(), 4, e, r));
  EXPECT_EQ(r.type, "missing_field");
  EXPECT_EQ(r.document.find("alice@example.com"), std::string::npos) << r.document;
  EXPECT_NE(r.document.find(token("alice@example.com")), std::string::npos);
}

TEST_F(MaskerTest, BadPoliciesAreRefused) {
  MaskingConfig c;
  CustomDetector bad;
  bad.name = "broken";
  bad.pattern = "([unclosed";
  c.policy.custom.push_back(bad);
  auto m = Masker::create(c, kKey);
  ASSERT_FALSE(m.is_ok());
  EXPECT_NE(m.status().message().find("custom detector 'broken'"), std::string::npos)
      << m.status().message();
  MaskingConfig d;
  d.policy.detectors[0].params.action = MaskAction::kBucket;
  EXPECT_FALSE(Masker::create(d, kKey).is_ok());
  MaskingConfig p;
  p.policy.rules.push_back(make_rule("no-slash", MaskAction::kHash));
  EXPECT_FALSE(Masker::create(p, kKey).is_ok());
  EXPECT_FALSE(Masker::create(MaskingConfig{}, "").is_ok());
}

TEST(SegmentGlob, Matches) {
  EXPECT_TRUE(segment_glob_match("*_email", "work_email"));
  EXPECT_TRUE(segment_glob_match("*", ""));
  EXPECT_TRUE(segment_glob_match("a?c", "abc"));
  EXPECT_FALSE(segment_glob_match("*_email", "email"));
  EXPECT_FALSE(segment_glob_match("a?c", "ac"));
}

}  // namespace
}  // namespace verity::ingest
