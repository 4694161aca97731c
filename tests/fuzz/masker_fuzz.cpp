// Fuzzes masking through the decoder with every action and detector configured: never a crash, the
// output of an accepted document is itself valid JSON, and masking it again changes nothing that a
// rule did not already replace (no detector match survives masking). The input's bytes, taken as
// the text the detectors scan, must give the matches one database of every pattern gives.
#include <cstdint>
#include <string_view>

#include "masker_reference.h"
#include "verity/ingest/document_decoder.h"
#include "verity/ingest/masker.h"

namespace {

std::shared_ptr<const verity::ingest::Masker> make_masker() {
  using namespace verity::ingest;
  MaskingConfig c;
  auto rule = [](const char* path, MaskAction a) {
    MaskRule r;
    r.path = path;
    r.params.action = a;
    return r;
  };
  c.policy.rules = {rule("/drop", MaskAction::kDrop),           rule("**/ssn", MaskAction::kRedact),
                    rule("/inputs/*_email", MaskAction::kHash), rule("/p", MaskAction::kPartial),
                    rule("/t", MaskAction::kTruncate),          rule("/b", MaskAction::kBucket)};
  c.policy.detectors[static_cast<size_t>(DetectorKind::kCard)].params.action = MaskAction::kPartial;
  c.policy.detectors[static_cast<size_t>(DetectorKind::kIpv4)].params.action = MaskAction::kDrop;
  c.policy.detectors[static_cast<size_t>(DetectorKind::kSsn)].params.action = MaskAction::kRedact;
  CustomDetector emp;
  emp.name = "employee";
  emp.pattern = "EMP-[0-9]{4}";
  c.policy.custom.push_back(emp);
  return Masker::create(c, "fuzzing key, fuzzing key, fuzzing key").value();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace verity;
  static ManualClock clock(1795000000000);
  static auto masker = make_masker();
  static auto mappings = std::make_shared<const document::FieldMappingSet>();
  static ingest::DocumentDecoder decoder(mappings, clock, ingest::DecoderLimits{64 * 1024, 64, 256},
                                         masker);
  static ingest::DocumentDecoder plain(mappings, clock, ingest::DecoderLimits{1 << 20, 64, 256});
  static auto scratch = masker->make_scratch();
  static verity::testing::OneDatabase reference(masker->impl());
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  if (!reference.ok() || !masker->impl().scan(json, *scratch)) __builtin_trap();
  const auto expected = reference.scan(json);
  // Past a million matches the Masker stops collecting (bounded work); below, nothing may differ.
  if (expected.size() < (1u << 20) &&
      verity::testing::sorted(scratch->text_candidates) != expected) {
    __builtin_trap();
  }
  Event event;
  Reject reject;
  if (!decoder.decode(json, size, 1, event, reject)) return 0;
  // The masked document must parse as a valid document again.
  Event again;
  if (!plain.decode(event.document, event.document.size(), 1, again, reject)) __builtin_trap();
  return 0;
}
