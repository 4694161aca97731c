#include "verity/app/config.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "verity/app/config_reader.h"
#include "verity/core/http.h"
#include "verity/document/json_writer.h"
#include "verity/query/model_quality.h"

namespace verity::app {
namespace {

constexpr document::Field kAllFields[] = {
    document::Field::kRequestId,      document::Field::kTimestamp,   document::Field::kModelName,
    document::Field::kModelVersion,   document::Field::kInputs,      document::Field::kOutputs,
    document::Field::kPredictedValue, document::Field::kScore,       document::Field::kConfidence,
    document::Field::kExplanations,   document::Field::kGroundTruth, document::Field::kLatency,
    document::Field::kLabelTime};

std::string sync_name(store::SyncPolicy p) {
  switch (p) {
    case store::SyncPolicy::kAlways:
      return "always";
    case store::SyncPolicy::kGroup:
      return "group";
    case store::SyncPolicy::kNone:
      return "none";
  }
  return "group";
}

// A class value as JSON text: YAML's true/false and numbers as they are, anything else a string.
std::string class_json(const std::string& v) {
  if (v.empty()) return "";
  if (v == "true" || v == "false") return v;
  char* end = nullptr;
  std::strtod(v.c_str(), &end);
  if (end == v.c_str() + v.size()) return v;
  std::string out;
  document::append_json_string(out, v);
  return out;
}

std::vector<document::JsonPointer> read_pointers(
    ConfigReader& r, std::string_view key, const std::vector<document::JsonPointer>& current) {
  std::vector<std::string> texts;
  for (const auto& p : current) texts.push_back(p.text);
  r.get(key, texts);
  std::vector<document::JsonPointer> out;
  for (const auto& t : texts) {
    auto p = document::parse_json_pointer(t);
    if (!p || t.empty()) {
      r.error(key, "'" + t + "': expected a JSON pointer such as /prediction/label");
      continue;
    }
    out.push_back(std::move(p).value());
  }
  return out;
}

// metrics.quality and models.<name>.quality.
void read_quality(ConfigReader& r, quality::ModelQualityConfig& q) {
  std::string task = q.task ? quality::task_name(*q.task) : "inferred";
  r.get_choice("task", task, {"inferred", "binary", "multiclass", "regression"});
  q.task = quality::parse_task(task);
  q.predicted = read_pointers(r, "predicted", q.predicted);
  q.score = read_pointers(r, "score", q.score);
  q.probabilities = read_pointers(r, "probabilities", q.probabilities);
  std::string semantics =
      q.score_semantics ? quality::score_semantics_name(*q.score_semantics) : "inferred";
  r.get_choice("score_semantics", semantics,
               {"inferred", "positive_class_probability", "other_class_probability",
                "predicted_class_confidence", "class_probabilities"});
  q.score_semantics = quality::parse_score_semantics(semantics);
  std::string positive;
  r.get("positive_class", positive);
  if (!positive.empty()) q.positive_class = class_json(positive);
  r.get("max_classes", q.max_classes, 2, 10000);
  r.get("max_features", q.max_features, 0, 10000);
  size_t days = q.baseline_days;
  r.get("baseline_days", days, 1, 3650);
  q.baseline_days = static_cast<uint32_t>(days);
  if (r.has("baseline")) {
    auto b = r.child("baseline");
    for (auto [name, target] : {std::pair{"from", &q.baseline_from}, {"to", &q.baseline_to}}) {
      std::string text;
      b.get(name, text);
      if (auto t = parse_rfc3339(text); t) {
        *target = *t;
      } else {
        b.error(name, "'" + text + "': expected an RFC 3339 time such as 2026-01-01T00:00:00Z");
      }
    }
    if (q.baseline_from && q.baseline_to && *q.baseline_to <= *q.baseline_from) {
      b.error("to", "must be after baseline.from");
    }
    b.finish();
  } else {
    auto ignored = r.child("baseline");
  }
  for (const auto& name : r.keys_of("features")) {
    auto fr = r.child("features").child(name);
    quality::ModelQualityConfig::Feature f;
    fr.get_choice("type", f.type, {"", "number", "string", "boolean"});
    for (auto [key, target] : {std::pair{"min", &f.min}, {"max", &f.max}}) {
      if (!fr.has(key)) continue;
      double v = 0;
      fr.get(key, v);
      *target = v;
    }
    fr.get("categorical", f.categorical);
    fr.finish();
    q.features[name] = std::move(f);
  }
}

// Reads `fields:` into `mapping`. `model_scope` forbids overriding the model name per model.
void read_fields(ConfigReader r, document::FieldMapping& mapping, bool model_scope) {
  for (document::Field f : kAllFields) {
    const std::string key(document::field_name(f));
    if (!r.has(key)) {
      std::vector<std::string> ignored;
      r.get(key, ignored);  // marks the key as known
      continue;
    }
    if (model_scope && f == document::Field::kModelName) {
      std::vector<std::string> ignored;
      r.get(key, ignored);
      r.error(key, "the model name is located with the top-level fields.model_name only");
      continue;
    }
    std::vector<std::string> texts;
    r.get(key, texts);
    if (texts.empty()) {
      r.error(key, "needs at least one JSON pointer");
      continue;
    }
    std::vector<document::JsonPointer> pointers;
    for (const auto& t : texts) {
      auto p = document::parse_json_pointer(t);
      if (!p) {
        r.error(key, "'" + t + "': " + p.status().message());
      } else {
        pointers.push_back(std::move(p).value());
      }
    }
    if (pointers.size() == texts.size()) mapping.set_pointers(f, std::move(pointers));
  }
  r.finish();
}

void read_params(ConfigReader& r, ingest::MaskParams& p) {
  std::string action(ingest::mask_action_name(p.action));
  r.get("action", action);
  auto a = ingest::parse_mask_action(action);
  if (!a) {
    r.error("action", a.status().message());
  } else {
    p.action = *a;
  }
  r.get("keep_last", p.keep_last, 0, 1024);
  r.get("max_length", p.max_length, 1, 1 << 20);
  r.get("bucket_width", p.bucket_width);
  if (!(p.bucket_width > 0)) r.error("bucket_width", "must be a number > 0");
}

std::vector<ingest::MaskRule> read_rules(ConfigReader& parent) {
  std::vector<ingest::MaskRule> rules;
  for (auto& item : parent.items_of("rules")) {
    ingest::MaskRule rule;
    item.get("path", rule.path);
    if (rule.path.empty()) {
      item.error("path", "is required");
    } else if (auto st = ingest::validate_rule_path(rule.path); !st) {
      item.error("path", st.message());
    }
    read_params(item, rule.params);
    item.finish();
    rules.push_back(std::move(rule));
  }
  return rules;
}

void read_detector(ConfigReader r, ingest::DetectorSetting& d) {
  r.get("enabled", d.enabled);
  read_params(r, d.params);
  if (d.params.action == ingest::MaskAction::kBucket ||
      d.params.action == ingest::MaskAction::kTruncate) {
    r.error("action", "a detector's action is drop, redact, hash or partial");
  }
  r.finish();
}

std::vector<ingest::CustomDetector> read_custom(ConfigReader& parent) {
  std::vector<ingest::CustomDetector> out;
  for (auto& item : parent.items_of("custom_detectors")) {
    ingest::CustomDetector c;
    item.get("name", c.name);
    item.get("pattern", c.pattern);
    if (c.name.empty()) item.error("name", "is required");
    if (c.pattern.empty()) item.error("pattern", "is required");
    for (size_t d = 0; d < ingest::kBuiltinDetectorCount; ++d) {
      if (c.name == ingest::detector_name(static_cast<ingest::DetectorKind>(d))) {
        item.error("name", "'" + c.name + "' is a built-in detector");
      }
    }
    item.get("enabled", c.setting.enabled);
    read_params(item, c.setting.params);
    item.finish();
    out.push_back(std::move(c));
  }
  return out;
}

// Reads `detectors:` into settings by built-in name; unknown names are errors.
void read_detectors(ConfigReader& parent, std::map<std::string, ingest::DetectorSetting>& out,
                    const ingest::MaskingPolicy& defaults) {
  auto dets = parent.child("detectors");
  for (size_t d = 0; d < ingest::kBuiltinDetectorCount; ++d) {
    const std::string name(ingest::detector_name(static_cast<ingest::DetectorKind>(d)));
    if (!dets.has(name)) {
      auto ignored = dets.child(name);  // marks the key as known
      continue;
    }
    ingest::DetectorSetting setting = defaults.detectors[d];
    read_detector(dets.child(name), setting);
    out[name] = setting;
  }
  dets.finish();
}

constexpr int64_t kDayMs = 86'400'000;

// A number of whole days from a duration ("7d"); anything else is an error.
void get_days(ConfigReader& r, std::string_view key, uint32_t& days) {
  Duration d{static_cast<int64_t>(days) * kDayMs};
  r.get(key, d);
  if (d.count() % kDayMs != 0 || d.count() < 0 || d.count() / kDayMs > 100'000) {
    r.error(key, "must be a whole number of days, such as 30d");
    return;
  }
  days = static_cast<uint32_t>(d.count() / kDayMs);
}

void read_tier(ConfigReader r, store::TierCompression& t, uint32_t& after_days) {
  get_days(r, "after", after_days);
  size_t level = static_cast<size_t>(t.zstd_level);
  r.get("zstd_level", level, 1, 22);
  t.zstd_level = static_cast<int>(level);
  ByteSize dict{t.dictionary_bytes}, block{t.block_size};
  r.get("dictionary", dict);
  r.get("block_size", block);
  if (dict.bytes > (1u << 20)) r.error("dictionary", "must be at most 1MiB (0 turns it off)");
  if (block.bytes < 1024 || block.bytes > (4u << 20)) r.error("block_size", "must be 1KiB to 4MiB");
  t.dictionary_bytes = static_cast<uint32_t>(std::min<uint64_t>(dict.bytes, 1u << 20));
  t.block_size = static_cast<uint32_t>(std::clamp<uint64_t>(block.bytes, 1024, 4u << 20));
  r.finish();
}

// store.tiers.*, store.delete_after, store.seal_grace, store.maintenance_interval.
void read_retention(ConfigReader& st, store::RetentionOptions& r) {
  auto tiers = st.child("tiers");
  {
    auto hot = tiers.child("hot");
    std::string c = r.hot_compression == store::HotCompression::kNone ? "none" : "lz4";
    hot.get_choice("compression", c, {"lz4", "none"});
    r.hot_compression = c == "none" ? store::HotCompression::kNone : store::HotCompression::kLz4;
    hot.finish();
  }
  read_tier(tiers.child("warm"), r.warm, r.warm_after_days);
  read_tier(tiers.child("cold"), r.cold, r.cold_after_days);
  if (r.cold_after_days < r.warm_after_days) {
    tiers.error("cold", "after must not be earlier than warm.after");
  }
  tiers.finish();
  get_days(st, "delete_after", r.delete_after_days);
  if (r.delete_after_days > 0 && r.delete_after_days <= r.cold_after_days) {
    st.error("delete_after", "must be later than tiers.cold.after (or 0: keep for ever)");
  }
  st.get("seal_grace", r.seal_grace);
  st.get("maintenance_interval", r.check_interval);
  if (r.check_interval.count() < 1000) st.error("maintenance_interval", "must be at least 1s");
}

}  // namespace

ingest::MaskingConfig Config::masking_config() const {
  ingest::MaskingConfig mc;
  mc.enabled = masking_enabled;
  mc.key_file = masking_key_path();
  mc.policy = masking;
  for (const auto& [model, o] : model_masking) {
    ingest::MaskingPolicy p = masking;
    p.rules = o.rules;
    p.rules.insert(p.rules.end(), masking.rules.begin(), masking.rules.end());
    for (const auto& [name, setting] : o.detectors) {
      for (size_t d = 0; d < ingest::kBuiltinDetectorCount; ++d) {
        if (name == ingest::detector_name(static_cast<ingest::DetectorKind>(d))) {
          p.detectors[d] = setting;
        }
      }
    }
    p.custom.insert(p.custom.end(), o.custom.begin(), o.custom.end());
    mc.per_model.emplace(model, std::move(p));
  }
  return mc;
}

std::string Config::masking_key_path() const {
  return masking_key_file.empty() ? data_dir + "/masking.key" : masking_key_file;
}

Result<Config> parse_config(const std::string& yaml_text) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    return Status::invalid_argument("invalid YAML at line " + std::to_string(e.mark.line + 1) +
                                    ", column " + std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  Config c;
  std::vector<std::string> errors;
  ConfigReader top(root, "", errors);
  top.get("data_dir", c.data_dir);
  if (c.data_dir.empty()) top.error("data_dir", "must not be empty");
  {
    auto server = top.child("server");
    server.get("io_threads", c.io_threads, 1, 64);
    server.get("shutdown_timeout", c.shutdown_timeout);
    server.get("max_memory", c.max_memory);
    if (c.max_memory.bytes < (4ull << 20)) server.error("max_memory", "must be at least 4MiB");
    server.finish();
  }
  {
    auto dl = top.child("dead_letters");
    dl.get("max_bytes", c.store.dead_letter_max_bytes);
    dl.get("retention", c.store.dead_letter_retention);
    dl.get("max_per_batch", c.max_dead_letters_per_batch, 1, 1'000'000);
    if (c.store.dead_letter_retention.count() < 0) dl.error("retention", "must not be negative");
    dl.finish();
  }
  {
    auto log = top.child("log");
    log.get_choice("level", c.log_level, {"trace", "debug", "info", "warn", "error", "off"});
    log.finish();
  }
  {
    auto st = top.child("store");
    std::string sync = sync_name(c.store.sync);
    st.get_choice("sync", sync, {"always", "group", "none"});
    c.store.sync = sync == "always" ? store::SyncPolicy::kAlways
                   : sync == "none" ? store::SyncPolicy::kNone
                                    : store::SyncPolicy::kGroup;
    st.get("max_group_events", c.store.max_group_events, 1, 1'000'000);
    st.get("max_group_bytes", c.store.max_group_bytes);
    std::string wal = c.store.wal_compression == store::WalCompression::kZstd ? "zstd" : "none";
    st.get_choice("wal_compression", wal, {"none", "zstd"});
    c.store.wal_compression =
        wal == "zstd" ? store::WalCompression::kZstd : store::WalCompression::kNone;
    st.get("max_queue_bytes", c.store.max_queue_bytes);
    st.get("block_cache", c.store.block_cache);
    st.get("write_buffer", c.store.write_buffer);
    st.get("retry_interval", c.store.retry_interval);
    if (c.store.write_buffer.bytes < (4ull << 20))
      st.error("write_buffer", "must be at least 4MiB");
    read_retention(st, c.store.retention);
    st.finish();
  }
  {
    auto labels = top.child("labels");
    labels.get("max_wait", c.store.label_max_wait);
    if (c.store.label_max_wait.count() <= 0) labels.error("max_wait", "must be positive");
    labels.finish();
  }
  {
    auto metrics = top.child("metrics");
    auto models = metrics.child("models");
    models.get("max_models", c.model_export.max_models, 0, 100000);
    models.get("max_versions", c.model_export.max_versions, 1, 1000);
    models.get("max_features", c.model_export.max_features, 0, 10000);
    models.get("windows", c.model_export.windows);
    for (const auto& w : c.model_export.windows) {
      if (!query::parse_window(w)) {
        models.error("windows", "'" + w + "': expected 5m, 1h, 24h, 7d, 30d or <n>m|h|d");
      }
    }
    models.get("refresh_interval", c.model_export.refresh_interval);
    models.finish();
    auto quality = metrics.child("quality");
    quality.get("enabled", c.quality_enabled);
    read_quality(quality, c.quality.defaults);
    quality.finish();
    metrics.finish();
  }
  {
    auto search = top.child("search");
    search.get("max_limit", c.search.max_limit, 1, 1'000'000);
    search.get("scan_budget", c.search.scan_budget, 1, 1'000'000'000);
    Duration window{c.search.default_window_ms};
    search.get("default_window", window);
    if (window.count() <= 0) search.error("default_window", "must be positive");
    c.search.default_window_ms = window.count();
    c.search.default_limit = std::min(c.search.default_limit, c.search.max_limit);
    search.get("block_summaries", c.search_block_summaries);
    if (search.has("indexed_fields")) {
      auto indexed = search.child("indexed_fields");
      for (const auto& model : search.keys_of("indexed_fields")) {
        std::vector<std::string> list;
        indexed.get(model, list);
        if (model.empty())
          indexed.error(model, "a model name (or \"*\" for every model) is required");
        if (list.size() > 64) indexed.error(model, "at most 64 fields per model");
        for (const auto& f : list) {
          if (f.empty() || f.size() > 256) {
            indexed.error(model, "a field is a dotted document path of 1 to 256 bytes");
          } else if (!query::SearchIndexer::field_name(f)) {
            indexed.error(
                model,
                "'" + f +
                    "' is Verity's own field or the label's: only document paths are indexed");
          }
        }
        c.search_indexed_fields[model] = std::move(list);
      }
      indexed.finish();
    }
    search.finish();
  }
  {
    auto audit = top.child("audit");
    audit.get("reads", c.audit_reads);
    audit.get("reads_retention", c.store.read_audit_retention);
    if (c.store.read_audit_retention.count() < 0) {
      audit.error("reads_retention", "must not be negative");
    }
    audit.finish();
  }
  {
    auto er = top.child("erasure");
    std::string field = c.erasure_subject_field.text;
    er.get("subject_field", field);
    if (auto p = document::parse_json_pointer(field); !p || field.empty()) {
      er.error("subject_field", "'" + field + "': expected a JSON pointer such as /user_id");
    } else {
      c.erasure_subject_field = std::move(p).value();
    }
    er.finish();
  }
  {
    auto inputs = top.child("inputs");
    auto tcp = inputs.child("tcp");
    tcp.get("enabled", c.tcp_enabled);
    tcp.get("listen", c.tcp.listen);
    tcp.get("max_line", c.tcp.max_line);
    tcp.get("idle_timeout", c.tcp.idle_timeout);
    tcp.get("max_connections", c.tcp.max_connections, 1, 1'000'000);
    tcp.get("read_chunk", c.tcp.read_chunk);
    tcp.get("max_in_flight", c.tcp.max_in_flight);
    if (c.tcp.max_line.bytes < 1024 || c.tcp.max_line.bytes > (64ull << 20)) {
      tcp.error("max_line", "must be from 1KiB to 64MiB");
    }
    if (c.tcp.read_chunk.bytes < 512 || c.tcp.read_chunk.bytes > (16ull << 20)) {
      tcp.error("read_chunk", "must be from 512 to 16MiB");
    }
    if (c.tcp.idle_timeout.count() <= 0) tcp.error("idle_timeout", "must be positive");
    tcp.get("allow_unauthenticated_remote", c.tcp_allow_remote);
    tcp.finish();
    auto beats = inputs.child("beats");
    beats.get("enabled", c.beats_enabled);
    beats.get("listen", c.beats.listen);
    ByteSize max_event{c.beats.limits.max_event}, max_frame{c.beats.limits.max_frame},
        max_inflated{c.beats.limits.max_inflated};
    beats.get("max_event", max_event);
    beats.get("max_frame", max_frame);
    beats.get("max_inflated", max_inflated);
    size_t max_window = c.beats.limits.max_window;
    beats.get("max_window", max_window, 1, 1u << 24);
    c.beats.limits.max_event = max_event.bytes;
    c.beats.limits.max_frame = max_frame.bytes;
    c.beats.limits.max_inflated = max_inflated.bytes;
    c.beats.limits.max_window = static_cast<uint32_t>(max_window);
    if (max_event.bytes < 1024 || max_event.bytes > (64ull << 20)) {
      beats.error("max_event", "must be from 1KiB to 64MiB");
    }
    if (max_frame.bytes < 1024 || max_frame.bytes > (1ull << 30)) {
      beats.error("max_frame", "must be from 1KiB to 1GiB");
    }
    if (max_inflated.bytes < max_event.bytes || max_inflated.bytes > (4ull << 30)) {
      beats.error("max_inflated", "must be from max_event to 4GiB");
    }
    beats.get("read_timeout", c.beats.read_timeout);
    beats.get("keepalive", c.beats.keepalive);
    if (c.beats.read_timeout.count() <= 0) beats.error("read_timeout", "must be positive");
    if (c.beats.keepalive.count() < 1000) beats.error("keepalive", "must be at least 1s");
    beats.get("max_connections", c.beats.max_connections, 1, 1'000'000);
    beats.get("read_chunk", c.beats.read_chunk);
    if (c.beats.read_chunk.bytes < 512 || c.beats.read_chunk.bytes > (16ull << 20)) {
      beats.error("read_chunk", "must be from 512 to 16MiB");
    }
    beats.get("max_in_flight", c.beats.max_in_flight);
    beats.get("allow_unauthenticated_remote", c.beats_allow_remote);
    {
      auto tls = beats.child("tls");
      tls.get("enabled", c.beats.tls.enabled);
      tls.get("cert_file", c.beats.tls.cert_file);
      tls.get("key_file", c.beats.tls.key_file);
      tls.get("ca_file", c.beats.tls.ca_file);
      tls.get("verify_client", c.beats.tls.verify_client);
      if (c.beats.tls.enabled && c.beats.tls.cert_file.empty()) {
        tls.error("cert_file", "is required when TLS is enabled");
      }
      if (c.beats.tls.enabled && c.beats.tls.key_file.empty()) {
        tls.error("key_file", "is required when TLS is enabled");
      }
      if (c.beats.tls.verify_client && c.beats.tls.ca_file.empty()) {
        tls.error("ca_file", "is required to verify client certificates");
      }
      if (c.beats.tls.verify_client && !c.beats.tls.enabled) {
        tls.error("verify_client", "needs tls.enabled: true");
      }
      tls.finish();
    }
    beats.finish();
    inputs.finish();
  }
  {
    auto http = top.child("http");
    http.get("listen", c.http.listen);
    http.get("max_body", c.http.max_body);
    http.get("idle_timeout", c.http.idle_timeout);
    http.get("max_connections", c.http.max_connections, 1, 1'000'000);
    if (c.http.idle_timeout.count() <= 0) http.error("idle_timeout", "must be positive");
    http.get("max_line", c.http_ingest.max_line);
    if (c.http_ingest.max_line.bytes < 1024 || c.http_ingest.max_line.bytes > (64ull << 20)) {
      http.error("max_line", "must be from 1KiB to 64MiB");
    }
    http.get("retry_after", c.http_ingest.retry_after);
    if (c.http_ingest.retry_after.count() <= 0) http.error("retry_after", "must be positive");
    http.get("write_timeout", c.http.write_timeout);
    if (c.http.write_timeout.count() <= 0) http.error("write_timeout", "must be positive");
    http.get("max_errors", c.http_ingest.max_errors, 0, 100'000);
    http.get("allow_plaintext_remote", c.http_allow_plaintext_remote);
    {
      auto tls = http.child("tls");
      tls.get("enabled", c.http.tls.enabled);
      tls.get("cert_file", c.http.tls.cert_file);
      tls.get("key_file", c.http.tls.key_file);
      tls.get("ca_file", c.http.tls.ca_file);
      tls.get("verify_client", c.http.tls.verify_client);
      if (c.http.tls.enabled && c.http.tls.cert_file.empty()) {
        tls.error("cert_file", "is required when TLS is enabled");
      }
      if (c.http.tls.enabled && c.http.tls.key_file.empty()) {
        tls.error("key_file", "is required when TLS is enabled");
      }
      if (c.http.tls.verify_client && c.http.tls.ca_file.empty()) {
        tls.error("ca_file", "is required to verify client certificates");
      }
      if (c.http.tls.verify_client && !c.http.tls.enabled) {
        tls.error("verify_client", "needs tls.enabled: true");
      }
      tls.finish();
    }
    auto es = http.child("elasticsearch");
    es.get("enabled", c.es_enabled);
    es.get("version", c.es_version);
    es.get("max_actions", c.http_ingest.max_bulk_actions, 1, 10'000'000);
    es.get("max_setup_objects", c.es_max_setup_objects, 0, 100'000);
    es.get("max_setup_object", c.es_max_setup_object);
    if (c.es_version.empty() || c.es_version.find('.') == std::string::npos) {
      es.error("version", "must be a version number such as 8.15.0");
    }
    es.finish();
    http.finish();
  }
  {
    auto m = top.child("masking");
    m.get("enabled", c.masking_enabled);
    m.get("key_file", c.masking_key_file);
    m.get("redact_token", c.masking.redact_token);
    c.masking.rules = read_rules(m);
    std::map<std::string, ingest::DetectorSetting> dets;
    read_detectors(m, dets, c.masking);
    for (size_t d = 0; d < ingest::kBuiltinDetectorCount; ++d) {
      auto it = dets.find(std::string(ingest::detector_name(static_cast<ingest::DetectorKind>(d))));
      if (it != dets.end()) c.masking.detectors[d] = it->second;
    }
    c.masking.custom = read_custom(m);
    m.finish();
  }
  read_fields(top.child("fields"), c.fields.default_mapping, false);
  {
    auto env = top.child("envelope");
    env.get("enabled", c.fields.envelope.enabled);
    std::vector<std::string> keep;
    for (const auto& p : c.fields.envelope.keep) keep.push_back(p.text);
    env.get("keep", keep);
    c.fields.envelope.keep.clear();
    for (const auto& t : keep) {
      auto p = document::parse_json_pointer(t);
      if (!p) {
        env.error("keep", "'" + t + "': " + p.status().message());
      } else {
        c.fields.envelope.keep.push_back(std::move(p).value());
      }
    }
    env.finish();
  }
  {
    auto outputs = top.child("outputs");
    auto es = outputs.child("elasticsearch");
    shippers::EsShipperOptions& o = c.es_output;
    es.get("hosts", o.hosts);
    for (auto& h : o.hosts) {
      while (!h.empty() && h.back() == '/') h.pop_back();
      if (h.rfind("http://", 0) != 0 && h.rfind("https://", 0) != 0) {
        es.error("hosts", "'" + h + "': expected a URL such as http://127.0.0.1:9200");
      }
    }
    std::string mode = o.index_mode == shippers::IndexMode::kDated ? "dated" : "data_stream";
    es.get_choice("index_mode", mode, {"data_stream", "dated"});
    o.index_mode = mode == "dated" ? shippers::IndexMode::kDated : shippers::IndexMode::kDataStream;
    es.get("data_stream", o.data_stream);
    if (o.data_stream.rfind("logs-", 0) != 0 && o.data_stream.rfind("metrics-", 0) != 0) {
      es.error("data_stream",
               "expected <type>-<dataset>-<namespace>, e.g. logs-verity.predictions-default");
    }
    es.get("dated_prefix", o.dated_prefix);
    es.get("batch_events", o.batch_events, 1, 100'000);
    es.get("workers", o.workers, 1, 16);
    es.get("batch_bytes", o.batch_bytes);
    es.get("flush_interval", o.flush_interval);
    es.get("gzip", o.gzip);
    es.get("username", o.username);
    es.get("password", o.password);
    es.get("api_key", o.api_key);
    if (!o.api_key.empty() && !o.username.empty()) {
      es.error("api_key", "use either api_key or username/password, not both");
    }
    {
      auto tls = es.child("tls");
      tls.get("ca_file", o.ca_file);
      tls.get("verify_certificate", o.verify_certificate);
      tls.get("verify_hostname", o.verify_hostname);
      tls.finish();
    }
    es.get("timeout", o.timeout);
    es.get("initial_backoff", o.initial_backoff);
    es.get("max_backoff", o.max_backoff);
    size_t backlog = o.max_backlog_events;
    es.get("max_backlog_events", backlog, 1, ~size_t{0});
    o.max_backlog_events = backlog;
    {
      auto dl = es.child("dead_letters");
      dl.get("enabled", o.dead_letters);
      dl.get("data_stream", o.dead_letters_data_stream);
      if (o.dead_letters_data_stream.rfind("logs-", 0) != 0 &&
          o.dead_letters_data_stream.rfind("metrics-", 0) != 0) {
        dl.error("data_stream",
                 "expected <type>-<dataset>-<namespace>, e.g. logs-verity.deadletters-default");
      }
      dl.get("dated_prefix", o.dead_letters_dated_prefix);
      if (o.dead_letters_dated_prefix.empty()) dl.error("dated_prefix", "must not be empty");
      // Labels and erasures are applied by query over <dated_prefix>* or the data stream: dead
      // letters must be out of their reach.
      if (o.dead_letters_data_stream == o.data_stream) {
        dl.error("data_stream", "must differ from outputs.elasticsearch.data_stream");
      }
      if (o.dead_letters_dated_prefix.rfind(o.dated_prefix, 0) == 0) {
        dl.error("dated_prefix", "must not start with outputs.elasticsearch.dated_prefix");
      }
      dl.finish();
    }
    es.finish();
    outputs.finish();
  }
  {
    auto auth = top.child("auth");
    auto read_roles = [](ConfigReader& item, Credential& cred) {
      std::vector<std::string> roles;
      item.get("roles", roles);
      if (roles.empty()) item.error("roles", "needs at least one of ingest, read, admin");
      for (const auto& r : roles) {
        if (auto role = parse_role(r)) {
          cred.roles |= *role;
        } else {
          item.error("roles", "'" + r + "' is not one of ingest, read, admin");
        }
      }
    };
    for (auto& item : auth.items_of("tokens")) {
      Credential cred;
      item.get("name", cred.name);
      item.get("token", cred.token);
      if (cred.name.empty()) item.error("name", "is required");
      if (cred.token.size() < 16) item.error("token", "must be at least 16 characters");
      read_roles(item, cred);
      item.finish();
      c.credentials.push_back(std::move(cred));
    }
    for (auto& item : auth.items_of("users")) {
      Credential cred;
      item.get("name", cred.user);
      item.get("password", cred.password);
      cred.name = cred.user;
      if (cred.user.empty() || cred.user.find(':') != std::string::npos) {
        item.error("name", "is required and may not contain ':'");
      }
      if (cred.password.size() < 12) item.error("password", "must be at least 12 characters");
      read_roles(item, cred);
      item.finish();
      c.credentials.push_back(std::move(cred));
    }
    auth.finish();
  }
  for (const auto& model : top.keys_of("models")) {
    ConfigReader models(root["models"], "models", errors);
    auto m = models.child(model);
    if (m.has("fields")) {
      document::FieldMapping mapping = c.fields.default_mapping;
      read_fields(m.child("fields"), mapping, true);
      c.fields.per_model.emplace(model, std::move(mapping));
    } else {
      auto ignored = m.child("fields");
    }
    if (m.has("quality")) {
      auto q = m.child("quality");
      quality::ModelQualityConfig mq = c.quality.defaults;
      read_quality(q, mq);
      q.finish();
      c.quality.models.emplace(model, std::move(mq));
    } else {
      auto ignored = m.child("quality");
    }
    if (m.has("masking")) {
      auto mm = m.child("masking");
      ModelMasking o;
      o.rules = read_rules(mm);
      read_detectors(mm, o.detectors, c.masking);
      o.custom = read_custom(mm);
      mm.finish();
      c.model_masking.emplace(model, std::move(o));
    } else {
      auto ignored = m.child("masking");
    }
    m.finish();
  }
  top.finish();
  for (auto& problem : ingest::identity_rule_problems(c.masking_config(), c.fields)) {
    errors.push_back(std::move(problem));
  }

  if (!errors.empty()) {
    std::string msg;
    for (const auto& e : errors) msg += (msg.empty() ? "" : "\n") + e;
    return Status::invalid_argument(msg);
  }
  return c;
}

Result<Config> load_config_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::invalid_argument(path + ": cannot read the file");
  std::stringstream ss;
  ss << in.rdbuf();
  auto c = parse_config(ss.str());
  if (!c) {
    std::string msg;
    std::stringstream lines(c.status().message());
    for (std::string line; std::getline(lines, line);)
      msg += (msg.empty() ? "" : "\n") + path + ": " + line;
    return Status::invalid_argument(msg);
  }
  return c;
}

namespace {

void emit_fields(YAML::Emitter& out, const document::FieldMapping& m,
                 const document::FieldMapping* base) {
  out << YAML::BeginMap;
  for (document::Field f : kAllFields) {
    std::vector<std::string> texts;
    for (const auto& p : m.pointers(f)) texts.push_back(p.text);
    if (base != nullptr) {
      std::vector<std::string> base_texts;
      for (const auto& p : base->pointers(f)) base_texts.push_back(p.text);
      if (texts == base_texts) continue;
    }
    out << YAML::Key << std::string(document::field_name(f)) << YAML::Value << YAML::Flow << texts;
  }
  out << YAML::EndMap;
}

void emit_params(YAML::Emitter& out, const ingest::MaskParams& p) {
  out << YAML::Key << "action" << YAML::Value << std::string(ingest::mask_action_name(p.action));
  out << YAML::Key << "keep_last" << YAML::Value << p.keep_last;
  out << YAML::Key << "max_length" << YAML::Value << p.max_length;
  char width[32];
  std::snprintf(width, sizeof width, "%g", p.bucket_width);
  out << YAML::Key << "bucket_width" << YAML::Value << width;
}

// Rules, detectors (all built-ins from `all`, or the overrides in `some`) and custom detectors.
void emit_masking(YAML::Emitter& out, const std::vector<ingest::MaskRule>& rules,
                  const std::map<std::string, ingest::DetectorSetting>* some,
                  const std::array<ingest::DetectorSetting, ingest::kBuiltinDetectorCount>* all,
                  const std::vector<ingest::CustomDetector>& custom) {
  out << YAML::Key << "rules" << YAML::Value << YAML::BeginSeq;
  for (const auto& r : rules) {
    out << YAML::Flow << YAML::BeginMap << YAML::Key << "path" << YAML::Value << r.path;
    emit_params(out, r.params);
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
  out << YAML::Key << "detectors" << YAML::Value << YAML::BeginMap;
  for (size_t d = 0; d < ingest::kBuiltinDetectorCount; ++d) {
    const std::string name(ingest::detector_name(static_cast<ingest::DetectorKind>(d)));
    const ingest::DetectorSetting* setting = nullptr;
    if (all != nullptr) setting = &(*all)[d];
    if (some != nullptr) {
      auto it = some->find(name);
      if (it != some->end()) setting = &it->second;
    }
    if (setting == nullptr) continue;
    out << YAML::Key << name << YAML::Value << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "enabled" << YAML::Value << setting->enabled;
    emit_params(out, setting->params);
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
  out << YAML::Key << "custom_detectors" << YAML::Value << YAML::BeginSeq;
  for (const auto& cd : custom) {
    out << YAML::Flow << YAML::BeginMap << YAML::Key << "name" << YAML::Value << cd.name;
    out << YAML::Key << "pattern" << YAML::Value << YAML::DoubleQuoted << cd.pattern;
    out << YAML::Key << "enabled" << YAML::Value << cd.setting.enabled;
    emit_params(out, cd.setting.params);
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
}

void emit_quality(YAML::Emitter& out, const quality::ModelQualityConfig& q,
                  const bool* enabled = nullptr) {
  out << YAML::BeginMap;
  if (enabled != nullptr) out << YAML::Key << "enabled" << YAML::Value << *enabled;
  out << YAML::Key << "task" << YAML::Value << (q.task ? quality::task_name(*q.task) : "inferred");
  std::vector<std::string> texts;
  for (const auto& p : q.predicted) texts.push_back(p.text);
  out << YAML::Key << "predicted" << YAML::Value << YAML::Flow << texts;
  texts.clear();
  for (const auto& p : q.score) texts.push_back(p.text);
  out << YAML::Key << "score" << YAML::Value << YAML::Flow << texts;
  texts.clear();
  for (const auto& p : q.probabilities) texts.push_back(p.text);
  out << YAML::Key << "probabilities" << YAML::Value << YAML::Flow << texts;
  out << YAML::Key << "score_semantics" << YAML::Value
      << (q.score_semantics ? quality::score_semantics_name(*q.score_semantics) : "inferred");
  std::string positive = q.positive_class;
  if (positive.size() >= 2 && positive.front() == '"')
    positive = positive.substr(1, positive.size() - 2);
  out << YAML::Key << "positive_class" << YAML::Value << YAML::DoubleQuoted << positive;
  out << YAML::Key << "max_classes" << YAML::Value << q.max_classes;
  out << YAML::Key << "max_features" << YAML::Value << q.max_features;
  out << YAML::Key << "baseline_days" << YAML::Value << q.baseline_days;
  if (q.baseline_from && q.baseline_to) {
    out << YAML::Key << "baseline" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "from" << YAML::Value << format_rfc3339(*q.baseline_from);
    out << YAML::Key << "to" << YAML::Value << format_rfc3339(*q.baseline_to);
    out << YAML::EndMap;
  }
  out << YAML::Key << "features" << YAML::Value << YAML::BeginMap;
  for (const auto& [name, f] : q.features) {
    out << YAML::Key << name << YAML::Value << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "type" << YAML::Value << YAML::DoubleQuoted << f.type;
    if (f.min) out << YAML::Key << "min" << YAML::Value << *f.min;
    if (f.max) out << YAML::Key << "max" << YAML::Value << *f.max;
    out << YAML::Key << "categorical" << YAML::Value << f.categorical;
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
  out << YAML::EndMap;
}

void render_tier(YAML::Emitter& out, const char* name, const store::TierCompression& t,
                 uint32_t after_days) {
  out << YAML::Key << name << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "after" << YAML::Value << format_duration(Duration(after_days * kDayMs));
  out << YAML::Key << "zstd_level" << YAML::Value << t.zstd_level;
  out << YAML::Key << "dictionary" << YAML::Value << format_byte_size(ByteSize{t.dictionary_bytes});
  out << YAML::Key << "block_size" << YAML::Value << format_byte_size(ByteSize{t.block_size});
  out << YAML::EndMap;
}

void render_retention(YAML::Emitter& out, const store::RetentionOptions& r) {
  out << YAML::Key << "tiers" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "hot" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "compression" << YAML::Value
      << (r.hot_compression == store::HotCompression::kNone ? "none" : "lz4");
  out << YAML::EndMap;
  render_tier(out, "warm", r.warm, r.warm_after_days);
  render_tier(out, "cold", r.cold, r.cold_after_days);
  out << YAML::EndMap;
  out << YAML::Key << "delete_after" << YAML::Value
      << format_duration(Duration(r.delete_after_days * kDayMs));
  out << YAML::Key << "seal_grace" << YAML::Value << format_duration(r.seal_grace);
  out << YAML::Key << "maintenance_interval" << YAML::Value << format_duration(r.check_interval);
}

}  // namespace

std::string render_config(const Config& c) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "data_dir" << YAML::Value << c.data_dir;
  out << YAML::Key << "server" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "io_threads" << YAML::Value << c.io_threads;
  out << YAML::Key << "shutdown_timeout" << YAML::Value << format_duration(c.shutdown_timeout);
  out << YAML::Key << "max_memory" << YAML::Value << format_byte_size(c.max_memory);
  out << YAML::EndMap;
  out << YAML::Key << "dead_letters" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "max_bytes" << YAML::Value << format_byte_size(c.store.dead_letter_max_bytes);
  out << YAML::Key << "retention" << YAML::Value << format_duration(c.store.dead_letter_retention);
  out << YAML::Key << "max_per_batch" << YAML::Value << c.max_dead_letters_per_batch;
  out << YAML::EndMap;
  out << YAML::Key << "log" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "level" << YAML::Value << c.log_level << YAML::EndMap;
  out << YAML::Key << "store" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "sync" << YAML::Value << sync_name(c.store.sync);
  out << YAML::Key << "max_group_events" << YAML::Value << c.store.max_group_events;
  out << YAML::Key << "max_group_bytes" << YAML::Value << format_byte_size(c.store.max_group_bytes);
  out << YAML::Key << "wal_compression" << YAML::Value
      << (c.store.wal_compression == store::WalCompression::kZstd ? "zstd" : "none");
  out << YAML::Key << "max_queue_bytes" << YAML::Value << format_byte_size(c.store.max_queue_bytes);
  out << YAML::Key << "block_cache" << YAML::Value << format_byte_size(c.store.block_cache);
  out << YAML::Key << "write_buffer" << YAML::Value << format_byte_size(c.store.write_buffer);
  out << YAML::Key << "retry_interval" << YAML::Value << format_duration(c.store.retry_interval);
  render_retention(out, c.store.retention);
  out << YAML::EndMap;
  out << YAML::Key << "labels" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "max_wait" << YAML::Value << format_duration(c.store.label_max_wait);
  out << YAML::EndMap;
  out << YAML::Key << "metrics" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "models" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "max_models" << YAML::Value << c.model_export.max_models;
  out << YAML::Key << "max_versions" << YAML::Value << c.model_export.max_versions;
  out << YAML::Key << "max_features" << YAML::Value << c.model_export.max_features;
  out << YAML::Key << "windows" << YAML::Value << YAML::Flow << c.model_export.windows;
  out << YAML::Key << "refresh_interval" << YAML::Value
      << format_duration(c.model_export.refresh_interval);
  out << YAML::EndMap;
  out << YAML::Key << "quality" << YAML::Value;
  emit_quality(out, c.quality.defaults, &c.quality_enabled);
  out << YAML::EndMap;
  out << YAML::Key << "search" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "max_limit" << YAML::Value << c.search.max_limit;
  out << YAML::Key << "scan_budget" << YAML::Value << c.search.scan_budget;
  out << YAML::Key << "default_window" << YAML::Value
      << format_duration(Duration(c.search.default_window_ms));
  out << YAML::Key << "block_summaries" << YAML::Value << c.search_block_summaries;
  out << YAML::Key << "indexed_fields" << YAML::Value << YAML::BeginMap;
  for (const auto& [model, list] : c.search_indexed_fields) {
    out << YAML::Key << model << YAML::Value << YAML::Flow << list;
  }
  out << YAML::EndMap;
  out << YAML::EndMap;
  out << YAML::Key << "audit" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "reads" << YAML::Value << c.audit_reads;
  out << YAML::Key << "reads_retention" << YAML::Value
      << format_duration(c.store.read_audit_retention);
  out << YAML::EndMap;
  out << YAML::Key << "erasure" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "subject_field" << YAML::Value << c.erasure_subject_field.text;
  out << YAML::EndMap;
  out << YAML::Key << "inputs" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "tcp" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "enabled" << YAML::Value << c.tcp_enabled;
  out << YAML::Key << "listen" << YAML::Value << c.tcp.listen.to_string();
  out << YAML::Key << "max_line" << YAML::Value << format_byte_size(c.tcp.max_line);
  out << YAML::Key << "idle_timeout" << YAML::Value << format_duration(c.tcp.idle_timeout);
  out << YAML::Key << "max_connections" << YAML::Value << c.tcp.max_connections;
  out << YAML::Key << "read_chunk" << YAML::Value << format_byte_size(c.tcp.read_chunk);
  out << YAML::Key << "max_in_flight" << YAML::Value << format_byte_size(c.tcp.max_in_flight);
  out << YAML::Key << "allow_unauthenticated_remote" << YAML::Value << c.tcp_allow_remote;
  out << YAML::EndMap;
  out << YAML::Key << "beats" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "enabled" << YAML::Value << c.beats_enabled;
  out << YAML::Key << "listen" << YAML::Value << c.beats.listen.to_string();
  out << YAML::Key << "max_event" << YAML::Value
      << format_byte_size(ByteSize{c.beats.limits.max_event});
  out << YAML::Key << "max_frame" << YAML::Value
      << format_byte_size(ByteSize{c.beats.limits.max_frame});
  out << YAML::Key << "max_inflated" << YAML::Value
      << format_byte_size(ByteSize{c.beats.limits.max_inflated});
  out << YAML::Key << "max_window" << YAML::Value << c.beats.limits.max_window;
  out << YAML::Key << "read_timeout" << YAML::Value << format_duration(c.beats.read_timeout);
  out << YAML::Key << "keepalive" << YAML::Value << format_duration(c.beats.keepalive);
  out << YAML::Key << "max_connections" << YAML::Value << c.beats.max_connections;
  out << YAML::Key << "read_chunk" << YAML::Value << format_byte_size(c.beats.read_chunk);
  out << YAML::Key << "max_in_flight" << YAML::Value << format_byte_size(c.beats.max_in_flight);
  out << YAML::Key << "allow_unauthenticated_remote" << YAML::Value << c.beats_allow_remote;
  out << YAML::Key << "tls" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "enabled" << YAML::Value << c.beats.tls.enabled;
  out << YAML::Key << "cert_file" << YAML::Value << YAML::DoubleQuoted << c.beats.tls.cert_file;
  out << YAML::Key << "key_file" << YAML::Value << YAML::DoubleQuoted << c.beats.tls.key_file;
  out << YAML::Key << "ca_file" << YAML::Value << YAML::DoubleQuoted << c.beats.tls.ca_file;
  out << YAML::Key << "verify_client" << YAML::Value << c.beats.tls.verify_client;
  out << YAML::EndMap;
  out << YAML::EndMap;
  out << YAML::EndMap;
  out << YAML::Key << "http" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "listen" << YAML::Value << c.http.listen.to_string();
  out << YAML::Key << "max_body" << YAML::Value << format_byte_size(c.http.max_body);
  out << YAML::Key << "idle_timeout" << YAML::Value << format_duration(c.http.idle_timeout);
  out << YAML::Key << "max_connections" << YAML::Value << c.http.max_connections;
  out << YAML::Key << "max_line" << YAML::Value << format_byte_size(c.http_ingest.max_line);
  out << YAML::Key << "retry_after" << YAML::Value << format_duration(c.http_ingest.retry_after);
  out << YAML::Key << "write_timeout" << YAML::Value << format_duration(c.http.write_timeout);
  out << YAML::Key << "max_errors" << YAML::Value << c.http_ingest.max_errors;
  out << YAML::Key << "allow_plaintext_remote" << YAML::Value << c.http_allow_plaintext_remote;
  out << YAML::Key << "tls" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "enabled" << YAML::Value << c.http.tls.enabled;
  out << YAML::Key << "cert_file" << YAML::Value << YAML::DoubleQuoted << c.http.tls.cert_file;
  out << YAML::Key << "key_file" << YAML::Value << YAML::DoubleQuoted << c.http.tls.key_file;
  out << YAML::Key << "ca_file" << YAML::Value << YAML::DoubleQuoted << c.http.tls.ca_file;
  out << YAML::Key << "verify_client" << YAML::Value << c.http.tls.verify_client;
  out << YAML::EndMap;
  out << YAML::Key << "elasticsearch" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "enabled" << YAML::Value << c.es_enabled;
  out << YAML::Key << "version" << YAML::Value << YAML::DoubleQuoted << c.es_version;
  out << YAML::Key << "max_actions" << YAML::Value << c.http_ingest.max_bulk_actions;
  out << YAML::Key << "max_setup_objects" << YAML::Value << c.es_max_setup_objects;
  out << YAML::Key << "max_setup_object" << YAML::Value << format_byte_size(c.es_max_setup_object);
  out << YAML::EndMap;
  out << YAML::EndMap;
  {
    const shippers::EsShipperOptions& o = c.es_output;
    auto secret = [](const std::string& s) { return s.empty() ? std::string() : "<hidden>"; };
    out << YAML::Key << "outputs" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "elasticsearch" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "hosts" << YAML::Value << YAML::Flow << o.hosts;
    out << YAML::Key << "index_mode" << YAML::Value
        << (o.index_mode == shippers::IndexMode::kDated ? "dated" : "data_stream");
    out << YAML::Key << "data_stream" << YAML::Value << o.data_stream;
    out << YAML::Key << "dated_prefix" << YAML::Value << o.dated_prefix;
    out << YAML::Key << "batch_events" << YAML::Value << o.batch_events;
    out << YAML::Key << "workers" << YAML::Value << o.workers;
    out << YAML::Key << "batch_bytes" << YAML::Value << format_byte_size(o.batch_bytes);
    out << YAML::Key << "flush_interval" << YAML::Value << format_duration(o.flush_interval);
    out << YAML::Key << "gzip" << YAML::Value << o.gzip;
    out << YAML::Key << "username" << YAML::Value << YAML::DoubleQuoted << o.username;
    out << YAML::Key << "password" << YAML::Value << YAML::DoubleQuoted << secret(o.password);
    out << YAML::Key << "api_key" << YAML::Value << YAML::DoubleQuoted << secret(o.api_key);
    out << YAML::Key << "tls" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "ca_file" << YAML::Value << YAML::DoubleQuoted << o.ca_file;
    out << YAML::Key << "verify_certificate" << YAML::Value << o.verify_certificate;
    out << YAML::Key << "verify_hostname" << YAML::Value << o.verify_hostname;
    out << YAML::EndMap;
    out << YAML::Key << "timeout" << YAML::Value << format_duration(o.timeout);
    out << YAML::Key << "initial_backoff" << YAML::Value << format_duration(o.initial_backoff);
    out << YAML::Key << "max_backoff" << YAML::Value << format_duration(o.max_backoff);
    out << YAML::Key << "max_backlog_events" << YAML::Value << o.max_backlog_events;
    out << YAML::Key << "dead_letters" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "enabled" << YAML::Value << o.dead_letters;
    out << YAML::Key << "data_stream" << YAML::Value << o.dead_letters_data_stream;
    out << YAML::Key << "dated_prefix" << YAML::Value << o.dead_letters_dated_prefix;
    out << YAML::EndMap;
    out << YAML::EndMap << YAML::EndMap;
  }
  // Secrets are never printed.
  out << YAML::Key << "auth" << YAML::Value << YAML::BeginMap;
  auto emit_roles = [&out](uint8_t roles) {
    std::vector<std::string> names;
    if (roles & kRoleIngest) names.emplace_back("ingest");
    if (roles & kRoleRead) names.emplace_back("read");
    if (roles & kRoleAdmin) names.emplace_back("admin");
    out << YAML::Key << "roles" << YAML::Value << YAML::Flow << names;
  };
  out << YAML::Key << "tokens" << YAML::Value << YAML::BeginSeq;
  for (const auto& cred : c.credentials) {
    if (cred.token.empty()) continue;
    out << YAML::Flow << YAML::BeginMap << YAML::Key << "name" << YAML::Value << cred.name;
    out << YAML::Key << "token" << YAML::Value << "<hidden>";
    emit_roles(cred.roles);
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
  out << YAML::Key << "users" << YAML::Value << YAML::BeginSeq;
  for (const auto& cred : c.credentials) {
    if (!cred.token.empty()) continue;
    out << YAML::Flow << YAML::BeginMap << YAML::Key << "name" << YAML::Value << cred.user;
    out << YAML::Key << "password" << YAML::Value << "<hidden>";
    emit_roles(cred.roles);
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
  out << YAML::EndMap;
  out << YAML::Key << "masking" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "enabled" << YAML::Value << c.masking_enabled;
  out << YAML::Key << "key_file" << YAML::Value << YAML::DoubleQuoted << c.masking_key_file;
  out << YAML::Key << "redact_token" << YAML::Value << YAML::DoubleQuoted << c.masking.redact_token;
  emit_masking(out, c.masking.rules, nullptr, &c.masking.detectors, c.masking.custom);
  out << YAML::EndMap;
  out << YAML::Key << "fields" << YAML::Value;
  emit_fields(out, c.fields.default_mapping, nullptr);
  out << YAML::Key << "envelope" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "enabled" << YAML::Value << c.fields.envelope.enabled;
  std::vector<std::string> keep;
  for (const auto& p : c.fields.envelope.keep) keep.push_back(p.text);
  out << YAML::Key << "keep" << YAML::Value << YAML::Flow << keep;
  out << YAML::EndMap;
  std::set<std::string> models;
  for (const auto& [name, m] : c.fields.per_model) models.insert(name);
  for (const auto& [name, m] : c.model_masking) models.insert(name);
  for (const auto& [name, m] : c.quality.models) models.insert(name);
  if (!models.empty()) {
    out << YAML::Key << "models" << YAML::Value << YAML::BeginMap;
    for (const auto& name : models) {
      out << YAML::Key << name << YAML::Value << YAML::BeginMap;
      if (auto it = c.fields.per_model.find(name); it != c.fields.per_model.end()) {
        out << YAML::Key << "fields" << YAML::Value;
        emit_fields(out, it->second, &c.fields.default_mapping);
      }
      if (auto it = c.quality.models.find(name); it != c.quality.models.end()) {
        out << YAML::Key << "quality" << YAML::Value;
        emit_quality(out, it->second);
      }
      if (auto it = c.model_masking.find(name); it != c.model_masking.end()) {
        out << YAML::Key << "masking" << YAML::Value << YAML::BeginMap;
        emit_masking(out, it->second.rules, &it->second.detectors, nullptr, it->second.custom);
        out << YAML::EndMap;
      }
      out << YAML::EndMap;
    }
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace verity::app
