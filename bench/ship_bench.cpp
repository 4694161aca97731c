// verity-bench-ship: the Elasticsearch shipper draining a backlog into the fake Elasticsearch of
// the tests (tests/support/fake_es.h) at several batch sizes, with and without gzip. Baseline in
// the same run: the same bulk bodies, prepared before the clock, POSTed by a bare libcurl loop
// (no store reads, no checkpoints, no per-item bookkeeping).

#include <prometheus/registry.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>

#include <CLI/CLI.hpp>

#include "fake_es.h"
#include "prediction_generator.h"
#include "verity/app/config.h"
#include "verity/app/http_client.h"
#include "verity/ingest/document_decoder.h"
#include "verity/ingest/masker.h"
#include "verity/shippers/es_encoder.h"
#include "verity/shippers/es_shipper.h"
#include "verity/store/store.h"

namespace {

using namespace verity;
using Steady = std::chrono::steady_clock;

std::vector<Event> masked_events(size_t n) {
  auto config = app::parse_config("").value();
  auto masker = ingest::Masker::create(config.masking_config(), "benchmark key, benchmark key");
  ManualClock clock(1795000000000);
  ingest::DocumentDecoder decoder(
      std::make_shared<const document::FieldMappingSet>(config.field_mappings()), clock,
      ingest::DecoderLimits{}, *masker);
  bench::PredictionGenerator gen(7);
  std::vector<Event> out;
  std::string doc;
  Event e;
  Reject rj;
  for (size_t i = 0; i < n; ++i) {
    doc.clear();
    gen.next(doc, "ship-");
    if (decoder.decode(doc, doc.size(), i + 1, e, rj)) out.push_back(std::move(e));
    e = Event();
  }
  return out;
}

struct Run {
  double seconds = 0;
  uint64_t requests = 0;
};

// Fills a fresh store with `events`, then measures how long the shipper takes to drain it.
Run ship(const std::vector<Event>& events, size_t batch, bool gzip, const std::string& dir) {
  std::filesystem::remove_all(dir);
  testing::FakeElasticsearch es;
  prometheus::Registry registry;
  ManualClock clock(1795000000000);
  store::StoreOptions o;
  o.data_dir = dir;
  o.outbox = true;
  o.retention.check_interval = Duration(0);
  auto s = std::move(store::Store::open(o, clock, registry)).value();
  for (size_t i = 0; i < events.size(); i += 1000) {
    store::IngestBatch b;
    b.input = "bench";
    b.events.assign(
        events.begin() + static_cast<std::ptrdiff_t>(i),
        events.begin() + static_cast<std::ptrdiff_t>(std::min(i + 1000, events.size())));
    std::promise<void> done;
    s->submit(std::move(b), [&](const store::CommitResult&) { done.set_value(); });
    done.get_future().wait();
  }
  shippers::EsShipperOptions so;
  so.hosts = {es.url()};
  so.batch_events = batch;
  so.batch_bytes = ByteSize{64ull << 20};
  so.flush_interval = Duration(0);
  so.gzip = gzip;
  shippers::EsShipper shipper(*s, so, clock, registry);
  const auto t = Steady::now();
  shipper.start();
  while (s->outbox_backlog().events > 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  Run r;
  r.seconds = std::chrono::duration<double>(Steady::now() - t).count();
  r.requests = es.stats().requests;
  shipper.stop();
  if (es.document_count() != events.size()) {
    std::fprintf(stderr, "the fake holds %zu documents, expected %zu\n", es.document_count(),
                 events.size());
    std::exit(1);
  }
  s->stop();
  std::filesystem::remove_all(dir);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Benchmark the Elasticsearch shipper against the fake Elasticsearch"};
  size_t events = 100000;
  std::string dir = "/tmp/verity-bench-ship";
  app.add_option("--events", events, "Predictions to ship");
  app.add_option("--dir", dir, "Scratch data directory (removed first)");
  CLI11_PARSE(app, argc, argv);

  const auto evs = masked_events(events);
  const double n = static_cast<double>(evs.size());

  // Baseline: pre-built bulk bodies of 1000 items, POSTed back to back.
  double baseline;
  {
    testing::FakeElasticsearch es;
    std::vector<std::string> bodies;
    for (size_t i = 0; i < evs.size(); i += 1000) {
      std::string body;
      for (size_t k = i; k < std::min(i + 1000, evs.size()); ++k) {
        store::OutboxEntry e;
        e.record.request_id = evs[k].request_id;
        e.record.timestamp_ms = evs[k].timestamp_ms;
        e.record.document = evs[k].document;
        body += shippers::bulk_create(shippers::EsShipperOptions{}, e, nullptr).value();
      }
      bodies.push_back(std::move(body));
    }
    // One libcurl handle for every POST (connections kept alive), as the shipper has.
    shippers::CurlHttpClient client;
    const auto t = Steady::now();
    for (const auto& b : bodies) {
      shippers::HttpCall call;
      call.method = "POST";
      call.url = es.url() + "/_bulk";
      call.body = b;
      call.headers = {"Content-Type: application/x-ndjson"};
      call.timeout = Duration(60'000);
      auto r = client.send(call);
      if (!r || r->status != 200) {
        std::fprintf(stderr, "baseline POST failed\n");
        return 1;
      }
    }
    baseline = std::chrono::duration<double>(Steady::now() - t).count();
  }
  std::printf(
      "events: %zu (masked generator documents); fake Elasticsearch on loopback, same cores\n",
      evs.size());
  std::printf("%-44s %12s %10s %12s\n", "", "events/s", "requests", "vs baseline");
  std::printf("%-44s %12.0f %10zu %11.2fx\n", "baseline: bare POSTs of prebuilt 1000-item bodies",
              n / baseline, (evs.size() + 999) / 1000, 1.0);
  for (const auto& [batch, gzip] : std::vector<std::pair<size_t, bool>>{
           {100, true}, {1000, true}, {5000, true}, {1000, false}}) {
    const Run r = ship(evs, batch, gzip, dir);
    char name[64];
    std::snprintf(name, sizeof name, "shipper, batch_events %zu, gzip %s", batch,
                  gzip ? "on" : "off");
    std::printf("%-44s %12.0f %10llu %11.2fx\n", name, n / r.seconds,
                static_cast<unsigned long long>(r.requests), baseline / r.seconds);
  }
  return 0;
}
