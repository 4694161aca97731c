#include "verity/ingest/http_server.h"

#include <algorithm>
#include <mutex>
#include <unordered_set>
#include <vector>

#include <spdlog/spdlog.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include "listener_util.h"

#include "verity/document/json_writer.h"
#include "verity/ingest/inflate.h"

namespace verity::ingest {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

std::string percent_decode(std::string_view s, bool form) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else if (form && s[i] == '+') {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

namespace {

struct Route {
  std::string method;
  std::string path;      // the pattern as registered
  bool pattern = false;  // contains '*'
  HttpHandler handler;   // exactly one of handler and async_handler is set
  AsyncHttpHandler async_handler;
};

class Session;

// '*' matches one or more characters: within a segment, or anything (slashes included) when it
// ends the pattern.
bool glob_match(std::string_view pattern, std::string_view path) {
  const size_t star = pattern.find('*');
  if (star == std::string_view::npos) return pattern == path;
  if (path.substr(0, star) != pattern.substr(0, star)) return false;
  pattern.remove_prefix(star + 1);
  path.remove_prefix(star);
  if (pattern.empty()) return !path.empty();
  for (size_t n = 1; n <= path.size() && path[n - 1] != '/'; ++n) {
    if (glob_match(pattern, path.substr(n))) return true;
  }
  return false;
}

}  // namespace

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  Impl(asio::io_context& io_, HttpServerOptions o)
      : io(io_), options(std::move(o)), acceptor(asio::make_strand(io_)) {}

  asio::io_context& io;
  const HttpServerOptions options;
  asio::ssl::context ssl_context{asio::ssl::context::tls_server};  // options.tls.enabled
  tcp::acceptor acceptor;
  HostPort bound;
  std::vector<Route> routes;       // immutable after start()
  MemoryBudget* budget = nullptr;  // set before start()
  // Connections open and refused (accept_connections calls metrics.connection_refused()).
  struct Metrics {
    InputMetrics* input = nullptr;
    void connection_refused() const {
      if (input != nullptr) input->connection_refused();
    }
  } metrics;

  std::mutex mu;
  std::unordered_set<std::shared_ptr<Session>> connections;  // guarded by mu
  bool stopped = false;                                      // guarded by mu

  void accept();
  // The route for a request, or nullptr with the 404/405 answer in `error`.
  const Route* find(const HttpRequest& req, HttpResponse& error) const;
  void remove(const std::shared_ptr<Session>& s) {
    std::lock_guard lock(mu);
    connections.erase(s);
  }
};

namespace {

HttpRequest to_request(http::request<http::string_body>& r) {
  HttpRequest req;
  req.method = std::string(r.method_string());
  const std::string_view target(r.target().data(), r.target().size());
  const size_t q = target.find('?');
  req.path = percent_decode(target.substr(0, q), false);
  if (q != std::string_view::npos) {
    std::string_view qs = target.substr(q + 1);
    while (!qs.empty()) {
      const size_t amp = qs.find('&');
      const std::string_view pair = qs.substr(0, amp);
      if (!pair.empty()) {
        const size_t eq = pair.find('=');
        req.query.emplace_back(
            percent_decode(pair.substr(0, eq), true),
            eq == std::string_view::npos ? "" : percent_decode(pair.substr(eq + 1), true));
      }
      if (amp == std::string_view::npos) break;
      qs.remove_prefix(amp + 1);
    }
  }
  for (const auto& f : r) {
    std::string name(f.name_string());
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    req.headers.emplace_back(std::move(name), std::string(f.value()));
  }
  req.body = std::move(r.body());
  return req;
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, HttpServer::Impl& server)
      : stream_(std::move(socket)), server_(server), owner_(server.shared_from_this()) {
    if (server_.options.tls.enabled) {
      tls_ = std::make_unique<asio::ssl::stream<beast::tcp_stream&>>(stream_, server_.ssl_context);
    }
  }

  void start() {
    if (server_.metrics.input != nullptr) server_.metrics.input->connection_opened();
    if (!tls_) {
      read();
      return;
    }
    // The handshake must finish within the idle timeout, like a request.
    stream_.expires_after(server_.options.idle_timeout);
    tls_->async_handshake(asio::ssl::stream_base::server,
                          [self = shared_from_this()](beast::error_code ec) {
                            if (ec) {
                              if (self->server_.metrics.input != nullptr) {
                                self->server_.metrics.input->protocol_error("tls_handshake");
                              }
                              self->close();
                              return;
                            }
                            self->read();
                          });
  }
  void stop() { close(); }
  asio::any_io_executor executor() { return stream_.get_executor(); }

 private:
  void read() {
    // Between requests a connection holds no request or answer memory.
    request_lease_.resize(0);
    answer_lease_.resize(0);
    if (buffer_.size() == 0) buffer_.shrink_to_fit();
    parser_.emplace();
    parser_->body_limit(server_.options.max_body.bytes);
    parser_->header_limit(64 * 1024);
    stream_.expires_after(server_.options.idle_timeout);
    with_stream([&](auto& s) {
      http::async_read_header(
          s, buffer_, *parser_,
          [self = shared_from_this()](beast::error_code ec, size_t) { self->on_header(ec); });
    });
  }

  // A client sending `Expect: 100-continue` (curl does for bodies over 1 MiB) waits for the
  // interim answer before sending the body: without it, curl waits a second first.
  void on_header(beast::error_code ec) {
    if (closed_) return;
    if (ec || parser_->is_done()) {
      on_read(ec);
      return;
    }
    // The body's memory is reserved before it is read: its length, or max_body when the client
    // does not say (chunked). When the inputs' budget cannot hold it: 429, and the connection
    // closes (its body is not read).
    const auto length = parser_->content_length();
    const size_t body = length ? std::min<uint64_t>(*length, server_.options.max_body.bytes)
                               : server_.options.max_body.bytes;
    if (!request_lease_.resize(body)) {
      HttpResponse busy = document::error_response(
          429, "es_rejected_execution_exception",
          "the server's input memory (server.max_memory) is in use; retry later");
      busy.headers.emplace_back("Retry-After", "1");
      respond(std::move(busy), false, parser_->get().version(), "POST");
      return;
    }
    // Beast reads at most the buffer's free capacity (at least 512 bytes) at a time: without room,
    // a large body arrives in hundreds of small reads.
    buffer_.reserve(std::min<size_t>(64 * 1024, body + 1024));
    if (beast::iequals(parser_->get()[http::field::expect], "100-continue")) {
      auto interim = std::make_shared<http::response<http::empty_body>>(http::status::continue_,
                                                                        parser_->get().version());
      with_stream([&](auto& s) {
        http::async_write(s, *interim,
                          [self = shared_from_this(), interim](beast::error_code wec, size_t) {
                            if (wec) {
                              self->close();
                              return;
                            }
                            self->read_body();
                          });
      });
      return;
    }
    read_body();
  }

  void read_body() {
    with_stream([&](auto& s) {
      http::async_read(
          s, buffer_, *parser_,
          [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
    });
  }

  void on_read(beast::error_code ec) {
    if (closed_) return;
    // A TLS peer that closes without close_notify ends its stream "truncated": an end like EOF.
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
        ec == asio::ssl::error::stream_truncated) {
      close();
      return;
    }
    if (ec == http::error::body_limit) {
      respond(
          document::error_response(413, "content_too_long_exception",
                                   "request body exceeds max_body of " +
                                       std::to_string(server_.options.max_body.bytes) + " bytes"),
          false, 11, "POST");
      return;
    }
    if (ec) {
      respond(document::error_response(400, "parse_exception",
                                       "malformed HTTP request: " + ec.message()),
              false, 11, "GET");
      return;
    }
    auto& msg = parser_->get();
    const bool keep_alive = msg.keep_alive();
    const unsigned version = msg.version();
    HttpRequest req = to_request(msg);
    if (auto error = decode_body(req)) {
      respond(std::move(*error), keep_alive, version, req.method);
      return;
    }
    HttpResponse res;
    const Route* route = server_.find(req, res);
    if (route == nullptr) {
      respond(std::move(res), keep_alive, version, req.method);
    } else if (route->handler) {
      respond(route->handler(req), keep_alive, version, req.method);
    } else {
      std::string method = req.method;
      // Answered at once when the handler answers on this connection's strand, as a handler
      // that runs inline does; from another thread (a pool) it is queued to the strand.
      route->async_handler(std::move(req), [self = shared_from_this(), keep_alive, version,
                                            method = std::move(method)](HttpResponse r) mutable {
        asio::dispatch(self->executor(), [self, keep_alive, version, method = std::move(method),
                                          r = std::move(r)]() mutable {
          if (!self->closed_) self->respond(std::move(r), keep_alive, version, method);
        });
      });
    }
  }

  // Inflates a gzip body in place; the error response when it cannot.
  std::optional<HttpResponse> decode_body(HttpRequest& req) {
    const std::string_view encoding = req.header("content-encoding");
    if (encoding.empty() || encoding == "identity") return std::nullopt;
    if (encoding != "gzip" && encoding != "x-gzip") {
      return document::error_response(
          415, "unsupported_encoding",
          "Content-Encoding " + std::string(encoding) + " is not supported (use gzip or none)");
    }
    std::string plain;
    const Status s = inflate_reserved(req.body, plain);
    if (s.code() == StatusCode::kUnavailable) {
      HttpResponse busy = document::error_response(
          429, "es_rejected_execution_exception",
          "the server's input memory (server.max_memory) is in use; retry later");
      busy.headers.emplace_back("Retry-After", "1");
      return busy;
    }
    if (s.code() == StatusCode::kResourceExhausted) {
      return document::error_response(413, "content_too_long_exception",
                                      "inflated request body exceeds max_body of " +
                                          std::to_string(server_.options.max_body.bytes) +
                                          " bytes");
    }
    if (!s) return document::error_response(400, "parse_exception", "request body: " + s.message());
    req.body = std::move(plain);
    return std::nullopt;
  }

  // Inflates a gzip body, reserving what it inflates to from the budget (1 MiB at a time):
  // kUnavailable when the budget refuses, kResourceExhausted past max_body.
  Status inflate_reserved(std::string_view in, std::string& out) {
    Inflater z(InflateFormat::kGzip);
    const size_t max = server_.options.max_body.bytes;
    const size_t base = request_lease_.held();
    size_t consumed_total = 0;
    while (true) {
      const size_t chunk = 1 << 20;
      if (out.size() > max) {
        return Status::resource_exhausted("gzip data inflates beyond the limit of " +
                                          std::to_string(max) + " bytes");
      }
      if (!request_lease_.resize(base + out.size() + chunk)) {
        return Status::unavailable("input memory is in use");
      }
      const size_t at = out.size();
      out.resize(at + chunk);
      size_t consumed = 0, produced = 0;
      bool finished = false;
      auto s = z.step(in.substr(consumed_total), std::span<char>(out.data() + at, chunk), consumed,
                      produced, finished);
      out.resize(at + produced);
      if (!s) return Status::invalid_argument("gzip stream is corrupt");
      consumed_total += consumed;
      if (finished) {
        if (consumed_total == in.size()) break;
        z.reset();  // another gzip member follows
        continue;
      }
      if (consumed == 0 && produced == 0) {
        return Status::invalid_argument("gzip stream is truncated");
      }
    }
    if (out.size() > max) {
      return Status::resource_exhausted("gzip data inflates beyond the limit of " +
                                        std::to_string(max) + " bytes");
    }
    // The body now is what it inflated to; the compressed copy goes when the request does.
    request_lease_.resize(base + out.size());
    return Status::ok();
  }

  void respond(HttpResponse res, bool keep_alive, unsigned version, const std::string& method) {
    auto msg = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(res.status), version);
    msg->set(http::field::server, "verity");
    msg->set(http::field::content_type, res.content_type);
    if (res.status >= 200 && res.status < 300) {
      for (const auto& [k, v] : server_.options.success_headers) msg->set(k, v);
    }
    for (auto& [k, v] : res.headers) msg->insert(k, v);
    msg->keep_alive(keep_alive);
    if (method == "HEAD") {
      msg->content_length(res.body.size());
    } else {
      // The answer is held until written: counted (not refused: it exists already; answers are
      // capped where they are built).
      if (!answer_lease_.resize(res.body.size())) answer_lease_.force(res.body.size());
      msg->body() = std::move(res.body);
      msg->prepare_payload();
    }
    // A client that does not read its answer is dropped after write_timeout.
    stream_.expires_after(server_.options.write_timeout);
    with_stream([&](auto& s) {
      http::async_write(s, *msg,
                        [self = shared_from_this(), msg, keep_alive](beast::error_code ec, size_t) {
                          if (ec || !keep_alive) {
                            self->close();
                            return;
                          }
                          self->read();
                        });
    });
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
    request_lease_.resize(0);
    answer_lease_.resize(0);
    if (server_.metrics.input != nullptr) server_.metrics.input->connection_closed();
    server_.remove(shared_from_this());
  }

  // Runs `f` on the stream requests are read from: TLS over the TCP stream, or the TCP stream.
  template <typename F>
  void with_stream(F&& f) {
    if (tls_) {
      f(*tls_);
    } else {
      f(stream_);
    }
  }

  beast::tcp_stream stream_;
  std::unique_ptr<asio::ssl::stream<beast::tcp_stream&>> tls_;  // https only
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpServer::Impl& server_;
  std::shared_ptr<HttpServer::Impl> owner_;
  MemoryLease request_lease_{server_.budget};
  MemoryLease answer_lease_{server_.budget};
  bool closed_ = false;
};

}  // namespace

const Route* HttpServer::Impl::find(const HttpRequest& req, HttpResponse& error) const {
  const Route* best = nullptr;
  bool path_known = false;
  // HEAD is answered by the GET handler (the server sends the headers only).
  const std::string_view method = req.method == "HEAD" ? std::string_view("GET") : req.method;
  for (const auto& r : routes) {
    const bool match = r.pattern ? glob_match(r.path, req.path) : req.path == r.path;
    if (!match) continue;
    path_known = true;
    if (r.method != method && r.method != req.method) continue;
    if (best == nullptr || (!r.pattern && best->pattern) ||
        (r.pattern == best->pattern && r.path.size() > best->path.size())) {
      best = &r;
    }
  }
  if (best == nullptr) {
    error = path_known ? document::error_response(
                             405, "method_not_allowed",
                             "method " + req.method + " is not allowed on " + req.path)
                       : document::error_response(404, "not_found", "no handler for " + req.path);
  }
  return best;
}

void HttpServer::Impl::accept() { accept_connections<Session>(shared_from_this(), "http"); }

HttpServer::HttpServer(asio::io_context& io, HttpServerOptions options)
    : impl_(std::make_shared<Impl>(io, std::move(options))) {}

HttpServer::~HttpServer() = default;

void HttpServer::route(std::string method, std::string path, HttpHandler handler) {
  Route r;
  r.method = std::move(method);
  r.pattern = path.find('*') != std::string::npos;
  r.path = std::move(path);
  r.handler = std::move(handler);
  impl_->routes.push_back(std::move(r));
}

void HttpServer::set_limits(MemoryBudget* budget, InputMetrics* metrics) {
  impl_->budget = budget;
  impl_->metrics.input = metrics;
}

void HttpServer::route_async(std::string method, std::string path, AsyncHttpHandler handler) {
  route(std::move(method), std::move(path), HttpHandler());
  impl_->routes.back().async_handler = std::move(handler);
}

Status HttpServer::start() {
  if (auto s = load_server_tls(impl_->ssl_context, impl_->options.tls, "http.tls"); !s) return s;
  if (auto s = bind_acceptor(impl_->acceptor, impl_->options.listen, "http", impl_->bound); !s) {
    return s;
  }
  auto& a = impl_->acceptor;
  asio::dispatch(a.get_executor(), [impl = impl_] { impl->accept(); });
  return Status::ok();
}

HostPort HttpServer::local_endpoint() const { return impl_->bound; }

void HttpServer::stop() { stop_listener(*impl_); }

}  // namespace verity::ingest
