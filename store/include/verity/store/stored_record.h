#pragma once

#include <cstdint>
#include <string>

#include "verity/core/event.h"
#include "verity/core/sha256.h"

namespace verity::store {

// A record as stored: the document plus the metadata Verity keeps beside it.
struct StoredRecord {
  EventKind kind = EventKind::kPrediction;
  std::string request_id;
  EpochMillis timestamp_ms = 0;
  EpochMillis ingest_time_ms = 0;
  std::string model_name;
  std::string model_version;
  std::string input;            // the input it arrived on
  std::string masking_version;  // version of the masking policy that masked `document`
  std::string partition;        // "p_YYYYMMDD" (predictions) or "labels"
  uint64_t sequence = 0;        // global append order
  Sha256Digest digest{};        // SHA-256 of `document` (when digest_known)
  // False for records a scan read: their digest is computed when shown (to_json), as most
  // records a search reads are filtered away.
  bool digest_known = true;
  std::string source;    // envelope metadata (JSON object) or ""
  std::string document;  // JSON text ("" once erased)
  // Set when the document was erased (a data-subject erasure): the record is a tombstone that
  // keeps the metadata above, the digest and its place in the partition's hash chain.
  bool erased = false;
  EpochMillis erased_at_ms = 0;
  uint64_t erasure_audit_id = 0;  // the admin audit entry of the erasure

  // {"request_id":..., "kind":..., "model":..., "version":..., "timestamp":..., "ingest_time":...,
  //  "partition":..., "sequence":..., "input":..., "masking_version":..., "digest":...,
  //  ["source": <source>,] "document": <document>}
  // A tombstone has "erased": true, "erased_at" and "erasure_audit_id" instead of source/document.
  std::string to_json() const;
};

}  // namespace verity::store
