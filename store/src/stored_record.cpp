#include "verity/store/stored_record.h"

#include "verity/core/http.h"

namespace verity::store {

std::string StoredRecord::to_json() const {
  std::string out;
  out.reserve(document.size() + 384);
  out += "{\"request_id\":";
  append_json_string(out, request_id);
  out += ",\"kind\":";
  out += kind == EventKind::kLabel ? "\"label\"" : "\"prediction\"";
  out += ",\"model\":";
  append_json_string(out, model_name);
  out += ",\"version\":";
  append_json_string(out, model_version);
  out += ",\"timestamp\":\"" + format_rfc3339(timestamp_ms) + "\"";
  out += ",\"ingest_time\":\"" + format_rfc3339(ingest_time_ms) + "\"";
  out += ",\"partition\":";
  append_json_string(out, partition);
  out += ",\"sequence\":" + std::to_string(sequence);
  out += ",\"input\":";
  append_json_string(out, input);
  out += ",\"masking_version\":";
  append_json_string(out, masking_version);
  out += ",\"digest\":\"sha256:" + to_hex(digest) + "\"";
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
