#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "verity/core/units.h"

namespace verity::testing {

// A strict, small Elasticsearch for the shipper's tests: a real HTTP server (on loopback) that
// takes `POST /_bulk` and `POST /{index}/_bulk` the way Elasticsearch documents them and stores
// documents by index and _id.
//
// Validation (a violation answers 400 with Elasticsearch's error body for the whole request):
// Content-Type application/json or application/x-ndjson; the body ends with a newline; lines come
// in action/source pairs (delete has no source); an action line is an object with exactly one of
// create/index/update/delete; _index comes from the action or the path; create needs an _id here
// (the shipper must derive ids); a source is a JSON object; an update's source has "doc".
// Per item: create of an existing _id is 409 version_conflict_engine_exception; a document
// without @timestamp into a data stream index (logs-*) is 400 document_parsing_exception.
//
// Faults it can inject: per-item statuses by _id, whole-request statuses for the next N requests,
// 413 above a body size, a delay before answering, outages (the port refuses connections), and
// required credentials (401 without them).
class FakeElasticsearch {
 public:
  FakeElasticsearch();  // binds a free port and starts
  ~FakeElasticsearch();

  std::string url() const;  // http://127.0.0.1:<port>

  // The next `times` bulk items for `id` fail with `status` (429, 400, 500, ...).
  void fail_item(const std::string& id, int status, int times = 1);
  // The next `times` requests are answered `status` as a whole (429, 503, 401, ...).
  void fail_requests(int status, int times);
  // The next `times` by-query requests (_update_by_query, _delete_by_query) are answered `status`
  // with an error; with status 200 and `failed_id`, a 200 answer that lists a 400
  // mapper_parsing_exception failure for that document (which is not changed).
  void fail_by_query(int status, int times, const std::string& failed_id = "");
  // Bodies (after gzip) larger than this are answered 413. 0: no limit.
  void set_max_body(size_t bytes);
  // Answers this late (after storing the documents).
  void set_delay(std::chrono::milliseconds d);
  // Requests must carry this exact Authorization header ("" : none needed).
  void require_authorization(const std::string& header);
  // Outage: stop accepting (connections are refused) / start again on the same port.
  void go_down();
  void come_back();

  struct Stats {
    uint64_t requests = 0;          // bulk requests answered (any status)
    uint64_t by_query_refused = 0;  // by-query requests answered with an injected failure
    uint64_t gzip_requests = 0;     // with Content-Encoding: gzip
    std::map<int, uint64_t> request_status;
    std::map<int, uint64_t> item_status;  // per item
    size_t largest_body = 0;              // largest body (after gzip) answered 200
  };
  Stats stats() const;
  // Documents stored, by "<index>/<_id>" -> source.
  std::map<std::string, std::string> documents() const;
  size_t document_count() const;
  // ILM policies, component and index templates PUT so far, by path -> body, and how many PUTs.
  // An index template naming a missing component template is refused (400), as Elasticsearch does.
  std::map<std::string, std::string> setup_objects() const;
  uint64_t setup_puts() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace verity::testing
