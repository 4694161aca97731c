// verity: the command line. Subcommands: serve, check-config, get.

#include <cstdio>
#include <iostream>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "verity/app/config.h"
#include "verity/app/http_client.h"
#include "verity/app/masking_setup.h"
#include "verity/app/server.h"

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

}  // namespace

int main(int argc, char** argv) {
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
  serve->add_option("--port-file", port_file,
                    "Write the bound addresses as JSON to this file once listening");

  bool print = false;
  auto* check = app.add_subcommand("check-config", "Validate a config file and exit");
  check->add_option("--config,-c", config_path, "Config file")->required();
  check->add_flag("--print", print, "Print the effective configuration");

  std::string request_id, server_url = "http://127.0.0.1:9280";
  auto* get = app.add_subcommand("get", "Print a stored prediction by request id");
  get->add_option("request_id", request_id, "Request id")->required();
  get->add_option("--server", server_url, "Verity HTTP API base URL");
  std::string token;
  get->add_option("--token", token, "Bearer token with the read role")->envname("VERITY_TOKEN");

  CLI11_PARSE(app, argc, argv);

  if (*serve) {
    Config config;
    if (!load(config_path, config)) return 2;
    if (!data_dir.empty()) config.data_dir = data_dir;
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
        "GET", base + "/v1/predictions/" + verity::app::url_encode_segment(request_id), "",
        headers);
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
