#include "verity/ingest/es_compat.h"
#include "verity/document/json_writer.h"

#include <simdjson.h>

#include <algorithm>

namespace verity::ingest {

namespace {

bool valid_json_object(const std::string& text) {
  simdjson::dom::parser parser;
  simdjson::dom::object o;
  return parser.parse(text).get_object().get(o) == simdjson::SUCCESS;
}

}  // namespace

HttpResponse es_error(int status, std::string_view type, const std::string& reason) {
  return document::error_response(status, type, reason);
}

HttpResponse EsCompat::root(const HttpRequest&) const {
  std::string body = "{\"name\":\"verity\",\"cluster_name\":";
  document::append_json_string(body, options_.cluster_name);
  body += ",\"cluster_uuid\":";
  document::append_json_string(body, options_.cluster_uuid);
  body += ",\"version\":{\"number\":";
  document::append_json_string(body, options_.version);
  body +=
      ",\"build_flavor\":\"default\",\"build_type\":\"verity\",\"build_hash\":\"verity\","
      "\"build_date\":\"2026-01-01T00:00:00.000Z\",\"build_snapshot\":false,"
      "\"lucene_version\":\"9.11.1\",\"minimum_wire_compatibility_version\":\"7.17.0\","
      "\"minimum_index_compatibility_version\":\"7.0.0\"},\"tagline\":\"You Know, for Search\"}";
  return HttpResponse::json(200, std::move(body));
}

HttpResponse EsCompat::license(const HttpRequest&) const {
  std::string body = "{\"license\":{\"status\":\"active\",\"uid\":";
  document::append_json_string(body, options_.cluster_uuid);
  body +=
      ",\"type\":\"basic\",\"issue_date\":\"2026-01-01T00:00:00.000Z\","
      "\"issue_date_in_millis\":1767225600000,\"max_nodes\":1000,\"max_resource_units\":null,"
      "\"issued_to\":\"verity\",\"issuer\":\"verity\",\"start_date_in_millis\":-1}}";
  return HttpResponse::json(200, std::move(body));
}

HttpResponse EsCompat::xpack(const HttpRequest&) const {
  std::string body =
      "{\"build\":{\"hash\":\"verity\",\"date\":\"2026-01-01T00:00:00.000Z\"},"
      "\"license\":{\"uid\":";
  document::append_json_string(body, options_.cluster_uuid);
  body +=
      ",\"type\":\"basic\",\"mode\":\"basic\",\"status\":\"active\"},"
      "\"features\":{\"ilm\":{\"available\":true,\"enabled\":true}}}";
  return HttpResponse::json(200, std::move(body));
}

HttpResponse EsCompat::setup_object(const HttpRequest& req) {
  // "/_ilm/policy/NAME" -> kind "ilm_policy"; "/_index_template/NAME" -> "index_template"; ...
  struct Kind {
    std::string_view prefix, kind, missing_type, missing_reason;
  };
  static constexpr Kind kKinds[] = {
      {"/_ilm/policy/", "ilm_policy", "resource_not_found_exception", "Lifecycle policy not found"},
      {"/_index_template/", "index_template", "resource_not_found_exception",
       "index template matching [{}] not found"},
      {"/_component_template/", "component_template", "resource_not_found_exception",
       "component template matching [{}] not found"},
      {"/_template/", "template", "resource_not_found_exception",
       "index template matching [{}] not found"},
      {"/_data_stream/", "data_stream", "index_not_found_exception", "no such index [{}]"},
  };
  const Kind* kind = nullptr;
  for (const auto& k : kKinds) {
    if (req.path.rfind(k.prefix, 0) == 0) kind = &k;
  }
  if (kind == nullptr) return es_error(404, "not_found", "no handler for " + req.path);
  const std::string name = req.path.substr(kind->prefix.size());
  const bool printable = std::none_of(name.begin(), name.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == '/';
  });
  if (name.empty() || name.size() > 255 || !printable || !document::is_valid_utf8(name)) {
    return es_error(400, "invalid_index_name_exception",
                    "invalid name: it must be 1 to 255 bytes of UTF-8, without '/' or control "
                    "characters");
  }
  const std::string key = std::string(kind->kind) + "/" + name;
  if (req.method == "PUT" || req.method == "POST") {
    if (req.body.size() > options_.max_object_bytes) {
      return es_error(413, "content_too_long_exception",
                      "the body of " + std::to_string(req.body.size()) +
                          " bytes exceeds the limit of " +
                          std::to_string(options_.max_object_bytes) + " bytes for a setup object");
    }
    std::string body = req.body.empty() && kind->kind == "data_stream" ? "{}" : req.body;
    if (!valid_json_object(body)) {
      return es_error(400, "parse_exception", "request body must be a JSON object");
    }
    std::lock_guard lock(mu_);
    if (!objects_.count(key) && objects_.size() >= options_.max_objects) {
      return es_error(400, "illegal_argument_exception",
                      "Verity keeps at most " + std::to_string(options_.max_objects) +
                          " setup objects (ILM policies, templates, data streams); delete one "
                          "first");
    }
    objects_[key] = std::move(body);
    return HttpResponse::json(200, "{\"acknowledged\":true}");
  }
  std::lock_guard lock(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) {
    std::string reason(kind->missing_reason);
    if (const size_t at = reason.find("{}"); at != std::string::npos) {
      reason.replace(at, 2, name);
    } else {
      reason += ": " + name;
    }
    return es_error(404, kind->missing_type, reason);
  }
  if (req.method == "DELETE") {
    objects_.erase(it);
    return HttpResponse::json(200, "{\"acknowledged\":true}");
  }
  std::string body;
  std::string quoted;
  document::append_json_string(quoted, name);
  if (kind->kind == "ilm_policy") {
    // GET answers {name: {version, modified_date, <the members PUT: policy, ...>}}.
    const std::string_view members = std::string_view(it->second).substr(1);  // after '{'
    body = "{" + quoted + ":{\"version\":1,\"modified_date\":\"2026-01-01T00:00:00.000Z\"" +
           (members.find_first_not_of(" \t\r\n}") == std::string_view::npos ? "" : ",") +
           std::string(members) + "}";
  } else if (kind->kind == "index_template") {
    body =
        "{\"index_templates\":[{\"name\":" + quoted + ",\"index_template\":" + it->second + "}]}";
  } else if (kind->kind == "component_template") {
    body = "{\"component_templates\":[{\"name\":" + quoted +
           ",\"component_template\":" + it->second + "}]}";
  } else if (kind->kind == "template") {
    body = "{" + quoted + ":" + it->second + "}";
  } else {
    body = "{\"data_streams\":[{\"name\":" + quoted +
           ",\"timestamp_field\":{\"name\":\"@timestamp\"},\"status\":\"GREEN\"}]}";
  }
  return HttpResponse::json(200, std::move(body));
}

}  // namespace verity::ingest
