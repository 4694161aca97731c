// Fuzzes the decoder's captures for model quality against a DOM of the stored document: for any
// bytes the decoder accepts as a prediction, masked or not, under the default mapping or one with
// other pointers, what the prediction contributes from the captures (ObservedFields) is exactly
// what it contributes from the document. Never a crash; a difference traps.
#include <cstdint>
#include <string>
#include <string_view>

#include "verity/ingest/document_decoder.h"
#include "verity/ingest/masker.h"
#include "verity/quality/contributor.h"
#include "verity/store/aggregate.h"

namespace {

using namespace verity;

std::shared_ptr<const document::FieldMappingSet> mappings() {
  auto set = std::make_shared<document::FieldMappingSet>();
  document::FieldMapping alt = document::FieldMapping::defaults();
  auto ptr = [](std::string_view t) { return document::parse_json_pointer(t).value(); };
  alt.set_pointers(document::Field::kInputs, {ptr("/f"), ptr("/i/n"), ptr("/inputs")});
  alt.set_pointers(document::Field::kPredictedValue, {ptr("/o/c"), ptr("/prediction/label")});
  alt.set_pointers(document::Field::kOutputs, {ptr("/o"), ptr("/prediction")});
  alt.set_pointers(document::Field::kConfidence, {ptr("/c"), ptr("/o/p")});
  set->per_model["alt"] = alt;
  return set;
}

ingest::MaskingConfig masking() {
  ingest::MaskingConfig m;
  m.policy.rules.push_back({"/inputs/s", {ingest::MaskAction::kHash}});
  m.policy.rules.push_back({"/inputs/d", {ingest::MaskAction::kDrop}});
  m.policy.rules.push_back({"**/ssn", {ingest::MaskAction::kRedact}});
  m.policy.rules.push_back({"/prediction/value", {ingest::MaskAction::kHash}});
  m.policy.rules.push_back({"/c", {ingest::MaskAction::kDrop}});
  m.policy.rules.push_back({"/x*", {ingest::MaskAction::kDrop}});  // neighbours dropped together
  return m;
}

std::string contribution(const quality::ModelContributor& c, const Event& e, bool observed) {
  store::AggregateSum sum;
  c.prediction(
      {e.model_name, e.model_version, e.timestamp_ms, e.document, observed ? &e.observed : nullptr},
      sum);
  return sum.encode();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static ManualClock clock(1795000000000);
  static const auto fields = mappings();
  static const quality::ModelContributor contributor(
      fields, std::make_shared<const quality::QualityConfig>());
  static ingest::DocumentDecoder masked(
      fields, clock, ingest::DecoderLimits{64 * 1024, 64, 256},
      ingest::Masker::create(masking(), "0123456789abcdef0123456789abcdef").value());
  static ingest::DocumentDecoder plain(fields, clock, ingest::DecoderLimits{64 * 1024, 64, 256});
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  for (ingest::DocumentDecoder* d : {&masked, &plain}) {
    Event e;
    Reject r;
    if (!d->decode(json, size, 1, e, r) || e.kind != EventKind::kPrediction) continue;
    if (contribution(contributor, e, true) != contribution(contributor, e, false)) {
      __builtin_trap();
    }
  }
  return 0;
}
