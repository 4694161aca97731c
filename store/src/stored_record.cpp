#include "verity/store/stored_record.h"

#include "verity/core/http.h"
#include "verity/document/json_writer.h"

namespace verity::store {

std::string StoredRecord::to_json() const {
  std::string out;
  out.reserve(document.size() + 384);
  out += "{\"request_id\":";
  document::append_json_string(out, request_id);
  out += ",\"kind\":";
  out += kind == EventKind::kLabel ? "\"label\"" : "\"prediction\"";
  out += ",\"model\":";
  document::append_json_string(out, model_name);
  out += ",\"version\":";
  document::append_json_string(out, model_version);
  out += ",\"timestamp\":\"" + format_rfc3339(timestamp_ms) + "\"";
  out += ",\"ingest_time\":\"" + format_rfc3339(ingest_time_ms) + "\"";
  out += ",\"partition\":";
  document::append_json_string(out, partition);
  out += ",\"sequence\":" + std::to_string(sequence);
  out += ",\"input\":";
  document::append_json_string(out, input);
  out += ",\"masking_version\":";
  document::append_json_string(out, masking_version);
  out += ",\"digest\":\"sha256:" + to_hex(digest_known ? digest : sha256(document)) + "\"";
  if (erased) {
    out += ",\"erased\":true,\"erased_at\":\"" + format_rfc3339(erased_at_ms) + "\"";
    out += ",\"erasure_audit_id\":" + std::to_string(erasure_audit_id) + '}';
    return out;
  }
  if (!source.empty()) {
    out += ",\"source\":";
    out += source;
  }
  out += ",\"document\":";
  out += document;
  out += '}';
  return out;
}

}  // namespace verity::store
