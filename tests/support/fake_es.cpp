#include "fake_es.h"

#include <simdjson.h>

#include <set>
#include <thread>

#include <boost/asio.hpp>

#include "verity/core/http.h"
#include "verity/document/json_writer.h"
#include "verity/ingest/http_server.h"

namespace verity::testing {

namespace {

const char* error_type(int status) {
  switch (status) {
    case 400:
      return "document_parsing_exception";
    case 401:
      return "security_exception";
    case 403:
      return "security_exception";
    case 404:
      return "index_not_found_exception";
    case 409:
      return "version_conflict_engine_exception";
    case 429:
      return "es_rejected_execution_exception";
    case 503:
      return "unavailable_shards_exception";
    default:
      return "illegal_state_exception";
  }
}

// Elasticsearch's whole-request error body.
HttpResponse es_error(int status, const std::string& type, const std::string& reason) {
  std::string body = "{\"error\":{\"root_cause\":[{\"type\":";
  document::append_json_string(body, type);
  body += ",\"reason\":";
  document::append_json_string(body, reason);
  body += "}],\"type\":";
  document::append_json_string(body, type);
  body += ",\"reason\":";
  document::append_json_string(body, reason);
  body += "},\"status\":" + std::to_string(status) + "}";
  HttpResponse r = HttpResponse::json(status, std::move(body));
  if (status == 401) {
    r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"security\" charset=\"UTF-8\"");
  }
  return r;
}

bool glob_match(std::string_view pattern, std::string_view s) {
  if (pattern.empty()) return s.empty();
  if (pattern.front() == '*') {
    for (size_t i = 0; i <= s.size(); ++i) {
      if (glob_match(pattern.substr(1), s.substr(i))) return true;
    }
    return false;
  }
  return !s.empty() && pattern.front() == s.front() && glob_match(pattern.substr(1), s.substr(1));
}

}  // namespace

// The `failures` entry Elasticsearch lists for a document a by-query request could not change.
static std::string failure_json(const std::string& index, const std::string& id) {
  if (id.empty()) return "";
  std::string out = R"({"index":)";
  document::append_json_string(out, index);
  out += R"(,"id":)";
  document::append_json_string(out, id);
  out += R"(,"cause":{"type":"mapper_parsing_exception","reason":"failed to parse field [label]"},)"
         R"("status":400})";
  return out;
}

struct FakeElasticsearch::Impl {
  boost::asio::io_context io;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  std::unique_ptr<ingest::HttpServer> server;
  uint16_t port = 0;

  mutable std::mutex mu;
  std::map<std::string, std::vector<int>> item_faults;  // _id -> statuses still to answer
  std::vector<int> request_faults;                      // statuses for the next requests
  struct ByQueryFault {
    int status;
    std::string failed_id;
  };
  std::vector<ByQueryFault> by_query_faults;  // for the next by-query requests
  // An injected by-query fault for this request, if any (REQUIRES: mu held).
  std::optional<HttpResponse> by_query_fault(std::string* failed_id) {
    if (by_query_faults.empty()) return std::nullopt;
    const ByQueryFault f = by_query_faults.front();
    by_query_faults.erase(by_query_faults.begin());
    ++stats.by_query_refused;
    if (f.status == 200 && !f.failed_id.empty()) {
      *failed_id = f.failed_id;
      return std::nullopt;
    }
    return es_error(f.status,
                    f.status == 400 ? "script_exception" : "es_rejected_execution_exception",
                    "injected by-query failure");
  }
  size_t max_body = 0;
  std::chrono::milliseconds delay{0};
  std::string authorization;
  Stats stats;
  std::map<std::string, std::string> docs;  // index/_id -> source
  // Near-real-time search, as Elasticsearch: a document indexed less than a refresh interval (1 s)
  // ago is invisible to queries (_update_by_query, _delete_by_query) until a _refresh.
  std::map<std::string, std::chrono::steady_clock::time_point> indexed_at;
  bool searchable(const std::string& key) const {
    auto it = indexed_at.find(key);
    return it == indexed_at.end() ||
           std::chrono::steady_clock::now() - it->second >= std::chrono::seconds(1);
  }
  std::map<std::string, std::string> objects;  // setup objects by path -> body as PUT
  uint64_t object_puts = 0;

  void start_server() {
    ingest::HttpServerOptions o;
    o.listen = {"127.0.0.1", port};
    o.max_body = ByteSize{256ull << 20};
    o.success_headers.emplace_back("X-Elastic-Product", "Elasticsearch");
    server = std::make_unique<ingest::HttpServer>(io, o);
    for (const char* method : {"POST", "PUT"}) {
      for (const char* path : {"/_bulk", "/*/_bulk"}) {
        server->route(method, path, [this](const HttpRequest& r) { return bulk(r); });
      }
    }
    for (const char* path : {"/_ilm/policy/*", "/_component_template/*", "/_index_template/*"}) {
      server->route("GET", path, [this](const HttpRequest& r) { return get_object(r); });
      server->route("PUT", path, [this](const HttpRequest& r) { return put_object(r); });
    }
    server->route("POST", "/*/_delete_by_query",
                  [this](const HttpRequest& r) { return delete_by_query(r); });
    server->route("POST", "/*/_refresh", [this](const HttpRequest& r) {
      std::lock_guard lock(mu);
      const std::string target = r.path.substr(1, r.path.rfind("/_refresh") - 1);
      for (auto& [key, at] : indexed_at) {
        if (glob_match(target, key.substr(0, key.find('/')))) at = {};
      }
      return HttpResponse::json(200, R"({"_shards":{"total":1,"successful":1,"failed":0}})");
    });
    server->route("POST", "/*/_update_by_query",
                  [this](const HttpRequest& r) { return update_by_query(r); });
    server->route("GET", "/", [](const HttpRequest&) {
      return HttpResponse::json(
          200, R"({"name":"fake","cluster_name":"fake","version":{"number":"8.15.0"},)"
               R"("tagline":"You Know, for Search"})");
    });
    auto s = server->start();
    if (!s) throw std::runtime_error("fake Elasticsearch: " + s.message());
    port = server->local_endpoint().port;
  }

  HttpResponse bulk(const HttpRequest& req);
  HttpResponse get_object(const HttpRequest& req);
  HttpResponse delete_by_query(const HttpRequest& req);
  HttpResponse update_by_query(const HttpRequest& req);
  HttpResponse put_object(const HttpRequest& req);
  HttpResponse handle_bulk(const HttpRequest& req, std::chrono::milliseconds& wait);
};

HttpResponse FakeElasticsearch::Impl::bulk(const HttpRequest& req) {
  std::chrono::milliseconds wait;
  HttpResponse r = handle_bulk(req, wait);
  // The documents are stored before the (slow) answer: a client that dies meanwhile does not know
  // they are.
  if (wait.count() > 0) std::this_thread::sleep_for(wait);
  return r;
}

HttpResponse FakeElasticsearch::Impl::handle_bulk(const HttpRequest& req,
                                                  std::chrono::milliseconds& wait) {
  std::lock_guard lock(mu);
  wait = delay;
  ++stats.requests;
  if (!req.header("content-encoding").empty()) ++stats.gzip_requests;
  auto answer = [&](HttpResponse r) {
    ++stats.request_status[r.status];
    if (r.status == 200) stats.largest_body = std::max(stats.largest_body, req.body.size());
    return r;
  };
  if (!authorization.empty() && req.header("authorization") != authorization) {
    return answer(es_error(401, "security_exception",
                           "missing authentication credentials for REST request [/_bulk]"));
  }
  if (!request_faults.empty()) {
    const int status = request_faults.front();
    request_faults.erase(request_faults.begin());
    return answer(es_error(status, error_type(status), "injected"));
  }
  if (max_body > 0 && req.body.size() > max_body) {
    HttpResponse r;
    r.status = 413;
    r.content_type = "text/plain";
    return answer(r);
  }
  const std::string_view ct = req.header("content-type");
  if (ct.rfind("application/json", 0) != 0 && ct.rfind("application/x-ndjson", 0) != 0) {
    return answer(es_error(406, "illegal_argument_exception",
                           "Content-Type header [" + std::string(ct) + "] is not supported"));
  }
  if (req.body.empty() || req.body.back() != '\n') {
    return answer(es_error(400, "illegal_argument_exception",
                           "The bulk request must be terminated by a newline [\\n]"));
  }
  std::string path_index;
  if (req.path != "/_bulk") path_index = req.path.substr(1, req.path.size() - 7);

  simdjson::dom::parser parser;
  std::string items;
  bool errors = false;
  size_t start = 0;
  int line = 0;
  while (start < req.body.size()) {
    const size_t end = req.body.find('\n', start);
    const std::string action_line = req.body.substr(start, end - start);
    start = end + 1;
    ++line;
    simdjson::dom::element action;
    simdjson::dom::object obj;
    if (parser.parse(action_line).get(action) || action.get_object().get(obj) || obj.size() != 1) {
      return answer(es_error(400, "illegal_argument_exception",
                             "Malformed action/metadata line [" + std::to_string(line) +
                                 "], expected START_OBJECT or END_OBJECT"));
    }
    const std::string op(obj.begin().key());
    if (op != "create" && op != "index" && op != "update" && op != "delete") {
      return answer(es_error(400, "illegal_argument_exception",
                             "Malformed action/metadata line [" + std::to_string(line) +
                                 "], expected field [create], [delete], [index] or [update]"));
    }
    simdjson::dom::element meta = obj.begin().value();
    std::string index = path_index, id;
    std::string_view sv;
    if (!meta["_index"].get_string().get(sv)) index = std::string(sv);
    if (!meta["_id"].get_string().get(sv)) id = std::string(sv);
    if (index.empty()) {
      return answer(es_error(400, "action_request_validation_exception",
                             "Validation Failed: 1: index is missing;"));
    }
    if (op == "create" && id.empty()) {
      return answer(es_error(400, "action_request_validation_exception",
                             "Validation Failed: 1: this fake needs an _id on create;"));
    }
    std::string source;
    if (op != "delete") {
      if (start >= req.body.size()) {
        return answer(es_error(400, "illegal_argument_exception",
                               "the bulk request ends after an action line"));
      }
      const size_t send = req.body.find('\n', start);
      source = req.body.substr(start, send - start);
      start = send + 1;
      ++line;
      simdjson::dom::element doc;
      if (parser.parse(source).get(doc) || !doc.is_object()) {
        return answer(es_error(400, "x_content_parse_exception",
                               "[" + std::to_string(line) + ":1] source is not an object"));
      }
      if (op == "update" && doc["doc"].error()) {
        return answer(es_error(400, "action_request_validation_exception",
                               "Validation Failed: 1: script or doc is missing;"));
      }
      if (op != "update" && index.rfind("logs-", 0) == 0 && doc["@timestamp"].error()) {
        // Recorded as a per-item 400 below.
        source.clear();
      }
    }
    const std::string key = index + "/" + id;
    int status = op == "create" ? 201 : 200;
    std::string type;
    if (auto f = item_faults.find(id); f != item_faults.end() && !f->second.empty()) {
      status = f->second.front();
      f->second.erase(f->second.begin());
      type = error_type(status);
    } else if (op != "delete" && op != "update" && source.empty()) {
      status = 400;
      type = "document_parsing_exception";
    } else if (op == "create" && docs.count(key)) {
      status = 409;
      type = "version_conflict_engine_exception";
    } else if (op == "delete") {
      status = docs.erase(key) ? 200 : 404;
    } else if (op == "update") {
      if (!docs.count(key)) {
        status = 404;
        type = "document_missing_exception";
      }
    } else {
      docs[key] = source;
      indexed_at[key] = std::chrono::steady_clock::now();
    }
    ++stats.item_status[status];
    if (!items.empty()) items += ',';
    items += "{\"" + op + "\":{\"_index\":";
    document::append_json_string(items, index);
    items += ",\"_id\":";
    document::append_json_string(items, id);
    items += ",\"status\":" + std::to_string(status);
    if (!type.empty()) {
      errors = true;
      items += ",\"error\":{\"type\":\"" + type + "\",\"reason\":\"[" + id + "]: injected or " +
               type + "\",\"index\":";
      document::append_json_string(items, index);
      items += "}";
    } else {
      items += ",\"result\":\"" +
               std::string(status == 201    ? "created"
                           : op == "delete" ? "deleted"
                                            : "updated") +
               "\",\"_version\":1";
    }
    items += "}}";
  }
  return answer(
      HttpResponse::json(200, "{\"took\":1,\"errors\":" + std::string(errors ? "true" : "false") +
                                  ",\"items\":[" + items + "]}"));
}

// Only the query Verity sends: {"query":{"ids":{"values":[...]}}}.
HttpResponse FakeElasticsearch::Impl::delete_by_query(const HttpRequest& req) {
  std::lock_guard lock(mu);
  ++stats.requests;
  if (!authorization.empty() && req.header("authorization") != authorization) {
    return es_error(401, "security_exception", "missing authentication credentials");
  }
  std::string failed_id;
  if (auto fault = by_query_fault(&failed_id)) return *fault;
  const std::string target = req.path.substr(1, req.path.rfind("/_delete_by_query") - 1);
  simdjson::dom::parser p;
  simdjson::dom::array values;
  if (p.parse(req.body)["query"]["ids"]["values"].get_array().get(values)) {
    return es_error(400, "parsing_exception", "this fake only knows the ids query");
  }
  std::set<std::string> ids;
  for (simdjson::dom::element v : values) ids.emplace(std::string_view(v.get_string()));
  bool any_index = false;
  uint64_t deleted = 0;
  for (auto it = docs.begin(); it != docs.end();) {
    const std::string index = it->first.substr(0, it->first.find('/'));
    const std::string id = it->first.substr(index.size() + 1);
    const bool match = glob_match(target, index) && searchable(it->first);
    any_index = any_index || match;
    if (match && ids.count(id) && id != failed_id) {
      it = docs.erase(it);
      ++deleted;
    } else {
      ++it;
    }
  }
  if (!any_index && target.find('*') == std::string::npos) {
    return es_error(404, "index_not_found_exception", "no such index [" + target + "]");
  }
  const std::string n = std::to_string(deleted);
  return HttpResponse::json(200,
                            R"({"took":1,"timed_out":false,"total":)" + n + R"(,"deleted":)" + n +
                                R"(,"batches":1,"version_conflicts":0,"noops":0,"failures":[)" +
                                failure_json(target, failed_id) + "]}");
}

// Only what Verity sends: the ids query and the script that sets `label` from params.labels.
HttpResponse FakeElasticsearch::Impl::update_by_query(const HttpRequest& req) {
  std::lock_guard lock(mu);
  ++stats.requests;
  if (!authorization.empty() && req.header("authorization") != authorization) {
    return es_error(401, "security_exception", "missing authentication credentials");
  }
  std::string failed_id;
  if (auto fault = by_query_fault(&failed_id)) return *fault;
  const std::string target = req.path.substr(1, req.path.rfind("/_update_by_query") - 1);
  simdjson::dom::parser p;
  simdjson::dom::element root;
  simdjson::dom::array values;
  simdjson::dom::object labels;
  std::string_view source;
  if (p.parse(req.body).get(root) || root["query"]["ids"]["values"].get_array().get(values) ||
      root["script"]["source"].get_string().get(source) ||
      source != "ctx._source.label = params.labels[ctx._id]" ||
      root["script"]["params"]["labels"].get_object().get(labels)) {
    return es_error(400, "parsing_exception", "this fake only knows Verity's label script");
  }
  {
    // Elasticsearch parses JSON with strict duplicate detection: a key twice is a 400.
    std::set<std::string_view> keys;
    for (auto [k, v] : labels) {
      if (!keys.insert(k).second) {
        return es_error(400, "x_content_parse_exception", "Duplicate field in params.labels");
      }
    }
  }
  uint64_t updated = 0;
  simdjson::dom::parser dp;
  for (auto& [key, doc] : docs) {
    const std::string index = key.substr(0, key.find('/'));
    const std::string id = key.substr(index.size() + 1);
    simdjson::dom::element label;
    if (!glob_match(target, index) || !searchable(key) || labels[id].get(label)) continue;
    bool listed = false;
    for (simdjson::dom::element v : values) listed = listed || v.get_string().value() == id;
    if (!listed || id == failed_id) continue;
    std::string rebuilt = "{";
    for (auto [k, v] : dp.parse(doc).get_object()) {
      if (k == "label") continue;
      if (rebuilt.size() > 1) rebuilt += ',';
      document::append_json_string(rebuilt, k);
      rebuilt += ':' + simdjson::minify(v);
    }
    rebuilt += ",\"label\":" + simdjson::minify(label) + "}";
    doc = rebuilt;
    ++updated;
  }
  const std::string n = std::to_string(updated);
  return HttpResponse::json(200,
                            R"({"took":1,"timed_out":false,"total":)" + n + R"(,"updated":)" + n +
                                R"(,"batches":1,"version_conflicts":0,"noops":0,"failures":[)" +
                                failure_json(target, failed_id) + "]}");
}

// Setup objects, answered in the shapes Elasticsearch uses for each kind.
HttpResponse FakeElasticsearch::Impl::get_object(const HttpRequest& req) {
  std::lock_guard lock(mu);
  const std::string name = req.path.substr(req.path.rfind('/') + 1);
  auto it = objects.find(req.path);
  if (it == objects.end()) {
    if (req.path.rfind("/_ilm/", 0) == 0) {
      return es_error(404, "resource_not_found_exception", "Lifecycle policy not found: " + name);
    }
    return es_error(
        404, "resource_not_found_exception",
        (req.path.rfind("/_index_template/", 0) == 0 ? "index template matching ["
                                                     : "component template matching [") +
            name + "] not found");
  }
  std::string quoted;
  document::append_json_string(quoted, name);
  if (req.path.rfind("/_ilm/", 0) == 0) {
    // {"<name>":{"version":1,"modified_date":...,"policy":{...}}}: the body's "policy" member.
    simdjson::dom::parser p;
    const std::string policy = simdjson::minify(p.parse(it->second)["policy"]);
    return HttpResponse::json(
        200, "{" + quoted +
                 R"(:{"version":1,"modified_date":"2026-11-24T00:00:00.000Z","policy":)" + policy +
                 "}}");
  }
  if (req.path.rfind("/_index_template/", 0) == 0) {
    return HttpResponse::json(200, R"({"index_templates":[{"name":)" + quoted +
                                       R"(,"index_template":)" + it->second + "}]}");
  }
  return HttpResponse::json(200, R"({"component_templates":[{"name":)" + quoted +
                                     R"(,"component_template":)" + it->second + "}]}");
}

HttpResponse FakeElasticsearch::Impl::put_object(const HttpRequest& req) {
  std::lock_guard lock(mu);
  simdjson::dom::parser p;
  simdjson::dom::element root;
  if (p.parse(req.body).get(root) || !root.is_object()) {
    return es_error(400, "parse_exception", "request body is required and must be an object");
  }
  if (req.path.rfind("/_ilm/", 0) == 0 && root["policy"]["phases"].error()) {
    return es_error(400, "x_content_parse_exception", "[put_lifecycle_request] policy is missing");
  }
  if (req.path.rfind("/_index_template/", 0) == 0) {
    simdjson::dom::array composed;
    if (!root["composed_of"].get_array().get(composed)) {
      for (simdjson::dom::element c : composed) {
        const std::string component(c.get_string().value());
        if (!objects.count("/_component_template/" + component)) {
          return es_error(
              400, "invalid_index_template_exception",
              "index template specifies component templates [" + component + "] that do not exist");
        }
      }
    }
  }
  objects[req.path] = req.body;
  ++object_puts;
  return HttpResponse::json(200, R"({"acknowledged":true})");
}

FakeElasticsearch::FakeElasticsearch() : impl_(std::make_shared<Impl>()) {
  impl_->start_server();
  impl_->work.emplace(impl_->io.get_executor());
  for (int i = 0; i < 4; ++i) impl_->threads.emplace_back([this] { impl_->io.run(); });
}

FakeElasticsearch::~FakeElasticsearch() {
  if (impl_->server) impl_->server->stop();
  impl_->work.reset();
  impl_->io.stop();
  for (auto& t : impl_->threads) t.join();
}

std::string FakeElasticsearch::url() const {
  return "http://127.0.0.1:" + std::to_string(impl_->port);
}

void FakeElasticsearch::fail_item(const std::string& id, int status, int times) {
  std::lock_guard lock(impl_->mu);
  for (int i = 0; i < times; ++i) impl_->item_faults[id].push_back(status);
}

void FakeElasticsearch::fail_by_query(int status, int times, const std::string& failed_id) {
  std::lock_guard lock(impl_->mu);
  for (int i = 0; i < times; ++i) impl_->by_query_faults.push_back({status, failed_id});
}

void FakeElasticsearch::fail_requests(int status, int times) {
  std::lock_guard lock(impl_->mu);
  for (int i = 0; i < times; ++i) impl_->request_faults.push_back(status);
}

void FakeElasticsearch::set_max_body(size_t bytes) {
  std::lock_guard lock(impl_->mu);
  impl_->max_body = bytes;
}

void FakeElasticsearch::set_delay(std::chrono::milliseconds d) {
  std::lock_guard lock(impl_->mu);
  impl_->delay = d;
}

void FakeElasticsearch::require_authorization(const std::string& header) {
  std::lock_guard lock(impl_->mu);
  impl_->authorization = header;
}

void FakeElasticsearch::go_down() {
  if (impl_->server) impl_->server->stop();
  impl_->server.reset();
}

void FakeElasticsearch::come_back() {
  if (!impl_->server) impl_->start_server();
}

FakeElasticsearch::Stats FakeElasticsearch::stats() const {
  std::lock_guard lock(impl_->mu);
  return impl_->stats;
}

std::map<std::string, std::string> FakeElasticsearch::documents() const {
  std::lock_guard lock(impl_->mu);
  return impl_->docs;
}

std::map<std::string, std::string> FakeElasticsearch::setup_objects() const {
  std::lock_guard lock(impl_->mu);
  return impl_->objects;
}

uint64_t FakeElasticsearch::setup_puts() const {
  std::lock_guard lock(impl_->mu);
  return impl_->object_puts;
}

size_t FakeElasticsearch::document_count() const {
  std::lock_guard lock(impl_->mu);
  return impl_->docs.size();
}

}  // namespace verity::testing
