#include "fake_kibana.h"

#include <simdjson.h>

#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include <boost/asio.hpp>

#include "verity/core/http.h"
#include "verity/document/json_writer.h"
#include "verity/ingest/http_server.h"

namespace verity::testing {
namespace {

constexpr const char* kVersion = "8.15.0";
const std::set<std::string, std::less<>> kTypes = {"config", "dashboard", "index-pattern",
                                                   "lens",   "map",       "query",
                                                   "search", "tag",       "visualization"};

HttpResponse boom(int status, const std::string& error, const std::string& message) {
  std::string body = R"({"statusCode":)" + std::to_string(status) + R"(,"error":)";
  document::append_json_string(body, error);
  body += R"(,"message":)";
  document::append_json_string(body, message);
  body += "}";
  return HttpResponse::json(status, body);
}

// "8.9.0" < "8.15.0", numerically per part.
bool newer_than(std::string_view v, std::string_view than) {
  auto parts = [](std::string_view s) {
    std::vector<long> out;
    size_t i = 0;
    while (i < s.size()) {
      size_t j = s.find('.', i);
      if (j == std::string_view::npos) j = s.size();
      out.push_back(std::strtol(std::string(s.substr(i, j - i)).c_str(), nullptr, 10));
      i = j + 1;
    }
    return out;
  };
  return parts(v) > parts(than);
}

// The part named "file" of a multipart/form-data body: its filename and content.
bool file_part(const std::string& body, const std::string& boundary, std::string& filename,
               std::string& content) {
  const std::string delimiter = "--" + boundary;
  size_t at = body.find(delimiter);
  while (at != std::string::npos) {
    size_t start = at + delimiter.size();
    if (body.compare(start, 2, "--") == 0) return false;  // the closing delimiter
    start = body.find("\r\n", start);
    if (start == std::string::npos) return false;
    const size_t headers_end = body.find("\r\n\r\n", start);
    if (headers_end == std::string::npos) return false;
    const std::string headers = body.substr(start + 2, headers_end - start - 2);
    const size_t next = body.find("\r\n" + delimiter, headers_end + 4);
    if (next == std::string::npos) return false;
    if (headers.find("name=\"file\"") != std::string::npos) {
      const size_t f = headers.find("filename=\"");
      if (f == std::string::npos) return false;
      filename = headers.substr(f + 10, headers.find('"', f + 10) - f - 10);
      content = body.substr(headers_end + 4, next - headers_end - 4);
      return true;
    }
    at = next + 2;
  }
  return false;
}

// One entry of the import answer's `errors`: {id, type, meta: {title}, error}.
std::string import_error(const std::string& id, const std::string& type, const std::string& title,
                         const std::string& error) {
  std::string j = R"({"id":)";
  document::append_json_string(j, id);
  j += R"(,"type":)";
  document::append_json_string(j, type);
  j += R"(,"meta":{"title":)";
  document::append_json_string(j, title);
  j += R"(},"error":)" + error + "}";
  return j;
}

std::string text_of(simdjson::dom::element e, const char* key) {
  std::string_view v;
  return e[key].get_string().get(v) ? std::string() : std::string(v);
}

}  // namespace

struct FakeKibana::Impl {
  boost::asio::io_context io;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  std::unique_ptr<ingest::HttpServer> server;
  uint16_t port = 0;

  mutable std::mutex mu;
  std::string authorization;
  std::map<std::string, std::map<std::string, std::string>> spaces = {{"default", {}},
                                                                      {"audit", {}}};
  uint64_t imports = 0;

  void start() {
    ingest::HttpServerOptions o;
    o.listen = {"127.0.0.1", 0};
    o.max_body = ByteSize{32ull << 20};
    server = std::make_unique<ingest::HttpServer>(io, o);
    server->route("POST", "/api/saved_objects/_import",
                  [this](const HttpRequest& r) { return import(r, "default"); });
    server->route("POST", "/s/*/api/saved_objects/_import", [this](const HttpRequest& r) {
      return import(r, r.path.substr(3, r.path.find('/', 3) - 3));
    });
    auto s = server->start();
    if (!s) throw std::runtime_error("fake Kibana: " + s.message());
    port = server->local_endpoint().port;
  }

  HttpResponse import(const HttpRequest& r, const std::string& space);
};

HttpResponse FakeKibana::Impl::import(const HttpRequest& r, const std::string& space) {
  std::lock_guard lock(mu);
  if (r.header("kbn-xsrf").empty()) {
    return boom(400, "Bad Request", "Request must contain a kbn-xsrf header.");
  }
  if (!authorization.empty() && r.header("authorization") != authorization) {
    return boom(401, "Unauthorized",
                "[security_exception]: missing authentication credentials for REST request");
  }
  auto stored = spaces.find(space);
  if (stored == spaces.end())
    return boom(404, "Not Found", "Saved object [space/" + space + "] not found");
  bool overwrite = false, copies = false;
  for (const auto& [k, v] : r.query) {
    if (k != "overwrite" && k != "createNewCopies" && k != "compatibilityMode") {
      return boom(400, "Bad Request",
                  "[request query." + k + "]: definition for this key is missing");
    }
    if (v != "true" && v != "false") {
      return boom(400, "Bad Request",
                  "[request query." + k + "]: expected value of type [boolean] but got [string]");
    }
    if (k == "overwrite") overwrite = v == "true";
    if (k == "createNewCopies") copies = v == "true";
  }
  if (overwrite && copies) {
    return boom(400, "Bad Request",
                "[request query]: cannot use [overwrite] with [createNewCopies]");
  }
  const std::string_view type = r.header("content-type");
  const size_t b = type.find("boundary=");
  if (type.rfind("multipart/form-data", 0) != 0 || b == std::string_view::npos) {
    return boom(415, "Unsupported Media Type", "Unsupported Media Type");
  }
  std::string boundary(type.substr(b + 9));
  if (boundary.size() > 1 && boundary.front() == '"')
    boundary = boundary.substr(1, boundary.size() - 2);
  std::string filename, content;
  if (!file_part(r.body, boundary, filename, content)) {
    return boom(400, "Bad Request",
                "[request body.file]: expected value of type [Stream] but got [undefined]");
  }
  const size_t dot = filename.rfind('.');
  const std::string ext = dot == std::string::npos ? "" : filename.substr(dot);
  if (ext != ".ndjson") return boom(400, "Bad Request", "Invalid file extension " + ext);

  // Collect: parse every line; skip the export summary; unsupported types are errors.
  simdjson::dom::parser parser;
  struct Object {
    std::string type, id, title, line;
    std::vector<std::pair<std::string, std::string>> refs;  // type, id
    std::string shape_error;
  };
  std::vector<Object> objects;
  std::vector<std::string> errors;  // JSON
  std::vector<std::string> keys;
  size_t start = 0;
  while (start < content.size()) {
    size_t end = content.find('\n', start);
    if (end == std::string::npos) end = content.size();
    std::string line = content.substr(start, end - start);
    start = end + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    simdjson::dom::element e;
    if (parser.parse(line).get(e) || !e.is_object()) {
      return boom(400, "Bad Request", "Unexpected token in JSON at line " + line.substr(0, 40));
    }
    simdjson::dom::element ignored;
    if (!e["exportedCount"].get(ignored)) continue;  // the export details line
    Object o{text_of(e, "type"), text_of(e, "id"), text_of(e["attributes"], "title"), line, {}, ""};
    keys.push_back(o.type + ":" + o.id);
    auto error_json = [&](const std::string& error) {
      return import_error(o.id, o.type, o.title, error);
    };
    if (kTypes.find(o.type) == kTypes.end()) {
      errors.push_back(error_json(R"({"type":"unsupported_type"})"));
      continue;
    }
    simdjson::dom::object attributes;
    simdjson::dom::array refs;
    if (e["attributes"].get_object().get(attributes)) o.shape_error = "attributes is not an object";
    if (!e["references"].get(ignored)) {
      if (e["references"].get_array().get(refs)) {
        o.shape_error = "references is not an array";
      } else {
        for (simdjson::dom::element ref : refs) {
          const std::string rt = text_of(ref, "type"), rid = text_of(ref, "id"),
                            rn = text_of(ref, "name");
          if (rt.empty() || rid.empty() || rn.empty())
            o.shape_error = "a reference lacks type, id or name";
          o.refs.emplace_back(rt, rid);
        }
      }
    }
    for (const char* v : {"coreMigrationVersion", "typeMigrationVersion"}) {
      const std::string version = text_of(e, v);
      if (!version.empty() && newer_than(version, kVersion)) {
        o.shape_error = "Document \"" + o.id + "\" has property \"" + o.type +
                        "\" which belongs to a more recent version of Kibana [" + version +
                        "]. The last known version is [" + kVersion + "]";
      }
    }
    objects.push_back(std::move(o));
  }
  {
    std::set<std::string> seen, duplicates;
    for (const auto& k : keys) {
      if (!seen.insert(k).second) duplicates.insert(k);
    }
    if (!duplicates.empty()) {
      std::string list;
      for (const auto& d : duplicates) list += (list.empty() ? "" : ",") + d;
      return boom(400, "Bad Request", "Non-unique import objects detected: [" + list + "]");
    }
  }
  std::set<std::string> in_file;
  for (const auto& o : objects) in_file.insert(o.type + ":" + o.id);
  std::vector<const Object*> good;
  for (const auto& o : objects) {
    auto error_json = [&](const std::string& error) {
      return import_error(o.id, o.type, o.title, error);
    };
    if (!o.shape_error.empty()) {
      std::string e = R"({"type":"unknown","message":)";
      document::append_json_string(e, o.shape_error);
      errors.push_back(error_json(e + R"(,"statusCode":400})"));
      continue;
    }
    std::string missing;
    std::set<std::string> listed;
    for (const auto& [rt, rid] : o.refs) {
      if (rt != "index-pattern" && rt != "search") continue;
      const std::string k = rt + ":" + rid;
      if (in_file.count(k) || stored->second.count(k) || !listed.insert(k).second) continue;
      std::string j = R"({"type":)";
      document::append_json_string(j, rt);
      j += R"(,"id":)";
      document::append_json_string(j, rid);
      missing += (missing.empty() ? "" : ",") + j + "}";
    }
    if (!missing.empty()) {
      errors.push_back(
          error_json(R"({"type":"missing_references","references":[)" + missing + "]}"));
      continue;
    }
    if (!overwrite && stored->second.count(o.type + ":" + o.id)) {
      errors.push_back(error_json(R"({"type":"conflict"})"));
      continue;
    }
    good.push_back(&o);
  }
  std::string results;
  for (const Object* o : good) {
    const std::string k = o->type + ":" + o->id;
    const bool existed = stored->second.count(k) > 0;
    stored->second[k] = o->line;
    std::string j = R"({"type":)";
    document::append_json_string(j, o->type);
    j += R"(,"id":)";
    document::append_json_string(j, o->id);
    j += R"(,"meta":{"title":)";
    document::append_json_string(j, o->title);
    j += R"(,"icon":"app"})";
    if (existed) j += R"(,"overwrite":true)";
    j += R"(,"managed":false})";
    results += (results.empty() ? "" : ",") + j;
  }
  std::string errs;
  for (const auto& e : errors) errs += (errs.empty() ? "" : ",") + e;
  ++imports;
  // As Kibana's importer answers: successResults and errors only when not empty.
  std::string body = std::string(R"({"successCount":)") + std::to_string(good.size()) +
                     R"(,"success":)" + (errors.empty() ? "true" : "false") + R"(,"warnings":[])";
  if (!results.empty()) body += R"(,"successResults":[)" + results + "]";
  if (!errs.empty()) body += R"(,"errors":[)" + errs + "]";
  return HttpResponse::json(200, body + "}");
}

FakeKibana::FakeKibana() : impl_(std::make_shared<Impl>()) {
  impl_->start();
  impl_->work.emplace(impl_->io.get_executor());
  for (int i = 0; i < 2; ++i) impl_->threads.emplace_back([this] { impl_->io.run(); });
}

FakeKibana::~FakeKibana() {
  if (impl_->server) impl_->server->stop();
  impl_->work.reset();
  impl_->io.stop();
  for (auto& t : impl_->threads) t.join();
}

std::string FakeKibana::url() const { return "http://127.0.0.1:" + std::to_string(impl_->port); }

void FakeKibana::require_authorization(const std::string& header) {
  std::lock_guard lock(impl_->mu);
  impl_->authorization = header;
}

std::map<std::string, std::string> FakeKibana::objects(const std::string& space) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->spaces.find(space);
  return it == impl_->spaces.end() ? std::map<std::string, std::string>{} : it->second;
}

uint64_t FakeKibana::imports() const {
  std::lock_guard lock(impl_->mu);
  return impl_->imports;
}

}  // namespace verity::testing
