#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "verity/core/status.h"
#include "verity/shippers/es_config.h"

namespace verity::shippers {

// What the shipper sends for an entry of the store's dead-letter store
// (OutboxSource::read_dead_letters): pure functions of their inputs, never throwing, whatever the
// stored bytes hold. The Kibana dashboards (kibana/) and
// mappings/component-verity-deadletters-mappings.json depend on exactly these names.

// The _id of a dead letter: "dl-<sequence>", so that a re-sent entry is a 409, never a copy.
std::string dead_letter_id(uint64_t sequence);

// The source of the entry stored under `sequence`:
//   {"@timestamp": <ingest_time, RFC 3339>,
//    "verity": {"sequence", "input", "line", "request_id" (when present), "raw_length",
//               "raw_sha256" (when present)},
//    "error": {"type": <the entry's type>, "message": <its reason>},
//    "event": {"original": <the masked document as a JSON string, when present>,
//              "dataset": "verity.deadletters"}}
// The document was masked before it was stored; it is carried as text (minified), never as
// fields, so nothing in it can collide with or widen the mappings. Errors (kInvalidArgument,
// naming the sequence, never a value): the entry is not a JSON object, or has no readable
// ingest_time or type.
Result<std::string> dead_letter_source(uint64_t sequence, std::string_view entry);

// The two NDJSON lines of its `create`: {"create":{"_index","_id"}}\n<source>\n, into
// options.dead_letter_index_for(ingest time).
Result<std::string> bulk_create_dead_letter(const EsShipperOptions& options, uint64_t sequence,
                                            std::string_view entry);

}  // namespace verity::shippers
