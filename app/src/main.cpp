// verity: the command line. Subcommands: serve, check-config, get, metrics, report, partitions,
// verify, erase, hold, audit. All but serve and check-config talk to a running server's HTTP API.

#include <cstdio>
#include <iomanip>
#include <iostream>
#include <sstream>

#include <simdjson.h>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "verity/app/config.h"
#include "verity/app/http_client.h"
#include "verity/app/masking_setup.h"
#include "verity/app/search_cli.h"
#include "verity/app/server.h"
#include "verity/document/json_writer.h"
#include "verity/shippers/es_setup.h"
#include "verity/shippers/kibana_setup.h"

namespace {

using verity::app::Config;

// Loads --config or the embedded defaults, then applies command-line overrides. Exits 2 on errors.
bool load(const std::string& path, Config& out) {
  auto c = path.empty() ? verity::app::parse_config("") : verity::app::load_config_file(path);
  if (!c) {
    std::cerr << "verity: invalid configuration:\n" << c.status().message() << "\n";
    return false;
  }
  out = std::move(c).value();
  return true;
}

bool override_listen(const std::string& flag, const std::string& value, verity::HostPort& out) {
  if (value.empty()) return true;
  auto hp = verity::parse_host_port(value);
  if (!hp) {
    std::cerr << "verity: " << flag << ": " << hp.status().message() << "\n";
    return false;
  }
  out = *hp;
  return true;
}

// A CA file (PEM) the client commands trust for an https --server (--cacert).
std::string g_cacert;  // NOLINT: set once from the command line

const verity::app::HttpTls* client_tls() {
  static verity::app::HttpTls tls;
  if (g_cacert.empty()) return nullptr;
  tls.ca_file = g_cacert;
  return &tls;
}

// One call to the server's HTTP API. Prints the body (to stdout on 2xx, else to stderr) unless
// `out` takes it. Returns the HTTP status, or -1 when the server could not be reached.
int api_call(const std::string& server, const std::string& token, const std::string& method,
             const std::string& path, const std::string& body, const char* command,
             std::string* out = nullptr) {
  std::string base = server;
  while (!base.empty() && base.back() == '/') base.pop_back();
  std::vector<std::string> headers;
  if (!token.empty()) headers.push_back("Authorization: Bearer " + token);
  if (!body.empty()) headers.push_back("Content-Type: application/json");
  auto res = verity::app::http_request(method, base + path, body, headers, 10'000, client_tls());
  if (!res) {
    std::cerr << "verity " << command << ": " << res.status().message() << "\n";
    return -1;
  }
  std::string text = res->body;
  if (!text.empty() && text.back() != '\n') text += "\n";
  if (res->status / 100 == 2) {
    if (out != nullptr) {
      *out = std::move(res->body);
    } else {
      std::cout << text;
    }
  } else {
    std::cerr << "verity " << command << ": HTTP " << res->status << ": " << text;
  }
  return res->status;
}

std::string human_bytes(uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  std::ostringstream s;
  s << std::fixed << std::setprecision(u == 0 ? 0 : 1) << v << " " << units[u];
  return s.str();
}

// GET /v1/partitions as a table.
int print_partitions(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  simdjson::dom::array parts;
  if (parser.parse(body).get(root) || root["partitions"].get_array().get(parts)) {
    std::cerr << "verity partitions: unexpected answer from the server\n";
    return 3;
  }
  // ON DISK is table files only; MEMORY is what still waits in memtables (and the WAL).
  std::printf("%-12s %-5s %10s %7s %11s %11s %11s %6s %-7s %s\n", "PARTITION", "TIER", "RECORDS",
              "ERASED", "RAW", "ON DISK", "MEMORY", "RATIO", "SEALED", "HOLDS");
  for (simdjson::dom::element p : parts) {
    std::string holds;
    for (auto h : p["holds"].get_array()) {
      holds += (holds.empty() ? "" : ",") + std::string(h.get_string().value());
    }
    std::string ratio = "-";
    if (p["compression_ratio"].is_number()) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.1fx", p["compression_ratio"].get_double().value());
      ratio = buf;
    }
    const uint64_t disk = p["bytes_on_disk"].get_uint64().value();
    const uint64_t memory = p["memtable_bytes"].get_uint64().value();
    std::printf("%-12s %-5s %10llu %7llu %11s %11s %11s %6s %-7s %s\n",
                std::string(p["partition"].get_string().value()).c_str(),
                std::string(p["tier"].get_string().value()).c_str(),
                static_cast<unsigned long long>(p["records"].get_uint64().value()),
                static_cast<unsigned long long>(p["erased"].get_uint64().value()),
                human_bytes(p["raw_bytes"].get_uint64().value()).c_str(), human_bytes(disk).c_str(),
                human_bytes(memory).c_str(), ratio.c_str(),
                p["sealed"].get_bool().value() ? "sealed" : "open", holds.c_str());
  }
  return 0;
}

// GET /v1/models as a table.
int print_models(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  simdjson::dom::array models;
  if (parser.parse(body).get(root) || root["models"].get_array().get(models)) {
    std::cerr << "verity metrics: unexpected answer from the server\n";
    return 3;
  }
  std::printf("%-24s %-14s %-9s %-28s %12s %12s %-24s %s\n", "MODEL", "TASK", "SOURCE",
              "SCORE READ AS", "PREDICTIONS", "LABELLED", "LAST PREDICTION", "VERSIONS");
  std::vector<std::string> warnings;
  for (simdjson::dom::element m : models) {
    std::string versions;
    for (auto v : m["versions"].get_array()) {
      versions += (versions.empty() ? "" : ",") + std::string(v["version"].get_string().value());
    }
    std::string semantics = "-";
    std::string_view text;
    if (!m["score_semantics"]["value"].get_string().get(text)) {
      semantics = std::string(text);
      if (!m["score_semantics"]["source"].get_string().get(text) && text == "configured") {
        semantics += " (cfg)";
      }
    }
    simdjson::dom::array ws;
    if (!m["warnings"].get_array().get(ws)) {
      for (auto w : ws) {
        if (!w.get_string().get(text)) {
          warnings.push_back(std::string(m["model"].get_string().value()) + ": " +
                             std::string(text));
        }
      }
    }
    std::printf("%-24s %-14s %-9s %-28s %12llu %12llu %-24s %s\n",
                std::string(m["model"].get_string().value()).c_str(),
                std::string(m["task"].get_string().value()).c_str(),
                std::string(m["task_source"].get_string().value()).c_str(), semantics.c_str(),
                static_cast<unsigned long long>(m["predictions"].get_uint64().value()),
                static_cast<unsigned long long>(m["labelled"].get_uint64().value()),
                std::string(m["last_prediction"].get_string().value()).c_str(), versions.c_str());
  }
  simdjson::dom::element l = root["labels"];
  std::printf("labels: %llu joined, %llu corrections, %llu pending, %llu orphaned\n",
              static_cast<unsigned long long>(l["joined"].get_uint64().value()),
              static_cast<unsigned long long>(l["corrections"].get_uint64().value()),
              static_cast<unsigned long long>(l["pending"].get_uint64().value()),
              static_cast<unsigned long long>(l["orphaned"].get_uint64().value()));
  for (const auto& w : warnings) std::printf("warning: %s\n", w.c_str());
  return 0;
}

// GET /v1/models/{model}/metrics as a table.
int print_metrics(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::element r;
  simdjson::dom::object metrics;
  if (parser.parse(body).get(r) || r["metrics"].get_object().get(metrics)) {
    std::cerr << "verity metrics: unexpected answer from the server\n";
    return 3;
  }
  const std::string version =
      r["version"].is_null() ? "(all)" : std::string(r["version"].get_string().value());
  std::printf("model %s  version %s  task %s (%s)\n",
              std::string(r["model"].get_string().value()).c_str(), version.c_str(),
              std::string(r["task"].get_string().value()).c_str(),
              std::string(r["task_source"].get_string().value()).c_str());
  std::printf("from %s  to %s\n", std::string(r["from"].get_string().value()).c_str(),
              std::string(r["to"].get_string().value()).c_str());
  std::printf("%-32s %.0f\n%-32s %.0f\n", "predictions", r["predictions"].get_double().value(),
              "labelled", r["labelled"].get_double().value());
  std::string_view text;
  simdjson::dom::element positive;
  if (!r["positive_class"].get(positive)) {
    std::printf("%-32s %s\n", "positive class", std::string(simdjson::minify(positive)).c_str());
  }
  simdjson::dom::element sem;
  if (!r["score_semantics"].get(sem)) {
    std::printf("%-32s %s (%s)", "score read as",
                std::string(sem["value"].get_string().value()).c_str(),
                std::string(sem["source"].get_string().value()).c_str());
    double d = 0;
    if (!sem["score_label_disagreement_ratio"].get_double().get(d)) {
      std::printf(", %.2f%% of scores contradict the predicted label", 100 * d);
    }
    std::printf("\n");
  }
  simdjson::dom::array warnings;
  if (!r["warnings"].get_array().get(warnings)) {
    for (auto w : warnings) {
      if (!w.get_string().get(text)) std::printf("warning: %s\n", std::string(text).c_str());
    }
  }
  for (auto [name, value] : metrics) {
    if (value.is_null()) continue;
    std::printf("%-32s %.6g\n", std::string(name).c_str(), value.get_double().value());
  }
  simdjson::dom::element cm;
  if (!r["confusion_matrix"].get(cm)) {
    std::printf("\nconfusion matrix (rows: true, columns: predicted)\n%-16s", "");
    for (auto c : cm["labels"].get_array()) {
      std::printf(" %12.12s", std::string(simdjson::minify(c)).c_str());
    }
    std::printf("\n");
    size_t i = 0;
    std::vector<std::string> labels;
    for (auto c : cm["labels"].get_array()) labels.push_back(std::string(simdjson::minify(c)));
    for (auto row : cm["matrix"].get_array()) {
      std::printf("%-16.16s", labels[i++].c_str());
      for (auto v : row.get_array()) std::printf(" %12.0f", v.get_double().value());
      std::printf("\n");
    }
  }
  return 0;
}

int exit_code(int status) { return status / 100 == 2 ? 0 : status == 404 ? 1 : 3; }

}  // namespace

int run(int argc, char** argv) {
  CLI::App app{"Verity: prediction-log pipeline and audit store"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "verity 0.1.0");

  std::string config_path;
  std::string data_dir, tcp_listen, http_listen, beats_listen, port_file;
  auto* serve = app.add_subcommand("serve", "Run the server");
  serve->add_option("--config,-c", config_path, "Config file (default: embedded defaults)");
  serve->add_option("--data-dir", data_dir, "Override data_dir");
  serve->add_option("--tcp-listen", tcp_listen, "Override inputs.tcp.listen (HOST:PORT)");
  serve->add_option("--http-listen", http_listen, "Override http.listen (HOST:PORT)");
  serve->add_option("--beats-listen", beats_listen, "Override inputs.beats.listen (HOST:PORT)");
  std::vector<std::string> es_urls;
  serve->add_option(
      "--es-url", es_urls,
      "Elasticsearch URL to ship to (repeatable); replaces outputs.elasticsearch.hosts");
  serve->add_option("--port-file", port_file,
                    "Write the bound addresses as JSON to this file once listening");

  bool print = false;
  auto* check = app.add_subcommand("check-config", "Validate a config file and exit");
  check->add_option("--config,-c", config_path, "Config file")->required();
  check->add_flag("--print", print, "Print the effective configuration");

  std::string request_id, server_url = "http://127.0.0.1:9280";
  std::string token;
  auto* get = app.add_subcommand("get", "Print a stored prediction by request id");
  get->add_option("request_id", request_id, "Request id")->required();
  get->add_option("--server", server_url, "Verity HTTP API base URL");
  get->add_option("--token", token, "Bearer token with the read role")->envname("VERITY_TOKEN");
  get->add_option("--cacert", g_cacert, "CA file (PEM) to trust for an https --server");

  // Commands that talk to a running server share --server and --token.
  auto client_options = [&](CLI::App* cmd) {
    cmd->add_option("--server", server_url, "Verity HTTP API base URL");
    cmd->add_option("--token", token, "Bearer token (read role; admin for erase, hold, audit)")
        ->envname("VERITY_TOKEN");
    cmd->add_option("--cacert", g_cacert, "CA file (PEM) to trust for an https --server");
  };
  bool as_json = false;
  auto* partitions = app.add_subcommand("partitions", "List partitions: tier, size, seal, holds");
  partitions->add_flag("--json", as_json, "Print the server's JSON answer");
  client_options(partitions);

  std::string partition;
  auto* verify = app.add_subcommand(
      "verify", "Recompute the hash chains; exits 1 and names the first break if one is broken");
  verify->add_option("--partition", partition, "Only this partition (p_YYYYMMDD)");
  client_options(verify);

  std::string subject;
  auto* erase = app.add_subcommand(
      "erase", "Erase every document of a data subject (erasure.subject_field), audited");
  erase->add_option("--subject", subject, "The subject's id, as sent (before masking)")->required();
  client_options(erase);

  std::string hold_model, hold_partition;
  bool clear = false;
  auto* hold = app.add_subcommand(
      "hold", "Set (or --clear) a legal hold on a model or partition; no target: list holds");
  hold->add_option("--model", hold_model, "Hold every partition holding this model");
  hold->add_option("--partition", hold_partition, "Hold this partition (p_YYYYMMDD)");
  hold->add_flag("--clear", clear, "Clear the hold instead of setting it");
  client_options(hold);

  verity::app::SearchCommand sc;
  auto search_options = [&](CLI::App* cmd) {
    cmd->add_option("where", sc.where,
                    "KQL query (Kibana's search bar syntax); none: every record");
    cmd->add_option("--model", sc.model, "Only this model");
    cmd->add_option("--version", sc.version, "Only this model version");
    cmd->add_option("--from", sc.from,
                    "Start: RFC 3339, epoch ms or date math (now-7d, now-1d/d); default: the "
                    "model's first record, or without --model the last day");
    cmd->add_option("--to", sc.to, "End (exclusive), as --from; default: no end");
    cmd->add_option("--fields", sc.fields,
                    "Comma-separated fields to print (default: whole records)");
    cmd->add_option("--order", sc.order, "asc (default) or desc, by @timestamp then request id");
    cmd->add_option("--cursor", sc.cursor, "Go on from a cursor a previous page printed");
    cmd->add_option("--cacert", g_cacert, "CA file (PEM) to trust for an https --server");
    cmd->add_option("--server", sc.server, "Verity HTTP API base URL");
    cmd->add_option("--token", sc.token, "Bearer token with the read role")
        ->envname("VERITY_TOKEN");
  };
  auto* search = app.add_subcommand(
      "search", "Find stored predictions: model, version, time range and a KQL query");
  search_options(search);
  search->add_option("--limit", sc.limit, "Most hits (default 100)");
  search->add_option("--format", sc.format, "ndjson (default), json or csv");
  search->add_flag("--explain", sc.explain, "Print how the store was read");
  auto* export_cmd = app.add_subcommand(
      "export", "Write every matching prediction to stdout (NDJSON or CSV), progress on stderr");
  search_options(export_cmd);
  export_cmd->add_option("--format", sc.format, "ndjson (default) or csv");

  std::string audit_from = "0";
  uint64_t audit_limit = 1000;
  bool audit_reads = false;
  auto* audit = app.add_subcommand(
      "audit",
      "Print the admin audit trail, or with --reads who read what (one JSON entry a line)");
  audit->add_option("--from", audit_from,
                    "First entry id; with --reads a time (RFC 3339, epoch ms, now-1h; default "
                    "now-1d)");
  audit->add_option("--limit", audit_limit, "Most entries");
  audit->add_flag("--reads", audit_reads, "The read audit trail instead (admin role)");
  audit->add_option("--to", sc.to, "--reads: end (exclusive), as --from");
  audit->add_option("--actor", sc.actor, "--reads: only this credential");
  client_options(audit);

  std::string metrics_model, metrics_version, window, from, to;
  bool all_versions = true;
  auto* metrics = app.add_subcommand(
      "metrics", "Model quality: no model lists the models; a model prints its report");
  metrics->add_option("model", metrics_model, "Model name");
  metrics->add_option("--version", metrics_version, "Only this model version")
      ->each([&](const std::string&) { all_versions = false; });
  metrics->add_option("--window", window, "5m, 1h, 24h, 7d, 30d or <n>m|h|d (default: all)");
  metrics->add_option("--from", from, "Start (RFC 3339 or epoch ms)");
  metrics->add_option("--to", to, "End (RFC 3339 or epoch ms)");
  metrics->add_flag("--json", as_json, "Print the server's JSON answer");
  client_options(metrics);

  std::string report_model, report_version, report_output;
  bool report_all_versions = true;
  auto* report = app.add_subcommand(
      "report", "Write a model's report as one self-contained HTML file (charts, no network)");
  report->add_option("model", report_model, "Model name")->required();
  report->add_option("--version", report_version, "Only this model version")
      ->each([&](const std::string&) { report_all_versions = false; });
  report->add_option("--window", window, "5m, 1h, 24h, 7d, 30d or <n>m|h|d (default: all)");
  report->add_option("--from", from, "Start (RFC 3339 or epoch ms)");
  report->add_option("--to", to, "End (RFC 3339 or epoch ms)");
  report->add_option("-o,--output", report_output, "The HTML file to write")->required();
  client_options(report);

  auto* es = app.add_subcommand("es", "Elasticsearch: `verity es setup`");
  auto* es_setup = es->add_subcommand(
      "setup", "Install or update the ILM policies and index templates (idempotent)");
  es->require_subcommand(1);
  es_setup->add_option("--config,-c", config_path, "Config file (hosts, credentials, tiers)");
  es_setup->add_option("--es-url", es_urls, "Elasticsearch URL (repeatable); replaces the hosts");

  auto* kibana = app.add_subcommand("kibana", "Kibana: `verity kibana setup`");
  auto* kibana_setup = kibana->add_subcommand(
      "setup", "Import Verity's data views and dashboards into Kibana 8.8+ (idempotent)");
  kibana->require_subcommand(1);
  verity::shippers::KibanaOptions kibana_options;
  kibana_setup
      ->add_option("--kibana-url", kibana_options.url, "Kibana URL, e.g. http://kibana:5601")
      ->required();
  kibana_setup->add_option("--space", kibana_options.space,
                           "Kibana space id (default: the default)");
  kibana_setup->add_option("--username", kibana_options.username, "Basic auth user");
  kibana_setup->add_option("--password", kibana_options.password, "Basic auth password");
  kibana_setup->add_option("--api-key", kibana_options.api_key, "API key (base64 id:key)");
  kibana_setup->add_option("--cacert", kibana_options.tls.ca_file, "PEM CA file for https");

  CLI11_PARSE(app, argc, argv);

  if (*kibana_setup) {
    auto changes = verity::shippers::kibana_setup(kibana_options);
    if (!changes) {
      std::cerr << "verity kibana setup: " << changes.status().message() << "\n";
      return changes.status().code() == verity::StatusCode::kInvalidArgument ? 2 : 3;
    }
    for (const auto& c : *changes) {
      std::cout << c.type << " " << c.id << " (" << c.title << "): " << c.outcome << "\n";
    }
    return 0;
  }

  if (*es_setup) {
    Config config;
    if (!load(config_path, config)) return 2;
    if (!es_urls.empty()) config.es_output.hosts = es_urls;
    auto changes = verity::shippers::es_setup(config.es_output, config.store.retention);
    if (!changes) {
      std::cerr << "verity es setup: " << changes.status().message() << "\n";
      return changes.status().code() == verity::StatusCode::kInvalidArgument ? 2 : 3;
    }
    for (const auto& c : *changes)
      std::cout << c.kind << " " << c.name << ": " << c.outcome << "\n";
    return 0;
  }

  if (*partitions) {
    std::string body;
    const int status =
        api_call(server_url, token, "GET", "/v1/partitions", "", "partitions", &body);
    if (status / 100 != 2) return exit_code(status);
    if (as_json) {
      std::cout << body;
      return 0;
    }
    return print_partitions(body);
  }
  if (*metrics) {
    std::string path = "/v1/models";
    if (!metrics_model.empty()) {
      path += "/" + verity::app::url_encode_segment(metrics_model) + "/metrics";
      std::string q;
      auto add = [&](const char* k, const std::string& v) {
        q += (q.empty() ? "?" : "&") + std::string(k) + "=" + verity::app::url_encode_segment(v);
      };
      if (!all_versions) add("version", metrics_version);
      if (!window.empty()) add("window", window);
      if (!from.empty()) add("from", from);
      if (!to.empty()) add("to", to);
      path += q;
    }
    std::string body;
    const int status = api_call(server_url, token, "GET", path, "", "metrics", &body);
    if (status / 100 != 2) return exit_code(status);
    if (as_json) {
      std::cout << body;
      return 0;
    }
    return metrics_model.empty() ? print_models(body) : print_metrics(body);
  }
  if (*report) {
    std::string q;
    auto add = [&](const char* k, const std::string& v) {
      q += (q.empty() ? "?" : "&") + std::string(k) + "=" + verity::app::url_encode_segment(v);
    };
    if (!report_all_versions) add("version", report_version);
    if (!window.empty()) add("window", window);
    if (!from.empty()) add("from", from);
    if (!to.empty()) add("to", to);
    std::string body;
    const int status =
        api_call(server_url, token, "GET",
                 "/v1/models/" + verity::app::url_encode_segment(report_model) + "/report.html" + q,
                 "", "report", &body);
    if (status / 100 != 2) return exit_code(status);
    // Written beside the target, then renamed over it: a failed write leaves no half a report.
    const std::string tmp = report_output + ".tmp";
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    const bool written = f != nullptr && std::fwrite(body.data(), 1, body.size(), f) == body.size();
    const bool closed = f != nullptr && std::fclose(f) == 0;
    if (!written || !closed || std::rename(tmp.c_str(), report_output.c_str()) != 0) {
      std::remove(tmp.c_str());
      std::cerr << "verity report: cannot write " << report_output << "\n";
      return 2;
    }
    std::cout << "verity report: wrote " << report_output << " (" << human_bytes(body.size())
              << ")\n";
    return 0;
  }
  if (*verify) {
    std::string path = "/v1/verify";
    if (!partition.empty()) path += "?partition=" + verity::app::url_encode_segment(partition);
    std::string body;
    const int status = api_call(server_url, token, "POST", path, "", "verify", &body);
    if (status / 100 != 2) return exit_code(status);
    std::cout << body;
    return body.rfind("{\"ok\":true", 0) == 0 ? 0 : 1;
  }
  if (*erase) {
    std::string body = "{\"subject\":";
    verity::document::append_json_string(body, subject);
    body += "}";
    return exit_code(api_call(server_url, token, "POST", "/v1/erase", body, "erase"));
  }
  if (*hold) {
    if (!hold_model.empty() && !hold_partition.empty()) {
      std::cerr << "verity hold: name --model or --partition, not both\n";
      return 2;
    }
    if (hold_model.empty() && hold_partition.empty()) {
      return exit_code(api_call(server_url, token, "GET", "/v1/holds", "", "hold"));
    }
    const std::string key = hold_model.empty() ? "partition" : "model";
    const std::string& value = hold_model.empty() ? hold_partition : hold_model;
    if (clear) {
      return exit_code(api_call(server_url, token, "DELETE",
                                "/v1/holds?" + key + "=" + verity::app::url_encode_segment(value),
                                "", "hold"));
    }
    std::string body = "{\"" + key + "\":";
    verity::document::append_json_string(body, value);
    body += "}";
    return exit_code(api_call(server_url, token, "POST", "/v1/holds", body, "hold"));
  }
  if (*search || *export_cmd || (*audit && audit_reads)) {
    sc.server = server_url != "http://127.0.0.1:9280" ? server_url : sc.server;
    if (sc.token.empty()) sc.token = token;
    sc.cacert = g_cacert;
    if (*search) return verity::app::run_search(sc);
    if (*export_cmd) {
      sc.limit = 0;  // the server's largest page (limit=max)
      return verity::app::run_export(sc);
    }
    if (audit_from != "0") sc.from = audit_from;
    return verity::app::run_read_audit(sc);
  }
  if (*audit) {
    std::string body;
    const int status = api_call(server_url, token, "GET",
                                "/v1/audit?from=" + verity::app::url_encode_segment(audit_from) +
                                    "&limit=" + std::to_string(audit_limit),
                                "", "audit", &body);
    if (status / 100 != 2) return exit_code(status);
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    simdjson::dom::array entries;
    if (parser.parse(body).get(root) || root["entries"].get_array().get(entries)) {
      std::cerr << "verity audit: unexpected answer from the server\n";
      return 3;
    }
    for (auto e : entries) std::cout << simdjson::minify(e) << "\n";
    return 0;
  }

  if (*serve) {
    Config config;
    if (!load(config_path, config)) return 2;
    if (!data_dir.empty()) config.data_dir = data_dir;
    if (!es_urls.empty()) {
      for (auto& u : es_urls) {
        while (!u.empty() && u.back() == '/') u.pop_back();
      }
      config.es_output.hosts = es_urls;
    }
    if (!override_listen("--tcp-listen", tcp_listen, config.tcp.listen) ||
        !override_listen("--http-listen", http_listen, config.http.listen) ||
        !override_listen("--beats-listen", beats_listen, config.beats.listen)) {
      return 2;
    }
    auto logger = spdlog::stderr_color_mt("verity");
    spdlog::set_default_logger(logger);
    spdlog::set_level(spdlog::level::from_str(config.log_level));
    return verity::app::run_serve(std::move(config), port_file);
  }
  if (*check) {
    Config config;
    if (!load(config_path, config)) return 2;
    if (auto masker = verity::app::build_masker(config, /*create_key=*/false); !masker) {
      std::cerr << "verity: invalid configuration:\n"
                << config_path << ": " << masker.status().message() << "\n";
      return 2;
    }
    if (print) {
      std::cout << verity::app::render_config(config);
    } else {
      std::cout << config_path << ": ok\n";
    }
    return 0;
  }
  if (*get) {
    std::string base = server_url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    std::vector<std::string> headers;
    if (!token.empty()) headers.push_back("Authorization: Bearer " + token);
    auto res = verity::app::http_request(
        "GET", base + "/v1/predictions/" + verity::app::url_encode_segment(request_id), "", headers,
        10'000, client_tls());
    if (!res) {
      std::cerr << "verity get: " << res.status().message() << "\n";
      return 3;
    }
    if (res->status == 200) {
      std::cout << res->body;
      if (!res->body.empty() && res->body.back() != '\n') std::cout << "\n";
      return 0;
    }
    std::cerr << "verity get: HTTP " << res->status << ": " << res->body;
    if (!res->body.empty() && res->body.back() != '\n') std::cerr << "\n";
    return res->status == 404 ? 1 : 3;
  }
  return 0;
}

// The CLI renders its server's answers with simdjson's throwing accessors; an answer of another
// shape (a different server, an older version) ends the command with a message, not an abort.
int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "verity: unexpected answer or failure: " << e.what() << "\n";
    return 3;
  }
}
