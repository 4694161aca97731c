// mappings/ covers every field the Elasticsearch shipper emits: each leaf of a shipped source is
// either an explicit property (or under a flattened one) or matched by a dynamic template for its
// JSON type. And `verity es setup`'s objects are well-formed and mirror the store's tiers.

#include <gtest/gtest.h>
#include <simdjson.h>

#include <functional>
#include <map>

#include "verity/shippers/dead_letter_encoder.h"
#include "verity/shippers/es_encoder.h"
#include "verity/shippers/es_setup.h"
#include "verity/shippers/es_shipper.h"
#include "verity/store/stored_record.h"

namespace verity::shippers {
namespace {

bool glob(std::string_view pattern, std::string_view s) {
  if (pattern.empty()) return s.empty();
  if (pattern.front() == '*') {
    for (size_t i = 0; i <= s.size(); ++i) {
      if (glob(pattern.substr(1), s.substr(i))) return true;
    }
    return false;
  }
  return !s.empty() && pattern.front() == s.front() && glob(pattern.substr(1), s.substr(1));
}

std::string dynamic_type(simdjson::dom::element v) {
  switch (v.type()) {
    case simdjson::dom::element_type::STRING:
      return "string";
    case simdjson::dom::element_type::INT64:
    case simdjson::dom::element_type::UINT64:
      return "long";
    case simdjson::dom::element_type::DOUBLE:
      return "double";
    case simdjson::dom::element_type::BOOL:
      return "boolean";
    default:
      return "object";
  }
}

class MappingCoverage {
 public:
  explicit MappingCoverage(simdjson::dom::element mappings) : mappings_(mappings) {}

  // Whether `path` (a.b.c) with a value of JSON type `type` is mapped.
  bool covered(const std::string& path, const std::string& type) const {
    // Explicit properties, or a flattened property above.
    simdjson::dom::element node = mappings_;
    size_t start = 0;
    while (true) {
      const size_t dot = path.find('.', start);
      const std::string part = path.substr(start, dot - start);
      simdjson::dom::element next;
      if (node["properties"][part].get(next)) break;
      std::string_view t;
      if (!next["type"].get_string().get(t)) {
        if (t == "flattened") return true;
        if (dot == std::string::npos) return true;
      }
      if (dot == std::string::npos) break;
      node = next;
      start = dot + 1;
    }
    // Dynamic templates: path_match on the leaf (with match_mapping_type), or a flattened
    // template on an object above it.
    for (simdjson::dom::element t : mappings_["dynamic_templates"].get_array()) {
      for (auto [name, spec] : t.get_object()) {
        std::string_view pm, mt, mapped;
        if (spec["path_match"].get_string().get(pm)) continue;
        const bool has_type = !spec["match_mapping_type"].get_string().get(mt);
        if (spec["mapping"]["type"].get_string().get(mapped)) mapped = "";
        if (mapped == "flattened") {
          for (size_t i = 0; i < path.size(); ++i) {
            if (path[i] == '.' && glob(pm, path.substr(0, i))) return true;
          }
        }
        if (glob(pm, path) && (!has_type || mt == type)) return true;
      }
    }
    return false;
  }

 private:
  simdjson::dom::element mappings_;
};

TEST(EsMappings, EveryFieldTheShipperEmitsIsMapped) {
  store::StoredRecord r;
  r.request_id = "req-1";
  r.model_name = "fraud";
  r.model_version = "v2";
  r.input = "beats";
  r.partition = "p_20261120";
  r.sequence = 42;
  r.timestamp_ms = 1795000000000;
  r.ingest_time_ms = 1795000000100;
  r.masking_version = "mv1-0123456789abcdef";
  r.document =
      R"({"request_id":"req-1","@timestamp":"2026-11-20T10:30:00Z","model":{"name":"fraud","version":"v2"},)"
      R"("user_id":"hmac:0123456789abcdef01234567","customer":{"email":"hmac:aaaa","country":"PL"},)"
      R"("input_features":{"amount":324.82,"currency":"EUR","account_age_days":180,"device":{"trusted":false}},)"
      R"("tags":["a","b"],"history":[{"amount":1.5}],)"
      R"("prediction":{"label":"legit","score":0.2786,"probabilities":{"fraud":0.2786,"legit":0.7214}},)"
      R"("confidence":0.7214,"latency_ms":7,)"
      R"("explanations":{"method":"shap","feature_importances":{"amount":0.3092,"channel":0.068}}})";
  store::StoredRecord label;
  label.kind = EventKind::kLabel;
  label.request_id = "req-1";
  label.timestamp_ms = 1795000900000;
  label.document = R"({"request_id":"req-1","ground_truth":"fraud"})";
  const std::string source = shippers::es_source(r, &label, nullptr).value();
  ASSERT_NE(source.find(R"("label":{"ground_truth":"fraud","label_time":)"), std::string::npos)
      << source;
  ASSERT_NE(source.find(R"("correct":false)"), std::string::npos) << source;

  std::string mappings_json;
  for (const auto& o : es_setup_objects(store::RetentionOptions{})) {
    if (o.name == "verity-predictions-mappings") mappings_json = o.body;
  }
  ASSERT_FALSE(mappings_json.empty());
  simdjson::dom::parser mp, sp;
  simdjson::dom::element mroot = mp.parse(mappings_json);
  simdjson::dom::element mappings = mroot["template"]["mappings"];
  MappingCoverage coverage(mappings);

  std::vector<std::string> uncovered;
  size_t leaves = 0;
  std::function<void(simdjson::dom::element, const std::string&)> walk =
      [&](simdjson::dom::element v, const std::string& path) {
        if (v.is_object()) {
          for (auto [k, child] : v.get_object()) {
            walk(child, path.empty() ? std::string(k) : path + "." + std::string(k));
          }
        } else if (v.is_array()) {
          for (simdjson::dom::element child : v.get_array()) walk(child, path);
        } else {
          ++leaves;
          if (!coverage.covered(path, dynamic_type(v))) uncovered.push_back(path);
        }
      };
  walk(sp.parse(source), "");
  EXPECT_GT(leaves, 25u);
  EXPECT_TRUE(uncovered.empty()) << "unmapped: " << [&] {
    std::string s;
    for (const auto& u : uncovered) s += u + " ";
    return s;
  }();
  // The fields dashboards rely on have fixed types.
  EXPECT_EQ(std::string_view(mappings["properties"]["@timestamp"]["type"].get_string()), "date");
  EXPECT_EQ(std::string_view(
                mappings["properties"]["verity"]["properties"]["request_id"]["type"].get_string()),
            "keyword");
  EXPECT_EQ(
      std::string_view(
          mappings["properties"]["document"]["properties"]["confidence"]["type"].get_string()),
      "float");
  EXPECT_FALSE(coverage.covered("elsewhere.field", "string")) << "the check can fail";
}

TEST(EsMappings, IlmPhasesMirrorTheStoreTiers) {
  store::RetentionOptions r;
  r.warm_after_days = 3;
  r.cold_after_days = 20;
  r.delete_after_days = 400;
  const auto objects = es_setup_objects(r);
  ASSERT_EQ(objects.size(), 9u);
  simdjson::dom::parser p;
  for (const auto& o : objects) {
    simdjson::dom::element root;
    ASSERT_FALSE(p.parse(o.body).get(root)) << o.name;
    EXPECT_NE(o.body.find("\"verity_hash\":\"" + o.hash + "\""), std::string::npos) << o.name;
    if (o.kind == "ILM policy" && o.name == "verity-predictions") {
      auto phases = root["policy"]["phases"];
      EXPECT_EQ(std::string_view(phases["warm"]["min_age"].get_string()), "3d");
      EXPECT_EQ(std::string_view(phases["cold"]["min_age"].get_string()), "20d");
      EXPECT_EQ(std::string_view(phases["delete"]["min_age"].get_string()), "400d");
      EXPECT_FALSE(phases["hot"]["actions"]["rollover"].error());
    }
    if (o.kind == "ILM policy" && o.name == "verity-predictions-dated") {
      EXPECT_TRUE(root["policy"]["phases"]["hot"]["actions"]["rollover"].error())
          << "dated indices do not roll over";
    }
  }
  r.delete_after_days = 0;
  EXPECT_EQ(es_setup_objects(r)[0].body.find("\"delete\""), std::string::npos);
  EXPECT_NE(es_setup_objects(r)[0].hash, objects[0].hash);
}

// The dead-letter document has a fixed shape the Kibana dashboards use: every field it can carry
// is an explicit property of the dead-letter mappings with its type (no dynamic mapping at all).
TEST(EsMappings, EveryFieldOfADeadLetterIsMappedWithItsType) {
  const std::string entry =
      R"({"sequence":12,"input":"es_shipper","ingest_time":"2026-11-20T10:30:01.000Z",)"
      R"("type":"elasticsearch_mapper_parsing_exception","reason":"sequence 3: refused","line":3,)"
      R"("request_id":"r-3","raw_length":20,"raw_sha256":")" +
      std::string(64, 'f') + R"(","document":{"a":{"b":[1,"x"]}}})";
  const std::string source = dead_letter_source(12, entry).value();
  std::map<std::string, std::string> want = {
      {"@timestamp", "date"},           {"verity.sequence", "long"},
      {"verity.input", "keyword"},      {"verity.line", "long"},
      {"verity.request_id", "keyword"}, {"verity.raw_length", "long"},
      {"verity.raw_sha256", "keyword"}, {"error.type", "keyword"},
      {"error.message", "keyword"},     {"event.original", "keyword"},
      {"event.dataset", "keyword"}};

  const EsSetupObject* mappings_object = nullptr;
  const auto objects = es_setup_objects(store::RetentionOptions{});
  for (const auto& o : objects) {
    if (o.name == "verity-deadletters-mappings") mappings_object = &o;
  }
  ASSERT_NE(mappings_object, nullptr);
  simdjson::dom::parser mp, sp;
  simdjson::dom::element mappings = mp.parse(mappings_object->body)["template"]["mappings"];
  EXPECT_FALSE(bool(mappings["dynamic"])) << "nothing but these fields is indexed";
  std::map<std::string, std::string> got;
  std::function<void(simdjson::dom::element, const std::string&)> walk =
      [&](simdjson::dom::element v, const std::string& path) {
        if (v.is_object()) {
          for (auto [k, child] : v.get_object()) {
            walk(child, path.empty() ? std::string(k) : path + "." + std::string(k));
          }
          return;
        }
        simdjson::dom::element node = mappings;
        size_t start = 0;
        while (true) {
          const size_t dot = path.find('.', start);
          if (node["properties"][path.substr(start, dot - start)].get(node)) {
            got[path] = "unmapped";
            return;
          }
          if (dot == std::string::npos) break;
          start = dot + 1;
        }
        got[path] = std::string(std::string_view(node["type"]));
      };
  walk(sp.parse(source), "");
  EXPECT_EQ(got, want);
  // The original document is kept as text, not indexed (its values are masked, but its shape is
  // anyone's: it must never add fields).
  auto original = mappings["properties"]["event"]["properties"]["original"];
  EXPECT_FALSE(bool(original["index"]));
  EXPECT_FALSE(bool(original["doc_values"]));

  // Its templates: a data stream above the built-in logs-*-*, dated indices, and neither pattern
  // reaches the predictions' (labels and erasures are applied by query over those).
  for (const auto& o : objects) {
    if (o.name != "verity-deadletters" && o.name != "verity-deadletters-dated") continue;
    simdjson::dom::element t = mp.parse(o.body);
    EXPECT_EQ(int64_t(t["priority"]), 200);
    std::vector<std::string> composed;
    for (auto c : t["composed_of"].get_array()) composed.emplace_back(c.get_string().value());
    EXPECT_EQ(composed, (std::vector<std::string>{"verity-predictions-settings",
                                                  "verity-deadletters-mappings"}));
    const std::string pattern(t["index_patterns"].at(0).get_string().value());
    EsShipperOptions defaults;
    if (o.name == "verity-deadletters") {
      EXPECT_FALSE(t["data_stream"].error());
      EXPECT_TRUE(glob(pattern, defaults.dead_letters_data_stream)) << pattern;
      EXPECT_FALSE(glob(pattern, defaults.data_stream));
    } else {
      EXPECT_TRUE(t["data_stream"].error());
      EXPECT_TRUE(glob(pattern, defaults.dead_letters_dated_prefix + "2026.11.20")) << pattern;
      EXPECT_FALSE(glob(pattern, defaults.dated_prefix + "2026.11.20"));
      EsShipperOptions dated;
      dated.index_mode = IndexMode::kDated;
      EXPECT_FALSE(glob(dated.by_query_target(), "verity-deadletters-2026.11.20"));
    }
  }
}

}  // namespace
}  // namespace verity::shippers
