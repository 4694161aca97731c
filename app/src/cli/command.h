// The `verity` command line: one Command per subcommand, each declaring its own options and
// running when chosen (main.cpp only lists them). All but serve, check-config, es setup and
// kibana setup talk to a running server's HTTP API.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "verity/app/config.h"
#include "verity/app/http_client.h"

namespace verity::cli {

class Command {
 public:
  virtual ~Command() = default;
  // Adds the subcommand and its options to `app`; returns the subcommand.
  virtual CLI::App* attach(CLI::App& app) = 0;
  // Runs the parsed command; returns the process's exit code.
  virtual int run() = 0;
};

// --token's help for the commands that read or administer the store.
inline constexpr const char* kServerTokenHelp =
    "Bearer token (read role; admin for erase, hold, audit)";

// --server, --token and --cacert of the commands that talk to a running server.
struct Client {
  std::string server = "http://127.0.0.1:9280";
  std::string token;
  std::string cacert;  // a CA file (PEM) to trust for an https --server

  void attach(CLI::App* cmd, const char* token_help);
  const app::HttpTls* tls() const;
  // The server URL without trailing slashes.
  std::string base() const;
  // One call to the server's HTTP API. Prints the body (to stdout on 2xx, else to stderr) unless
  // `out` takes it. Returns the HTTP status, or -1 when the server could not be reached.
  int call(const std::string& method, const std::string& path, const std::string& body,
           const char* command, std::string* out = nullptr) const;

 private:
  mutable app::HttpTls tls_;
};

// An HTTP status as an exit code: 0 (2xx), 1 (404), 3 (anything else, or unreachable).
int exit_code(int status);
std::string human_bytes(uint64_t n);
// Loads --config or the embedded defaults; prints the error and returns false when invalid.
bool load_config(const std::string& path, app::Config& out);

// In the order `verity --help` lists them.
std::unique_ptr<Command> serve_command();
std::unique_ptr<Command> check_config_command();
std::unique_ptr<Command> config_docs_command();
std::unique_ptr<Command> get_command();
std::unique_ptr<Command> partitions_command();
std::unique_ptr<Command> verify_command();
std::unique_ptr<Command> erase_command();
std::unique_ptr<Command> hold_command();
std::unique_ptr<Command> search_command();
std::unique_ptr<Command> export_command();
std::unique_ptr<Command> audit_command();
std::unique_ptr<Command> metrics_command();
std::unique_ptr<Command> report_command();
std::unique_ptr<Command> es_command();
std::unique_ptr<Command> kibana_command();

}  // namespace verity::cli
