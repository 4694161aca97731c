#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "verity/core/status.h"
#include "verity/core/units.h"

namespace verity::shippers {

// One HTTP request. `headers` are "Name: value" lines.
struct HttpCall {
  std::string method = "GET";
  std::string url;
  std::string body;
  std::vector<std::string> headers;
  Duration timeout{10'000};
};

struct HttpAnswer {
  long status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased

  std::string_view header(std::string_view lowercase_name) const;
};

// TLS settings for https URLs.
struct HttpTls {
  std::string ca_file;  // PEM CAs ("" : the system's)
  bool verify_certificate = true;
  bool verify_hostname = true;
};

// The seam between Verity's HTTP peers (Elasticsearch, the CLI's server) and the network: the
// shipper, `es setup` and the CLI talk through it; tests inject a fake.
class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // Sends `call` and waits for the answer (any status). Errors: kUnavailable when the peer cannot
  // be reached or the transfer fails (connection refused, timeout, TLS, an answer over the size
  // limit). Never throws.
  [[nodiscard]] virtual Result<HttpAnswer> send(const HttpCall& call) = 0;
};

// libcurl, one easy handle reused across calls (connections are kept alive). Not thread-safe: one
// per thread. Answers are untrusted: one larger than `max_answer_bytes` aborts the transfer.
class CurlHttpClient final : public HttpClient {
 public:
  explicit CurlHttpClient(HttpTls tls = {}, size_t max_answer_bytes = 64ull << 20);
  ~CurlHttpClient() override;
  CurlHttpClient(const CurlHttpClient&) = delete;
  CurlHttpClient& operator=(const CurlHttpClient&) = delete;

  Result<HttpAnswer> send(const HttpCall& call) override;

 private:
  struct Impl;
  Impl* impl_;
};

// "Authorization: Basic <base64 user:password>".
std::string basic_authorization(std::string_view user, std::string_view password);

}  // namespace verity::shippers
