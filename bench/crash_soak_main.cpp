// verity-soak: kill -9 a loaded `verity serve` at random moments, restart it, and check that no
// acknowledged event was lost or duplicated. Runs for as many iterations, or seconds, as asked.
//
//   build/bench/verity-soak --iterations 100            # or --seconds 3600
//   build/bench/verity-soak --seconds 600 --torn-tail   # also tear the WAL tail before each check

#include <chrono>
#include <cstdio>

#include <CLI/CLI.hpp>

#include "crash_soak.h"
#include "server_process.h"

int main(int argc, char** argv) {
  using namespace verity::testing;
  CLI::App app{"Crash soak: kill -9 under load, restart, check every acknowledged event"};
  int iterations = 20;
  int seconds = 0;
  int per_round = 10;
  bool torn = false;
  uint32_t seed = 1;
  app.add_option("--iterations", iterations, "Kills in all (ignored with --seconds)");
  app.add_option("--seconds", seconds, "Run rounds until this much time has passed");
  app.add_option("--kills-per-check", per_round, "Kills between two checks of the store");
  app.add_flag("--torn-tail", torn, "Append a torn record to the WAL before each check");
  app.add_option("--seed", seed, "Random seed for the kill moments");
  CLI11_PARSE(app, argc, argv);

  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  int done = 0;
  uint64_t acknowledged = 0, lost = 0, duplicates = 0;
  int broken_chains = 0;
  for (int round = 0; seconds > 0 ? elapsed() < seconds : done < iterations; ++round) {
    TempDir dir;
    SoakOptions o;
    o.iterations = seconds > 0 ? per_round : std::min(per_round, iterations - done);
    o.seed = seed + static_cast<uint32_t>(round);
    o.torn_tail = torn;
    const SoakResult r = run_crash_soak(dir.path() / "data", o);
    done += r.iterations;
    acknowledged += r.acknowledged;
    lost += r.lost;
    duplicates += r.duplicates;
    if (!r.chains_ok) {
      ++broken_chains;
      std::printf("round %d: hash chains do not verify: %s\n", round, r.verify_report.c_str());
    }
    std::printf(
        "round %d: %d kills, %llu acknowledged, %llu stored, %llu lost%s%s, %llu duplicates\n",
        round, r.iterations, static_cast<unsigned long long>(r.acknowledged),
        static_cast<unsigned long long>(r.stored), static_cast<unsigned long long>(r.lost),
        r.lost ? " (first: " : "", r.lost ? (r.first_lost + ")").c_str() : "",
        static_cast<unsigned long long>(r.duplicates));
    std::fflush(stdout);
  }
  std::printf(
      "iterations: %d, acknowledged: %llu, lost: %llu, duplicates: %llu, broken chains: %d, "
      "%.0f s\n",
      done, static_cast<unsigned long long>(acknowledged), static_cast<unsigned long long>(lost),
      static_cast<unsigned long long>(duplicates), broken_chains, elapsed());
  return lost == 0 && duplicates == 0 && broken_chains == 0 ? 0 : 1;
}
