#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "verity/shippers/bulk_response.h"
#include "verity/shippers/es_config.h"
#include "verity/shippers/http_client.h"

namespace verity::shippers {

// Elasticsearch's write API as the shipper uses it, over an injected HttpClient: the hosts in
// order (the next one after a connection error), credentials, gzip of larger bodies, and the
// reading of answers into verdicts (retry_policy.h). Not thread-safe: one per shipper thread.
class EsService {
 public:
  EsService(const EsShipperOptions& options, HttpClient& client);

  struct Answer {
    Verdict verdict = Verdict::kRetry;     // of the request as a whole
    long status = 0;                       // 0: no answer (connection error, timeout)
    std::string why;                       // for logs: the URL and the error or status
    std::string error_type, error_reason;  // Elasticsearch's error, when it answered one
  };
  struct BulkAnswer : Answer {
    std::vector<BulkItemOutcome> items;  // with kDone: one per action
  };
  struct ByQueryResult : Answer {
    ByQueryAnswer answer;  // with kDone
  };

  // POST /_bulk with `body` (action and source lines) of `actions` items. An answer that does not
  // list one item per action is kRetry.
  BulkAnswer bulk(const std::string& body, size_t actions);
  // POST /<target>/<endpoint>?conflicts=proceed (endpoint: _update_by_query, _delete_by_query). A
  // 404 (no such index yet: nothing to change) is kDone with no failures; a timed-out answer is
  // kRetry.
  ByQueryResult by_query(std::string_view endpoint, const std::string& body);
  // POST /<target>/_refresh (404 counts as done).
  Answer refresh();

 private:
  struct Raw {
    std::optional<long> status;
    std::string body;
    std::string why;
  };
  Raw post(const std::string& path, const std::string& body, const char* content_type);
  static void read_error(const std::string& body, Answer& a);

  const EsShipperOptions& options_;
  HttpClient& client_;
  std::vector<std::string> auth_headers_;
  size_t host_ = 0;
};

// gzip (level 1) of `in`.
std::string gzip_compress(std::string_view in);

}  // namespace verity::shippers
