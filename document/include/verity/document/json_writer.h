#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <rapidjson/writer.h>

#include "verity/core/http.h"
#include "verity/core/status.h"

namespace verity::document {

// The one JSON writer: every answer, stored JSON record, log-safe message and request body Verity
// writes goes through it (RapidJSON's Writer underneath), appending to a std::string.
//
// Safe for text taken from requests, documents or peers: keys and strings are escaped, and bytes
// that are not valid UTF-8 are replaced by U+FFFD, so the output is always valid JSON in UTF-8.
// Non-finite numbers are written as null. `raw()` embeds text that is already one valid JSON
// value (a stored document); it is the caller's duty that it is.
//
// Misuse (a value where a key is due, unbalanced ends) asserts in debug builds. Not thread-safe.
class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : stream_{&out}, w_(stream_) {}
  JsonWriter(const JsonWriter&) = delete;
  JsonWriter& operator=(const JsonWriter&) = delete;

  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  JsonWriter& key(std::string_view k);
  JsonWriter& string(std::string_view v);
  JsonWriter& number(double v);
  JsonWriter& integer(int64_t v);
  JsonWriter& uinteger(uint64_t v);
  JsonWriter& boolean(bool v);
  JsonWriter& null();
  // One complete JSON value, written as it is.
  JsonWriter& raw(std::string_view json);

  // key(k) followed by the value.
  JsonWriter& member(std::string_view k, std::string_view v) { return key(k).string(v); }
  JsonWriter& member(std::string_view k, const char* v) { return key(k).string(v); }
  JsonWriter& member(std::string_view k, double v) { return key(k).number(v); }
  JsonWriter& member(std::string_view k, int64_t v) { return key(k).integer(v); }
  JsonWriter& member(std::string_view k, uint64_t v) { return key(k).uinteger(v); }
  JsonWriter& member(std::string_view k, int v) { return key(k).integer(v); }
  JsonWriter& member(std::string_view k, unsigned v) { return key(k).uinteger(v); }
  JsonWriter& member(std::string_view k, bool v) { return key(k).boolean(v); }
  JsonWriter& member_raw(std::string_view k, std::string_view json) { return key(k).raw(json); }

  // True once a single complete top-level value has been written.
  bool complete() const { return w_.IsComplete(); }

 private:
  static bool plain(std::string_view s);
  static bool plain_ascii(std::string_view s);
  void quoted(std::string_view s);

  struct Sink {  // RapidJSON's output stream concept, over a std::string
    using Ch = char;
    std::string* out;
    void Put(char c) { out->push_back(c); }
    void Flush() {}
  };
  Sink stream_;
  rapidjson::Writer<Sink> w_;
};

// `s` with every byte sequence that is not valid UTF-8 replaced by U+FFFD (s itself when valid).
std::string valid_utf8(std::string_view s);
bool is_valid_utf8(std::string_view s);
// At most `max_bytes` of `s`, cut at a UTF-8 character boundary.
std::string_view utf8_prefix(std::string_view s, size_t max_bytes);

// Writes `s` as a JSON string literal (quotes included) onto `out`, with the writer's rules.
void append_json_string(std::string& out, std::string_view s);
// Writes a number as JSON: the shortest text that reads back as `v`, or null when not finite.
void append_json_number(std::string& out, double v);

// {"error":{"root_cause":[{"type","reason"}],"type":type,"reason":reason},"status":status}:
// Verity's error shape, which is Elasticsearch's (clients of its API read root_cause and status).
// `reason` names a field path, line or limit, never a payload value.
HttpResponse error_response(int status, std::string_view type, std::string_view reason);

// The answer to a read the store could not serve, by the Status it gave: kNotFound 404
// "not_found", kInvalidArgument 400 "invalid_request", kUnavailable 503 "store_unavailable" (a
// client retries: the store is reopening or its disk is failing), anything else 500 "store_error".
HttpResponse store_error_response(const Status& s);

}  // namespace verity::document
