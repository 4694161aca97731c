#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "verity/app/config.h"
#include "verity/core/clock.h"

namespace verity::app {

// The composition root of `verity serve`: opens the store, starts the inputs and the HTTP API on an
// io_context run by config.io_threads threads, and shuts down in order (inputs, then the store's
// drain, then HTTP).
class Server {
 public:
  Server(Config config, const Clock& clock);
  ~Server();

  // Opens and binds everything. Errors name the component and address.
  Status start();
  // Where the listeners actually bound, as {"tcp":"host:port","http":"host:port"}.
  std::string bound_addresses_json() const;
  // Blocks until request_stop(); then stops accepting, commits what was read, and returns.
  void run_until_stopped();
  // Async-signal-unsafe; call from a normal thread or an Asio signal handler.
  void request_stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// `verity serve`: runs a server until SIGINT/SIGTERM (a second signal exits at once).
// `port_file`, when set, receives bound_addresses_json() once listening. Returns the exit code.
int run_serve(Config config, const std::string& port_file);

}  // namespace verity::app
