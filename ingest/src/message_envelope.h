#pragma once

#include <string>
#include <string_view>

#include <simdjson.h>

#include "verity/document/field_mapping.h"

namespace verity::ingest {

// Opens Filebeat-style envelopes (see document::EnvelopeSettings). Not thread-safe: owns a parser.
class MessageEnvelope {
 public:
  // `request_id` are the pointers that locate a request id: a document with one is not opened.
  MessageEnvelope(document::EnvelopeSettings settings,
                  std::vector<document::JsonPointer> request_id)
      : settings_(std::move(settings)), request_id_(std::move(request_id)) {}

  // A cheap test on the raw text: false means open() would surely return false.
  static bool may_be_envelope(std::string_view json) {
    return json.find("\"message\"") != std::string_view::npos;
  }

  // When `json` (readable bytes from json.data(): `readable`) is an object without a request id
  // whose top-level "message" is a string holding a JSON object, sets `message` to that string
  // (unescaped) and `metadata` to {"<dotted path>": value, ...} for the kept members present, and
  // returns true.
  bool open(std::string_view json, size_t readable, std::string& message, std::string& metadata);

 private:
  document::EnvelopeSettings settings_;
  std::vector<document::JsonPointer> request_id_;
  simdjson::dom::parser parser_;
};

}  // namespace verity::ingest
