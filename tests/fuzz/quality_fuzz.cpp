// Fuzzes the label join's arithmetic from stored documents: what a prediction and a (prediction,
// label) pair contribute to a model's aggregates, a correction taking a contribution back out, and
// the report built from any such sum, under every task. Never a crash or an exception; a
// contribution added then subtracted leaves nothing; every report is valid JSON.
#include <fuzzer/FuzzedDataProvider.h>
#include <simdjson.h>

#include <cstdint>
#include <string>

#include "verity/quality/contributor.h"
#include "verity/query/model_quality.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace verity;
  static auto fields = std::make_shared<const document::FieldMappingSet>();
  static auto config = [] {
    auto c = std::make_shared<quality::QualityConfig>();
    quality::ModelQualityConfig binary;
    binary.task = quality::Task::kBinary;
    binary.positive_class = "\"fraud\"";
    c->models["binary"] = binary;
    quality::ModelQualityConfig reg;
    reg.task = quality::Task::kRegression;
    c->models["reg"] = reg;
    quality::ModelQualityConfig features;
    features.features["amount"] = {"number", 0.0, 100.0, false};
    features.features["country"] = {"string", std::nullopt, std::nullopt, true};
    c->models["features"] = features;
    return std::shared_ptr<const quality::QualityConfig>(c);
  }();
  static quality::ModelContributor contributor(fields, config);

  FuzzedDataProvider in(data, size);
  static const char* models[] = {"binary", "reg", "features", "other"};
  const std::string model = models[in.ConsumeIntegralInRange<int>(0, 3)];
  const EpochMillis pt = in.ConsumeIntegral<int64_t>() % 4'000'000'000'000;
  const EpochMillis lt = in.ConsumeIntegral<int64_t>() % 4'000'000'000'000;
  const std::string pdoc = in.ConsumeRandomLengthString(2048);
  const std::string ldoc = in.ConsumeRandomLengthString(512);
  const std::string other = in.ConsumeRemainingBytesAsString();
  store::JoinSide p{model, "v1", pt, pdoc};
  store::JoinSide l{"", "", lt, ldoc};
  store::JoinSide l2{"", "", lt + 1, other};

  store::Aggregate a;
  contributor.prediction(p, a);
  contributor.join(p, l, a);
  // A correction: the old label's contribution out, the new one in.
  store::Aggregate correction;
  contributor.join(p, l, correction);
  a.add(correction, -1);
  store::Aggregate again;
  contributor.join(p, l2, again);
  a.add(again);
  // Adding and subtracting the same contribution leaves exactly nothing (fixed point).
  store::Aggregate zero;
  zero.add(again);
  zero.add(again, -1);
  store::AggregateSum check;
  check.add(zero);
  if (!check.result().empty()) __builtin_trap();
  // The batch's sink (an AggregateSum: bins kept as (stem, bin)) holds what an Aggregate does.
  store::AggregateSum batch;
  contributor.prediction(p, batch);
  contributor.join(p, l, batch);
  store::Aggregate plain;
  contributor.prediction(p, plain);
  contributor.join(p, l, plain);
  if (batch.encode() != plain.encode()) __builtin_trap();

  static simdjson::dom::parser parser;
  for (const char* m : models) {
    const query::Report r = query::build_report(a, config->for_model(m), &a);
    const std::string json = r.to_json();
    simdjson::dom::element e;
    if (parser.parse(json).get(e) != simdjson::SUCCESS) __builtin_trap();
  }
  const std::string encoded = a.encode();
  auto decoded = store::Aggregate::decode(encoded);
  if (!decoded || decoded->encode() != encoded) __builtin_trap();
  return 0;
}
