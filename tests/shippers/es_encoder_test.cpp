#include "verity/shippers/es_encoder.h"

#include <simdjson.h>

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "verity/document/field_mapping.h"
#include "verity/store/store.h"

namespace verity::shippers {
namespace {

store::StoredRecord prediction(std::string document) {
  store::StoredRecord r;
  r.request_id = "req-1";
  r.timestamp_ms = 1795170600000;  // 2026-11-20T10:30:00Z
  r.ingest_time_ms = 1795170601000;
  r.model_name = "fraud";
  r.model_version = "v2";
  r.input = "tcp";
  r.partition = "p_20261120";
  r.sequence = 42;
  r.masking_version = "mv1-0123456789abcdef";
  r.document = std::move(document);
  return r;
}

store::StoredRecord label(std::string document) {
  store::StoredRecord l;
  l.kind = EventKind::kLabel;
  l.request_id = "req-1";
  l.timestamp_ms = 1795257000000;
  l.document = std::move(document);
  return l;
}

bool valid_json(const std::string& s) {
  simdjson::dom::parser p;
  simdjson::dom::element e;
  return p.parse(s).get(e) == simdjson::SUCCESS;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The bulk lines of one prediction with its label, byte for byte (a change to what Elasticsearch
// receives shows up here, and must be matched by mappings/).
TEST(EsEncoder, BulkCreateMatchesTheGoldenFile) {
  store::OutboxEntry e;
  e.sequence = 42;
  e.record = prediction(
      R"({"request_id":"req-1","@timestamp":"2026-11-20T10:30:00Z","model":"fraud",)"
      R"("prediction":{"label":"legit","score":0.2},"user":"hmac:0123456789abcdef01234567"})");
  e.label = label(R"({"request_id":"req-1","ground_truth":"fraud"})");
  EsShipperOptions o;
  const std::string lines = bulk_create(o, e, nullptr).value();
  EXPECT_EQ(lines, read_file(VERITY_SOURCE_DIR "/tests/shippers/golden/bulk_create.ndjson"));
  o.index_mode = IndexMode::kDated;
  const std::string dated = R"({"create":{"_index":"verity-predictions-2026.11.20","_id":"req-1"}})"
                            "\n{\"@timestamp\"";
  EXPECT_EQ(bulk_create(o, e, nullptr).value().substr(0, dated.size()), dated);
}

// The summary Kibana aggregates on: found through the model's field mapping whatever the
// document's shape, under verity.* (names mappings/ declares).
simdjson::dom::element verity_of(simdjson::dom::parser& p, const std::string& source) {
  return p.parse(source)["verity"];
}

TEST(EsEncoder, SummaryCarriesPredictedValueConfidenceAndScore) {
  simdjson::dom::parser p;
  auto r =
      prediction(R"({"prediction":{"label":"caf\u00e9 \"x\"","score":0.25},"confidence":0.75})");
  auto v = verity_of(p, es_source(r, nullptr, nullptr).value());
  EXPECT_EQ(std::string_view(v["predicted"]), "caf\u00e9 \"x\"");
  EXPECT_DOUBLE_EQ(double(v["confidence"]), 0.75);
  EXPECT_DOUBLE_EQ(double(v["score"]), 0.25);
  // Numbers and booleans are kept as their JSON text; absent and non-finite values are omitted.
  r = prediction(R"({"prediction":{"value":12.5},"confidence":"high"})");
  v = verity_of(p, es_source(r, nullptr, nullptr).value());
  EXPECT_EQ(std::string_view(v["predicted"]), "12.5");
  EXPECT_TRUE(v["confidence"].error());
  EXPECT_TRUE(v["score"].error());
  r = prediction(R"({"outputs":true})");
  v = verity_of(p, es_source(r, nullptr, nullptr).value());
  EXPECT_EQ(std::string_view(v["predicted"]), "true");
  r = prediction(R"({"other":1})");
  v = verity_of(p, es_source(r, nullptr, nullptr).value());
  EXPECT_TRUE(v["predicted"].error());
  EXPECT_TRUE(v["explanation"].error());
  EXPECT_TRUE(v["input_types"].error());
  // A label carries the predicted value it was compared with.
  auto l = label_fields(prediction(R"({"prediction":{"label":"legit"}})"),
                        label(R"({"ground_truth":"fraud"})"), nullptr);
  EXPECT_EQ(std::string_view(p.parse(l.value())["predicted"]), "legit");
  EXPECT_EQ(int64_t(p.parse(l.value())["accuracy"]), 0);
  l = label_fields(prediction(R"({"prediction":{"label":"fraud"}})"),
                   label(R"({"ground_truth":"fraud"})"), nullptr);
  EXPECT_EQ(int64_t(p.parse(l.value())["accuracy"]), 1);
  l = label_fields(prediction(R"({"prediction":{"value":7}})"), label(R"({"ground_truth":10})"),
                   nullptr);
  EXPECT_DOUBLE_EQ(double(p.parse(l.value())["error"]), -3);
  EXPECT_DOUBLE_EQ(double(p.parse(l.value())["abs_error"]), 3);
  EXPECT_DOUBLE_EQ(double(p.parse(l.value())["squared_error"]), 9);
  // An error whose square is past a double keeps its error and omits the square.
  l = label_fields(prediction(R"({"prediction":{"value":1e200}})"), label(R"({"ground_truth":0})"),
                   nullptr);
  EXPECT_DOUBLE_EQ(double(p.parse(l.value())["abs_error"]), 1e200);
  EXPECT_TRUE(p.parse(l.value())["squared_error"].error());
}

TEST(EsEncoder, SummaryNamesTheMostImportantFeaturesInEveryExplainerShape) {
  simdjson::dom::parser p;
  const char* shapes[] = {
      R"({"explanations":{"amount":-0.5,"age":0.1,"region":0.3,"zip":0.01}})",
      R"({"explanations":{"method":"shap","feature_importances":{"amount":-0.5,"age":0.1,"region":0.3,"zip":0.01}}})",
      (R"({"explainability_data":[{"feature":"age","importance":0.1},{"feature":"amount","importance":-0.5},)"
       R"({"name":"region","value":0.3},{"feature":"zip","weight":0.01},{"feature":"bad"}]})"),
  };
  for (const char* doc : shapes) {
    auto v = verity_of(p, es_source(prediction(doc), nullptr, nullptr).value());
    EXPECT_EQ(std::string_view(v["explanation"]["top_feature"]), "amount") << doc;
    std::vector<std::string> top;
    for (auto f : v["explanation"]["top_features"].get_array())
      top.emplace_back(f.get_string().value());
    EXPECT_EQ(top, (std::vector<std::string>{"amount", "region", "age"})) << doc;
  }
  // A named importance member wins over other numbers beside it (SHAP's expected_value), and the
  // largest feature is found however many come before it.
  auto named = verity_of(
      p,
      es_source(
          prediction(
              R"({"explanations":{"expected_value":0.9,"shap_values":{"amount":0.4,"age":-0.1}}})"),
          nullptr, nullptr)
          .value());
  EXPECT_EQ(std::string_view(named["explanation"]["top_feature"]), "amount");
  std::string many = R"({"explanations":{)";
  for (int i = 0; i < 200; ++i) many += "\"f" + std::to_string(i) + "\":0.01,";
  many += R"("last":-0.99}})";
  auto last = verity_of(p, es_source(prediction(many), nullptr, nullptr).value());
  EXPECT_EQ(std::string_view(last["explanation"]["top_feature"]), "last");
  // No numbers, no summary; non-finite-looking values never appear.
  auto v = verity_of(
      p, es_source(prediction(R"({"explanations":{"method":"shap"}})"), nullptr, nullptr).value());
  EXPECT_TRUE(v["explanation"].error());
}

TEST(EsEncoder, SummaryListsEachInputsTypeAndTheNullOnes) {
  simdjson::dom::parser p;
  auto r = prediction(
      R"({"input_features":{"amount":3,"region":"EU","ok":true,"zip":null,"tags":[1],"d":{"x":1},"f":1.5}})");
  auto v = verity_of(p, es_source(r, nullptr, nullptr).value());
  std::vector<std::string> types, nulls;
  for (auto t : v["input_types"].get_array()) types.emplace_back(t.get_string().value());
  for (auto t : v["input_nulls"].get_array()) nulls.emplace_back(t.get_string().value());
  EXPECT_EQ(types, (std::vector<std::string>{"amount:number", "region:string", "ok:boolean",
                                             "zip:null", "tags:array", "d:object", "f:number"}));
  EXPECT_EQ(nulls, (std::vector<std::string>{"zip"}));
  std::vector<std::string> values;
  for (auto t : v["input_values"].get_array()) values.emplace_back(t.get_string().value());
  EXPECT_EQ(values, (std::vector<std::string>{"region=EU", "ok=true"}));
  // Bounded: a document with thousands of inputs lists the first 64.
  std::string many = R"({"inputs":{)";
  for (int i = 0; i < 1000; ++i) many += (i ? "," : "") + ("\"f" + std::to_string(i) + "\":null");
  many += "}}";
  v = verity_of(p, es_source(prediction(many), nullptr, nullptr).value());
  EXPECT_EQ(v["input_types"].get_array().size(), 64u);
  EXPECT_EQ(v["input_nulls"].get_array().size(), 64u);
}

TEST(EsEncoder, NumericLabelsOfAnySizeGiveAnErrorOrNone) {
  // 4e-320 is a denormal: std::stod throws out_of_range on it (the crash of issue 13).
  const auto p = prediction(R"({"prediction":{"value":4.5}})");
  struct Case {
    const char* truth;
    const char* expect;  // the error member, or "" when there must be none
  } cases[] = {{"4e-320", R"("error":4.5)"},
               {"-1.7976931348623157e308", R"("error":1.7976931348623157e+308)"},
               {"3", R"("error":1.5)"},
               // Past 64 bits: valid JSON, read as its digits; no arithmetic on it.
               {"123456789012345678901234567890", ""}};
  for (const auto& c : cases) {
    auto l = label(std::string(R"({"ground_truth":)") + c.truth + "}");
    auto fields = label_fields(p, l, nullptr);
    ASSERT_TRUE(fields.is_ok()) << c.truth;
    EXPECT_TRUE(valid_json(*fields)) << *fields;
    if (*c.expect) {
      EXPECT_NE(fields->find(c.expect), std::string::npos) << *fields;
    } else {
      EXPECT_EQ(fields->find("\"error\""), std::string::npos) << *fields;
    }
  }
}

TEST(EsEncoder, ADifferenceThatOverflowsHasNoErrorAndNumbersPastDoublesAreRefused) {
  const auto p = prediction(R"({"prediction":{"value":1.7976931348623157e308}})");
  auto fields = label_fields(p, label(R"({"ground_truth":-1.7976931348623157e308})"), nullptr);
  ASSERT_TRUE(fields.is_ok());
  EXPECT_EQ(fields->find("\"error\""), std::string::npos) << *fields;
  // 1e400 is no double: the decoder refuses it at ingest; a stored one is refused here (and
  // dead-lettered by the shipper), never a crash.
  EXPECT_FALSE(label_fields(p, label(R"({"ground_truth":1e400})"), nullptr).is_ok());
}

TEST(EsEncoder, StringAndBooleanLabelsSayWhetherThePredictionWasRight) {
  auto p = prediction(R"({"prediction":{"label":"fraud"}})");
  EXPECT_NE(
      label_fields(p, label(R"({"ground_truth":"fraud"})"), nullptr)->find(R"("correct":true)"),
      std::string::npos);
  EXPECT_NE(
      label_fields(p, label(R"({"ground_truth":"legit"})"), nullptr)->find(R"("correct":false)"),
      std::string::npos);
  // A number against a string: neither correct nor error.
  auto mixed = label_fields(p, label(R"({"ground_truth":1})"), nullptr).value();
  EXPECT_EQ(mixed.find("correct"), std::string::npos);
  EXPECT_EQ(mixed.find("error"), std::string::npos);
}

TEST(EsEncoder, ADocumentThatIsNotAJsonObjectIsAnErrorNamingTheSequence) {
  for (const char* bad : {"", "not json", "[1,2]", "{\"a\":", "{} {}", "\"str\""}) {
    auto r = es_source(prediction(bad));
    ASSERT_FALSE(r.is_ok()) << bad;
    EXPECT_NE(r.status().message().find("sequence 42"), std::string::npos);
    EXPECT_EQ(r.status().message().find(bad[0] ? bad : "\x01"), std::string::npos);
    EXPECT_FALSE(label_fields(prediction(R"({"a":1})"), label(bad), nullptr).is_ok()) << bad;
  }
}

TEST(EsEncoder, APrettyPrintedDocumentIsSentOnOneLine) {
  auto s = es_source(prediction("{\n  \"a\": [1,\r\n 2],\n  \"b\": \"x y\"\n}")).value();
  EXPECT_EQ(s.find_first_of("\n\r"), std::string::npos) << s;
  EXPECT_NE(s.find(R"("document":{"a":[1,2],"b":"x y"})"), std::string::npos) << s;
}

TEST(EsEncoder, MetadataOfAnyBytesStaysValidJson) {
  auto r = prediction(R"({"a":1})");
  r.request_id = std::string("id\xff\x01\"", 5);
  r.model_name = "m\n\\";
  r.timestamp_ms = std::numeric_limits<int64_t>::max();
  r.ingest_time_ms = std::numeric_limits<int64_t>::min();
  auto s = es_source(r).value();
  EXPECT_TRUE(valid_json(s)) << s;
}

TEST(EsEncoder, ByQueryBodiesAreValidJsonForAnyIds) {
  const std::vector<std::string> ids = {"a", "b\"c", std::string("\xff\x00z", 3)};
  EXPECT_TRUE(valid_json(delete_by_ids_body(ids)));
  std::vector<std::pair<std::string, std::string>> labels;
  for (const auto& id : ids) labels.emplace_back(id, R"({"ground_truth":1})");
  const std::string body = update_labels_body(labels);
  EXPECT_TRUE(valid_json(body)) << body;
  EXPECT_NE(body.find(R"("source":"ctx._source.label = params.labels[ctx._id]")"),
            std::string::npos);
}

}  // namespace
}  // namespace verity::shippers
