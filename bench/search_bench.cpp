// verity-bench-search: reads of a full store. Stores --events masked predictions over --days days
// (the generator's 3 models, 40 versions each), then prints, each with its baseline from the same
// run (a plain scan of every record through the time index):
//   - point lookups by request id (p50, p99);
//   - one model over one day, in (timestamp, request id) order: records/s on one thread;
//   - an equality query on an indexed field (search.indexed_fields: user_id of fraud-detector),
//     first page, through the field index and (baseline) with the index off;
//   - a selective query on an unindexed field whose value clusters in time (an "incident": one
//     hour of one day logs currency USD instead of EUR), all pages, with block summaries and
//     (baseline) without: blocks skipped;
//   - a selective query on values spread evenly (a rare combination of two input fields): what
//     summaries cannot skip, first page;
//   - an export of one model-day as NDJSON through the search API: MB/s.
// Nothing here is a test: it prints figures (see bench/README.md).

#include <prometheus/registry.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>

#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include "commit_all.h"
#include "prediction_generator.h"
#include "proc_stats.h"
#include "verity/app/config.h"
#include "verity/ingest/document_decoder.h"
#include "verity/ingest/masker.h"
#include "verity/query/search.h"
#include "verity/query/search_indexer.h"
#include "verity/store/store.h"

namespace {

using namespace verity;
using Steady = std::chrono::steady_clock;

// CPU time of the calling thread (the scans run on it; RocksDB's background threads do not count).
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double seconds_since(Steady::time_point t) {
  return std::chrono::duration<double>(Steady::now() - t).count();
}

struct ScanFigures {
  uint64_t records = 0, bytes = 0;
  double seconds = 0, cpu = 0;
};

ScanFigures scan(const store::Store& s, const store::ScanRange& range) {
  ScanFigures f;
  const double cpu0 = thread_cpu_seconds();
  const auto t = Steady::now();
  auto sc = s.scan(range);
  if (!sc) {
    std::fprintf(stderr, "scan: %s\n", sc.status().message().c_str());
    std::exit(1);
  }
  while (true) {
    auto r = (*sc)->next();
    if (!r || !*r) break;
    ++f.records;
    f.bytes += (*r)->document.size();
  }
  f.seconds = seconds_since(t);
  f.cpu = thread_cpu_seconds() - cpu0;
  return f;
}

HttpRequest search_request(std::vector<std::pair<std::string, std::string>> params) {
  HttpRequest r;
  r.method = "GET";
  r.path = "/v1/predictions";
  r.query = std::move(params);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Benchmark reads of a full store: point lookups, model-day scans, search, export"};
  size_t events = 2'000'000, days = 4, batch = 1000;
  std::string dir = "/tmp/verity-bench-search";
  app.add_option("--events", events, "Predictions to store (the issue's figure: 20000000)");
  app.add_option("--days", days, "Days the predictions spread over (one partition a day)");
  app.add_option("--dir", dir, "Scratch data directory (removed first)");
  bool reuse = false;
  app.add_flag("--reuse", reuse,
               "Read the store a previous run with the same --events and --days left in --dir");
  std::vector<std::string> only;
  app.add_option("--only", only, "Run only these reads (comma-separated), e.g. to profile one")
      ->delimiter(',')
      ->check(CLI::IsMember(
          {"scan", "model-day", "lookups", "indexed", "clustered", "spread", "export"}));
  size_t page_bytes = query::SearchOptions{}.max_page_bytes;
  app.add_option("--page-bytes", page_bytes, "Bytes of answer that end a page (the default's)")
      ->check(CLI::Range(size_t{64} << 10, size_t{1} << 30));
  CLI11_PARSE(app, argc, argv);

  auto config = app::parse_config("").value();
  auto masker = ingest::Masker::create(config.masking_config(), "benchmark key, benchmark key");
  if (!masker) {
    std::fprintf(stderr, "masker: %s\n", masker.status().message().c_str());
    return 1;
  }
  const EpochMillis day_start = 1795000000000 - 1795000000000 % 86'400'000;  // 2026-11-18
  const EpochMillis span = static_cast<EpochMillis>(days) * 86'400'000;
  ManualClock clock(day_start + span + 3'600'000);
  auto fields = std::make_shared<const document::FieldMappingSet>(config.field_mappings());
  ingest::DocumentDecoder decoder(fields, clock, ingest::DecoderLimits{}, *masker);

  if (!reuse) std::filesystem::remove_all(dir);
  prometheus::Registry registry;
  // The store keeps a field index of fraud-detector's user_id and block summaries (the defaults).
  query::IndexedFields indexed{{"fraud-detector", {"user_id"}}};
  auto indexer = std::make_shared<const query::SearchIndexer>(fields, indexed);
  store::StoreOptions o;
  o.data_dir = dir;
  o.indexer = indexer;
  o.retention.check_interval = Duration(0);
  o.sync = store::SyncPolicy::kNone;  // filling the store is not what is measured
  auto opened = store::Store::open(o, clock, registry);
  if (!opened) {
    std::fprintf(stderr, "%s\n", opened.status().message().c_str());
    return 1;
  }
  store::Store& s = **opened;

  const EpochMillis incident_from = day_start + 86'400'000 + 13 * 3'600'000;
  // Fill, a chunk of batches at a time (20M documents do not fit in memory at once).
  bench::PredictionGenerator gen(42, day_start, 1);
  std::string doc;
  Event e;
  Reject rj;
  std::vector<std::string> sample_ids;
  std::mt19937_64 rng(7);
  const auto fill_start = Steady::now();
  for (size_t n = 0; n < events && sample_ids.size() < 20'000; n += 997) {
    sample_ids.push_back("req-" + std::to_string(n));
  }
  for (size_t done = reuse ? events : 0; done < events;) {
    std::vector<std::vector<Event>> batches;
    for (size_t k = 0; k < 200 && done < events; ++k) {
      batches.emplace_back();
      for (size_t i = 0; i < batch && done < events; ++i, ++done) {
        doc.clear();
        gen.next(doc, "req-");
        if (!decoder.decode(doc, doc.size(), done + 1, e, rj)) {
          std::fprintf(stderr, "generator document rejected: %s\n", rj.reason.c_str());
          return 1;
        }
        // Spread evenly over the days, in order (as a live service logs).
        e.timestamp_ms = day_start + static_cast<EpochMillis>(static_cast<double>(done) /
                                                              static_cast<double>(events) *
                                                              static_cast<double>(span));
        // The incident: an hour of the second day where fraud-detector logs another currency.
        if (e.timestamp_ms >= incident_from && e.timestamp_ms < incident_from + 3'600'000 &&
            e.model_name == "fraud-detector") {
          const size_t at = e.document.find("\"currency\":\"EUR\"");
          if (at != std::string::npos) e.document.replace(at + 12, 3, "USD");
        }
        batches.back().push_back(std::move(e));
        e = Event();
      }
    }
    bench::commit_all(s, std::move(batches), 2);
    std::fprintf(stderr, "\rstored %zu", done);
  }
  std::fprintf(stderr, "\rstored %zu events in %.0f s\n", events, seconds_since(fill_start));
  // The reads are of a store at rest: RocksDB's compactions of the load finish first.
  const auto settle_start = Steady::now();
  if (auto st = s.settle(); !st) {
    std::fprintf(stderr, "settle: %s\n", st.message().c_str());
    return 1;
  }
  std::fprintf(stderr, "compactions settled in %.0f s\n", seconds_since(settle_start));
  std::printf("verity-bench-search: %zu events over %zu days, 3 models x 40 versions\n", events,
              days);

  auto wanted = [&](std::string_view name) {
    return only.empty() || std::find(only.begin(), only.end(), name) != only.end();
  };
  std::printf("%-44s %12s %10s %12s %10s\n", "read", "records", "seconds", "records/s", "MB/s");
  auto row = [](const char* what, const ScanFigures& f) {
    std::printf("%-44s %12llu %10.2f %12.0f %10.1f\n", what,
                static_cast<unsigned long long>(f.records), f.seconds,
                static_cast<double>(f.records) / f.seconds,
                static_cast<double>(f.bytes) / f.seconds / 1e6);
  };
  // Baseline: every record, through the time index.
  ScanFigures all;
  if (wanted("scan")) {
    all = scan(s, store::ScanRange{});
    row("baseline: full scan, every model", all);
  }

  // One model, one day (the second), in order, on this thread.
  store::ScanRange md;
  md.model = "fraud-detector";
  md.from_ms = day_start + 86'400'000;
  md.to_ms = md.from_ms + 86'400'000;
  if (wanted("model-day")) {
    const ScanFigures model_day = scan(s, md);
    row("one model, one day (40 versions merged)", model_day);
    std::printf("  cpu per record: %.2f us",
                model_day.cpu / static_cast<double>(model_day.records) * 1e6);
    if (all.records > 0) {
      std::printf(" (baseline %.2f us)", all.cpu / static_cast<double>(all.records) * 1e6);
    }
    std::printf("\n");
    store::ScanRange mvd = md;
    mvd.version = "v1.3";
    row("one model version, one day", scan(s, mvd));
  }

  // Point lookups.
  std::vector<double> us;
  std::shuffle(sample_ids.begin(), sample_ids.end(), rng);
  for (const auto& id : sample_ids) {
    if (!wanted("lookups")) break;
    const auto t = Steady::now();
    auto r = s.get_prediction(id);
    us.push_back(seconds_since(t) * 1e6);
    if (!r || !*r) {
      std::fprintf(stderr, "lookup of %s failed\n", id.c_str());
      return 1;
    }
  }
  std::sort(us.begin(), us.end());
  if (!us.empty()) {
    std::printf("point lookups: %zu, p50 %.1f us, p99 %.1f us, max %.1f us\n", us.size(),
                us[us.size() / 2], us[us.size() * 99 / 100], us.back());
  }

  // Search and export through the API (no HTTP), one model-day: with the field index and block
  // summaries, and (the baseline) with neither.
  query::SearchOptions narrowed;
  narrowed.indexer = indexer;
  narrowed.max_page_bytes = page_bytes;
  query::SearchApi api(s, clock, narrowed, fields.get(), nullptr);
  query::SearchOptions unnarrowed;
  unnarrowed.max_page_bytes = page_bytes;
  query::SearchApi plain(s, clock, unnarrowed, fields.get(), nullptr);
  const std::string from = std::to_string(md.from_ms), to = std::to_string(md.to_ms);
  auto header = [](const HttpResponse& r, const char* name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return std::string();
  };
  auto explained = [](const HttpResponse& r, const char* member) {
    const std::string key = std::string("\"") + member + "\":";
    const size_t at = r.body.rfind(key);
    return at == std::string::npos
               ? std::string("?")
               : r.body.substr(at + key.size(), r.body.find_first_of(",}", at) - at - key.size());
  };
  // One page (or every page) of a query, timed.
  struct Timed {
    double ms = 0;
    uint64_t scanned = 0, matched = 0, pages = 0;
    HttpResponse last;
  };
  auto run = [&](const query::SearchApi& a, const std::string& where, bool all_pages) {
    Timed t;
    const auto start = Steady::now();
    std::string cursor;
    while (true) {
      std::vector<std::pair<std::string, std::string>> q = {{"model", "fraud-detector"},
                                                            {"from", from},
                                                            {"to", to},
                                                            {"where", where},
                                                            {"limit", "100"},
                                                            {"explain", "true"}};
      if (!cursor.empty()) q.emplace_back("cursor", cursor);
      t.last = a.search(search_request(q));
      ++t.pages;
      t.scanned += std::strtoull(header(t.last, "X-Verity-Scanned").c_str(), nullptr, 10);
      t.matched += std::strtoull(header(t.last, "X-Verity-Matched").c_str(), nullptr, 10);
      cursor = header(t.last, "X-Verity-Next-Cursor");
      if (!all_pages || t.last.status != 200 || cursor.empty()) break;
    }
    t.ms = seconds_since(start) * 1e3;
    return t;
  };
  if (wanted("indexed")) {
    // A user of fraud-detector on the model-day: its stored (masked) id, from a record.
    std::string user;
    for (const auto& id : sample_ids) {
      auto r = s.get_prediction(id);
      if (!r || !*r || (*r)->model_name != "fraud-detector" || (*r)->timestamp_ms < md.from_ms ||
          (*r)->timestamp_ms >= md.to_ms) {
        continue;
      }
      const std::string& d = (*r)->document;
      const size_t at = d.find("\"user_id\":\"");
      if (at == std::string::npos) continue;
      user = d.substr(at + 11, d.find('"', at + 11) - at - 11);
      break;
    }
    const std::string where = "user_id:\"" + user + "\"";
    const Timed indexed_page = run(api, where, false);
    const Timed plain_page = run(plain, where, false);
    std::printf(
        "indexed equality (%s), first page: %.2f ms, %llu records read, %llu hits, index: %s "
        "(baseline without the index: %.1f ms, %llu records read)\n",
        where.c_str(), indexed_page.ms, static_cast<unsigned long long>(indexed_page.scanned),
        static_cast<unsigned long long>(indexed_page.matched),
        explained(indexed_page.last, "index").c_str(), plain_page.ms,
        static_cast<unsigned long long>(plain_page.scanned));
  }
  if (wanted("clustered")) {
    const std::string where = "input_features.currency:USD";
    const Timed with = run(api, where, true);
    const Timed without = run(plain, where, true);
    const double read = std::strtod(explained(with.last, "blocks_read").c_str(), nullptr);
    const double skipped = std::strtod(explained(with.last, "blocks_skipped").c_str(), nullptr);
    std::printf(
        "clustered unindexed (%s), all pages: %.1f ms, %llu records read, %llu hits, blocks "
        "skipped %.0f of %.0f (%.1f%%, last page's scan) (baseline without summaries: %.1f ms, "
        "%llu records read)\n",
        where.c_str(), with.ms, static_cast<unsigned long long>(with.scanned),
        static_cast<unsigned long long>(with.matched), skipped, read + skipped,
        read + skipped > 0 ? 100.0 * skipped / (read + skipped) : 0.0, without.ms,
        static_cast<unsigned long long>(without.scanned));
  }
  if (wanted("spread")) {
    const std::string where = "input_features.account_age_days:7 and input_features.channel:pos";
    const Timed with = run(api, where, false);
    const Timed without = run(plain, where, false);
    const double read = std::strtod(explained(with.last, "blocks_read").c_str(), nullptr);
    const double skipped = std::strtod(explained(with.last, "blocks_skipped").c_str(), nullptr);
    std::printf(
        "spread unindexed (%s), first page: %.1f ms, %llu records read, blocks skipped %.0f of "
        "%.0f (baseline without summaries: %.1f ms, %llu records read)\n",
        where.c_str(), with.ms, static_cast<unsigned long long>(with.scanned), skipped,
        read + skipped, without.ms, static_cast<unsigned long long>(without.scanned));
  }
  if (wanted("export")) {
    const auto t = Steady::now();
    uint64_t bytes = 0, pages = 0;
    std::string cursor;
    while (true) {
      std::vector<std::pair<std::string, std::string>> q = {
          {"model", "fraud-detector"}, {"from", from}, {"to", to}, {"limit", "10000"}};
      if (!cursor.empty()) q.emplace_back("cursor", cursor);
      HttpResponse r = api.search(search_request(q));
      bytes += r.body.size();
      ++pages;
      cursor.clear();
      for (const auto& [k, v] : r.headers) {
        if (k == "X-Verity-Next-Cursor") cursor = v;
      }
      if (r.status != 200 || cursor.empty()) break;
    }
    const double sec = seconds_since(t);
    std::printf("export of one model-day as NDJSON: %.1f MB in %.2f s = %.1f MB/s (%llu pages)\n",
                static_cast<double>(bytes) / 1e6, sec, static_cast<double>(bytes) / sec / 1e6,
                static_cast<unsigned long long>(pages));
  }
  std::printf("peak RSS %.0f MiB\n", bench::status_mib(::getpid(), "VmHWM:"));
  return 0;
}
