#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace verity {

// Transport-neutral HTTP vocabulary, so that handlers in query/ and ingest/ can be written and
// tested without the server (ingest/http_server) and wired together in app/.
struct HttpRequest {
  std::string method;                                      // "GET", "POST", "HEAD", ...
  std::string path;                                        // decoded path, without the query string
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
  std::string body;

  // The first value of a query parameter or header, or "" when absent.
  std::string_view query_param(std::string_view name) const;
  std::string_view header(std::string_view lowercase_name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  static HttpResponse json(int status, std::string body);
};

// A handler answers one request. Handlers run on I/O threads: they must not block for long.
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// Sends the response to a request handled asynchronously. Call it exactly once, from any thread.
using HttpResponder = std::function<void(HttpResponse)>;
// A handler that answers later (after a commit, say): it owns the request and calls the responder
// when the answer is known. The connection reads no further request until then.
using AsyncHttpHandler = std::function<void(HttpRequest, HttpResponder)>;

}  // namespace verity
