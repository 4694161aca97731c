// verity partitions, verify, erase, hold, audit: the store's administration through a running
// server.
#include <cstdio>
#include <iostream>

#include <simdjson.h>

#include "command.h"
#include "verity/app/search_cli.h"
#include "verity/document/json_writer.h"

namespace verity::cli {
namespace {

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

class Partitions final : public Command {
 public:
  CLI::App* attach(CLI::App& app) override {
    auto* cmd = app.add_subcommand("partitions", "List partitions: tier, size, seal, holds");
    cmd->add_flag("--json", as_json_, "Print the server's JSON answer");
    client_.attach(cmd, kServerTokenHelp);
    return cmd;
  }

  int run() override {
    std::string body;
    const int status = client_.call("GET", "/v1/partitions", "", "partitions", &body);
    if (status / 100 != 2) return exit_code(status);
    if (as_json_) {
      std::cout << body;
      return 0;
    }
    return print_partitions(body);
  }

 private:
  bool as_json_ = false;
  Client client_;
};

class Verify final : public Command {
 public:
  CLI::App* attach(CLI::App& app) override {
    auto* cmd = app.add_subcommand(
        "verify", "Recompute the hash chains; exits 1 and names the first break if one is broken");
    cmd->add_option("--partition", partition_, "Only this partition (p_YYYYMMDD)");
    client_.attach(cmd, kServerTokenHelp);
    return cmd;
  }

  int run() override {
    std::string path = "/v1/verify";
    if (!partition_.empty()) path += "?partition=" + app::url_encode_segment(partition_);
    std::string body;
    const int status = client_.call("POST", path, "", "verify", &body);
    if (status / 100 != 2) return exit_code(status);
    std::cout << body;
    return body.rfind("{\"ok\":true", 0) == 0 ? 0 : 1;
  }

 private:
  std::string partition_;
  Client client_;
};

class Erase final : public Command {
 public:
  CLI::App* attach(CLI::App& app) override {
    auto* cmd = app.add_subcommand(
        "erase", "Erase every document of a data subject (erasure.subject_field), audited");
    cmd->add_option("--subject", subject_, "The subject's id, as sent (before masking)")
        ->required();
    client_.attach(cmd, kServerTokenHelp);
    return cmd;
  }

  int run() override {
    std::string body = "{\"subject\":";
    document::append_json_string(body, subject_);
    body += "}";
    return exit_code(client_.call("POST", "/v1/erase", body, "erase"));
  }

 private:
  std::string subject_;
  Client client_;
};

class Hold final : public Command {
 public:
  CLI::App* attach(CLI::App& app) override {
    auto* cmd = app.add_subcommand(
        "hold", "Set (or --clear) a legal hold on a model or partition; no target: list holds");
    cmd->add_option("--model", model_, "Hold every partition holding this model");
    cmd->add_option("--partition", partition_, "Hold this partition (p_YYYYMMDD)");
    cmd->add_flag("--clear", clear_, "Clear the hold instead of setting it");
    client_.attach(cmd, kServerTokenHelp);
    return cmd;
  }

  int run() override {
    if (!model_.empty() && !partition_.empty()) {
      std::cerr << "verity hold: name --model or --partition, not both\n";
      return 2;
    }
    if (model_.empty() && partition_.empty()) {
      return exit_code(client_.call("GET", "/v1/holds", "", "hold"));
    }
    const std::string key = model_.empty() ? "partition" : "model";
    const std::string& value = model_.empty() ? partition_ : model_;
    if (clear_) {
      return exit_code(client_.call(
          "DELETE", "/v1/holds?" + key + "=" + app::url_encode_segment(value), "", "hold"));
    }
    std::string body = "{\"" + key + "\":";
    document::append_json_string(body, value);
    body += "}";
    return exit_code(client_.call("POST", "/v1/holds", body, "hold"));
  }

 private:
  std::string model_, partition_;
  bool clear_ = false;
  Client client_;
};

class Audit final : public Command {
 public:
  CLI::App* attach(CLI::App& app) override {
    auto* cmd = app.add_subcommand(
        "audit",
        "Print the admin audit trail, or with --reads who read what (one JSON entry a line)");
    cmd->add_option("--from", from_,
                    "First entry id; with --reads a time (RFC 3339, epoch ms, now-1h; default "
                    "now-1d)");
    cmd->add_option("--limit", limit_, "Most entries");
    cmd->add_flag("--reads", reads_, "The read audit trail instead (admin role)");
    cmd->add_option("--to", reads_query_.to, "--reads: end (exclusive), as --from");
    cmd->add_option("--actor", reads_query_.actor, "--reads: only this credential");
    client_.attach(cmd, kServerTokenHelp);
    return cmd;
  }

  int run() override {
    if (reads_) {
      reads_query_.server = client_.server;
      reads_query_.token = client_.token;
      reads_query_.cacert = client_.cacert;
      if (from_ != "0") reads_query_.from = from_;
      return app::run_read_audit(reads_query_);
    }
    std::string body;
    const int status = client_.call(
        "GET",
        "/v1/audit?from=" + app::url_encode_segment(from_) + "&limit=" + std::to_string(limit_), "",
        "audit", &body);
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

 private:
  std::string from_ = "0";
  uint64_t limit_ = 1000;
  bool reads_ = false;
  app::SearchCommand reads_query_;
  Client client_;
};

}  // namespace

std::unique_ptr<Command> partitions_command() { return std::make_unique<Partitions>(); }
std::unique_ptr<Command> verify_command() { return std::make_unique<Verify>(); }
std::unique_ptr<Command> erase_command() { return std::make_unique<Erase>(); }
std::unique_ptr<Command> hold_command() { return std::make_unique<Hold>(); }
std::unique_ptr<Command> audit_command() { return std::make_unique<Audit>(); }

}  // namespace verity::cli
