#include "message_envelope.h"

#include "verity/core/http.h"
#include "verity/document/json_writer.h"

namespace verity::ingest {

namespace {

// "/log/file/path" -> "log.file.path": the dotted names Elastic's schema (ECS) uses.
std::string dotted(const document::JsonPointer& p) {
  std::string out;
  for (const auto& t : p.tokens) {
    if (!out.empty()) out += '.';
    out += t;
  }
  return out;
}

}  // namespace

bool MessageEnvelope::open(std::string_view json, size_t readable, std::string& message,
                           std::string& metadata) {
  if (!settings_.enabled) return false;
  const bool padded = readable >= json.size() + simdjson::SIMDJSON_PADDING;
  simdjson::dom::element root;
  if (parser_.parse(json.data(), json.size(), !padded).get(root) != simdjson::SUCCESS) return false;
  simdjson::dom::object obj;
  if (root.get_object().get(obj) != simdjson::SUCCESS) return false;
  std::string_view text;
  if (obj["message"].get_string().get(text) != simdjson::SUCCESS) return false;
  const size_t start = text.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos || text[start] != '{') return false;
  auto find = [&root](const document::JsonPointer& p, simdjson::dom::element& out) {
    out = root;
    for (const auto& token : p.tokens) {
      simdjson::dom::object o;
      if (out.get_object().get(o) != simdjson::SUCCESS || o[token].get(out) != simdjson::SUCCESS) {
        return false;
      }
    }
    return true;
  };
  simdjson::dom::element v;
  for (const auto& p : request_id_) {
    if (find(p, v)) return false;  // a document in its own right
  }
  message.assign(text);
  metadata.clear();
  for (const auto& p : settings_.keep) {
    if (!find(p, v)) continue;
    metadata += metadata.empty() ? '{' : ',';
    document::append_json_string(metadata, dotted(p));
    metadata += ':';
    metadata += simdjson::minify(v);
  }
  if (!metadata.empty()) metadata += '}';
  return true;
}

}  // namespace verity::ingest
