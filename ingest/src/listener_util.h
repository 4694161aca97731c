#pragma once

// Helpers shared by the listeners (TCP input, HTTP server): binding an acceptor and running a stop
// step on a strand from a non-I/O thread.

#include <future>
#include <string_view>

#include <boost/asio.hpp>

#include "verity/core/status.h"
#include "verity/core/units.h"

namespace verity::ingest {

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

}  // namespace verity::ingest
