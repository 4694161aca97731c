// Fuzzes everything the shipper builds from stored records: arbitrary stored predictions and labels
// (metadata of any bytes, documents of any text, any times) through the bulk `create` lines, the
// label fields and the by-query bodies. Never a crash or an exception; whatever is returned is
// valid JSON (the two bulk lines each), and a refusal is an error Status, never a broken request.
// The stored document is also read as a dead-letter entry (dead_letter_encoder.h), with the same
// checks.
#include <fuzzer/FuzzedDataProvider.h>
#include <simdjson.h>

#include <cstdint>
#include <string>

#include "verity/document/json_value.h"
#include "verity/shippers/dead_letter_encoder.h"
#include "verity/shippers/es_encoder.h"
#include "verity/store/store.h"

namespace {

bool valid_json(std::string_view s) {
  static simdjson::dom::parser parser;
  static std::string scratch;
  simdjson::dom::element e;
  return verity::document::parse_document(parser, s, scratch, e) == simdjson::SUCCESS;
}

verity::store::StoredRecord record(FuzzedDataProvider& in) {
  verity::store::StoredRecord r;
  r.request_id = in.ConsumeRandomLengthString(300);
  r.model_name = in.ConsumeRandomLengthString(40);
  r.model_version = in.ConsumeRandomLengthString(20);
  r.input = in.ConsumeRandomLengthString(10);
  r.masking_version = in.ConsumeRandomLengthString(30);
  r.partition = in.ConsumeRandomLengthString(12);
  r.sequence = in.ConsumeIntegral<uint64_t>();
  r.timestamp_ms = in.ConsumeIntegral<int64_t>();
  r.ingest_time_ms = in.ConsumeIntegral<int64_t>();
  r.document = in.ConsumeRandomLengthString(4096);
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace verity;
  FuzzedDataProvider in(data, size);
  store::OutboxEntry e;
  e.sequence = in.ConsumeIntegral<uint64_t>();
  e.record = record(in);
  if (in.ConsumeBool()) {
    store::StoredRecord l = record(in);
    l.kind = EventKind::kLabel;
    e.label = std::move(l);
  }
  shippers::EsShipperOptions o;
  if (in.ConsumeBool()) o.index_mode = shippers::IndexMode::kDated;
  auto check_lines = [](const Result<std::string>& lines) {
    if (!lines) return;
    const size_t nl = lines->find('\n');
    if (nl == std::string::npos || lines->back() != '\n') __builtin_trap();
    if (!valid_json(std::string_view(*lines).substr(0, nl))) __builtin_trap();
    const std::string_view source = std::string_view(*lines).substr(nl + 1, lines->size() - nl - 2);
    if (source.find_first_of("\n\r") != std::string_view::npos) __builtin_trap();  // one line each
    if (!valid_json(source)) __builtin_trap();
  };
  check_lines(shippers::bulk_create(o, e, nullptr));
  check_lines(shippers::bulk_create_dead_letter(o, e.sequence, e.record.document));
  if (e.label) {
    auto fields = shippers::label_fields(e.record, *e.label, nullptr);
    if (fields && !valid_json(*fields)) __builtin_trap();
    if (fields && !valid_json(shippers::update_labels_body({{e.record.request_id, *fields}}))) {
      __builtin_trap();
    }
  }
  if (!valid_json(shippers::delete_by_ids_body(
          {e.record.request_id, e.label ? e.label->request_id : ""}))) {
    __builtin_trap();
  }
  return 0;
}
