#pragma once

// Helpers shared by the listeners (TCP input, HTTP server): binding an acceptor and running a stop
// step on a strand from a non-I/O thread.

#include <future>
#include <memory>
#include <mutex>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <spdlog/spdlog.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include "verity/core/clock.h"
#include "verity/core/status.h"
#include "verity/core/units.h"
#include "verity/document/field_mapping.h"
#include "verity/ingest/http_server.h"
#include "verity/ingest/input.h"
#include "verity/ingest/input_metrics.h"
#include "verity/ingest/line_batcher.h"
#include "verity/ingest/masker.h"
#include "verity/ingest/masking_metrics.h"
#include "verity/ingest/memory_budget.h"

namespace verity::store {
class BatchSink;
}

namespace verity::ingest {

// Sets up a listener's TLS context (TLS 1.2+, certificate and key, client verification) from
// `t`; errors name the config keys under `keys` ("inputs.beats.tls", "http.tls").
inline Status load_server_tls(boost::asio::ssl::context& ctx, const ServerTlsOptions& t,
                              const std::string& keys) {
  namespace ssl = boost::asio::ssl;
  if (!t.enabled) return Status::ok();
  boost::system::error_code ec;
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                      ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                  ec);
  if (ctx.use_certificate_chain_file(t.cert_file, ec); ec) {
    return Status::invalid_argument(keys + ".cert_file " + t.cert_file + ": " + ec.message());
  }
  if (ctx.use_private_key_file(t.key_file, ssl::context::pem, ec); ec) {
    return Status::invalid_argument(keys + ".key_file " + t.key_file + ": " + ec.message());
  }
  if (t.verify_client) {
    if (ctx.load_verify_file(t.ca_file, ec); ec) {
      return Status::invalid_argument(keys + ".ca_file " + t.ca_file + ": " + ec.message());
    }
    ctx.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert, ec);
  }
  return Status::ok();
}

// Opens, binds and listens. `what` names the listener in errors ("tcp input", "http").
// On success sets `bound` to the actual address (the port chosen when `listen.port` is 0).
inline Status bind_acceptor(boost::asio::ip::tcp::acceptor& acceptor, const HostPort& listen,
                            std::string_view what, HostPort& bound) {
  namespace asio = boost::asio;
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(listen.host, ec);
  if (ec) {
    return Status::invalid_argument(std::string(what) + ": listen address '" + listen.host +
                                    "' is not an IP address");
  }
  const asio::ip::tcp::endpoint ep(address, listen.port);
  if (acceptor.open(ep.protocol(), ec); !ec) {
    acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  }
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::unavailable(
        std::string(what) + ": cannot listen on " + listen.to_string() + ": " + ec.message(),
        false);
  }
  const auto local = acceptor.local_endpoint();
  bound = HostPort{local.address().to_string(), local.port()};
  return Status::ok();
}

// Runs `fn` on `executor` and waits for it. REQUIRES: not called from a thread running that
// executor.
template <typename Executor, typename F>
void run_and_wait(const Executor& executor, F&& fn) {
  std::promise<void> done;
  boost::asio::post(executor, [&] {
    fn();
    done.set_value();
  });
  done.get_future().wait();
}

// What every event input (TCP, Beats) holds: where events go, how they are decoded (its
// InputContext), its backpressure rule, and its connections. `Conn` is the input's connection
// type; `Options` has max_in_flight.
template <typename Options, typename Conn>
struct InputListener {
  InputListener(boost::asio::io_context& io_, Options o, const InputContext& context)
      : io(io_),
        options(std::move(o)),
        store(context.sink),
        mappings(context.mappings),
        clock(context.clock),
        metrics(context.metrics),
        masker(context.masker),
        masking_metrics(context.masking_metrics),
        budget(context.budget),
        backpressure(context.sink, options.max_in_flight),
        acceptor(boost::asio::make_strand(io_)) {}

  boost::asio::io_context& io;
  const Options options;
  store::BatchSink& store;
  std::shared_ptr<const document::FieldMappingSet> mappings;
  const Clock& clock;
  InputMetrics& metrics;
  std::shared_ptr<const Masker> masker;
  MaskingMetrics* masking_metrics;
  MemoryBudget* budget;  // the inputs' memory budget (null: unbounded, in tests)
  const Backpressure backpressure;
  boost::asio::ip::tcp::acceptor acceptor;
  HostPort bound;

  std::mutex mu;
  std::unordered_set<std::shared_ptr<Conn>> connections;  // guarded by mu
  bool stopped = false;                                   // guarded by mu

  void remove(const std::shared_ptr<Conn>& c) {
    std::lock_guard lock(mu);
    connections.erase(c);
  }

  // Decoders (a parser, masking scratch: tens of KB) are lent to a connection while it has
  // something to decode and given back when it goes idle: a thousand idle connections hold none.
  // `limits` are the input's; every decoder lent by one input has the same.
  std::unique_ptr<LineBatcher> lend_batcher(DecoderLimits limits, size_t max_rejects) {
    {
      std::lock_guard lock(pool_mu);
      if (!pool.empty()) {
        auto b = std::move(pool.back());
        pool.pop_back();
        return b;
      }
    }
    auto b = std::make_unique<LineBatcher>(metrics.input(), mappings, clock, limits, masker,
                                           masking_metrics);
    b->set_max_rejects(max_rejects);
    return b;
  }
  void return_batcher(std::unique_ptr<LineBatcher> b) {
    std::lock_guard lock(pool_mu);
    if (pool.size() < 16) pool.push_back(std::move(b));
  }

 private:
  std::mutex pool_mu;
  std::vector<std::unique_ptr<LineBatcher>> pool;  // guarded by pool_mu; empty batchers
};

// The accept loop every listener shares. `Listener` has: io, acceptor, mu, connections (a set of
// shared_ptr<Conn>, guarded by mu), stopped (guarded by mu), options.max_connections, bound, and
// optionally metrics (for connection_refused). Each connection gets its own strand and is started
// there; connections beyond the limit are closed at once.
template <typename Conn, typename Listener>
void accept_connections(std::shared_ptr<Listener> self, const char* what) {
  namespace asio = boost::asio;
  self->acceptor.async_accept(
      asio::make_strand(self->io),
      [self, what](boost::system::error_code ec, asio::ip::tcp::socket s) {
        if (ec == asio::error::operation_aborted) return;
        if (ec) {
          spdlog::warn("{}: accept failed: {}", what, ec.message());
        } else {
          std::shared_ptr<Conn> conn;
          {
            std::lock_guard lock(self->mu);
            if (self->stopped) return;
            if (self->connections.size() >= self->options.max_connections) {
              if constexpr (requires { self->metrics.connection_refused(); }) {
                self->metrics.connection_refused();
              }
              spdlog::warn("{} {}: connection limit {} reached, refusing a connection", what,
                           self->bound.to_string(), self->options.max_connections);
              boost::system::error_code ignored;
              s.close(ignored);
            } else {
              conn = std::make_shared<Conn>(std::move(s), *self);
              self->connections.insert(conn);
            }
          }
          if (conn) asio::dispatch(conn->executor(), [conn] { conn->start(); });
        }
        accept_connections<Conn>(self, what);
      });
}

// Stops a listener: no new connections, then every open one is stopped on its strand.
// REQUIRES: not called from an io_context thread.
template <typename Listener>
void stop_listener(Listener& listener) {
  std::vector<typename std::decay_t<decltype(listener.connections)>::value_type> conns;
  {
    std::lock_guard lock(listener.mu);
    if (listener.stopped) return;
    listener.stopped = true;
    conns.assign(listener.connections.begin(), listener.connections.end());
  }
  run_and_wait(listener.acceptor.get_executor(), [&] {
    boost::system::error_code ignored;
    listener.acceptor.close(ignored);
  });
  for (auto& c : conns) run_and_wait(c->executor(), [&] { c->stop(); });
}

}  // namespace verity::ingest
