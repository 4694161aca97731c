// The Grafana dashboards, the Prometheus config and the Filebeat configs shipped in config/: the
// dashboards' JSON against Grafana's dashboard model (as "Export for sharing externally" writes
// it), every metric and label name their PromQL uses against a live verity's /metrics, every
// panel's PromQL (variables substituted as Grafana does) through Debian's Prometheus scraping a
// live verity with the shipped prometheus.yml and alert rules, and the Filebeat and Prometheus
// files against the defaults config/verity.yaml spells out.

#include <gtest/gtest.h>
#include <simdjson.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "fake_es.h"
#include "server_process.h"
#include "test_client.h"
#include "verity/app/http_client.h"

namespace verity::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

const fs::path kSource = VERITY_SOURCE_DIR;
const std::vector<std::string> kDashboardFiles = {"verity-overview.json", "verity-models.json"};
const std::string kDatasourceUid = "${DS_PROMETHEUS}";

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// ------------------------------------------------------------------ the dashboard model, read

struct Target {
  std::string ref_id, expr, legend, format, ds_type, ds_uid;
  bool instant = false;
};

struct Panel {
  int64_t id = -1;
  std::string type, title, ds_type, ds_uid, unit;
  int64_t x = -1, y = -1, w = -1, h = -1;
  std::vector<Target> targets;
};

struct Variable {
  std::string name, type, query, definition, ds_uid, all_value, current;
  bool include_all = false;
  int64_t refresh = -1;
  std::vector<std::string> options;
};

struct Dashboard {
  std::string file, uid, title, refresh, time_from, time_to;
  int64_t schema_version = 0;
  bool id_is_null = false;
  std::vector<std::string> tags;
  std::vector<std::pair<std::string, std::string>> inputs;  // name, pluginId (datasource inputs)
  std::set<std::string> requires_;                          // "type:id"
  std::vector<Panel> panels;                                // rows and, flattened, their panels
  std::vector<Variable> variables;
  std::vector<std::string> problems;  // what could not be read as the model says
};

std::string str(simdjson::dom::element e, std::string_view key) {
  std::string_view v;
  return e[key].get(v) == simdjson::SUCCESS ? std::string(v) : std::string();
}

// The same for a member that may be absent (then "").
std::string str(simdjson::simdjson_result<simdjson::dom::element> r, std::string_view key) {
  simdjson::dom::element e;
  return r.get(e) == simdjson::SUCCESS ? str(e, key) : std::string();
}

std::optional<int64_t> integer(simdjson::dom::element e, std::string_view key) {
  int64_t v = 0;
  if (e[key].get(v) != simdjson::SUCCESS) return std::nullopt;
  return v;
}

void read_panels(simdjson::dom::array panels, Dashboard& d) {
  for (simdjson::dom::element pe : panels) {
    Panel p;
    const std::string where = d.file + " panel '" + str(pe, "title") + "'";
    if (auto id = integer(pe, "id")) p.id = *id;
    p.type = str(pe, "type");
    p.title = str(pe, "title");
    simdjson::dom::element ds;
    if (pe["datasource"].get(ds) == simdjson::SUCCESS) {
      p.ds_type = str(ds, "type");
      p.ds_uid = str(ds, "uid");
    }
    simdjson::dom::element grid;
    if (pe["gridPos"].get(grid) == simdjson::SUCCESS) {
      p.x = integer(grid, "x").value_or(-1);
      p.y = integer(grid, "y").value_or(-1);
      p.w = integer(grid, "w").value_or(-1);
      p.h = integer(grid, "h").value_or(-1);
    } else {
      d.problems.push_back(where + ": no gridPos");
    }
    std::string_view unit;
    if (pe.at_pointer("/fieldConfig/defaults/unit").get(unit) == simdjson::SUCCESS) {
      p.unit = std::string(unit);
    }
    simdjson::dom::array targets;
    if (pe["targets"].get(targets) == simdjson::SUCCESS) {
      for (simdjson::dom::element te : targets) {
        Target t;
        t.ref_id = str(te, "refId");
        t.expr = str(te, "expr");
        t.legend = str(te, "legendFormat");
        t.format = str(te, "format");
        bool instant = false;
        if (te["instant"].get(instant) == simdjson::SUCCESS) t.instant = instant;
        simdjson::dom::element tds;
        if (te["datasource"].get(tds) == simdjson::SUCCESS) {
          t.ds_type = str(tds, "type");
          t.ds_uid = str(tds, "uid");
        }
        p.targets.push_back(std::move(t));
      }
    }
    d.panels.push_back(std::move(p));
    simdjson::dom::array nested;  // a collapsed row keeps its panels inside it
    if (pe["panels"].get(nested) == simdjson::SUCCESS) read_panels(nested, d);
  }
}

Dashboard load_dashboard(const std::string& file) {
  Dashboard d;
  d.file = file;
  const std::string text = slurp(kSource / "config" / "grafana" / file);
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto err = parser.parse(text).get(root)) {
    d.problems.push_back(file + ": not JSON: " + simdjson::error_message(err));
    return d;
  }
  d.uid = str(root, "uid");
  d.title = str(root, "title");
  d.refresh = str(root, "refresh");
  d.schema_version = integer(root, "schemaVersion").value_or(0);
  d.id_is_null = root["id"].is_null();
  d.time_from = str(root["time"], "from");
  d.time_to = str(root["time"], "to");
  simdjson::dom::array arr;
  if (root["tags"].get(arr) == simdjson::SUCCESS) {
    for (simdjson::dom::element t : arr) {
      std::string_view s;
      if (t.get(s) == simdjson::SUCCESS) d.tags.emplace_back(s);
    }
  }
  if (root["__inputs"].get(arr) == simdjson::SUCCESS) {
    for (simdjson::dom::element in : arr) {
      if (str(in, "type") == "datasource")
        d.inputs.emplace_back(str(in, "name"), str(in, "pluginId"));
    }
  } else {
    d.problems.push_back(file + ": no __inputs (not exported for sharing externally)");
  }
  if (root["__requires"].get(arr) == simdjson::SUCCESS) {
    for (simdjson::dom::element r : arr) d.requires_.insert(str(r, "type") + ":" + str(r, "id"));
  } else {
    d.problems.push_back(file + ": no __requires");
  }
  if (root.at_pointer("/templating/list").get(arr) == simdjson::SUCCESS) {
    for (simdjson::dom::element ve : arr) {
      Variable v;
      v.name = str(ve, "name");
      v.type = str(ve, "type");
      v.definition = str(ve, "definition");
      v.all_value = str(ve, "allValue");
      v.refresh = integer(ve, "refresh").value_or(-1);
      bool include_all = false;
      if (ve["includeAll"].get(include_all) == simdjson::SUCCESS) v.include_all = include_all;
      v.ds_uid = str(ve["datasource"], "uid");
      // A query variable's query is an object (Prometheus's variable editor), a custom one's a
      // comma-separated string.
      std::string_view q;
      if (ve["query"].get(q) == simdjson::SUCCESS) {
        v.query = std::string(q);
      } else {
        v.query = str(ve["query"], "query");
      }
      simdjson::dom::element current;
      if (ve["current"].get(current) == simdjson::SUCCESS) v.current = str(current, "value");
      simdjson::dom::array options;
      if (ve["options"].get(options) == simdjson::SUCCESS) {
        for (simdjson::dom::element o : options) v.options.push_back(str(o, "value"));
      }
      d.variables.push_back(std::move(v));
    }
  } else {
    d.problems.push_back(file + ": no templating.list");
  }
  if (root["panels"].get(arr) == simdjson::SUCCESS) {
    read_panels(arr, d);
  } else {
    d.problems.push_back(file + ": no panels");
  }
  return d;
}

// ------------------------------------------------------------------ PromQL, just enough of it

// The names an expression uses: metrics (selectors) and labels (matchers and grouping lists).
struct Names {
  std::set<std::string> metrics, labels, functions;
};

bool ident_start(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':';
}
bool ident_char(char c) { return ident_start(c) || std::isdigit(static_cast<unsigned char>(c)); }

size_t skip_string(const std::string& s, size_t i) {  // s[i] is the opening quote
  const char quote = s[i++];
  while (i < s.size() && s[i] != quote) i += (s[i] == '\\' && quote != '`') ? 2 : 1;
  return i + 1;
}

size_t skip_space(const std::string& s, size_t i) {
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return i;
}

Names promql_names(const std::string& e) {
  static const std::set<std::string> kAggregations = {
      "sum",    "min",   "max",  "avg",     "group",    "stddev",
      "stdvar", "count", "topk", "bottomk", "quantile", "count_values"};
  static const std::set<std::string> kGrouping = {"by",       "without",    "on",
                                                  "ignoring", "group_left", "group_right"};
  static const std::set<std::string> kKeywords = {"and", "or", "unless", "bool", "offset"};
  Names n;
  size_t i = 0;
  while (i < e.size()) {
    const char c = e[i];
    if (c == '"' || c == '\'' || c == '`') {
      i = skip_string(e, i);
    } else if (c == '{') {  // matchers: label op "value", ...
      ++i;
      while (i < e.size() && e[i] != '}') {
        i = skip_space(e, i);
        if (i < e.size() && ident_start(e[i])) {
          size_t j = i;
          while (j < e.size() && ident_char(e[j])) ++j;
          n.labels.insert(e.substr(i, j - i));
          i = j;
        } else if (i < e.size() && (e[i] == '"' || e[i] == '\'' || e[i] == '`')) {
          i = skip_string(e, i);
        } else {
          ++i;
        }
      }
      ++i;
    } else if (c == '[') {
      while (i < e.size() && e[i] != ']') ++i;
      ++i;
    } else if (std::isdigit(static_cast<unsigned char>(c)) || c == '.') {
      while (i < e.size() && (std::isalnum(static_cast<unsigned char>(e[i])) || e[i] == '.')) ++i;
    } else if (ident_start(c)) {
      size_t j = i;
      while (j < e.size() && ident_char(e[j])) ++j;
      const std::string word = e.substr(i, j - i);
      const size_t next = skip_space(e, j);
      const bool call = next < e.size() && e[next] == '(';
      if (kGrouping.count(word)) {
        i = next;
        if (call) {  // a label list
          while (i < e.size() && e[i] != ')') {
            if (ident_start(e[i])) {
              size_t k = i;
              while (k < e.size() && ident_char(e[k])) ++k;
              n.labels.insert(e.substr(i, k - i));
              i = k;
            } else {
              ++i;
            }
          }
          ++i;
        }
        continue;
      }
      if (kAggregations.count(word) || call) {
        n.functions.insert(word);
      } else if (!kKeywords.count(word)) {
        n.metrics.insert(word);
      }
      i = j;
    } else {
      ++i;
    }
  }
  return n;
}

// The labels a legend names ("{{model}} {{version}}").
std::set<std::string> legend_labels(const std::string& legend) {
  std::set<std::string> out;
  static const std::regex re(R"(\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\})");
  for (auto it = std::sregex_iterator(legend.begin(), legend.end(), re);
       it != std::sregex_iterator(); ++it) {
    out.insert((*it)[1].str());
  }
  return out;
}

// `$name` and `${name}` references.
std::set<std::string> variable_refs(const std::string& text) {
  std::set<std::string> out;
  static const std::regex re(R"(\$\{?([A-Za-z_][A-Za-z0-9_]*))");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator();
       ++it) {
    out.insert((*it)[1].str());
  }
  return out;
}

// label_values(<selector>, <label>): the form Prometheus's variable editor writes.
std::optional<std::pair<std::string, std::string>> parse_label_values(const std::string& q) {
  static const std::regex re(R"(^label_values\((.+),\s*([A-Za-z_][A-Za-z0-9_]*)\)$)");
  std::smatch m;
  if (!std::regex_match(q, m, re)) return std::nullopt;
  return std::make_pair(m[1].str(), m[2].str());
}

// Grafana's interpolation: the dashboard's variables, then its built-in intervals.
std::string substitute(std::string expr, const std::map<std::string, std::string>& values) {
  std::map<std::string, std::string> all = values;
  all["__rate_interval"] = "1m";  // max(4 x 15s scrape interval, $__interval + scrape interval)
  all["__interval"] = "15s";
  all["__interval_ms"] = "15000";
  all["__range"] = "1h";
  all["__range_s"] = "3600";
  all["__range_ms"] = "3600000";
  // Longest names first, so $__range_s is not read as $__range followed by "_s".
  std::vector<std::pair<std::string, std::string>> ordered(all.begin(), all.end());
  std::sort(ordered.begin(), ordered.end(),
            [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  for (const auto& [name, value] : ordered) {
    for (const std::string& form : {"${" + name + "}", "$" + name}) {
      for (size_t at = expr.find(form); at != std::string::npos;
           at = expr.find(form, at + value.size())) {
        expr.replace(at, form.size(), value);
      }
    }
  }
  return expr;
}

std::vector<Dashboard> load_all() {
  std::vector<Dashboard> out;
  for (const auto& f : kDashboardFiles) out.push_back(load_dashboard(f));
  return out;
}

const Panel* find_panel(const Dashboard& d, const std::string& title) {
  for (const auto& p : d.panels) {
    if (p.title == title) return &p;
  }
  return nullptr;
}

YAML::Node verity_defaults() {
  return YAML::LoadFile((kSource / "config" / "verity.yaml").string());
}

// ------------------------------------------------------------------ (a) Grafana's model

TEST(Dashboards, FollowGrafanasDashboardModel) {
  static const std::set<std::string> kPanelTypes = {"row",   "timeseries", "stat",  "bargauge",
                                                    "table", "heatmap",    "gauge", "text"};
  static const std::set<std::string> kBuiltins = {"__rate_interval", "__interval", "__interval_ms",
                                                  "__range",         "__range_s",  "__range_ms"};
  const auto dashboards = load_all();
  std::set<std::string> uids, titles;
  for (const auto& d : dashboards) {
    SCOPED_TRACE(d.file);
    EXPECT_TRUE(d.problems.empty()) << ::testing::PrintToString(d.problems);
    // Identity: a uid Grafana accepts (at most 40 of [A-Za-z0-9_-]), unique titles and uids.
    EXPECT_TRUE(std::regex_match(d.uid, std::regex("[A-Za-z0-9_-]{1,40}"))) << d.uid;
    EXPECT_TRUE(uids.insert(d.uid).second) << d.uid;
    EXPECT_FALSE(d.title.empty());
    EXPECT_TRUE(titles.insert(d.title).second) << d.title;
    EXPECT_EQ(d.schema_version, 39);
    EXPECT_TRUE(d.id_is_null) << "an export for sharing has \"id\": null";
    EXPECT_NE(std::find(d.tags.begin(), d.tags.end(), "verity"), d.tags.end());
    EXPECT_FALSE(d.time_from.empty());
    EXPECT_FALSE(d.time_to.empty());
    EXPECT_FALSE(d.refresh.empty());
    // The data source is an input the importer picks.
    ASSERT_EQ(d.inputs.size(), 1u);
    EXPECT_EQ(d.inputs[0].first, "DS_PROMETHEUS");
    EXPECT_EQ(d.inputs[0].second, "prometheus");
    EXPECT_TRUE(d.requires_.count("grafana:grafana"));
    EXPECT_TRUE(d.requires_.count("datasource:prometheus"));

    // Panels: unique ids, a type Grafana has, listed in __requires, inside the 24-column grid
    // and not overlapping; every one on ${DS_PROMETHEUS}.
    ASSERT_FALSE(d.panels.empty());
    std::set<int64_t> ids;
    std::set<std::string> panel_titles;
    for (const auto& p : d.panels) {
      SCOPED_TRACE(p.title);
      EXPECT_GT(p.id, 0);
      EXPECT_TRUE(ids.insert(p.id).second) << "duplicate id " << p.id;
      EXPECT_TRUE(kPanelTypes.count(p.type)) << p.type;
      EXPECT_FALSE(p.title.empty());
      EXPECT_TRUE(panel_titles.insert(p.title).second) << "duplicate title";
      if (p.type != "row") {
        EXPECT_TRUE(d.requires_.count("panel:" + p.type)) << p.type;
      }
      EXPECT_GE(p.x, 0);
      EXPECT_GE(p.y, 0);
      EXPECT_GE(p.w, 1);
      EXPECT_GE(p.h, 1);
      EXPECT_LE(p.x + p.w, 24);
      EXPECT_EQ(p.ds_type, "prometheus");
      EXPECT_EQ(p.ds_uid, kDatasourceUid);
      if (p.type == "row") {
        EXPECT_EQ(p.w, 24);
        EXPECT_TRUE(p.targets.empty());
        continue;
      }
      EXPECT_FALSE(p.unit.empty()) << "fieldConfig.defaults.unit";
      ASSERT_FALSE(p.targets.empty());
      std::set<std::string> refs;
      for (const auto& t : p.targets) {
        EXPECT_FALSE(t.ref_id.empty());
        EXPECT_TRUE(refs.insert(t.ref_id).second) << "duplicate refId " << t.ref_id;
        EXPECT_FALSE(t.expr.empty()) << t.ref_id;
        EXPECT_FALSE(t.legend.empty()) << t.ref_id;
        EXPECT_EQ(t.ds_type, "prometheus") << t.ref_id;
        EXPECT_EQ(t.ds_uid, kDatasourceUid) << t.ref_id;
        if (p.type == "table") {
          EXPECT_EQ(t.format, "table") << t.ref_id;
          EXPECT_TRUE(t.instant) << t.ref_id;
        }
        if (t.format == "heatmap") {  // buckets, by le, named by le
          EXPECT_NE(t.expr.find("_bucket"), std::string::npos) << t.expr;
          EXPECT_TRUE(promql_names(t.expr).labels.count("le")) << t.expr;
          EXPECT_EQ(t.legend, "{{le}}");
        }
      }
    }
    for (size_t i = 0; i < d.panels.size(); ++i) {
      for (size_t j = i + 1; j < d.panels.size(); ++j) {
        const Panel& a = d.panels[i];
        const Panel& b = d.panels[j];
        const bool apart =
            a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y;
        EXPECT_TRUE(apart) << "'" << a.title << "' overlaps '" << b.title << "'";
      }
    }

    // Variables: well-formed, each one used, and every reference defined (or a built-in).
    std::set<std::string> names, used;
    for (const auto& v : d.variables) {
      SCOPED_TRACE("variable " + v.name);
      EXPECT_TRUE(std::regex_match(v.name, std::regex("[A-Za-z_][A-Za-z0-9_]*")));
      EXPECT_TRUE(names.insert(v.name).second) << "duplicate";
      if (v.include_all) {
        EXPECT_EQ(v.all_value, ".*") << "All must match every value, empty too";
      }
      if (v.type == "query") {
        EXPECT_EQ(v.ds_uid, kDatasourceUid);
        EXPECT_EQ(v.definition, v.query);
        EXPECT_TRUE(parse_label_values(v.query).has_value()) << v.query;
        EXPECT_TRUE(v.refresh == 1 || v.refresh == 2) << "refreshed on load or on time change";
        for (const auto& r : variable_refs(v.query)) used.insert(r);
      } else if (v.type == "custom") {
        std::vector<std::string> values;
        std::stringstream s(v.query);
        for (std::string item; std::getline(s, item, ',');) values.push_back(item);
        EXPECT_FALSE(values.empty());
        EXPECT_EQ(v.options, values);
        EXPECT_NE(std::find(values.begin(), values.end(), v.current), values.end()) << v.current;
      } else {
        ADD_FAILURE() << "unexpected variable type " << v.type;
      }
    }
    for (const auto& p : d.panels) {
      for (const auto& r : variable_refs(p.title)) used.insert(r);
      for (const auto& t : p.targets) {
        for (const auto& r : variable_refs(t.expr)) {
          EXPECT_TRUE(names.count(r) || kBuiltins.count(r))
              << "'" << p.title << "' uses $" << r << ", which is not defined";
          used.insert(r);
        }
      }
    }
    for (const auto& n : names) EXPECT_TRUE(used.count(n)) << "variable " << n << " is not used";
  }

  // The models dashboard: model, version and window, the window's values those verity exports.
  const Dashboard& models = dashboards[1];
  std::map<std::string, Variable> vars;
  for (const auto& v : models.variables) vars[v.name] = v;
  ASSERT_TRUE(vars.count("model") && vars.count("version") && vars.count("window"));
  EXPECT_EQ(vars["model"].query, "label_values(verity_model_predictions, model)");
  EXPECT_EQ(vars["version"].query,
            R"(label_values(verity_model_predictions{model=~"$model"}, version))");
  EXPECT_EQ(vars["window"].type, "custom");
  std::vector<std::string> windows;
  for (const auto& w : verity_defaults()["metrics"]["models"]["windows"]) {
    windows.push_back(w.as<std::string>());
  }
  EXPECT_EQ(vars["window"].options, windows);
  // Every model gauge is read for the selected model, version and one window (the gauges of
  // several windows of one version would otherwise mix in one line).
  for (const auto& p : models.panels) {
    for (const auto& t : p.targets) {
      for (const auto& m : promql_names(t.expr).metrics) {
        if (m.rfind("verity_model_", 0) != 0 || m == "verity_model_series_capped_total") continue;
        const std::string selector =
            m + R"({model=~"$model",version=~"$version",window="$window"})";
        EXPECT_NE(t.expr.find(selector), std::string::npos) << p.title << ": " << t.expr;
      }
    }
  }
  // The overview selects every series by the job and instance variables.
  for (const auto& p : dashboards[0].panels) {
    for (const auto& t : p.targets) {
      EXPECT_NE(t.expr.find(R"(instance=~"$instance")"), std::string::npos) << p.title;
    }
  }
}

// ------------------------------------------------------------------ a live verity, exercised

// A verity with every kind of series the dashboards read: predictions on all four inputs (Beats
// in Filebeat's envelope), a binary and a regression model with labels, a label still waiting,
// rejects (more than dead_letters.max_per_batch in one request), a duplicate conflict, identical
// replays, a Beats protocol error, masked values, a sealed partition, capped feature gauges and
// the Elasticsearch shipper delivering to a fake Elasticsearch.
class LiveVerity {
 public:
  LiveVerity()
      : server_(dir_.path() / "data",
                "metrics:\n  models:\n    refresh_interval: 200ms\n    max_features: 2\n"
                "store:\n  maintenance_interval: 1s\n"
                "dead_letters:\n  max_per_batch: 1\n"
                "models:\n  fraud:\n    quality:\n      features:\n"
                "        amount: {type: number, min: 0, max: 300}\n"
                "outputs:\n  elasticsearch:\n    hosts: [" +
                    es_.url() +
                    "]\n    flush_interval: 100ms\n    initial_backoff: 50ms\n"
                    "    max_backoff: 500ms\n") {}

  const ServerProcess& server() const { return server_; }
  const fs::path& dir() const { return dir_.path(); }

  void start_and_feed() {
    server_.start();
    const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    std::vector<std::string> fraud, price, labels;
    for (int i = 0; i < 60; ++i) {
      const std::string ts = std::to_string(now - i * 2000);
      const char* label = i % 2 ? "true" : "false";
      fraud.push_back(R"({"request_id":"f-)" + std::to_string(i) + R"(","timestamp":)" + ts +
                      R"(,"model":{"name":"fraud","version":"v7"},"inputs":{"amount":)" +
                      std::to_string(7 * i) + R"(,"contact":"user)" + std::to_string(i) +
                      R"(@example.com"},"prediction":{"label":)" + label + R"(,"score":0.)" +
                      std::to_string(i % 10) + R"(},"confidence":0.)" + std::to_string(i % 10) +
                      "}");
      price.push_back(R"({"request_id":"r-)" + std::to_string(i) + R"(","timestamp":)" + ts +
                      R"(,"model":{"name":"price","version":"v2"},"inputs":{"rooms":)" +
                      std::to_string(i % 5 + 1) + R"(,"area":)" + std::to_string(30 + i) +
                      R"(,"floor":)" + std::to_string(i % 4) + R"(},"prediction":{"value":)" +
                      std::to_string(100 + i) + R"(},"confidence":0.8})");
      if (i < 45) {
        labels.push_back(R"({"request_id":"f-)" + std::to_string(i) + R"(","ground_truth":)" +
                         (i % 3 == 0 ? "true" : "false") + "}");
        labels.push_back(R"({"request_id":"r-)" + std::to_string(i) + R"(","ground_truth":)" +
                         std::to_string(100 + i + i % 7) + "}");
      }
    }
    // HTTP: the fraud model, then five identical replays (duplicates) and a conflict (a
    // different document under a stored request id).
    ASSERT_NO_FATAL_FAILURE(post("/v1/predictions", join(fraud, 5, fraud.size()), 200));
    ASSERT_NO_FATAL_FAILURE(post("/v1/predictions", join(fraud, 5, 10), 200));
    ASSERT_NO_FATAL_FAILURE(
        post("/v1/predictions",
             R"({"request_id":"f-5","timestamp":1,"model":"fraud","prediction":{"label":true}})"
             "\n",
             400));  // no line stored: 400, the conflict dead-lettered
    // Beats: the first five fraud predictions as Filebeat sends a log line.
    {
      std::vector<std::string> events;
      for (size_t i = 0; i < 5; ++i) events.push_back(envelope(fraud[i], i));
      TcpClient beats(server_.beats());
      beats.send(lj_window_of(events, true));
      ASSERT_EQ(read_ack(beats, 30s), 5u) << server_.log();
    }
    // NDJSON over TCP: the price model; the Elasticsearch bulk API: one more price prediction.
    send_ndjson(server_.tcp(), join(price, 1, price.size()));
    ASSERT_NO_FATAL_FAILURE(post("/_bulk",
                                 R"({"create":{"_index":"logs-ml-default"}})"
                                 "\n" +
                                     price[0] + "\n",
                                 200, "Content-Type: application/x-ndjson"));
    // A prediction three days old: its partition is sealed by the next maintenance pass.
    ASSERT_NO_FATAL_FAILURE(post("/v1/predictions",
                                 R"({"request_id":"old-1","timestamp":)" +
                                     std::to_string(now - 3 * 86'400'000LL) +
                                     R"(,"model":{"name":"legacy","version":"v1"},)"
                                     R"("inputs":{"x":1},"prediction":{"label":"a"}})"
                                     "\n",
                                 200));
    // Labels, and one whose prediction has not come.
    labels.push_back(R"({"request_id":"not-yet","ground_truth":true})");
    ASSERT_NO_FATAL_FAILURE(post("/v1/labels", join(labels, 0, labels.size()), 200));
    // Three invalid lines in one request: rejected, two of them past max_per_batch.
    ASSERT_NO_FATAL_FAILURE(post("/v1/predictions", "{bad\n{bad\n{bad\n", 400));
    // Not Lumberjack at all: the connection is closed as a protocol error.
    {
      TcpClient bad(server_.beats());
      bad.send("GET / HTTP/1.1\r\n\r\n");
      EXPECT_TRUE(bad.closed_by_server(10s));
    }

    // Everything stored, shipped (labels too), sealed and in the model gauges.
    const std::string& url = server_.http_url();
    EXPECT_GE(wait_for_at_least(url, "verity_labels_joined_total", 90), 90) << server_.log();
    EXPECT_GE(wait_for_at_least(url, R"(verity_store_maintenance_actions_total{action="seal"})", 1),
              1);
    EXPECT_GE(wait_for_at_least(url, "verity_shipper_labels_total", 1), 1) << server_.log();
    EXPECT_EQ(wait_for_metric(url, R"(verity_shipper_backlog{unit="events"})", 0), 0);
    EXPECT_GE(
        wait_for_at_least(
            url, R"(verity_ingest_protocol_errors_total{input="beats",reason="protocol_error"})",
            1),
        1);
    EXPECT_GE(wait_for_at_least(url, R"(verity_model_series_capped_total{limit="features"})", 1),
              1);
    EXPECT_GT(wait_for_at_least(
                  url, R"(verity_model_accuracy{model="fraud",version="v7",window="1h"})", 0.01),
              0);
    EXPECT_GT(
        wait_for_at_least(
            url, R"(verity_model_mean_absolute_error{model="price",version="v2",window="1h"})",
            0.01),
        0);
  }

 private:
  static std::string join(const std::vector<std::string>& lines, size_t from, size_t to) {
    std::string out;
    for (size_t i = from; i < to; ++i) out += lines[i] + "\n";
    return out;
  }

  static std::string json_string(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    return out + "\"";
  }

  // What Filebeat's filestream input sends for one line of a log file.
  static std::string envelope(const std::string& line, size_t offset) {
    return R"({"@timestamp":"2026-11-30T00:00:00.000Z","@metadata":{"beat":"filebeat",)"
           R"("type":"_doc","version":"8.15.0"},"message":)" +
           json_string(line) +
           R"(,"input":{"type":"filestream"},"agent":{"type":"filebeat","version":"8.15.0",)"
           R"("name":"svc-1"},"host":{"name":"svc-1"},"log":{"offset":)" +
           std::to_string(offset * 512) +
           R"(,"file":{"path":"/var/log/ml-service/predictions.ndjson"}}})";
  }

  void post(const std::string& path, const std::string& body, int status,
            const std::string& header = "") {
    std::vector<std::string> headers;
    if (!header.empty()) headers.push_back(header);
    auto r = app::http_request("POST", server_.http_url() + path, body, headers, 60'000);
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    ASSERT_EQ(r->status, status) << path << ": " << r->body;
  }

  TempDir dir_;
  FakeElasticsearch es_;
  ServerProcess server_;
};

// Metric names and label names in a Prometheus text exposition.
struct Exposition {
  std::set<std::string> metrics, labels;
};

Exposition read_exposition(const std::string& text) {
  Exposition out;
  std::stringstream s(text);
  for (std::string line; std::getline(s, line);) {
    if (line.rfind("# TYPE ", 0) == 0) {
      std::stringstream t(line.substr(7));
      std::string name, type;
      t >> name >> type;
      if (type == "histogram") {
        for (const char* suffix : {"_bucket", "_sum", "_count"}) out.metrics.insert(name + suffix);
      }
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    size_t i = 0;
    while (i < line.size() && ident_char(line[i])) ++i;
    out.metrics.insert(line.substr(0, i));
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        const size_t eq = line.find('=', i);
        if (eq == std::string::npos) break;
        out.labels.insert(line.substr(i, eq - i));
        i = skip_string(line, eq + 1);
        if (i < line.size() && line[i] == ',') ++i;
      }
    }
  }
  return out;
}

TEST(Dashboards, UseOnlyMetricsAndLabelsVerityExports) {
  LiveVerity live;
  ASSERT_NO_FATAL_FAILURE(live.start_and_feed());
  auto metrics = app::http_get(live.server().http_url() + "/metrics");
  ASSERT_TRUE(metrics.is_ok());
  Exposition known = read_exposition(metrics->body);
  ASSERT_TRUE(known.metrics.count("verity_store_commit_latency_seconds_bucket"));
  ASSERT_TRUE(known.metrics.count("verity_model_feature_out_of_range_ratio"));
  // Prometheus adds these to every series it scrapes, and `up` for every target.
  known.labels.insert({"job", "instance"});
  known.metrics.insert("up");
  static const std::set<std::string> kFunctions = {
      "sum",    "min",      "max", "avg", "count", "topk", "rate", "increase", "histogram_quantile",
      "vector", "sort_desc"};

  std::set<std::string> used;
  for (const auto& d : load_all()) {
    for (const auto& p : d.panels) {
      for (const auto& t : p.targets) {
        const Names n = promql_names(t.expr);
        EXPECT_FALSE(n.metrics.empty()) << p.title << ": no metric found in " << t.expr;
        for (const auto& m : n.metrics) {
          EXPECT_TRUE(known.metrics.count(m)) << d.file << " '" << p.title << "' " << t.ref_id
                                              << ": " << m << " is not a metric verity exports";
          used.insert(m);
        }
        for (const auto& l : n.labels) {
          EXPECT_TRUE(known.labels.count(l) || l == "le")
              << d.file << " '" << p.title << "': label " << l << " is not one verity exports";
        }
        for (const auto& f : n.functions) {
          EXPECT_TRUE(kFunctions.count(f)) << p.title << ": function " << f;
        }
        if (t.legend != "__auto") {
          for (const auto& l : legend_labels(t.legend)) {
            EXPECT_TRUE(known.labels.count(l)) << p.title << ": legend names " << l;
          }
        }
      }
    }
    for (const auto& v : d.variables) {
      if (auto lv = parse_label_values(v.query)) {
        for (const auto& m : promql_names(lv->first).metrics) {
          EXPECT_TRUE(known.metrics.count(m)) << v.name << ": " << m;
        }
        EXPECT_TRUE(known.labels.count(lv->second)) << v.name << ": " << lv->second;
      }
    }
  }
  // The core of what verity exports is on a dashboard.
  for (const char* m :
       {"verity_ingest_events_received_total", "verity_ingest_events_rejected_total",
        "verity_store_commit_latency_seconds_bucket", "verity_store_queue_depth",
        "verity_store_partitions", "verity_store_disk_bytes", "verity_shipper_backlog",
        "verity_shipper_lag_seconds", "verity_labels_joined_total", "verity_model_accuracy",
        "verity_model_f1", "verity_model_roc_auc", "verity_model_log_loss",
        "verity_model_mean_absolute_error", "verity_model_root_mean_squared_error",
        "verity_model_label_coverage_ratio", "verity_model_confidence_mean",
        "verity_model_feature_null_ratio", "verity_model_feature_psi"}) {
    EXPECT_TRUE(used.count(m)) << m << " is on no dashboard";
  }
}

// ------------------------------------------------------------------ (b) through Prometheus

std::string prometheus_get(uint16_t port, const std::string& path_and_query) {
  auto r = app::http_get("http://127.0.0.1:" + std::to_string(port) + path_and_query, 30'000);
  if (!r.is_ok()) return "";
  return r->body;
}

struct QueryAnswer {
  bool answered = false;  // Prometheus answered in JSON (success or a query error)
  bool success = false;
  size_t series = 0;
  std::string body;
};

QueryAnswer instant_query(uint16_t port, const std::string& expr) {
  QueryAnswer a;
  a.body = prometheus_get(port, "/api/v1/query?query=" + app::url_encode_segment(expr));
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(a.body).get(root) != simdjson::SUCCESS) return a;
  a.answered = true;
  a.success = str(root, "status") == "success";
  simdjson::dom::array result;
  if (root.at_pointer("/data/result").get(result) == simdjson::SUCCESS) a.series = result.size();
  return a;
}

// The panels that must show data on a verity that has ingested, joined labels and shipped.
const std::map<std::string, std::vector<std::string>> kCorePanels = {
    {"verity-overview.json",
     {"Verity up",
      "Store writable",
      "Shipper delivering",
      "Events stored",
      "Commit latency p99",
      "Events received by input",
      "Stored and duplicate events by input",
      "Rejected events by reason",
      "Dead-lettered events by reason",
      "Connections closed by protocol errors",
      "Ingest bytes by input",
      "Connections by input",
      "Ingest memory",
      "Commit latency",
      "Commit latency distribution",
      "Commit queue depth",
      "Events per commit group",
      "Failed commits (retried)",
      "Partitions by tier",
      "Disk and raw bytes by tier",
      "RocksDB memory",
      "RocksDB compaction backlog",
      "Tier maintenance actions",
      "Label joins",
      "Labels waiting for their prediction",
      "Label lag over the last hour",
      "Shipper backlog",
      "Shipper lag",
      "_bulk requests by outcome",
      "Bulk items by status",
      "Labels and erasures shipped",
      "Dead-letter store size",
      "Dead letters not kept",
      "Masked values"}},
    {"verity-models.json",
     {"Model versions",
      "Accuracy",
      "F1",
      "Precision and recall",
      "ROC AUC and average precision",
      "Log loss and Brier score",
      "Calibration error",
      "Scores contradicting the predicted label",
      "MAE and RMSE",
      "MAPE",
      "R²",
      "Label coverage",
      "Mean label lag",
      "Predictions and labelled predictions",
      "Label lag distribution (all models)",
      "Label joins (all models)",
      "Mean confidence",
      "Mean confidence minus accuracy",
      "Feature drift (PSI)",
      "Feature null ratio",
      "Type mismatches and out-of-range values",
      "Most drifted features",
      "Features",
      "Series left out of the model gauges"}}};

// The shipped prometheus.yml, made to scrape this test's verity every second.
std::string test_prometheus_config(const HostPort& verity) {
  const fs::path shipped = kSource / "config" / "prometheus" / "prometheus.yml";
  YAML::Node config = YAML::LoadFile(shipped.string());
  config["global"]["scrape_interval"] = "1s";
  config["global"]["scrape_timeout"] = "1s";
  config["global"]["evaluation_interval"] = "1s";
  YAML::Node rules(YAML::NodeType::Sequence);
  for (const auto& r : config["rule_files"]) {
    rules.push_back((shipped.parent_path() / r.as<std::string>()).string());
  }
  config["rule_files"] = rules;
  for (auto job : config["scrape_configs"]) {
    if (job["scrape_interval"]) job["scrape_interval"] = "1s";
    if (job["scrape_timeout"]) job["scrape_timeout"] = "1s";
    YAML::Node targets(YAML::NodeType::Sequence);
    targets.push_back(verity.to_string());
    job["static_configs"][0]["targets"] = targets;
  }
  YAML::Emitter out;
  out << config;
  return out.c_str();
}

// Grafana's regex escaping of a single value in a =~ matcher, inside a PromQL string.
std::string grafana_regex_escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (std::string("[$^*+?.()|\\]{}").find(c) != std::string::npos) out += "\\\\";
    out += c;
  }
  return out;
}

TEST(Dashboards, EveryPanelQueryRunsInARealPrometheusAndTheCorePanelsHaveData) {
  LiveVerity live;
  ASSERT_NO_FATAL_FAILURE(live.start_and_feed());
  const auto dashboards = load_all();

  const uint16_t port = free_port();
  const fs::path config = live.dir() / "prometheus.yml";
  std::ofstream(config) << test_prometheus_config(live.server().http());
  ChildProcess prometheus({"prometheus", "--config.file=" + config.string(),
                           "--storage.tsdb.path=" + (live.dir() / "tsdb").string(),
                           "--web.listen-address=127.0.0.1:" + std::to_string(port)},
                          live.dir() / "prometheus.log");

  // The value sets an importer would pick: everything (All), one model version, several models.
  const std::string instance = live.server().http().to_string();
  const std::vector<std::map<std::string, std::string>> selections = {
      {{"job", ".*"}, {"instance", ".*"}, {"model", ".*"}, {"version", ".*"}, {"window", "1h"}},
      {{"job", "verity"},
       {"instance", grafana_regex_escape(instance)},
       {"model", "fraud"},
       {"version", "v7"},
       {"window", "24h"}},
      {{"job", "(verity)"},
       {"instance", "(" + grafana_regex_escape(instance) + ")"},
       {"model", "(fraud|price)"},
       {"version", "(v7|v2)"},
       {"window", "5m"}}};

  // Wait until every target of every core panel has a series with everything selected. A query
  // Prometheus refuses, or a core panel that is not there, ends the wait at once: time mends
  // neither.
  ASSERT_TRUE(wait_until([&] { return instant_query(port, "up").success; }, 60s))
      << prometheus.log();
  std::string missing, broken;
  const bool ready = wait_until(
      [&] {
        missing.clear();
        for (const auto& d : dashboards) {
          for (const auto& title : kCorePanels.at(d.file)) {
            const Panel* p = find_panel(d, title);
            if (p == nullptr) {
              broken += d.file + ": no panel '" + title + "'\n";
              continue;
            }
            for (const auto& t : p->targets) {
              const auto a = instant_query(port, substitute(t.expr, selections[0]));
              const std::string what = d.file + " '" + title + "' " + t.ref_id + ": " + t.expr;
              if (a.answered && !a.success) {
                broken += what + "\n" + a.body + "\n";
              } else if (a.series == 0) {
                missing += what + "\n";
              }
            }
          }
        }
        return missing.empty() || !broken.empty();
      },
      120s);
  ASSERT_TRUE(broken.empty()) << broken;
  ASSERT_TRUE(ready) << "core panels without data:\n"
                     << missing << prometheus.log() << live.server().log();

  // Every target of every panel, for every selection: a query Prometheus runs without error.
  size_t queries = 0;
  for (const auto& d : dashboards) {
    for (const auto& values : selections) {
      for (const auto& p : d.panels) {
        for (const auto& t : p.targets) {
          const std::string expr = substitute(t.expr, values);
          EXPECT_EQ(expr.find('$'), std::string::npos) << "left unsubstituted: " << expr;
          const auto a = instant_query(port, expr);
          EXPECT_TRUE(a.success) << d.file << " '" << p.title << "' " << t.ref_id << ": " << expr
                                 << "\n"
                                 << a.body;
          ++queries;
        }
      }
    }
  }
  EXPECT_GT(queries, 150u);

  // One model version selected: its panels show it.
  const Panel* accuracy = find_panel(dashboards[1], "Accuracy");
  ASSERT_NE(accuracy, nullptr);
  EXPECT_EQ(instant_query(port, substitute(accuracy->targets[0].expr, selections[1])).series, 1u);

  // The variables' queries, as Grafana runs label_values(): the label values API with a match[].
  const std::map<std::string, std::set<std::string>> expected = {{"job", {"verity"}},
                                                                 {"instance", {instance}},
                                                                 {"model", {"fraud", "price"}},
                                                                 {"version", {"v7", "v2"}}};
  for (const auto& d : dashboards) {
    for (const auto& v : d.variables) {
      const auto lv = parse_label_values(v.query);
      if (!lv) continue;
      const std::string body =
          prometheus_get(port, "/api/v1/label/" + lv->second + "/values?match[]=" +
                                   app::url_encode_segment(substitute(lv->first, selections[0])));
      simdjson::dom::parser parser;
      simdjson::dom::element root;
      ASSERT_EQ(parser.parse(body).get(root), simdjson::SUCCESS) << body;
      EXPECT_EQ(str(root, "status"), "success") << body;
      std::set<std::string> values;
      simdjson::dom::array data;
      ASSERT_EQ(root["data"].get(data), simdjson::SUCCESS) << body;
      for (simdjson::dom::element e : data) {
        std::string_view s;
        if (e.get(s) == simdjson::SUCCESS) values.emplace(s);
      }
      for (const auto& want : expected.at(v.name)) {
        EXPECT_TRUE(values.count(want)) << v.name << " lacks " << want << ": " << body;
      }
    }
  }

  // The shipped scrape config reached verity, and the shipped rules evaluate without errors.
  const std::string targets = prometheus_get(port, "/api/v1/targets");
  EXPECT_NE(targets.find(R"("job":"verity")"), std::string::npos) << targets;
  EXPECT_NE(targets.find(R"("health":"up")"), std::string::npos) << targets;
  std::string rules;
  EXPECT_TRUE(wait_until(
      [&] {
        rules = prometheus_get(port, "/api/v1/rules");
        return rules.find(R"("health":"unknown")") == std::string::npos &&
               rules.find("VerityModelAccuracyDrop") != std::string::npos;
      },
      60s))
      << rules;
  EXPECT_EQ(rules.find(R"("health":"err")"), std::string::npos) << rules;
  EXPECT_TRUE(prometheus.running()) << prometheus.log();
}

// ------------------------------------------------------------------ (c) the stack configs

// Filebeat reads "output.logstash: {...}" and "output: {logstash: {...}}" alike. An undefined
// node when the setting is absent.
YAML::Node beat_setting(const YAML::Node& node, const std::string& dotted) {
  const YAML::Node absent(YAML::NodeType::Undefined);
  if (!node || !node.IsMap()) return absent;
  if (node[dotted]) return node[dotted];
  for (size_t dot = dotted.find('.'); dot != std::string::npos; dot = dotted.find('.', dot + 1)) {
    const YAML::Node head = node[dotted.substr(0, dot)];
    if (head) {
      if (YAML::Node found = beat_setting(head, dotted.substr(dot + 1))) return found;
    }
  }
  return absent;
}

TEST(StackConfigs, FilebeatAndPrometheusConfigsNameVeritysDefaults) {
  const YAML::Node defaults = verity_defaults();
  const std::string beats_listen = defaults["inputs"]["beats"]["listen"].as<std::string>();
  const std::string http_listen = defaults["http"]["listen"].as<std::string>();
  ASSERT_EQ(beats_listen, "127.0.0.1:5044");
  ASSERT_EQ(http_listen, "127.0.0.1:9280");
  // The Filebeat configs leave each line in `message`: Verity must open that envelope.
  ASSERT_TRUE(defaults["envelope"]["enabled"].as<bool>());

  for (const char* file : {"filebeat.yml", "filebeat-elasticsearch.yml"}) {
    SCOPED_TRACE(file);
    YAML::Node fb;
    ASSERT_NO_THROW(fb = YAML::LoadFile((kSource / "config" / "filebeat" / file).string()));
    const YAML::Node inputs = beat_setting(fb, "filebeat.inputs");
    ASSERT_TRUE(inputs && inputs.IsSequence() && inputs.size() >= 1);
    std::set<std::string> ids;
    for (const auto& in : inputs) {
      EXPECT_EQ(in["type"].as<std::string>(), "filestream");
      EXPECT_TRUE(ids.insert(in["id"].as<std::string>("")).second);
      EXPECT_FALSE(in["id"].as<std::string>("").empty()) << "filestream needs an id";
      ASSERT_TRUE(in["paths"] && in["paths"].IsSequence() && in["paths"].size() >= 1);
      // No ndjson or multiline parser rewrites the line: Verity stores it as sent.
      EXPECT_FALSE(in["parsers"]) << "a parser would rewrite the message Verity stores";
    }
    const YAML::Node logstash = beat_setting(fb, "output.logstash");
    const YAML::Node elasticsearch = beat_setting(fb, "output.elasticsearch");
    EXPECT_NE(static_cast<bool>(logstash), static_cast<bool>(elasticsearch)) << "one output";
    const int64_t queue = beat_setting(fb, "queue.mem.events").as<int64_t>(0);
    if (std::string(file) == "filebeat.yml") {
      ASSERT_TRUE(logstash);
      ASSERT_EQ(logstash["hosts"].size(), 1u);
      EXPECT_EQ(logstash["hosts"][0].as<std::string>(), beats_listen);
      const auto bulk = logstash["bulk_max_size"].as<int64_t>();
      const auto pipelining = logstash["pipelining"].as<int64_t>();
      const auto worker = logstash["worker"].as<int64_t>();
      EXPECT_GT(bulk, 0);
      EXPECT_LE(bulk, defaults["inputs"]["beats"]["max_window"].as<int64_t>());
      EXPECT_GE(pipelining, 1);
      EXPECT_GE(worker, 1);
      EXPECT_GE(queue, bulk * pipelining * worker) << "the queue feeds every window in flight";
      EXPECT_FALSE(logstash["ssl"]) << "Verity's Beats TLS is off by default";
      EXPECT_FALSE(beat_setting(logstash, "ssl.enabled"));
    } else {
      ASSERT_TRUE(elasticsearch);
      ASSERT_EQ(elasticsearch["hosts"].size(), 1u);
      EXPECT_EQ(elasticsearch["hosts"][0].as<std::string>(), "http://" + http_listen);
      const auto bulk = elasticsearch["bulk_max_size"].as<int64_t>();
      EXPECT_GT(bulk, 0);
      EXPECT_LE(bulk, defaults["http"]["elasticsearch"]["max_actions"].as<int64_t>());
      EXPECT_GE(queue, bulk * elasticsearch["worker"].as<int64_t>(1));
      EXPECT_EQ(elasticsearch["preset"].as<std::string>(), "custom")
          << "a preset would override bulk_max_size and worker";
      EXPECT_TRUE(elasticsearch["allow_older_versions"].as<bool>());
    }
  }

  // prometheus.yml scrapes verity's HTTP listener and loads the shipped rules, by a path relative
  // to its own directory (as Prometheus resolves rule_files).
  const fs::path prom_file = kSource / "config" / "prometheus" / "prometheus.yml";
  const YAML::Node prom = YAML::LoadFile(prom_file.string());
  bool scraped = false;
  for (const auto& job : prom["scrape_configs"]) {
    EXPECT_EQ(job["metrics_path"].as<std::string>("/metrics"), "/metrics");
    for (const auto& sc : job["static_configs"]) {
      for (const auto& t : sc["targets"]) scraped = scraped || t.as<std::string>() == http_listen;
    }
  }
  EXPECT_TRUE(scraped) << "no scrape target " << http_listen;
  bool alerts = false;
  for (const auto& r : prom["rule_files"]) {
    const fs::path rel = r.as<std::string>();
    EXPECT_TRUE(rel.is_relative()) << rel;
    EXPECT_TRUE(fs::exists(prom_file.parent_path() / rel)) << rel;
    alerts = alerts || rel.filename() == "verity-alerts.yml";
  }
  EXPECT_TRUE(alerts);
}

}  // namespace
}  // namespace verity::testing
