// verity es setup, verity kibana setup.
#include <iostream>

#include "command.h"
#include "verity/shippers/es_setup.h"
#include "verity/shippers/kibana_setup.h"

namespace verity::cli {
namespace {

class EsSetup final : public Command {
 public:
  CLI::App* attach(CLI::App& app) override {
    auto* es = app.add_subcommand("es", "Elasticsearch: `verity es setup`");
    auto* setup = es->add_subcommand(
        "setup", "Install or update the ILM policies and index templates (idempotent)");
    es->require_subcommand(1);
    setup->add_option("--config,-c", config_path_, "Config file (hosts, credentials, tiers)");
    setup->add_option("--es-url", es_urls_, "Elasticsearch URL (repeatable); replaces the hosts");
    return es;
  }

  int run() override {
    app::Config config;
    if (!load_config(config_path_, config)) return 2;
    if (!es_urls_.empty()) config.es_output.hosts = es_urls_;
    auto changes = shippers::es_setup(config.es_output, config.store.retention);
    if (!changes) {
      std::cerr << "verity es setup: " << changes.status().message() << "\n";
      return changes.status().code() == StatusCode::kInvalidArgument ? 2 : 3;
    }
    for (const auto& c : *changes)
      std::cout << c.kind << " " << c.name << ": " << c.outcome << "\n";
    return 0;
  }

 private:
  std::string config_path_;
  std::vector<std::string> es_urls_;
};

class KibanaSetup final : public Command {
 public:
  CLI::App* attach(CLI::App& app) override {
    auto* kibana = app.add_subcommand("kibana", "Kibana: `verity kibana setup`");
    auto* setup = kibana->add_subcommand(
        "setup", "Import Verity's data views and dashboards into Kibana 8.8+ (idempotent)");
    kibana->require_subcommand(1);
    setup->add_option("--kibana-url", options_.url, "Kibana URL, e.g. http://kibana:5601")
        ->required();
    setup->add_option("--space", options_.space, "Kibana space id (default: the default)");
    setup->add_option("--username", options_.username, "Basic auth user");
    setup->add_option("--password", options_.password, "Basic auth password");
    setup->add_option("--api-key", options_.api_key, "API key (base64 id:key)");
    setup->add_option("--cacert", options_.tls.ca_file, "PEM CA file for https");
    return kibana;
  }

  int run() override {
    auto changes = shippers::kibana_setup(options_);
    if (!changes) {
      std::cerr << "verity kibana setup: " << changes.status().message() << "\n";
      return changes.status().code() == StatusCode::kInvalidArgument ? 2 : 3;
    }
    for (const auto& c : *changes) {
      std::cout << c.type << " " << c.id << " (" << c.title << "): " << c.outcome << "\n";
    }
    return 0;
  }

 private:
  shippers::KibanaOptions options_;
};

}  // namespace

std::unique_ptr<Command> es_command() { return std::make_unique<EsSetup>(); }
std::unique_ptr<Command> kibana_command() { return std::make_unique<KibanaSetup>(); }

}  // namespace verity::cli
