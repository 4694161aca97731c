#include "verity/app/config.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <functional>
#include <random>
#include <set>

#include "seed.h"
#include "verity/app/config_engine.h"

namespace verity::app {
namespace {

std::string errors_of(const std::string& yaml) {
  auto c = parse_config(yaml);
  EXPECT_FALSE(c.is_ok()) << yaml;
  return c.is_ok() ? "" : c.status().message();
}

TEST(Config, EmptyFileIsTheEmbeddedDefaults) {
  auto c = parse_config("").value();
  EXPECT_EQ(c.data_dir, "./data");
  EXPECT_EQ(c.tcp.listen, (HostPort{"127.0.0.1", 5170}));
  EXPECT_EQ(c.http.listen, (HostPort{"127.0.0.1", 9280}));
  EXPECT_EQ(c.tcp.max_line.bytes, 1ull << 20);
  EXPECT_EQ(c.store.sync, store::SyncPolicy::kGroup);
}

TEST(Config, ShippedExampleEqualsTheEmbeddedDefaults) {
  auto shipped = load_config_file(std::string(VERITY_SOURCE_DIR) + "/config/verity.yaml");
  ASSERT_TRUE(shipped.is_ok()) << shipped.status().message();
  EXPECT_EQ(render_config(*shipped), render_config(parse_config("").value()));
}

TEST(Config, RenderedConfigParsesBackToItself) {
  const std::string yaml = R"(
data_dir: /var/lib/verity
store: {sync: always, max_group_events: 100}
inputs: {tcp: {listen: "0.0.0.0:6000", max_line: 2MiB, idle_timeout: 30s}}
fields: {request_id: [/trace_id, /request_id]}
models:
  churn:
    fields: {predicted_value: /out/churned, score: [/out/p]}
)";
  auto c = parse_config(yaml).value();
  EXPECT_EQ(c.store.sync, store::SyncPolicy::kAlways);
  EXPECT_EQ(c.tcp.listen.port, 6000);
  EXPECT_EQ(c.tcp.idle_timeout, Duration(30'000));
  ASSERT_EQ(c.fields.pointers(document::Field::kRequestId).size(), 2u);
  const auto mappings = c.field_mappings();
  ASSERT_TRUE(mappings.per_model.count("churn"));
  EXPECT_EQ(mappings.per_model.at("churn").pointers(document::Field::kScore)[0].text, "/out/p");
  // The model inherits the top-level request_id override.
  EXPECT_EQ(mappings.per_model.at("churn").pointers(document::Field::kRequestId)[0].text,
            "/trace_id");
  auto again = parse_config(render_config(c));
  ASSERT_TRUE(again.is_ok()) << again.status().message();
  EXPECT_EQ(render_config(*again), render_config(c));
}

TEST(Config, UnknownKeysAreErrorsWithTheirPath) {
  const auto e =
      errors_of("inputs:\n  tcp:\n    listen: 127.0.0.1:1\n    max_lines: 5\nbogus: 1\n");
  EXPECT_NE(e.find("inputs.tcp.max_lines: unknown key"), std::string::npos) << e;
  EXPECT_NE(e.find("bogus: unknown key"), std::string::npos) << e;
}

// YAML readers keep one of two equal keys and drop the other without a word: a second `store:`
// section lost its settings. Every duplicate is an error naming its path and both lines, at any
// depth, inside lists too; keys equal only in another mapping are not duplicates.
TEST(Config, DuplicateKeysAreErrorsWithBothLines) {
  const auto e = errors_of(
      "store:\n"
      "  sync: group\n"
      "store:\n"
      "  block_cache: 512MiB\n"
      "inputs:\n"
      "  tcp:\n"
      "    idle_timeout: 5s\n"
      "    idle_timeout: 6s\n"
      "masking:\n"
      "  rules:\n"
      "    - {path: /a, action: drop, action: hash}\n");
  EXPECT_NE(e.find("store: duplicate key at line 3 (first at line 1)"), std::string::npos) << e;
  EXPECT_NE(e.find("inputs.tcp.idle_timeout: duplicate key at line 8 (first at line 7)"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("masking.rules[0].action: duplicate key at line 11 (first at line 11)"),
            std::string::npos)
      << e;
  const auto ok = parse_config(
      "store: {sync: group}\ninputs: {tcp: {idle_timeout: 5s}}\nhttp: {idle_timeout: 5s}\n");
  EXPECT_TRUE(ok.is_ok()) << ok.status().message();
  // Aliases that contain themselves end the walk (bounded), as any other unknown key.
  for (const char* cyclic : {"x: &a [*a]\n", "x: &a {b: *a, c: *a}\n"}) {
    EXPECT_NE(errors_of(cyclic).find("x: unknown key"), std::string::npos) << cyclic;
  }
}

// Generated documents (JSON text, which YAML reads as flow style): nested mappings and lists whose
// keys come from a small pool (Unicode, dots, spaces, the empty key), so duplicates happen by
// chance. Exactly the repeated keys are reported, each under its path.
TEST(Config, GeneratedDuplicateKeysAreFoundExactly) {
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  std::mt19937_64 rng(seed);
  const std::string pool[] = {"store", "a.b", "ü", "日本", " ", "", "sync", "x1"};
  for (int round = 0; round < 300; ++round) {
    std::multiset<std::string> want;
    // A value at `path`, `depth` levels down: a mapping, a list or a scalar.
    std::function<std::string(const std::string&, int)> value = [&](const std::string& path,
                                                                    int depth) -> std::string {
      const auto shape = depth > 4 ? 2 : rng() % 3;
      if (shape == 0) {
        std::string out = "{";
        std::set<std::string> seen;
        const int n = static_cast<int>(rng() % 5);
        for (int i = 0; i < n; ++i) {
          const std::string key = pool[rng() % std::size(pool)];
          const std::string key_path = path.empty() ? key : path + "." + key;
          if (i > 0) out += ", ";
          out += "\"" + key + "\": ";
          if (!seen.insert(key).second) {
            want.insert(key_path + ": duplicate key");
            out += "1";  // under a duplicate nothing is walked
          } else {
            out += value(key_path, depth + 1);
          }
        }
        return out + "}";
      }
      if (shape == 1) {
        std::string out = "[";
        const int n = static_cast<int>(rng() % 3);
        for (int i = 0; i < n; ++i) {
          if (i > 0) out += ", ";
          out += value(path + "[" + std::to_string(i) + "]", depth + 1);
        }
        return out + "]";
      }
      return std::to_string(rng() % 100);
    };
    const std::string doc = value("", 0);
    YAML::Node root;
    ASSERT_NO_THROW(root = YAML::Load(doc)) << doc;
    std::vector<std::string> errors;
    check_duplicate_keys(root, errors);
    std::multiset<std::string> got;
    for (const auto& e : errors) got.insert(e.substr(0, e.find(" at line")));
    EXPECT_EQ(got, want) << doc;
  }
}

TEST(Config, EveryBadValueIsReported) {
  const auto e = errors_of(R"(
store: {sync: sometimes, write_buffer: 1KiB}
inputs: {tcp: {listen: nowhere, max_line: 10 bananas, max_connections: -1}}
http: {idle_timeout: soon}
server: {io_threads: 0}
log: {level: loud}
fields: {request_id: [request_id], timestamp: []}
models: {m: {fields: {model_name: /x, bogus: /y}}}
)");
  for (const char* expected :
       {"store.sync: must be one of: always, group, none", "store.write_buffer: must be at least",
        "inputs.tcp.listen: expected host:port", "inputs.tcp.max_line: unknown size unit",
        "inputs.tcp.max_connections: expected a whole number",
        "http.idle_timeout: expected a duration", "server.io_threads: must be from 1 to 64",
        "log.level: must be one of",
        "fields.request_id: 'request_id': a JSON pointer starts with '/'",
        "fields.timestamp: needs at least one JSON pointer",
        "models.m.fields.model_name: the model name is located with the top-level",
        "models.m.fields.bogus: unknown key"}) {
    EXPECT_NE(e.find(expected), std::string::npos) << "missing: " << expected << "\nin:\n" << e;
  }
}

TEST(Config, MaskingDefaultsAreSafe) {
  auto c = parse_config("").value();
  EXPECT_TRUE(c.masking_enabled);
  for (const auto& d : c.masking.detectors) {
    EXPECT_TRUE(d.enabled);
    EXPECT_EQ(d.params.action, ingest::MaskAction::kHash);
  }
  EXPECT_EQ(c.masking_key_path(), "./data/masking.key");
}

TEST(Config, MaskingRulesDetectorsAndModelOverrides) {
  auto c = parse_config(R"(
masking:
  redact_token: "***"
  rules:
    - {path: "/inputs/*_email", action: hash}
    - {path: "**/ssn", action: redact}
    - {path: /inputs/age, action: bucket, bucket_width: 5}
  detectors:
    phone: {enabled: false}
    card: {action: partial, keep_last: 4}
  custom_detectors:
    - {name: employee_id, pattern: "EMP-[0-9]{6}", action: redact}
models:
  churn:
    masking:
      rules: [{path: /inputs/postcode, action: truncate, max_length: 3}]
      detectors: {email: {action: redact}}
)");
  ASSERT_TRUE(c.is_ok()) << c.status().message();
  EXPECT_EQ(c->masking.rules.size(), 3u);
  EXPECT_EQ(c->masking.rules[2].params.bucket_width, 5);
  EXPECT_FALSE(c->masking.detectors[static_cast<size_t>(ingest::DetectorKind::kPhone)].enabled);
  EXPECT_EQ(c->masking.detectors[static_cast<size_t>(ingest::DetectorKind::kCard)].params.action,
            ingest::MaskAction::kPartial);
  const auto mc = c->masking_config();
  ASSERT_TRUE(mc.per_model.count("churn"));
  const auto& churn = mc.per_model.at("churn");
  ASSERT_EQ(churn.rules.size(), 4u);
  EXPECT_EQ(churn.rules[0].path, "/inputs/postcode");  // model rules are checked first
  EXPECT_EQ(churn.detectors[static_cast<size_t>(ingest::DetectorKind::kEmail)].params.action,
            ingest::MaskAction::kRedact);
  // The per-model policy inherits the default's other detector settings.
  EXPECT_FALSE(churn.detectors[static_cast<size_t>(ingest::DetectorKind::kPhone)].enabled);
  auto again = parse_config(render_config(*c));
  ASSERT_TRUE(again.is_ok()) << again.status().message() << "\n" << render_config(*c);
  EXPECT_EQ(render_config(*again), render_config(*c));
}

TEST(Config, BadMaskingPolicyNamesTheKeyPath) {
  const auto e = errors_of(R"(
masking:
  rules:
    - {path: "inputs/x", action: hash}
    - {path: /y, action: scramble}
    - {action: redact}
  detectors:
    email: {action: bucket}
    fingerprint: {action: hash}
    ssn: {action: partial, max_length: 4}
  custom_detectors:
    - {name: card, pattern: "x", bucket_width: 5}
)");
  for (const char* expected :
       {"masking.rules[0].path: a path starts with '/' or '**/'",
        "masking.rules[1].action: unknown action 'scramble'", "masking.rules[2].path: is required",
        "masking.detectors.email.action: a detector's action is drop, redact, hash or partial",
        "masking.detectors.fingerprint: unknown key",
        // truncate and bucket are rules' actions: a detector has neither parameter
        "masking.detectors.ssn.max_length: unknown key",
        "masking.custom_detectors[0].bucket_width: unknown key",
        "masking.custom_detectors[0].name: 'card' is a built-in detector"}) {
    EXPECT_NE(e.find(expected), std::string::npos) << "missing: " << expected << "\nin:\n" << e;
  }
}

TEST(Config, InvalidYamlNamesTheLine) {
  const auto e = errors_of("store:\n  sync: [unclosed\n");
  EXPECT_NE(e.find("invalid YAML at line"), std::string::npos) << e;
}

TEST(Config, FileErrorsNameTheFile) {
  auto c = load_config_file("/nonexistent/verity.yaml");
  ASSERT_FALSE(c.is_ok());
  EXPECT_NE(c.status().message().find("/nonexistent/verity.yaml"), std::string::npos);
}

TEST(Config, DeadLetterForwardingIsOnByDefaultAndKeptOutOfThePredictionsReach) {
  auto c = parse_config("").value();
  EXPECT_TRUE(c.es_output.dead_letters);
  EXPECT_EQ(c.es_output.dead_letters_data_stream, "logs-verity.deadletters-default");
  EXPECT_EQ(c.es_output.dead_letters_dated_prefix, "verity-deadletters-");
  c = parse_config(
          "outputs: {elasticsearch: {dead_letters: {enabled: false, data_stream: "
          "logs-verity.deadletters-prod, dated_prefix: dl-}}}")
          .value();
  EXPECT_FALSE(c.es_output.dead_letters);
  EXPECT_EQ(c.es_output.dead_letters_data_stream, "logs-verity.deadletters-prod");
  EXPECT_EQ(c.es_output.dead_letters_dated_prefix, "dl-");
  auto again = parse_config(render_config(c));
  ASSERT_TRUE(again.is_ok()) << again.status().message();
  EXPECT_EQ(render_config(*again), render_config(c));
  const auto e = errors_of(
      "outputs: {elasticsearch: {dead_letters: {data_stream: verity-dl, dated_prefix: "
      "verity-predictions-dl-, bogus: 1}}}");
  for (const char* expected :
       {"outputs.elasticsearch.dead_letters.data_stream: expected <type>-<dataset>-<namespace>",
        "outputs.elasticsearch.dead_letters.dated_prefix: must not start with "
        "outputs.elasticsearch.dated_prefix",
        "outputs.elasticsearch.dead_letters.bogus: unknown key"}) {
    EXPECT_NE(e.find(expected), std::string::npos) << expected << "\n" << e;
  }
  EXPECT_NE(errors_of("outputs: {elasticsearch: {dead_letters: {data_stream: "
                      "logs-verity.predictions-default}}}")
                .find("must differ from outputs.elasticsearch.data_stream"),
            std::string::npos);
}

}  // namespace
}  // namespace verity::app
