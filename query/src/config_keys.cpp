#include "verity/query/config_keys.h"

#include "verity/query/model_quality.h"

namespace verity::query {

void declare_keys(config::Section& s, SearchOptions& o) {
  s.count("max_limit", o.max_limit, 1, 1'000'000,
          "most hits a page (export pages through them with the cursor)");
  s.count("scan_budget", o.scan_budget, 1, 1'000'000'000,
          "records read per page; past it the page ends (truncated) with a cursor");
  config::Key window;
  window.name = "default_window";
  window.type = config::Type::kDuration;
  window.range = "more than 0";
  window.doc = "without model= and from=, the window is the last this long";
  window.get = [&o]() -> std::optional<config::Value> {
    return format_duration(Duration(o.default_window_ms));
  };
  window.set = [&o](const config::Value& v) -> std::string {
    const std::string* text = config::scalar_of(v);
    if (text == nullptr) return "expected a duration such as 500ms, 5s, 2m, 1h or 7d";
    auto d = parse_duration(*text);
    if (!d) return d.status().message();
    if (d->count() <= 0) return "must be positive";
    o.default_window_ms = d->count();
    return "";
  };
  s.custom(std::move(window));
  s.check([&o](config::Problems&) { o.default_limit = std::min(o.default_limit, o.max_limit); });
}

void declare_indexed_fields(config::Section& s, IndexedFields& fields) {
  config::Key k;
  k.name = "indexed_fields";
  k.type = config::Type::kListMap;
  k.range = "at most 64 per model";
  k.doc =
      "per model (\"*\": every model), document paths a query finds through an index; a change "
      "is applied at the next start (the index is rebuilt then: one pass)";
  k.get = [&fields]() -> std::optional<config::Value> {
    config::ListMap out(fields.begin(), fields.end());
    return out;
  };
  k.set = [&fields](const config::Value& v) -> std::string {
    const auto* map = std::get_if<config::ListMap>(&v);
    if (map == nullptr) return "expected a mapping of model names to lists of fields";
    std::string problems;
    auto problem = [&problems](const std::string& model, const std::string& what) {
      problems += (problems.empty() ? "" : "; ") + model + ": " + what;
    };
    IndexedFields parsed;
    for (const auto& [model, list] : *map) {
      if (model.empty()) problem(model, "a model name (or \"*\" for every model) is required");
      if (list.size() > 64) problem(model, "at most 64 fields per model");
      for (const auto& f : list) {
        if (f.empty() || f.size() > 256) {
          problem(model, "a field is a dotted document path of 1 to 256 bytes");
        } else if (!SearchIndexer::field_name(f)) {
          problem(model, "'" + f +
                             "' is Verity's own field or the label's: only document paths are "
                             "indexed");
        }
      }
      parsed[model] = list;
    }
    if (!problems.empty()) return problems;
    fields = std::move(parsed);
    return "";
  };
  s.custom(std::move(k));
  s.example("fraud: [user_id, input_features.region]\n\"*\": [customer.id]");
}

void declare_keys(config::Section& s, ModelExportOptions& o) {
  s.count("max_models", o.max_models, 0, 100000,
          "the most recently predicting models are exported, the rest are not "
          "(verity_model_series_capped_total)");
  s.count("max_versions", o.max_versions, 1, 1000,
          "per model, the most recently predicting versions");
  s.count("max_features", o.max_features, 0, 10000,
          "per model version, input features (by name) with data-quality and PSI gauges");
  config::Key windows;
  windows.name = "windows";
  windows.type = config::Type::kStrings;
  windows.range = "5m, 1h, 24h, 7d, 30d or <n>m|h|d";
  windows.doc = "the windows each gauge is computed over";
  windows.get = [&o]() -> std::optional<config::Value> { return o.windows; };
  windows.set = [&o](const config::Value& v) -> std::string {
    const auto* list = std::get_if<std::vector<std::string>>(&v);
    if (list == nullptr) return "expected a list of windows";
    for (const auto& w : *list) {
      if (!parse_window(w)) return "'" + w + "': expected 5m, 1h, 24h, 7d, 30d or <n>m|h|d";
    }
    o.windows = *list;
    return "";
  };
  s.custom(std::move(windows));
  s.duration("refresh_interval", o.refresh_interval, Duration(0),
             "how often the gauges are recomputed from the aggregates");
}

}  // namespace verity::query
