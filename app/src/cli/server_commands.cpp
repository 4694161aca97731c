// verity serve, verity check-config, verity config-docs.
#include <iostream>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "command.h"
#include "verity/app/masking_setup.h"
#include "verity/app/server.h"

namespace verity::cli {
namespace {

bool override_listen(const std::string& flag, const std::string& value, HostPort& out) {
  if (value.empty()) return true;
  auto hp = parse_host_port(value);
  if (!hp) {
    std::cerr << "verity: " << flag << ": " << hp.status().message() << "\n";
    return false;
  }
  out = *hp;
  return true;
}

class Serve final : public Command {
 public:
  CLI::App* attach(CLI::App& app) override {
    auto* cmd = app.add_subcommand("serve", "Run the server");
    cmd->add_option("--config,-c", config_path_, "Config file (default: embedded defaults)");
    cmd->add_option("--data-dir", data_dir_, "Override data_dir");
    cmd->add_option("--tcp-listen", tcp_listen_, "Override inputs.tcp.listen (HOST:PORT)");
    cmd->add_option("--http-listen", http_listen_, "Override http.listen (HOST:PORT)");
    cmd->add_option("--beats-listen", beats_listen_, "Override inputs.beats.listen (HOST:PORT)");
    cmd->add_option(
        "--es-url", es_urls_,
        "Elasticsearch URL to ship to (repeatable); replaces outputs.elasticsearch.hosts");
    cmd->add_option("--port-file", port_file_,
                    "Write the bound addresses as JSON to this file once listening");
    return cmd;
  }

  int run() override {
    app::Config config;
    if (!load_config(config_path_, config)) return 2;
    if (!data_dir_.empty()) config.data_dir = data_dir_;
    if (!es_urls_.empty()) {
      for (auto& u : es_urls_) {
        while (!u.empty() && u.back() == '/') u.pop_back();
      }
      config.es_output.hosts = es_urls_;
    }
    if (!override_listen("--tcp-listen", tcp_listen_, config.tcp.listen) ||
        !override_listen("--http-listen", http_listen_, config.http.listen) ||
        !override_listen("--beats-listen", beats_listen_, config.beats.listen)) {
      return 2;
    }
    auto logger = spdlog::stderr_color_mt("verity");
    spdlog::set_default_logger(logger);
    spdlog::set_level(spdlog::level::from_str(config.log_level));
    return app::run_serve(std::move(config), port_file_);
  }

 private:
  std::string config_path_, data_dir_, tcp_listen_, http_listen_, beats_listen_, port_file_;
  std::vector<std::string> es_urls_;
};

class CheckConfig final : public Command {
 public:
  CLI::App* attach(CLI::App& app) override {
    auto* cmd = app.add_subcommand("check-config", "Validate a config file and exit");
    cmd->add_option("--config,-c", config_path_, "Config file")->required();
    cmd->add_flag("--print", print_, "Print the effective configuration");
    return cmd;
  }

  int run() override {
    app::Config config;
    if (!load_config(config_path_, config)) return 2;
    if (auto masker = app::build_masker(config, /*create_key=*/false); !masker) {
      std::cerr << "verity: invalid configuration:\n"
                << config_path_ << ": " << masker.status().message() << "\n";
      return 2;
    }
    if (print_) {
      std::cout << app::render_config(config);
    } else {
      std::cout << config_path_ << ": ok\n";
    }
    return 0;
  }

 private:
  std::string config_path_;
  bool print_ = false;
};

class ConfigDocs final : public Command {
 public:
  CLI::App* attach(CLI::App& app) override {
    auto* cmd = app.add_subcommand(
        "config-docs",
        "Print every config key with its default: a commented YAML file or a Markdown reference");
    cmd->add_option("--format", format_,
                    "yaml (config/verity.yaml) or markdown "
                    "(docs/configuration.md)")
        ->check(CLI::IsMember({"yaml", "markdown"}));
    return cmd;
  }

  int run() override {
    std::cout << (format_ == "markdown" ? app::configuration_reference()
                                        : app::annotated_defaults());
    return 0;
  }

 private:
  std::string format_ = "yaml";
};

}  // namespace

std::unique_ptr<Command> serve_command() { return std::make_unique<Serve>(); }
std::unique_ptr<Command> check_config_command() { return std::make_unique<CheckConfig>(); }
std::unique_ptr<Command> config_docs_command() { return std::make_unique<ConfigDocs>(); }

}  // namespace verity::cli
