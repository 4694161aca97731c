// verity: the command line. Each subcommand is a Command in app/src/cli/ (its options and what it
// does); this file lists them in the order `verity --help` shows them and runs the chosen one.

#include <iostream>
#include <memory>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/command.h"

#ifdef VERITY_JEMALLOC
// jemalloc's options for this process (MALLOC_CONF still overrides them). Freed pages go back to
// the OS after about a second (10 s by default), purged by jemalloc's own thread rather than by
// the thread that happens to free: memtables, batches and buffers turn over tens of MiB a second,
// and at the default decay 50-80 MiB of the server's resident memory was freed pages waiting.
// Measured (verity-bench-growth, 1M predictions then 1M labels, three alternating pairs): peak
// RSS 241-245 -> 213-221 MiB, server CPU per event unchanged within the runs' spread
// (docs/design-notes.md, *Memory per event that does not grow with the store*).
extern "C" {
extern const char* malloc_conf;
const char* malloc_conf = "background_thread:true,dirty_decay_ms:1000";
}
#endif

namespace {

int run(int argc, char** argv) {
  CLI::App app{"Verity: prediction-log pipeline and audit store"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "verity 0.1.0");

  std::vector<std::unique_ptr<verity::cli::Command>> commands;
  for (auto make :
       {verity::cli::serve_command, verity::cli::check_config_command,
        verity::cli::config_docs_command, verity::cli::get_command, verity::cli::partitions_command,
        verity::cli::verify_command, verity::cli::erase_command, verity::cli::hold_command,
        verity::cli::search_command, verity::cli::export_command, verity::cli::audit_command,
        verity::cli::metrics_command, verity::cli::report_command, verity::cli::es_command,
        verity::cli::kibana_command}) {
    commands.push_back(make());
  }
  std::vector<CLI::App*> subcommands;
  for (auto& c : commands) subcommands.push_back(c->attach(app));

  CLI11_PARSE(app, argc, argv);

  for (size_t i = 0; i < commands.size(); ++i) {
    if (*subcommands[i]) return commands[i]->run();
  }
  return 0;
}

}  // namespace

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
