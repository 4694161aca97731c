#include "verity/app/config.h"

#include <fstream>
#include <sstream>

#include "verity/app/config_reader.h"

namespace verity::app {
namespace {

constexpr ingest::Field kAllFields[] = {
    ingest::Field::kRequestId,      ingest::Field::kTimestamp,   ingest::Field::kModelName,
    ingest::Field::kModelVersion,   ingest::Field::kInputs,      ingest::Field::kOutputs,
    ingest::Field::kPredictedValue, ingest::Field::kScore,       ingest::Field::kConfidence,
    ingest::Field::kExplanations,   ingest::Field::kGroundTruth, ingest::Field::kLatency};

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

// Reads `fields:` into `mapping`. `model_scope` forbids overriding the model name per model.
void read_fields(ConfigReader r, ingest::FieldMapping& mapping, bool model_scope) {
  for (ingest::Field f : kAllFields) {
    const std::string key(ingest::field_name(f));
    if (!r.has(key)) {
      std::vector<std::string> ignored;
      r.get(key, ignored);  // marks the key as known
      continue;
    }
    if (model_scope && f == ingest::Field::kModelName) {
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
    std::vector<ingest::JsonPointer> pointers;
    for (const auto& t : texts) {
      auto p = ingest::parse_json_pointer(t);
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

}  // namespace

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
    server.finish();
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
    st.finish();
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
    tcp.finish();
    auto beats = inputs.child("beats");
    beats.get("listen", c.beats_listen);
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
    http.finish();
  }
  read_fields(top.child("fields"), c.fields.default_mapping, false);
  for (const auto& model : top.keys_of("models")) {
    ConfigReader models(root["models"], "models", errors);
    auto m = models.child(model);
    ingest::FieldMapping mapping = c.fields.default_mapping;
    read_fields(m.child("fields"), mapping, true);
    m.finish();
    c.fields.per_model.emplace(model, std::move(mapping));
  }
  top.finish();

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

void emit_fields(YAML::Emitter& out, const ingest::FieldMapping& m,
                 const ingest::FieldMapping* base) {
  out << YAML::BeginMap;
  for (ingest::Field f : kAllFields) {
    std::vector<std::string> texts;
    for (const auto& p : m.pointers(f)) texts.push_back(p.text);
    if (base != nullptr) {
      std::vector<std::string> base_texts;
      for (const auto& p : base->pointers(f)) base_texts.push_back(p.text);
      if (texts == base_texts) continue;
    }
    out << YAML::Key << std::string(ingest::field_name(f)) << YAML::Value << YAML::Flow << texts;
  }
  out << YAML::EndMap;
}

}  // namespace

std::string render_config(const Config& c) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "data_dir" << YAML::Value << c.data_dir;
  out << YAML::Key << "server" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "io_threads" << YAML::Value << c.io_threads;
  out << YAML::Key << "shutdown_timeout" << YAML::Value << format_duration(c.shutdown_timeout);
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
  out << YAML::EndMap;
  out << YAML::Key << "beats" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "listen" << YAML::Value << c.beats_listen.to_string() << YAML::EndMap;
  out << YAML::EndMap;
  out << YAML::Key << "http" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "listen" << YAML::Value << c.http.listen.to_string();
  out << YAML::Key << "max_body" << YAML::Value << format_byte_size(c.http.max_body);
  out << YAML::Key << "idle_timeout" << YAML::Value << format_duration(c.http.idle_timeout);
  out << YAML::Key << "max_connections" << YAML::Value << c.http.max_connections;
  out << YAML::EndMap;
  out << YAML::Key << "fields" << YAML::Value;
  emit_fields(out, c.fields.default_mapping, nullptr);
  if (!c.fields.per_model.empty()) {
    out << YAML::Key << "models" << YAML::Value << YAML::BeginMap;
    for (const auto& [name, mapping] : c.fields.per_model) {
      out << YAML::Key << name << YAML::Value << YAML::BeginMap << YAML::Key << "fields"
          << YAML::Value;
      emit_fields(out, mapping, &c.fields.default_mapping);
      out << YAML::EndMap;
    }
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace verity::app
