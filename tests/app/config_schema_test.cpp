// The config schema, walked as a stranger would: every declared key and section is tried with
// values of the wrong shape, its own default, unknown neighbours and generated values, and the
// shipped files are checked to be what the declarations generate.
#include <fstream>
#include <functional>
#include <random>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "seed.h"
#include "verity/app/config.h"

namespace verity::app {
namespace {

using config::Collection;
using config::Section;
using config::Type;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// One declared key: where it is in the file and what it is.
struct KeyAt {
  std::vector<std::string> path;  // YAML path; "[0]" is the first item of a list
  Type type;
  config::Value value;  // its default
  bool shown = true;    // false: its default is not rendered (shown_when)
  bool documented = true;
};

std::string dotted(const std::vector<std::string>& path) {
  std::string out;
  for (const auto& p : path) {
    if (p == "[0]") {
      out += p;
    } else {
      out += (out.empty() ? "" : ".") + p;
    }
  }
  return out;
}

// Every key and every section (collections through one item: "[0]" in lists, "email" in maps,
// which is also a built-in detector's name).
void walk(const Section& s, std::vector<std::string> path, std::vector<KeyAt>& keys,
          std::vector<std::vector<std::string>>& sections) {
  sections.push_back(path);
  for (const auto& e : s.entries()) {
    auto p = path;
    p.push_back(e.name);
    if (e.key) {
      auto v = e.key->get();
      keys.push_back({p, e.key->type, v ? *v : config::Value(std::string()), v.has_value(),
                      e.key->documented});
    } else if (e.section) {
      walk(*e.section, p, keys, sections);
    } else {
      const Collection& c = *e.collection;
      if (c.shape == Collection::Shape::kList) p.push_back("[0]");
      if (c.shape == Collection::Shape::kMap) p.push_back("email");
      c.example([&](Section& item) { walk(item, p, keys, sections); });
    }
  }
}

struct Schema {
  std::vector<KeyAt> keys;
  std::vector<std::vector<std::string>> sections;
  Schema() {
    Config c;
    Section top;
    declare_config(top, c);
    walk(top, {}, keys, sections);
  }
};

// A YAML document with `leaf` at `path` (lists hold one item).
YAML::Node at(const std::vector<std::string>& path, const YAML::Node& leaf, size_t i = 0) {
  if (i == path.size()) return leaf;
  if (path[i] == "[0]") {
    YAML::Node seq(YAML::NodeType::Sequence);
    seq.push_back(at(path, leaf, i + 1));
    return seq;
  }
  YAML::Node map(YAML::NodeType::Map);
  map[path[i]] = at(path, leaf, i + 1);
  return map;
}

YAML::Node yaml_of(const config::Value& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return YAML::Node(*s);
  YAML::Node out;
  if (const auto* list = std::get_if<std::vector<std::string>>(&v)) {
    out = YAML::Node(YAML::NodeType::Sequence);
    for (const auto& item : *list) out.push_back(item);
    return out;
  }
  out = YAML::Node(YAML::NodeType::Map);
  for (const auto& [name, list] : std::get<config::ListMap>(v)) out[name] = list;
  return out;
}

std::string text_of(const YAML::Node& n) {
  YAML::Emitter e;
  e << n;
  return e.c_str();
}

TEST(ConfigSchema, ShippedFilesAreWhatTheDeclarationsGenerate) {
  const std::string src = VERITY_SOURCE_DIR;
  EXPECT_EQ(read_file(src + "/config/verity.yaml"), annotated_defaults())
      << "regenerate: build/verity config-docs --format yaml > config/verity.yaml";
  EXPECT_EQ(read_file(src + "/docs/configuration.md"), configuration_reference())
      << "regenerate: build/verity config-docs --format markdown > docs/configuration.md";
}

TEST(ConfigSchema, EveryKeyIsDocumentedInTheReference) {
  const Schema schema;
  const std::string reference = configuration_reference();
  ASSERT_GT(schema.keys.size(), 150u);
  for (const auto& k : schema.keys) {
    std::string path = dotted(k.path);
    // The reference names list items "[]" and map items "<name>".
    std::string shown;
    for (size_t i = 0; i < k.path.size(); ++i) {
      const bool item_of_map = i > 0 && k.path[i] == "email" && i + 1 < k.path.size();
      if (k.path[i] == "[0]") {
        shown += "[]";
      } else if (item_of_map) {
        shown += ".<name>";
      } else {
        shown += (shown.empty() ? "" : ".") + k.path[i];
      }
    }
    if (shown.find("detectors.<name>") != std::string::npos &&
        reference.find("`" + shown + "`") == std::string::npos) {
      // masking.detectors.email is a declared section, not a map item.
      shown.replace(shown.find("<name>"), 6, "email");
    }
    if (k.documented) {
      EXPECT_NE(reference.find("`" + shown + "`"), std::string::npos) << path << " as " << shown;
    } else {
      // Declared only to be refused with a reason (a model's own fields.model_name).
      EXPECT_EQ(reference.find("`" + shown + "`"), std::string::npos) << path << " as " << shown;
    }
  }
}

// The reference's row for `key`, split into its cells (key, type, default, range, description).
std::vector<std::string> reference_row(const std::string& reference, const std::string& key) {
  const std::string start = "| `" + key + "` |";
  const size_t at = reference.find(start);
  if (at == std::string::npos) return {};
  const std::string line = reference.substr(at, reference.find('\n', at) - at);
  std::vector<std::string> cells;
  size_t from = 1;
  for (size_t bar = line.find(" | ", from); bar != std::string::npos;
       bar = line.find(" | ", from)) {
    cells.push_back(line.substr(from + 1, bar - from - 1));
    from = bar + 2;
  }
  return cells;
}

TEST(ConfigSchema, TheReferenceShowsWhatAModelOverrideReallyStartsFrom) {
  const std::string reference = configuration_reference();
  ASSERT_EQ(reference_row(reference, "masking.detectors.email.action").size(), 4u);
  EXPECT_EQ(reference_row(reference, "masking.detectors.email.action")[2], "`hash`");
  // A model's detector setting starts from the top-level one, not from the declared defaults.
  for (const char* key : {"enabled", "action", "keep_last"}) {
    auto row =
        reference_row(reference, std::string("models.<name>.masking.detectors.<name>.") + key);
    ASSERT_EQ(row.size(), 4u) << key;
    EXPECT_EQ(row[2], "") << key;
  }
  EXPECT_TRUE(reference_row(reference, "models.<name>.fields.model_name").empty());
  EXPECT_EQ(reference_row(reference, "models.<name>.fields.score").size(), 4u);

  // And that is what reading does: the model's email detector keeps the top-level action.
  auto c = parse_config(
      "masking: {detectors: {email: {action: redact}}}\n"
      "models: {m: {masking: {detectors: {email: {keep_last: 2}}}}}\n");
  ASSERT_TRUE(c.is_ok()) << c.status().message();
  const auto& model = c.value().models.at("m").masking->detectors.at("email");
  EXPECT_EQ(model.params.action, ingest::MaskAction::kRedact);
  EXPECT_EQ(model.params.keep_last, 2u);
  EXPECT_TRUE(model.enabled);
}

TEST(ConfigSchema, EveryKeyRefusesAValueOfTheWrongShapeNamingItsPath) {
  const Schema schema;
  for (const auto& k : schema.keys) {
    YAML::Node wrong;
    if (k.type == Type::kListMap) {
      wrong = YAML::Node(YAML::NodeType::Sequence);
      wrong.push_back("x");
    } else {
      wrong = YAML::Node(YAML::NodeType::Map);
      wrong["nested"] = "x";
    }
    const std::string text = text_of(at(k.path, wrong));
    auto c = parse_config(text);
    ASSERT_FALSE(c.is_ok()) << text;
    EXPECT_NE(c.status().message().find(dotted(k.path) + ": "), std::string::npos)
        << text << "\n"
        << c.status().message();
  }
}

TEST(ConfigSchema, EveryKeyAcceptsItsOwnDefaultWrittenOut) {
  const Schema schema;
  const std::string defaults = render_config(parse_config("").value());
  for (const auto& k : schema.keys) {
    // Items of lists and maps have no defaults of their own in the file.
    if (!k.shown) continue;
    if (std::find(k.path.begin(), k.path.end(), "[0]") != k.path.end()) continue;
    if (std::find(k.path.begin(), k.path.end(), "models") != k.path.end()) continue;
    if (std::find(k.path.begin(), k.path.end(), "features") != k.path.end()) continue;
    if (std::find(k.path.begin(), k.path.end(), "baseline") != k.path.end()) continue;
    const std::string text = text_of(at(k.path, yaml_of(k.value)));
    auto c = parse_config(text);
    ASSERT_TRUE(c.is_ok()) << text << "\n" << c.status().message();
    EXPECT_EQ(render_config(*c), defaults) << text;
  }
}

TEST(ConfigSchema, UnknownKeysAreRefusedInEverySection) {
  const Schema schema;
  for (const auto& path : schema.sections) {
    auto p = path;
    p.push_back("zz_not_a_key");
    const std::string text = text_of(at(p, YAML::Node("1")));
    auto c = parse_config(text);
    ASSERT_FALSE(c.is_ok()) << text;
    EXPECT_NE(c.status().message().find(dotted(p) + ": unknown key"), std::string::npos)
        << text << "\n"
        << c.status().message();
  }
}

TEST(ConfigSchema, SecretsArePrintedHiddenAndWrittenOutOnlyWhenAsked) {
  auto c = parse_config(R"(
outputs: {elasticsearch: {api_key: "aWQ6a2V5c2VjcmV0"}}
auth:
  tokens: [{name: svc, token: "tok-0123456789abcdef", roles: [read]}]
  users: [{name: fb, password: "pw-0123456789ab", roles: [ingest]}]
)");
  ASSERT_TRUE(c.is_ok()) << c.status().message();
  const std::string printed = render_config(*c);
  for (const char* secret : {"aWQ6a2V5c2VjcmV0", "tok-0123456789abcdef", "pw-0123456789ab"}) {
    EXPECT_EQ(printed.find(secret), std::string::npos) << secret << " in:\n" << printed;
  }
  EXPECT_NE(printed.find("<hidden>"), std::string::npos);
  const std::string full = render_config(*c, /*reveal_secrets=*/true);
  auto again = parse_config(full);
  ASSERT_TRUE(again.is_ok()) << again.status().message();
  EXPECT_EQ(again->tokens.at(0).token, "tok-0123456789abcdef");
  EXPECT_EQ(again->users.at(0).password, "pw-0123456789ab");
  EXPECT_EQ(again->es_output.api_key, "aWQ6a2V5c2VjcmV0");
  EXPECT_EQ(render_config(*again, true), full);
}

TEST(ConfigSchema, ModelOverridesOfDetectorParametersRenderToAFixedPoint) {
  // A model's detector starts from the top-level setting: its parameters are all written out.
  auto c = parse_config(R"(
masking: {detectors: {email: {keep_last: 6}}, rules: [{path: /x, action: hash, bucket_width: 10.0000001}]}
models: {m: {masking: {detectors: {email: {keep_last: 4}}}}}
)");
  ASSERT_TRUE(c.is_ok()) << c.status().message();
  const std::string once = render_config(*c);
  auto again = parse_config(once);
  ASSERT_TRUE(again.is_ok()) << again.status().message();
  EXPECT_EQ(render_config(*again), once);
  const auto policy = again->masking_config().per_model.at("m");
  EXPECT_EQ(policy.detectors[static_cast<size_t>(ingest::DetectorKind::kEmail)].params.keep_last,
            4u);
  EXPECT_EQ(again->masking.rules.at(0).params.bucket_width, 10.0000001);
}

TEST(ConfigSchema, PositiveClassWithQuotesAndBackslashesRendersToAFixedPoint) {
  for (const char* value : {"a\"b", "c\\d", "tab\there", "ü", "1.5", "true", "fraud"}) {
    YAML::Node doc;
    doc["metrics"]["quality"]["positive_class"] = value;
    auto c = parse_config(text_of(doc));
    ASSERT_TRUE(c.is_ok()) << value << ": " << c.status().message();
    const std::string once = render_config(*c);
    auto again = parse_config(once);
    ASSERT_TRUE(again.is_ok()) << value;
    EXPECT_EQ(again->quality.positive_class, c->quality.positive_class) << value;
    EXPECT_EQ(render_config(*again), once) << value;
  }
}

TEST(ConfigSchema, KeysThatAreNotStringsAreRefused) {
  for (const char* yaml : {"? [a]\n: 1\n", "server: {? [x] : 1}\n", "models: {? [x] : {}}\n",
                           "metrics: {quality: {features: {? {a: 1} : {type: number}}}}\n"}) {
    auto c = parse_config(yaml);
    ASSERT_FALSE(c.is_ok()) << yaml;
    EXPECT_NE(c.status().message().find("a key must be a string"), std::string::npos)
        << yaml << "\n"
        << c.status().message();
  }
}

// Values nobody chose for a key's type: valid ones, edge ones, garbage.
YAML::Node generated_value(Type type, std::mt19937_64& rng) {
  auto pick = [&rng](std::initializer_list<const char*> options) {
    std::vector<const char*> v(options);
    return std::string(v[rng() % v.size()]);
  };
  switch (type) {
    case Type::kBool:
      return YAML::Node(pick({"true", "false", "yes", "TRUE", "1", ""}));
    case Type::kCount:
      return YAML::Node(
          pick({"0", "1", "2", "17", "64", "1000", "-1", "1e3", "18446744073709551615",
                "18446744073709551616", "0x10", " 5", "3.5"}));
    case Type::kNumber:
      return YAML::Node(pick({"0", "-1", "1e308", "1e-308", "nan", "inf", "0.5", "x", "10"}));
    case Type::kDuration:
      return YAML::Node(pick({"0", "0ms", "1ms", "5s", "2m", "1h", "7d", "30d", "1.5d", "-1s",
                              "9999999999d", "10 bananas", "d"}));
    case Type::kSize:
      return YAML::Node(pick({"0", "1", "512", "1KiB", "64KiB", "4MiB", "1GiB", "5GB", "16EiB",
                              "-1", "1.5MiB", "99999999999999999999"}));
    case Type::kHostPort:
      return YAML::Node(pick(
          {"127.0.0.1:0", "[::1]:9200", "localhost:65535", "host:65536", ":1", "nowhere", "ä:1"}));
    case Type::kStrings: {
      YAML::Node seq(YAML::NodeType::Sequence);
      const size_t n = rng() % 3;
      for (size_t i = 0; i < n; ++i) {
        seq.push_back(pick({"/a", "/user_id", "/a/b~1c", "x", "", "/é/ü", "http://es:9200", "5m",
                            "1h", "ingest", "admin", "a.b"}));
      }
      return seq;
    }
    case Type::kListMap: {
      YAML::Node map(YAML::NodeType::Map);
      map[pick({"*", "fraud", "é", ""})] = std::vector<std::string>{pick({"a.b", "_label", ""})};
      return map;
    }
    case Type::kChoice:
    case Type::kString:
    case Type::kSecret:
      return YAML::Node(pick({"", "x", "none", "hash", "group", "binary", "inferred", "8.15.0",
                              "logs-a-b", "/user_id", "0123456789abcdefXYZ", "ü\u00e9\U0001F600",
                              "\"quoted\"", "a:b", "[REDACTED]"}));
  }
  return YAML::Node("x");
}

TEST(ConfigSchema, GeneratedConfigsAreAcceptedOrRefusedByPathAndRenderToAFixedPoint) {
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  std::mt19937_64 rng(seed);
  const Schema schema;
  std::set<std::string> paths;
  for (const auto& k : schema.keys) paths.insert(dotted(k.path));
  for (const auto& s : schema.sections) paths.insert(dotted(s));
  size_t accepted = 0;
  for (int round = 0; round < 300; ++round) {
    YAML::Node doc(YAML::NodeType::Map);
    const size_t n = 1 + rng() % 6;
    for (size_t i = 0; i < n; ++i) {
      const auto& k = schema.keys[rng() % schema.keys.size()];
      // Merge into the document: only the first item of a list is addressed.
      YAML::Node merged = YAML::Clone(doc);
      YAML::Node cursor;
      cursor.reset(merged);  // (yaml-cpp: operator= copies into the node, reset() rebinds)
      bool ok = true;
      for (size_t j = 0; j + 1 < k.path.size() && ok; ++j) {
        if (k.path[j] == "[0]") {
          ok = false;  // lists are generated whole below
        } else {
          if (!cursor[k.path[j]] || !cursor[k.path[j]].IsMap()) {
            cursor[k.path[j]] = YAML::Node(YAML::NodeType::Map);
          }
          YAML::Node next = cursor[k.path[j]];
          cursor.reset(next);
        }
      }
      if (ok) {
        cursor[k.path.back()] = generated_value(k.type, rng);
        doc = merged;
      } else {
        YAML::Node whole = at(k.path, generated_value(k.type, rng));
        for (const auto& kv : whole) doc[kv.first.Scalar()] = kv.second;
      }
    }
    const std::string text = text_of(doc);
    auto c = parse_config(text);
    if (!c.is_ok()) {
      std::stringstream lines(c.status().message());
      for (std::string line; std::getline(lines, line);) {
        if (line.rfind("invalid YAML", 0) == 0) continue;
        if (line.rfind("models.", 0) == 0 || line.find("masking rule") != std::string::npos)
          continue;  // identity-rule problems name a model and a rule
        const std::string path = line.substr(0, line.find(": "));
        bool known = paths.count(path) > 0;
        // An unknown key, a list item, a map item or a mapping's own entry (indexed_fields.m).
        for (const auto& p : paths) {
          if (path.rfind(p + ".", 0) == 0 || path.rfind(p + "[", 0) == 0) known = true;
        }
        EXPECT_TRUE(known) << "an error that names no declared key: " << line << "\n" << text;
      }
      continue;
    }
    ++accepted;
    const std::string once = render_config(*c, /*reveal_secrets=*/true);
    auto again = parse_config(once);
    ASSERT_TRUE(again.is_ok()) << text << "\nrendered:\n"
                               << once << "\n"
                               << again.status().message();
    EXPECT_EQ(render_config(*again, true), once) << text;
    // check-config --print shows no secret.
    const YAML::Node printed = YAML::Load(render_config(*c));
    auto hidden = [](const YAML::Node& n) {
      return !n || n.Scalar().empty() || n.Scalar() == "<hidden>";
    };
    EXPECT_TRUE(hidden(printed["outputs"]["elasticsearch"]["password"])) << text;
    EXPECT_TRUE(hidden(printed["outputs"]["elasticsearch"]["api_key"])) << text;
    for (const auto& t : printed["auth"]["tokens"]) EXPECT_TRUE(hidden(t["token"])) << text;
    for (const auto& u : printed["auth"]["users"]) EXPECT_TRUE(hidden(u["password"])) << text;
  }
  EXPECT_GT(accepted, 10u) << "the generator should produce valid configs too";
}

}  // namespace
}  // namespace verity::app
