// verity-bench-store: the audit store on its own (no network, no decoding on the clock).
// Prints, for the same masked documents: bytes per event in the hot, warm and cold tiers against
// the raw NDJSON and zstd -3 of it; durable write throughput (sync=group); recompaction
// throughput into warm and cold; hash-chain verification time; and one data-subject erasure.

#include <prometheus/registry.h>
#include <zstd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <thread>

#include <CLI/CLI.hpp>

#include "commit_all.h"
#include "prediction_generator.h"
#include "verity/app/config.h"
#include "verity/ingest/document_decoder.h"
#include "verity/ingest/masker.h"
#include "verity/store/store.h"

namespace {

using namespace verity;
using Steady = std::chrono::steady_clock;

double seconds_since(Steady::time_point t) {
  return std::chrono::duration<double>(Steady::now() - t).count();
}

store::PartitionInfo partition(store::Store& s) {
  auto parts = s.partitions();
  if (!parts || parts->empty()) {
    std::fprintf(stderr, "no partition\n");
    std::exit(1);
  }
  return parts->front();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Benchmark the audit store: tiers, write throughput, recompaction, verification"};
  size_t events = 300000, threads = 4, batch = 1000;
  std::string dir = "/tmp/verity-bench-store";
  app.add_option("--events", events, "Documents to store");
  app.add_option("--threads", threads, "Submitting threads");
  app.add_option("--batch", batch, "Events per submitted batch");
  app.add_option("--dir", dir, "Scratch data directory (removed first)");
  store::RetentionOptions retention;
  int cold_level = retention.cold.zstd_level;
  uint32_t cold_block = retention.cold.block_size, dict = retention.cold.dictionary_bytes;
  app.add_option("--cold-level", cold_level, "store.tiers.cold.zstd_level");
  app.add_option("--cold-block", cold_block, "store.tiers.cold.block_size (bytes)");
  app.add_option("--dictionary", dict, "dictionary bytes (warm and cold)");
  CLI11_PARSE(app, argc, argv);

  // Documents as the server stores them: decoded and masked with the default policy.
  auto config = app::parse_config("").value();
  auto masker = ingest::Masker::create(config.masking_config(), "benchmark key, benchmark key");
  if (!masker) {
    std::fprintf(stderr, "masker: %s\n", masker.status().message().c_str());
    return 1;
  }
  const EpochMillis day_start = 1795000000000 - 1795000000000 % 86'400'000;  // 2026-11-18
  ManualClock clock(day_start + 3'600'000);
  ingest::DocumentDecoder decoder(
      std::make_shared<const document::FieldMappingSet>(config.field_mappings()), clock,
      ingest::DecoderLimits{}, *masker);
  bench::PredictionGenerator gen(42, day_start);
  std::vector<std::vector<Event>> batches;
  std::string raw_ndjson, doc;
  raw_ndjson.reserve(events * 720);
  Event e;
  Reject rj;
  for (size_t i = 0; i < events; ++i) {
    doc.clear();
    gen.next(doc, "req-");
    if (!decoder.decode(doc, doc.size(), i + 1, e, rj)) {
      std::fprintf(stderr, "generator document rejected: %s\n", rj.reason.c_str());
      return 1;
    }
    e.timestamp_ms = day_start + static_cast<EpochMillis>(i);  // one partition
    if (batches.empty() || batches.back().size() == batch) batches.emplace_back();
    raw_ndjson += e.document;
    raw_ndjson += '\n';
    batches.back().push_back(std::move(e));
    e = Event();
  }
  const double raw = static_cast<double>(raw_ndjson.size());
  std::string z(ZSTD_compressBound(raw_ndjson.size()), '\0');
  auto t = Steady::now();
  const size_t z3 = ZSTD_compress(z.data(), z.size(), raw_ndjson.data(), raw_ndjson.size(), 3);
  const double z3_seconds = seconds_since(t);

  std::filesystem::remove_all(dir);
  prometheus::Registry registry;
  store::StoreOptions o;
  o.data_dir = dir;
  o.retention.check_interval = Duration(0);
  o.retention.cold.zstd_level = cold_level;
  o.retention.cold.block_size = cold_block;
  o.retention.cold.dictionary_bytes = dict;
  o.retention.warm.dictionary_bytes = dict;
  auto opened = store::Store::open(o, clock, registry);
  if (!opened) {
    std::fprintf(stderr, "%s\n", opened.status().message().c_str());
    return 1;
  }
  auto& s = **opened;

  // Durable writes: `threads` submitters, each waiting for its commit before the next batch.
  const double write_seconds = bench::commit_all(s, std::move(batches), threads);
  (void)s.flush();
  const auto hot = partition(s);

  clock.advance(8LL * 86'400'000);  // a week and a day later: warm
  t = Steady::now();
  (void)s.run_maintenance();
  const double warm_seconds = seconds_since(t);
  const auto warm = partition(s);
  clock.advance(23LL * 86'400'000);  // 31 days: cold
  t = Steady::now();
  (void)s.run_maintenance();
  const double cold_seconds = seconds_since(t);
  const auto cold = partition(s);

  t = Steady::now();
  auto verified = s.verify(cold.partition);
  const double verify_seconds = seconds_since(t);

  // One subject: the generator's user ids repeat, so erase whichever the first document has.
  store::EraseRequest er;
  er.needles = {"\"user_id\":\"hmac:"};  // every document: an upper bound on the scan's cost
  er.matches = [](std::string_view) { return false; };
  t = Steady::now();
  auto erased = s.erase(er);
  const double erase_scan_seconds = seconds_since(t);

  const double n = static_cast<double>(events);
  std::printf("events: %zu, raw NDJSON (masked, as stored): %.1f MiB, %.0f bytes/event\n", events,
              raw / 1048576, raw / n);
  std::printf("%-26s %12s %10s %10s %10s\n", "", "bytes/event", "% of raw", "vs zstd-3", "MiB");
  auto row = [&](const char* name, double bytes) {
    std::printf("%-26s %12.1f %9.1f%% %9.2fx %10.1f\n", name, bytes / n, 100 * bytes / raw,
                bytes / static_cast<double>(z3), bytes / 1048576);
  };
  row("raw NDJSON", raw);
  row("zstd -3 of the NDJSON", static_cast<double>(z3));
  const std::string warm_name =
      "warm (zstd-" + std::to_string(o.retention.warm.zstd_level) + " + dict)";
  const std::string cold_name = "cold (zstd-" + std::to_string(cold_level) + " + dict)";
  row("hot (LZ4, L0 files)", static_cast<double>(hot.bytes_on_disk));
  row(warm_name.c_str(), static_cast<double>(warm.bytes_on_disk));
  row(cold_name.c_str(), static_cast<double>(cold.bytes_on_disk));
  row("hash-chain links", static_cast<double>(cold.chain_bytes));
  std::printf("write, sync=group, %zu threads x %zu-event batches: %.0f events/s (%.2f us/event)\n",
              threads, batch, n / write_seconds, 1e6 * write_seconds / n);
  std::printf("zstd -3 of the NDJSON, one core: %.1f MiB/s\n", raw / 1048576 / z3_seconds);
  std::printf("recompaction to warm: %.2f s, %.1f MiB/s of raw; to cold: %.2f s, %.1f MiB/s\n",
              warm_seconds, raw / 1048576 / warm_seconds, cold_seconds,
              raw / 1048576 / cold_seconds);
  std::printf("verify %s (%llu records): %.2f s, %.0f records/s, %s\n", cold.partition.c_str(),
              static_cast<unsigned long long>(cold.records), verify_seconds,
              static_cast<double>(cold.records) / verify_seconds,
              verified && verified->ok ? "ok" : "BROKEN");
  std::printf("erasure scan over every record (cold tier): %.2f s, %.0f records/s%s\n",
              erase_scan_seconds, n / erase_scan_seconds, erased ? "" : " (failed)");
  s.stop();
  std::filesystem::remove_all(dir);
  return 0;
}
