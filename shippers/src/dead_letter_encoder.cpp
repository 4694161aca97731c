#include "verity/shippers/dead_letter_encoder.h"

#include <simdjson.h>

#include "verity/core/time_format.h"
#include "verity/document/json_writer.h"

namespace verity::shippers {
namespace {

Status unreadable(uint64_t sequence, const char* what) {
  return Status::invalid_argument("dead letter " + std::to_string(sequence) + ": " + what);
}

struct Encoded {
  std::string source;
  EpochMillis ingest_ms = 0;
};

Result<Encoded> encode(uint64_t sequence, std::string_view entry) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(entry.data(), entry.size()).get(root) != simdjson::SUCCESS ||
      !root.is_object()) {
    return unreadable(sequence, "the entry is not a JSON object");
  }
  std::string_view text;
  if (root["ingest_time"].get_string().get(text) != simdjson::SUCCESS) {
    return unreadable(sequence, "the entry has no ingest_time");
  }
  auto ingest = parse_rfc3339(text);
  if (!ingest) return unreadable(sequence, "the entry's ingest_time is not RFC 3339");
  std::string_view type;
  if (root["type"].get_string().get(type) != simdjson::SUCCESS) {
    return unreadable(sequence, "the entry has no type");
  }
  Encoded out;
  out.ingest_ms = *ingest;
  simdjson::dom::element document;
  const bool has_document = root["document"].get(document) == simdjson::SUCCESS;
  out.source.reserve(entry.size() + 256);
  document::JsonWriter w(out.source);
  w.begin_object();
  w.member("@timestamp", format_rfc3339(*ingest));
  w.key("verity").begin_object();
  w.member("sequence", sequence);
  std::string_view s;
  if (root["input"].get_string().get(s) == simdjson::SUCCESS) w.member("input", s);
  uint64_t n = 0;
  if (root["line"].get_uint64().get(n) == simdjson::SUCCESS) w.member("line", n);
  if (root["request_id"].get_string().get(s) == simdjson::SUCCESS) w.member("request_id", s);
  if (root["raw_length"].get_uint64().get(n) == simdjson::SUCCESS) w.member("raw_length", n);
  if (root["raw_sha256"].get_string().get(s) == simdjson::SUCCESS) w.member("raw_sha256", s);
  w.end_object();
  w.key("error").begin_object();
  w.member("type", type);
  if (root["reason"].get_string().get(s) == simdjson::SUCCESS) w.member("message", s);
  w.end_object();
  w.key("event").begin_object();
  if (has_document) w.member("original", simdjson::minify(document));
  w.member("dataset", "verity.deadletters");
  w.end_object();
  w.end_object();
  return out;
}

}  // namespace

std::string dead_letter_id(uint64_t sequence) { return "dl-" + std::to_string(sequence); }

Result<std::string> dead_letter_source(uint64_t sequence, std::string_view entry) {
  auto e = encode(sequence, entry);
  if (!e) return e.status();
  return std::move(e->source);
}

Result<std::string> bulk_create_dead_letter(const EsShipperOptions& options, uint64_t sequence,
                                            std::string_view entry) {
  auto e = encode(sequence, entry);
  if (!e) return e.status();
  std::string out;
  out.reserve(e->source.size() + 128);
  {
    document::JsonWriter w(out);
    w.begin_object().key("create").begin_object();
    w.member("_index", options.dead_letter_index_for(e->ingest_ms))
        .member("_id", dead_letter_id(sequence));
    w.end_object().end_object();
  }
  out += '\n';
  out += e->source;
  out += '\n';
  return out;
}

std::string EsShipperOptions::dead_letter_index_for(EpochMillis ingest_ms) const {
  if (index_mode == IndexMode::kDataStream) return dead_letters_data_stream;
  const std::string d = format_rfc3339(ingest_ms);  // 2026-11-20T...
  return dead_letters_dated_prefix + d.substr(0, 4) + "." + d.substr(5, 2) + "." + d.substr(8, 2);
}

}  // namespace verity::shippers
