#include "verity/shippers/kibana_setup.h"

#include <simdjson.h>

#include <memory>

#include "verity/core/sha256.h"
#include "verity/document/json_writer.h"

namespace verity::shippers {

extern const char* const kKibanaSavedObjects;  // kibana_objects_embedded.cpp (generated)

std::string_view kibana_saved_objects() { return kKibanaSavedObjects; }

namespace {

bool valid_space(std::string_view s) {
  if (s.empty() || s.size() > 256) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  }
  return true;
}

// A string member of `e` (itself maybe absent: a lookup's result), or "" (never throws).
template <typename E>  // an element, or a lookup's simdjson_result
std::string text_of(E e, const char* key) {
  std::string_view v;
  return e[key].get_string().get(v) ? std::string() : std::string(v);
}

// One of Kibana's per-object import errors as a line: "dashboard x (title): missing_references
// index-pattern:y".
std::string describe_error(simdjson::dom::element e) {
  std::string title = text_of(e["meta"], "title");
  if (title.empty()) title = text_of(e, "title");
  std::string out = text_of(e, "type") + " " + text_of(e, "id");
  if (!title.empty()) out += " (" + title + ")";
  simdjson::dom::element error;
  if (e["error"].get(error)) return out + ": unknown error";
  out += ": " + text_of(error, "type");
  const std::string message = text_of(error, "message");
  if (!message.empty()) out += " " + message;
  simdjson::dom::array refs;
  if (!error["references"].get_array().get(refs)) {
    for (simdjson::dom::element r : refs) out += " " + text_of(r, "type") + ":" + text_of(r, "id");
  }
  return out;
}

}  // namespace

Result<std::vector<KibanaSetupChange>> kibana_setup(const KibanaOptions& o, HttpClient* client) {
  std::string base = o.url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  if (base.rfind("http://", 0) != 0 && base.rfind("https://", 0) != 0) {
    return Status::invalid_argument("--kibana-url: an http:// or https:// URL is needed, not \"" +
                                    o.url + "\"");
  }
  if (!o.space.empty() && !valid_space(o.space)) {
    return Status::invalid_argument("--space: \"" + o.space +
                                    "\" is not a Kibana space id (a-z, 0-9, _ and -)");
  }
  std::unique_ptr<HttpClient> own;
  if (client == nullptr) {
    own = std::make_unique<CurlHttpClient>(o.tls);
    client = own.get();
  }
  const std::string_view objects = kibana_saved_objects();
  // A boundary the file does not contain.
  std::string boundary = "verity-" + sha256_hex(objects).substr(0, 32);
  while (objects.find(boundary) != std::string_view::npos) boundary += "x";
  HttpCall call;
  call.method = "POST";
  call.url =
      base + (o.space.empty() ? "" : "/s/" + o.space) + "/api/saved_objects/_import?overwrite=true";
  call.timeout = o.timeout;
  call.headers = {"kbn-xsrf: verity", "Content-Type: multipart/form-data; boundary=" + boundary};
  if (!o.api_key.empty()) call.headers.push_back("Authorization: ApiKey " + o.api_key);
  if (!o.username.empty()) call.headers.push_back(basic_authorization(o.username, o.password));
  call.body.reserve(objects.size() + 300);
  call.body += "--" + boundary + "\r\n";
  call.body += "Content-Disposition: form-data; name=\"file\"; filename=\"verity.ndjson\"\r\n";
  call.body += "Content-Type: application/ndjson\r\n\r\n";
  call.body += objects;
  call.body += "\r\n--" + boundary + "--\r\n";

  auto answer = client->send(call);
  if (!answer) return Status::unavailable("Kibana at " + base + ": " + answer.status().message());
  const std::string shown(document::utf8_prefix(answer->body, 500));
  if (answer->status != 200) {
    return Status::failed_precondition("POST " + call.url + ": HTTP " +
                                       std::to_string(answer->status) + ": " + shown);
  }
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  bool success = false;
  if (parser.parse(answer->body).get(root) || root["success"].get_bool().get(success)) {
    return Status::failed_precondition("Kibana's import answer is not what its API documents: " +
                                       shown);
  }
  // Kibana leaves successResults out when nothing was imported, and errors when nothing failed.
  simdjson::dom::array errors;
  if (!root["errors"].get_array().get(errors) && errors.size() > 0) {
    std::string what;
    for (simdjson::dom::element e : errors) what += "\n  " + describe_error(e);
    return Status::failed_precondition("Kibana refused " + std::to_string(errors.size()) +
                                       " saved object(s):" + what);
  }
  if (!success) {
    return Status::failed_precondition("Kibana answered success: false without errors: " + shown);
  }
  simdjson::dom::array results;
  std::vector<KibanaSetupChange> changes;
  if (root["successResults"].get_array().get(results)) return changes;
  for (simdjson::dom::element r : results) {
    bool overwritten = false;
    if (r["overwrite"].get_bool().get(overwritten)) overwritten = false;
    changes.push_back({text_of(r, "type"), text_of(r, "id"), text_of(r["meta"], "title"),
                       overwritten ? "updated" : "created"});
  }
  return changes;
}

}  // namespace verity::shippers
