// Micro-benchmarks (Google Benchmark) of the per-event CPU path against simdjson's own floor:
//   simdjson_iterate_all    simdjson On-Demand visiting every value of the document (the baseline)
//   decode_document         Verity's decoder: full validation + field capture + Event
//   decode_masked_*         the decoder with masking: field rules only, detectors only, both
//   frame_and_decode        NDJSON framing + decoding, as a TCP read drives it
//   sha256_document         the record digest the store computes per event
//   sha256_canonical_document  the idempotency digest (insignificant whitespace left out)
//   search_index_document   the search indexer (block summary, and one indexed field when
//                           range(0) is 1), as the store's prepare step runs it per event
//   quality_prediction      model quality's contribution of one prediction (the default config),
//                           added to a batch's sum as the store's prepare step does: read from
//                           the stored document (0), or from the decoder's captures (1)
#include <benchmark/benchmark.h>

#include <cstring>
#include <functional>

#include <simdjson.h>

#include "prediction_generator.h"
#include "verity/core/sha256.h"
#include "verity/ingest/line_batcher.h"
#include "verity/ingest/masker.h"
#include "verity/quality/contributor.h"
#include "verity/query/model_quality.h"
#include "verity/query/search_indexer.h"
#include "verity/store/aggregate.h"

namespace {

using namespace verity;

std::vector<std::string> documents(size_t n) {
  bench::PredictionGenerator gen(7);
  std::vector<std::string> docs(n);
  for (auto& d : docs) {
    gen.next(d);
    d.reserve(d.size() + simdjson::SIMDJSON_PADDING);
  }
  return docs;
}

size_t total_bytes(const std::vector<std::string>& docs) {
  size_t n = 0;
  for (const auto& d : docs) n += d.size();
  return n;
}

void visit(simdjson::ondemand::value v, size_t& count) {
  using simdjson::ondemand::json_type;
  json_type t;
  if (v.type().get(t)) return;
  switch (t) {
    case json_type::object:
      for (auto f : v.get_object()) {
        std::string_view key;
        if (f.unescaped_key().get(key)) return;
        visit(f.value(), count);
      }
      break;
    case json_type::array:
      for (auto e : v.get_array()) visit(e.value(), count);
      break;
    case json_type::string:
      (void)v.get_string();
      ++count;
      break;
    case json_type::number:
      (void)v.get_double();
      ++count;
      break;
    case json_type::boolean:
      (void)v.get_bool();
      ++count;
      break;
    case json_type::null:
      (void)v.is_null();
      ++count;
      break;
  }
}

void simdjson_iterate_all(benchmark::State& state) {
  const auto docs = documents(1024);
  simdjson::ondemand::parser parser;
  size_t i = 0, count = 0;
  for (auto _ : state) {
    const std::string& d = docs[i++ % docs.size()];
    auto doc = parser.iterate(d.data(), d.size(), d.capacity());
    simdjson::ondemand::object obj;
    if (doc.get_object().get(obj)) state.SkipWithError("parse");
    for (auto f : obj) {
      std::string_view key;
      if (f.unescaped_key().get(key)) break;
      visit(f.value(), count);
    }
  }
  benchmark::DoNotOptimize(count);
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * total_bytes(docs) / docs.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(simdjson_iterate_all);

std::shared_ptr<const ingest::Masker> masker(bool detectors, bool rules) {
  ingest::MaskingConfig c;
  for (auto& d : c.policy.detectors) d.enabled = detectors;
  if (rules) {
    ingest::MaskRule email, card, user;
    email.path = "/customer/email";
    card.path = "/customer/card_number";
    card.params.action = ingest::MaskAction::kPartial;
    user.path = "/user_id";
    c.policy.rules = {email, card, user};
  }
  return ingest::Masker::create(c, "benchmark key, benchmark key").value();
}

// Decoding one document at a time, with `masker` (may be null: no masking).
void decode_with(benchmark::State& state, std::shared_ptr<const ingest::Masker> masker) {
  const auto docs = documents(1024);
  ManualClock clock(0);
  ingest::DocumentDecoder decoder(std::make_shared<const document::FieldMappingSet>(), clock,
                                  ingest::DecoderLimits{}, std::move(masker));
  Event event;
  Reject reject;
  size_t i = 0;
  for (auto _ : state) {
    const std::string& d = docs[i++ % docs.size()];
    if (!decoder.decode(d, d.capacity(), 1, event, reject)) state.SkipWithError("reject");
    benchmark::DoNotOptimize(event.document.data());
  }
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * total_bytes(docs) / docs.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
// `rules` = three field rules, `detectors` = every built-in detector.
void decode_masked(benchmark::State& state, bool detectors, bool rules) {
  decode_with(state, masker(detectors, rules));
}
void decode_document(benchmark::State& s) { decode_with(s, nullptr); }
BENCHMARK(decode_document);
void decode_masked_rules_only(benchmark::State& s) { decode_masked(s, false, true); }
void decode_masked_detectors_only(benchmark::State& s) { decode_masked(s, true, false); }
void decode_masked_rules_and_detectors(benchmark::State& s) { decode_masked(s, true, true); }
BENCHMARK(decode_masked_rules_only);
BENCHMARK(decode_masked_detectors_only);
BENCHMARK(decode_masked_rules_and_detectors);

void frame_and_decode(benchmark::State& state) {
  const auto docs = documents(1024);
  std::string stream;
  for (const auto& d : docs) stream += d + "\n";
  ManualClock clock(0);
  ingest::LineBatcher batcher("bench", std::make_shared<const document::FieldMappingSet>(), clock,
                              ingest::DecoderLimits{});
  ingest::NdjsonFramer framer(1 << 20);
  for (auto _ : state) {
    size_t pos = 0;
    while (pos < stream.size()) {
      auto area = framer.write_area();
      const size_t n = std::min(area.size(), stream.size() - pos);
      std::memcpy(area.data(), stream.data() + pos, n);
      framer.commit(n);
      pos += n;
      framer.drain([&](const ingest::FramedLine& l) { batcher.add(l); });
      auto batch = batcher.take();
      benchmark::DoNotOptimize(batch.events.data());
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * docs.size()));
}
BENCHMARK(frame_and_decode);

void sha256_document(benchmark::State& state) {
  const auto docs = documents(1024);
  size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(sha256(docs[i++ % docs.size()]));
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * total_bytes(docs) / docs.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

void sha256_canonical_document(benchmark::State& state) {
  const auto docs = documents(1024);
  size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(sha256_json_canonical(docs[i++ % docs.size()]));
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * total_bytes(docs) / docs.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(sha256_document);
BENCHMARK(sha256_canonical_document);

void search_index_document(benchmark::State& state) {
  const auto docs = documents(1024);
  query::IndexedFields fields;
  if (state.range(0) == 1) fields["*"] = {"user_id"};
  const query::SearchIndexer indexer(nullptr, fields);
  std::vector<store::IndexTerm> terms;
  store::BlockSummary summary;
  size_t i = 0;
  for (auto _ : state) {
    terms.clear();
    if (i % 256 == 0) summary = store::BlockSummary();  // a block of a batch: a few hundred events
    indexer.index("fraud-detector", "v1.2", docs[i++ % docs.size()], terms, summary);
    benchmark::DoNotOptimize(terms.data());
  }
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * total_bytes(docs) / docs.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(search_index_document)->Arg(0)->Arg(1);

// range(0): 0 = read from the stored document (a DOM parse), 1 = from what the decoder captured
// (ObservedFields), as for predictions that come straight from an input.
void quality_prediction(benchmark::State& state) {
  const auto docs = documents(1024);
  auto fields = std::make_shared<const document::FieldMappingSet>();
  auto config = std::make_shared<const quality::QualityConfig>();
  const quality::ModelContributor contributor(fields, config);
  ManualClock clock(0);
  ingest::DocumentDecoder decoder(fields, clock, ingest::DecoderLimits{}, masker(true, true));
  std::vector<Event> events(docs.size());
  Reject reject;
  for (size_t i = 0; i < docs.size(); ++i) {
    if (!decoder.decode(docs[i], docs[i].capacity(), 1, events[i], reject) ||
        events[i].observed.mapping == nullptr) {
      state.SkipWithError("not decoded, or nothing observed");
      return;
    }
  }
  const bool observed = state.range(0) == 1;
  store::AggregateSum sum;
  size_t i = 0;
  for (auto _ : state) {
    if (i % 256 == 0) sum = store::AggregateSum();  // a batch's sum for one minute
    const Event& e = events[i++ % events.size()];
    contributor.prediction(
        {e.model_name, e.model_version, 0, e.document, observed ? &e.observed : nullptr}, sum);
  }
  benchmark::DoNotOptimize(sum.size());
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * total_bytes(docs) / docs.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(quality_prediction)->Arg(0)->Arg(1);

// Stored predictions and their labels (one in five wrong), as the label join reads them.
struct JoinPairs {
  std::vector<Event> predictions;
  std::vector<std::string> labels;
  quality::ModelContributor contributor{std::make_shared<const document::FieldMappingSet>(),
                                        std::make_shared<const quality::QualityConfig>()};
  // Pair i % size()'s join, added to `sum`.
  void join(size_t i, store::AggregateSink& sum) const {
    const size_t k = i % predictions.size();
    const Event& p = predictions[k];
    contributor.join({p.model_name, p.model_version, 0, p.document}, {"", "", 60'000, labels[k]},
                     sum);
  }
};
JoinPairs join_pairs(size_t n) {
  const auto docs = documents(n);
  auto fields = std::make_shared<const document::FieldMappingSet>();
  ManualClock clock(0);
  ingest::DocumentDecoder decoder(fields, clock, ingest::DecoderLimits{}, masker(true, true));
  JoinPairs out;
  out.predictions.resize(docs.size());
  Reject reject;
  for (size_t i = 0; i < docs.size(); ++i) {
    if (!decoder.decode(docs[i], docs[i].capacity(), 1, out.predictions[i], reject)) return {};
    const bool fraud = docs[i].find("\"label\":\"fraud\"") != std::string::npos;
    out.labels.push_back(std::string(R"({"ground_truth":")") +
                         ((fraud != (i % 5 == 0)) ? "fraud" : "legit") + "\"}");
  }
  return out;
}

// One label's join (both documents parsed, ~40 entries) into a batch's sum for one minute, as
// the submitting thread plans it.
void quality_join(benchmark::State& state) {
  const JoinPairs pairs = join_pairs(1024);
  if (pairs.predictions.empty()) {
    state.SkipWithError("not decoded");
    return;
  }
  store::AggregateSum sum;
  size_t i = 0;
  for (auto _ : state) {
    if (i % 256 == 0) sum = store::AggregateSum();
    pairs.join(i++, sum);
  }
  benchmark::DoNotOptimize(sum.size());
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(quality_join);

// A flush's merge of one bucket's operands: range(0) operands, each the encoded sum of 256
// labels' joins (one commit group's), summed into one value. Items: entries read.
void aggregate_merge_operands(benchmark::State& state) {
  const size_t k = static_cast<size_t>(state.range(0));
  const JoinPairs pairs = join_pairs(2048);
  if (pairs.predictions.empty()) {
    state.SkipWithError("not decoded");
    return;
  }
  std::vector<std::string> operands;
  size_t entries = 0, next = 0;
  for (size_t t = 0; t < k; ++t) {
    store::AggregateSum sum;
    for (int j = 0; j < 256; ++j) pairs.join(next++, sum);
    entries += sum.size();
    operands.push_back(sum.encode());
  }
  std::vector<store::EncodedTerm> terms;
  for (const auto& o : operands) terms.push_back({o});
  std::string out;
  for (auto _ : state) {
    if (!store::sum_encoded(terms, out)) {
      state.SkipWithError("not an aggregate");
      return;
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * entries));
}
BENCHMARK(aggregate_merge_operands)->Arg(2)->Arg(4)->Arg(8)->Arg(16)->Arg(64)->Arg(256);

}  // namespace

BENCHMARK_MAIN();
