#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "verity/core/http.h"

namespace verity::ingest {

// An error as Elasticsearch words it:
// {"error":{"root_cause":[{type,reason}],type,reason},"status"}.
HttpResponse es_error(int status, std::string_view type, const std::string& reason);

struct EsCompatOptions {
  std::string version = "8.15.0";  // the Elasticsearch version Verity answers as
  std::string cluster_name = "verity";
  std::string cluster_uuid;  // stable per data directory
  // Setup objects are kept in memory: at most this many (a PUT of another is a 400), each at most
  // this large (a larger body is a 413, as Elasticsearch answers an over-large request).
  size_t max_objects = 128;
  size_t max_object_bytes = 256 * 1024;
};

// The Elasticsearch endpoints that shippers call before they send _bulk, so that Filebeat's and
// Logstash's elasticsearch outputs, Fluent Bit and the official clients work against Verity with
// their defaults: GET / (version info), GET /_license, GET /_xpack, and GET/HEAD/PUT/DELETE of ILM
// policies, index and component templates (also legacy /_template) and data streams. What is PUT
// is validated as JSON, kept in memory (bounded in number and size) and returned by GET; it has no
// effect on storage (Verity's retention is its own). Names must be UTF-8 without control
// characters or '/', at most 255 bytes (Elasticsearch's own rules are stricter). Thread-safe.
class EsCompat {
 public:
  explicit EsCompat(EsCompatOptions options) : options_(std::move(options)) {}

  HttpResponse root(const HttpRequest& req) const;
  HttpResponse license(const HttpRequest& req) const;
  HttpResponse xpack(const HttpRequest& req) const;
  // Serves /_ilm/policy/*, /_index_template/*, /_component_template/*, /_template/*,
  // /_data_stream/* for GET, PUT and DELETE (HEAD is GET without a body).
  HttpResponse setup_object(const HttpRequest& req);

 private:
  EsCompatOptions options_;
  std::mutex mu_;
  std::map<std::string, std::string> objects_;  // "<kind>/<name>" -> JSON body; guarded by mu_
};

}  // namespace verity::ingest
