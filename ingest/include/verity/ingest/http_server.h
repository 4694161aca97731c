#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "verity/core/http.h"
#include "verity/core/status.h"
#include "verity/core/units.h"
#include "verity/ingest/input_metrics.h"
#include "verity/ingest/memory_budget.h"

namespace boost::asio {
class io_context;
}

namespace verity::ingest {

// TLS of a listener (Beats, HTTP): 1.2 or newer, a PEM certificate chain and key, and optionally
// client certificates that must chain to `ca_file`.
struct ServerTlsOptions {
  bool enabled = false;
  std::string cert_file;       // PEM certificate chain
  std::string key_file;        // PEM private key
  std::string ca_file;         // PEM CAs that client certificates must chain to
  bool verify_client = false;  // require and verify a client certificate
};

struct HttpServerOptions {
  HostPort listen{"127.0.0.1", 9280};
  ByteSize max_body{16ull << 20};  // larger request bodies are answered 413
  Duration idle_timeout{60'000};   // keep-alive connections silent this long are closed
  // A client that does not read its answer within this is closed (the answer's memory goes back).
  Duration write_timeout{30'000};
  size_t max_connections = 1024;
  // Headers added to every 2xx response (the Elasticsearch-compatible API needs
  // X-Elastic-Product on all of them).
  std::vector<std::pair<std::string, std::string>> success_headers;
  ServerTlsOptions tls;  // https when enabled
};

// HTTP/1.1 server (Boost.Beast) with keep-alive, dispatching to handlers by method and path.
// Handlers run on io_context threads, one request at a time per connection. Request bodies sent
// with Content-Encoding: gzip are inflated (bounded by max_body) before a handler sees them.
class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, HttpServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Registers a handler. `path` is exact ("/healthz") or a pattern where '*' matches one or more
  // characters within a segment ("/*/_bulk") or, at the end, the rest of the path
  // ("/v1/predictions/*"). Exact routes win over patterns; longer patterns over shorter. REQUIRES:
  // before start().
  void route(std::string method, std::string path, HttpHandler handler);
  // The same for a handler that answers asynchronously.
  void route_async(std::string method, std::string path, AsyncHttpHandler handler);
  // Request bodies (after gzip) and answers are reserved from `budget` while a request is
  // handled; a request it cannot hold is answered 429 with Retry-After. Connections are counted in
  // `metrics` (open, refused). Either may be null. REQUIRES: before start().
  void set_limits(MemoryBudget* budget, InputMetrics* metrics);

  // Binds and starts accepting. Errors: kInvalidArgument (bad address), kUnavailable (in use).
  Status start();
  HostPort local_endpoint() const;
  // Stops accepting and closes every connection; a response being written is abandoned.
  // REQUIRES: not called from an io_context thread.
  void stop();

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

// Decodes %XX escapes (and '+' as space when `form`). Invalid escapes are kept as written.
std::string percent_decode(std::string_view s, bool form);

}  // namespace verity::ingest
