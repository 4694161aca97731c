// verity get, verity search, verity export: reading prediction data from a running server.
#include <iostream>

#include "command.h"
#include "verity/app/search_cli.h"

namespace verity::cli {
namespace {

class Get final : public Command {
 public:
  CLI::App* attach(CLI::App& app) override {
    auto* cmd = app.add_subcommand("get", "Print a stored prediction by request id");
    cmd->add_option("request_id", request_id_, "Request id")->required();
    client_.attach(cmd, "Bearer token with the read role");
    return cmd;
  }

  int run() override {
    std::vector<std::string> headers;
    if (!client_.token.empty()) headers.push_back("Authorization: Bearer " + client_.token);
    auto res = app::http_request(
        "GET", client_.base() + "/v1/predictions/" + app::url_encode_segment(request_id_), "",
        headers, 10'000, client_.tls());
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

 private:
  std::string request_id_;
  Client client_;
};

// The options search and export share.
void add_search_options(CLI::App* cmd, app::SearchCommand& sc) {
  cmd->add_option("where", sc.where, "KQL query (Kibana's search bar syntax); none: every record");
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
  cmd->add_option("--cacert", sc.cacert, "CA file (PEM) to trust for an https --server");
  cmd->add_option("--server", sc.server, "Verity HTTP API base URL");
  cmd->add_option("--token", sc.token, "Bearer token with the read role")->envname("VERITY_TOKEN");
}

class Search final : public Command {
 public:
  CLI::App* attach(CLI::App& app) override {
    auto* cmd = app.add_subcommand(
        "search", "Find stored predictions: model, version, time range and a KQL query");
    add_search_options(cmd, sc_);
    cmd->add_option("--limit", sc_.limit, "Most hits (default 100)");
    cmd->add_option("--format", sc_.format, "ndjson (default), json or csv");
    cmd->add_flag("--explain", sc_.explain, "Print how the store was read");
    return cmd;
  }
  int run() override { return app::run_search(sc_); }

 private:
  app::SearchCommand sc_;
};

class Export final : public Command {
 public:
  CLI::App* attach(CLI::App& app) override {
    auto* cmd = app.add_subcommand(
        "export", "Write every matching prediction to stdout (NDJSON or CSV), progress on stderr");
    add_search_options(cmd, sc_);
    cmd->add_option("--format", sc_.format, "ndjson (default) or csv");
    return cmd;
  }
  int run() override {
    sc_.limit = 0;  // the server's largest page (limit=max)
    return app::run_export(sc_);
  }

 private:
  app::SearchCommand sc_;
};

}  // namespace

std::unique_ptr<Command> get_command() { return std::make_unique<Get>(); }
std::unique_ptr<Command> search_command() { return std::make_unique<Search>(); }
std::unique_ptr<Command> export_command() { return std::make_unique<Export>(); }

}  // namespace verity::cli
