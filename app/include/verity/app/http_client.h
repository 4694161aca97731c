#pragma once

#include <string>

#include "verity/core/status.h"

namespace verity::app {

struct HttpClientResponse {
  long status = 0;
  std::string body;
};

// A blocking HTTP GET (libcurl) for the CLI's client commands. Errors: kUnavailable when the server
// cannot be reached.
Result<HttpClientResponse> http_get(const std::string& url, long timeout_ms = 10'000);

// Percent-encodes a path segment (RFC 3986 unreserved characters stay).
std::string url_encode_segment(std::string_view s);

}  // namespace verity::app
