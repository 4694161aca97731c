// verity-gen: writes N deterministic prediction logs as NDJSON to stdout.
//   verity-gen --count 100000 [--seed 42] [--prefix req-] > predictions.ndjson
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "prediction_generator.h"

int main(int argc, char** argv) {
  CLI::App app{"Generate realistic prediction logs (NDJSON)"};
  uint64_t count = 1000, seed = 42;
  std::string prefix = "req-";
  app.add_option("--count,-n", count, "Documents to write");
  app.add_option("--seed", seed, "PRNG seed (same seed, same output)");
  app.add_option("--prefix", prefix, "Request id prefix");
  CLI11_PARSE(app, argc, argv);
  verity::bench::PredictionGenerator gen(seed);
  std::string line;
  for (uint64_t i = 0; i < count; ++i) {
    line.clear();
    gen.next(line, prefix);
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stdout);
  }
  return 0;
}
