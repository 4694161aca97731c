#pragma once

#include <string>
#include <string_view>

#include <simdjson.h>

#include "verity/ingest/field_mapping.h"

namespace verity::ingest {

// Opens Filebeat-style envelopes (see EnvelopeSettings). Not thread-safe: owns a parser.
class MessageEnvelope {
 public:
  explicit MessageEnvelope(EnvelopeSettings settings) : settings_(std::move(settings)) {}

  // When `json` (readable bytes from json.data(): `readable`) is an object whose top-level
  // "message" is a string holding a JSON object, sets `message` to that string (unescaped) and
  // `metadata` to {"<dotted path>": value, ...} for the kept members present, and returns true.
  bool open(std::string_view json, size_t readable, std::string& message, std::string& metadata);

 private:
  EnvelopeSettings settings_;
  simdjson::dom::parser parser_;
};

}  // namespace verity::ingest
