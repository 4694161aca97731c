// verity-bench-quality: the label join and model-quality reports, in process (no network).
// Prints: labels joined per second against storing the same labels with the join off (same run);
// what the per-prediction contribution costs at ingest; the latency of a 30-day report; and memory
// and refresh time of the Prometheus model gauges with 100 models.

#include <malloc.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include <CLI/CLI.hpp>

#include "commit_all.h"
#include "prediction_generator.h"
#include "verity/app/config.h"
#include "verity/ingest/document_decoder.h"
#include "verity/ingest/masker.h"
#include "verity/quality/contributor.h"
#include "verity/query/model_api.h"
#include "verity/query/model_exporter.h"
#include "verity/query/model_quality.h"
#include "verity/store/store.h"

namespace {

using namespace verity;
using Steady = std::chrono::steady_clock;
constexpr EpochMillis kDay = 86'400'000;

double seconds_since(Steady::time_point t) {
  return std::chrono::duration<double>(Steady::now() - t).count();
}

double rss_mib() {
  std::ifstream in("/proc/self/statm");
  long pages = 0, resident = 0;
  in >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE)) /
         (1024.0 * 1024.0);
}

std::unique_ptr<store::Store> open_store(const std::string& dir, const Clock& clock,
                                         prometheus::Registry& registry,
                                         std::shared_ptr<const store::Contributor> contributor) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  store::StoreOptions o;
  o.data_dir = dir;
  o.retention.check_interval = Duration(0);
  o.contributor = std::move(contributor);
  auto s = store::Store::open(o, clock, registry);
  if (!s) {
    std::fprintf(stderr, "%s\n", s.status().message().c_str());
    std::exit(1);
  }
  return std::move(s).value();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Benchmark the label join and model-quality reports"};
  size_t events = 200000, threads = 4, batch = 1000, models = 100, per_model = 1000, runs = 200;
  size_t spread_days = 1;
  std::string phase = "all";
  std::string dir = "/tmp/verity-bench-quality";
  app.add_option("--events", events, "Predictions (and as many labels) for the join benchmark");
  app.add_option("--threads", threads, "Submitting threads");
  app.add_option("--batch", batch, "Events per submitted batch");
  app.add_option("--models", models, "Models for the memory benchmark");
  app.add_option("--per-model", per_model, "Predictions per model for the memory benchmark");
  app.add_option("--runs", runs, "Reports timed");
  app.add_option("--spread-days", spread_days,
                 "Days the join benchmark's predictions span (labels hit one bucket per minute)");
  app.add_option("--dir", dir, "Scratch directory (removed first)");
  app.add_option("--phase", phase,
                 "all, or one of join, models (run models alone for a clean RSS figure)");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);  // the maintenance pass logs its seals

  auto config = app::parse_config(R"(
models:
  fraud-detector:
    quality: {positive_class: fraud}
)")
                    .value();
  auto masker = ingest::Masker::create(config.masking_config(), "benchmark key, benchmark key");
  const EpochMillis now = 1795000000000 - 1795000000000 % kDay;  // midnight, 2026-11-18
  ManualClock clock(now);
  auto fields = std::make_shared<const document::FieldMappingSet>(config.field_mappings());
  auto quality = std::make_shared<const quality::QualityConfig>(config.quality_config());
  auto contributor = std::make_shared<quality::ModelContributor>(fields, quality);
  ingest::DocumentDecoder decoder(fields, clock, ingest::DecoderLimits{}, *masker);

  // Predictions spread evenly over the `spread_days` days before `now`, and a label for each: the
  // truth is the predicted label flipped for one in five.
  const EpochMillis spread = static_cast<EpochMillis>(spread_days) * kDay;
  bench::PredictionGenerator gen(42, now - spread);
  std::vector<std::vector<Event>> predictions, labels;
  std::string doc;
  Event e;
  Reject rj;
  for (size_t i = 0; i < (phase == "models" ? 0 : events); ++i) {
    doc.clear();
    gen.next(doc, "req-");
    if (!decoder.decode(doc, doc.size(), i + 1, e, rj)) {
      std::fprintf(stderr, "generator document rejected: %s\n", rj.reason.c_str());
      return 1;
    }
    // Multiplied first: spread / events rounded down would leave the last minutes (hours, once
    // the reports' copy stretches them over 30 days) without predictions.
    e.timestamp_ms =
        now - spread + static_cast<EpochMillis>(i) * spread / static_cast<EpochMillis>(events);
    const bool fraud = e.document.find("\"label\":\"fraud\"") != std::string::npos;
    Event l;
    l.kind = EventKind::kLabel;
    l.request_id = e.request_id;
    l.timestamp_ms = now;
    l.document = "{\"request_id\":\"" + e.request_id + "\",\"ground_truth\":\"" +
                 ((fraud != (i % 5 == 0)) ? "fraud" : "legit") + "\"}";
    if (predictions.empty() || predictions.back().size() == batch) {
      predictions.emplace_back();
      labels.emplace_back();
    }
    predictions.back().push_back(std::move(e));
    labels.back().push_back(std::move(l));
    e = Event();
  }

  std::printf(
      "verity-bench-quality: %zu predictions over %zu days, %zu labels, %zu threads, "
      "batches of %zu\n\n",
      events, spread_days, events, threads, batch);
  double join_rate = 0, plain_rate = 0, with_rate = 0, without_rate = 0;
  if (phase != "models") {
    // What one prediction's contribution costs the submitting thread (parse, values, features).
    size_t n = 0;
    const auto t = Steady::now();
    for (const auto& b : predictions) {
      for (const auto& p : b) {
        store::Aggregate a;
        contributor->prediction({p.model_name, p.model_version, p.timestamp_ms, p.document}, a);
        n += a.size();
      }
    }
    std::printf("%-46s %12.2f us  (%.0f entries)\n", "one prediction's contribution, one thread",
                seconds_since(t) * 1e6 / static_cast<double>(events),
                static_cast<double>(n) / static_cast<double>(events));
    prometheus::Registry r1, r2;
    auto plain = open_store(dir + "/plain", clock, r1, nullptr);
    auto joined = open_store(dir + "/joined", clock, r2, contributor);
    without_rate = events / bench::commit_all(*plain, predictions, threads);
    with_rate = events / bench::commit_all(*joined, predictions, threads);
    plain_rate = events / bench::commit_all(*plain, labels, threads);
    join_rate = events / bench::commit_all(*joined, labels, threads);
    std::printf("%-46s %12.0f /s\n", "predictions stored, no aggregates (baseline)", without_rate);
    std::printf("%-46s %12.0f /s  %.2fx\n", "predictions stored with their contributions",
                with_rate, with_rate / without_rate);
    std::printf("%-46s %12.0f /s\n", "labels stored, join off (baseline)", plain_rate);
    std::printf("%-46s %12.0f /s  %.2fx\n", "labels joined (read prediction, 2 contributions)",
                join_rate, join_rate / plain_rate);
    const auto counts = joined->label_counts();
    std::printf("%-46s %12llu\n\n", "joined (check)",
                static_cast<unsigned long long>(counts.joined));
  }
  if (phase != "models") {
    // Reports: the same predictions and labels, spread over the 30 days before `now` (every
    // minute has some), loaded without timing.
    prometheus::Registry registry;
    auto s = open_store(dir + "/reports", clock, registry, contributor);
    for (auto& b : predictions) {
      for (auto& p : b) {
        p.timestamp_ms = now - 30 * kDay + (p.timestamp_ms - (now - spread)) * 30 * kDay / spread;
      }
    }
    bench::commit_all(*s, predictions, threads);
    bench::commit_all(*s, labels, threads);
    query::ModelsApi api(*s, quality, clock);
    for (const bool folded : {false, true}) {
      if (folded) {
        // Steady state: the maintenance pass (every store.maintenance_interval) folded the
        // merge operands of the aggregates.
        if (!s->run_maintenance()) return 1;
        std::printf("after a maintenance pass (steady state: merge operands folded)\n");
      } else {
        std::printf("fresh (every group's operands still unmerged in the memtables)\n");
      }
      for (const auto& [name, window] :
           std::vector<std::pair<const char*, EpochMillis>>{{"30-day report", 30 * kDay},
                                                            {"24-hour report", kDay},
                                                            {"1-hour report", 3'600'000}}) {
        std::vector<double> ms;
        for (size_t i = 0; i < runs; ++i) {
          // Windows not aligned to the hour: the slowest case (minutes at both ends).
          const EpochMillis to = now - static_cast<EpochMillis>(i % 60) * 61'000 - 17'000;
          const auto t = Steady::now();
          auto report = api.report("fraud-detector", std::nullopt, to - window, to);
          ms.push_back(seconds_since(t) * 1000);
          if (!report || report->labelled == 0) {
            std::fprintf(stderr, "%s [%lld, %lld): %s\n", name, static_cast<long long>(to - window),
                         static_cast<long long>(to),
                         report ? "nothing labelled" : report.status().to_string().c_str());
            return 1;
          }
        }
        std::sort(ms.begin(), ms.end());
        std::printf("%-46s p50 %7.2f ms  p99 %7.2f ms  (%zu runs)\n", name, ms[ms.size() / 2],
                    ms[ms.size() * 99 / 100], runs);
        // Of which reading and summing the aggregates (the rest: the baseline and the maths).
        const auto t = Steady::now();
        auto a = s->aggregate("fraud-detector", std::nullopt, now - window - 17'000, now - 17'000);
        const double read_ms = seconds_since(t) * 1000;
        const auto t2 = Steady::now();
        auto r = query::build_report(*a, quality->for_model("fraud-detector"));
        std::printf("%-46s read %6.2f ms  report maths %6.2f ms  (%zu entries)\n", "", read_ms,
                    seconds_since(t2) * 1000, a->size());
      }
    }
  }
  predictions.clear();
  labels.clear();

  // Memory: `models` models x 2 versions, `per_model` predictions each (half labelled) over the
  // last hour, as they arrive live, and the gauges of all of them (max_models raised to fit).
  if (phase == "all" || phase == "models") {
    auto heap_mib = [] { return static_cast<double>(mallinfo2().uordblks) / (1024.0 * 1024.0); };
    std::vector<std::vector<Event>> batches;
    for (size_t m = 0; m < models; ++m) {
      for (size_t i = 0; i < per_model; ++i) {
        doc.clear();
        gen.next(doc, "m" + std::to_string(m) + "-");
        if (!decoder.decode(doc, doc.size(), i + 1, e, rj)) return 1;
        e.model_name = "model-" + std::to_string(m);
        e.model_version = i % 2 ? "v1" : "v2";
        e.timestamp_ms = now - 3'600'000 + static_cast<EpochMillis>(i * (3'600'000 / per_model));
        if (batches.empty() || batches.back().size() == batch) batches.emplace_back();
        Event l;
        l.kind = EventKind::kLabel;
        l.request_id = e.request_id;
        l.timestamp_ms = now;
        l.document = "{\"request_id\":\"" + e.request_id + "\",\"ground_truth\":\"legit\"}";
        batches.back().push_back(std::move(e));
        if (i % 2 == 0) batches.back().push_back(std::move(l));
        e = Event();
      }
    }
    std::printf(
        "\n%zu models x 2 versions, %zu predictions each model in the last hour (half "
        "labelled); heap in use by mallinfo2 (RSS also counts freed memory glibc keeps):\n",
        models, per_model);
    // The same load with model quality off, then on: the difference is what quality costs.
    for (const bool on : {false, true}) {
      const double before = heap_mib();
      prometheus::Registry registry;
      auto s = open_store(dir + (on ? "/models" : "/models-off"), clock, registry,
                          on ? contributor : nullptr);
      bench::commit_all(*s, batches, threads);
      const double loaded = heap_mib();
      if (!on) {
        std::printf("%-46s %9.1f MiB\n", "store loaded, model quality off (baseline)",
                    loaded - before);
        continue;
      }
      query::ModelsApi api(*s, quality, clock);
      query::ModelExportOptions eo;
      eo.max_models = models;
      eo.refresh_interval = Duration(0);
      query::ModelExporter exporter(api, *s, eo, clock, registry);
      const auto t = Steady::now();
      exporter.refresh();
      const double refresh = seconds_since(t);
      size_t series = 0;
      for (const auto& family : registry.Collect()) {
        if (family.name.rfind("verity_model_", 0) == 0) series += family.metric.size();
      }
      std::printf("%-46s %9.1f MiB\n", "store loaded, model quality on", loaded - before);
      std::printf("%-46s %9.1f MiB  (%zu model series)\n", "... and the gauges of every model",
                  heap_mib() - before, series);
      std::printf("%-46s %9.2f s\n", "one gauge refresh (5 windows x 200 versions)", refresh);
      std::printf("%-46s %9.1f MiB\n", "process RSS at the end", rss_mib());
    }
  }
  std::filesystem::remove_all(dir);
  return 0;
}
