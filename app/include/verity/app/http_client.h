#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "verity/core/status.h"
#include "verity/shippers/http_client.h"

namespace verity::app {

using HttpClientResponse = shippers::HttpAnswer;
using HttpTls = shippers::HttpTls;

// A blocking HTTP request (shippers::CurlHttpClient, libcurl) for the CLI's client commands and
// tests. `headers` are
// "Name: value" lines. Errors: kUnavailable when the server cannot be reached.
Result<HttpClientResponse> http_request(const std::string& method, const std::string& url,
                                        const std::string& body = "",
                                        const std::vector<std::string>& headers = {},
                                        long timeout_ms = 10'000, const HttpTls* tls = nullptr);
Result<HttpClientResponse> http_get(const std::string& url, long timeout_ms = 10'000);

// Percent-encodes a path segment (RFC 3986 unreserved characters stay).
std::string url_encode_segment(std::string_view s);

}  // namespace verity::app
