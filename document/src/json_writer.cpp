#include "verity/document/json_writer.h"

#include <simdjson.h>

#include <charconv>
#include <cmath>

namespace verity::document {
namespace {

// The length of the valid UTF-8 sequence starting at s[i], or 0 when none starts there.
size_t utf8_sequence(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  size_t n;
  unsigned char lo = 0x80, hi = 0xBF;  // bounds of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;  // overlong
    if (c == 0xED) hi = 0x9F;  // surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;  // overlong
    if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (b(i + 1) < lo || b(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    if (b(i + k) < 0x80 || b(i + k) > 0xBF) return 0;
  }
  return n;
}

}  // namespace

bool is_valid_utf8(std::string_view s) { return simdjson::validate_utf8(s.data(), s.size()); }

std::string valid_utf8(std::string_view s) {
  if (is_valid_utf8(s)) return std::string(s);
  std::string out;
  out.reserve(s.size() + 8);
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8_sequence(s, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

std::string_view utf8_prefix(std::string_view s, size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  size_t end = max_bytes;
  // Back up over continuation bytes so the cut falls before a character's first byte.
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return s.substr(0, end);
}

void append_json_number(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[40];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);  // shortest text that reads back as v
  out.append(buf, ec == std::errc() ? end : buf);
}

void append_json_string(std::string& out, std::string_view s) {
  JsonWriter w(out);
  w.string(s);
}

HttpResponse error_response(int status, std::string_view type, std::string_view reason) {
  HttpResponse r;
  r.status = status;
  JsonWriter w(r.body);
  w.begin_object().key("error").begin_object();
  w.key("root_cause").begin_array().begin_object();
  w.member("type", type).member("reason", reason);
  w.end_object().end_array();
  w.member("type", type).member("reason", reason);
  w.end_object();
  w.member("status", status);
  w.end_object();
  return r;
}

HttpResponse store_error_response(const Status& s) {
  switch (s.code()) {
    case StatusCode::kNotFound:
      return error_response(404, "not_found", s.message());
    case StatusCode::kInvalidArgument:
      return error_response(400, "invalid_request", s.message());
    case StatusCode::kUnavailable:
      return error_response(503, "store_unavailable", s.message());
    default:
      return error_response(500, "store_error", s.message());
  }
}

JsonWriter& JsonWriter::begin_object() {
  w_.StartObject();
  return *this;
}
JsonWriter& JsonWriter::end_object() {
  w_.EndObject();
  return *this;
}
JsonWriter& JsonWriter::begin_array() {
  w_.StartArray();
  return *this;
}
JsonWriter& JsonWriter::end_array() {
  w_.EndArray();
  return *this;
}

// True when RapidJSON's writer would write `s` as it is between two quotes: no byte it escapes
// (a control character, '"' or '\\'). Most keys and values are so; they are appended whole
// instead of byte by byte through the writer's escaping loop.
bool JsonWriter::plain(std::string_view s) {
  for (const char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b == '"' || b == '\\') return false;
  }
  return true;
}

// True when `s` is printable ASCII without '"' or '\\': valid UTF-8 that the writer writes as it
// is, found in one pass (no UTF-8 validation call for the common short key or value).
bool JsonWriter::plain_ascii(std::string_view s) {
  for (const char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b >= 0x80 || b == '"' || b == '\\') return false;
  }
  return true;
}

void JsonWriter::quoted(std::string_view s) {
  // The writer's bookkeeping (the comma or colon before, and whether a key or a value is due
  // next) for an empty raw string, then the text itself: RawValue writes nothing but its argument.
  w_.RawValue("", 0, rapidjson::kStringType);
  std::string& out = *stream_.out;
  out.reserve(out.size() + s.size() + 2);
  out.push_back('"');
  out.append(s);
  out.push_back('"');
}

// A key is written as a string (RapidJSON's Key is its String).
JsonWriter& JsonWriter::key(std::string_view k) { return string(k); }

JsonWriter& JsonWriter::string(std::string_view v) {
  if (plain_ascii(v)) {
    quoted(v);
  } else if (!is_valid_utf8(v)) {
    const std::string fixed = valid_utf8(v);
    w_.String(fixed.data(), static_cast<rapidjson::SizeType>(fixed.size()));
  } else if (plain(v)) {
    quoted(v);
  } else {
    w_.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
  }
  return *this;
}

JsonWriter& JsonWriter::number(double v) {
  w_.RawValue("", 0, std::isfinite(v) ? rapidjson::kNumberType : rapidjson::kNullType);
  append_json_number(*stream_.out, v);
  return *this;
}

JsonWriter& JsonWriter::integer(int64_t v) {
  w_.Int64(v);
  return *this;
}
JsonWriter& JsonWriter::uinteger(uint64_t v) {
  w_.Uint64(v);
  return *this;
}
JsonWriter& JsonWriter::boolean(bool v) {
  w_.Bool(v);
  return *this;
}
JsonWriter& JsonWriter::null() {
  w_.Null();
  return *this;
}
JsonWriter& JsonWriter::raw(std::string_view json) {
  // The type only matters to RapidJSON for keys (which must be strings); any value type will do.
  // The writer's bookkeeping for an empty raw value, then the text appended whole (RapidJSON
  // copies a raw value byte by byte).
  w_.RawValue("", 0, rapidjson::kObjectType);
  stream_.out->append(json);
  return *this;
}

}  // namespace verity::document
