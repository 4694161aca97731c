#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "verity/app/auth.h"
#include "verity/core/config_schema.h"
#include "verity/core/status.h"
#include "verity/core/units.h"
#include "verity/document/field_mapping.h"
#include "verity/ingest/beats_input.h"
#include "verity/ingest/http_ingest.h"
#include "verity/ingest/http_server.h"
#include "verity/ingest/masking_policy.h"
#include "verity/ingest/tcp_input.h"
#include "verity/quality/quality_config.h"
#include "verity/query/model_exporter.h"
#include "verity/query/search.h"
#include "verity/query/search_indexer.h"
#include "verity/shippers/es_shipper.h"
#include "verity/store/store.h"

namespace verity::app {

// A model's masking overrides: its rules are checked before the default rules, its detector
// settings replace the default ones by name, its custom detectors are added.
struct ModelMasking {
  std::vector<ingest::MaskRule> rules;
  std::map<std::string, ingest::DetectorSetting> detectors;  // by built-in detector name
  std::vector<ingest::CustomDetector> custom;
};

// models.<name>.*: what a model overrides (each part absent: the top-level settings).
struct ModelOverrides {
  std::optional<document::FieldMapping> fields;        // over the top-level fields
  std::optional<quality::ModelQualityConfig> quality;  // over metrics.quality
  std::optional<ModelMasking> masking;                 // with the top-level masking
};

// The whole configuration. Its defaults are the embedded defaults `verity serve` runs on without a
// file; config/verity.yaml spells the same values out.
struct Config {
  std::string data_dir = "./data";

  size_t io_threads = 2;              // server.io_threads
  Duration shutdown_timeout{30'000};  // server.shutdown_timeout: most time to drain on SIGTERM
  ByteSize max_memory{128ull << 20};  // server.max_memory: the inputs' memory budget
  size_t max_dead_letters_per_batch = 1000;  // dead_letters.max_per_batch
  std::string log_level = "info";            // log.level

  store::StoreOptions store;  // store.* (data_dir comes from the top level)

  // labels.max_wait is store.label_max_wait.
  // metrics.quality.*: every model's settings unless models.<name>.quality overrides them.
  quality::ModelQualityConfig quality;
  // metrics.quality.enabled: false stores no model-quality aggregates (labels still join their
  // predictions; /v1/models and the model gauges say quality is off).
  bool quality_enabled = true;
  query::ModelExportOptions model_export;  // metrics.models.*: the Prometheus model gauges

  shippers::EsShipperOptions es_output;  // outputs.elasticsearch.* (no hosts: the shipper is off)

  query::SearchOptions search;  // search.*: GET /v1/predictions, verity search/export
  query::IndexedFields search_indexed_fields;  // search.indexed_fields: model -> document paths
  bool search_block_summaries = true;          // search.block_summaries
  bool audit_reads = true;
  // http.allow_plaintext_remote: a non-loopback http.listen without http.tls is deliberate.
  bool http_allow_plaintext_remote =
      false;  // audit.reads: every read of prediction data is recorded
  // erasure.subject_field: where a data subject's id is in a document (`verity erase --subject`).
  document::JsonPointer erasure_subject_field = *document::parse_json_pointer("/user_id");

  bool tcp_enabled = true;        // inputs.tcp.enabled
  ingest::TcpInputOptions tcp;    // inputs.tcp.*
  bool tcp_allow_remote = false;  // inputs.tcp.allow_unauthenticated_remote

  bool beats_enabled = true;        // inputs.beats.enabled
  ingest::BeatsInputOptions beats;  // inputs.beats.*
  bool beats_allow_remote = false;  // inputs.beats.allow_unauthenticated_remote

  ingest::HttpServerOptions http;         // http.{listen,max_body,idle_timeout,max_connections}
  ingest::HttpIngestOptions http_ingest;  // http.{max_line,retry_after}
  bool es_enabled = true;                 // http.elasticsearch.enabled
  std::string es_version = "8.15.0";      // http.elasticsearch.version
  size_t es_max_setup_objects = 128;      // http.elasticsearch.max_setup_objects
  ByteSize es_max_setup_object{256ull << 10};  // http.elasticsearch.max_setup_object

  std::vector<Credential> tokens;  // auth.tokens
  std::vector<Credential> users;   // auth.users

  document::FieldMapping fields = document::FieldMapping::defaults();  // fields.*
  document::EnvelopeSettings envelope;                                 // envelope.*

  bool masking_enabled = true;    // masking.enabled
  std::string masking_key_file;   // masking.key_file ("": <data_dir>/masking.key, created)
  ingest::MaskingPolicy masking;  // masking.{redact_token,rules,detectors,custom_detectors}
  std::map<std::string, ModelOverrides> models;  // models.<name>.*

  // auth.tokens then auth.users.
  std::vector<Credential> credentials() const;
  // Where each field is, for every model: `fields`, `envelope` and the models' overrides.
  document::FieldMappingSet field_mappings() const;
  // Model quality settings: `quality` and the models' overrides.
  quality::QualityConfig quality_config() const;
  // The complete per-model policies for the Masker.
  ingest::MaskingConfig masking_config() const;
  // The key file actually used.
  std::string masking_key_path() const;
};

// The whole file's keys, composed from the components' declarations (each component's
// config_keys.h) and bound to `config`. parse_config, render_config and the docs all use it.
void declare_config(config::Section& top, Config& config);

// Parses YAML text. Every problem is reported, one per line, each with its key path.
Result<Config> parse_config(const std::string& yaml_text);
// Reads and parses a file. Errors name the file.
Result<Config> load_config_file(const std::string& path);
// The effective configuration as YAML (what check-config --print shows). Secrets (tokens,
// passwords, API keys) are printed as <hidden> unless `reveal_secrets`, which makes the text parse
// back to the same configuration.
std::string render_config(const Config& config, bool reveal_secrets = false);
// The embedded defaults as a commented YAML file: config/verity.yaml is this (a test keeps it so).
std::string annotated_defaults();
// Every key with its type, default, range and description, in Markdown: docs/configuration.md.
std::string configuration_reference();

}  // namespace verity::app
