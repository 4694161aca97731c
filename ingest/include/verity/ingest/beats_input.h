#pragma once

#include <memory>
#include <string>

#include "verity/core/clock.h"
#include "verity/core/status.h"
#include "verity/core/units.h"
#include "verity/document/field_mapping.h"
#include "verity/ingest/http_server.h"
#include "verity/ingest/input.h"
#include "verity/ingest/input_metrics.h"
#include "verity/ingest/lumberjack.h"
#include "verity/ingest/masker.h"
#include "verity/ingest/masking_metrics.h"
#include "verity/ingest/memory_budget.h"

namespace boost::asio {
class io_context;
}
namespace verity::store {
class BatchSink;
}

namespace verity::ingest {

using BeatsTlsOptions = ServerTlsOptions;

struct BeatsInputOptions {
  HostPort listen{"127.0.0.1", 5044};
  LumberjackLimits limits;
  // A client silent this long is closed, unless a window of its waits for a commit (a window
  // still waiting for the client's events does not keep the connection open).
  Duration read_timeout{60'000};
  Duration keepalive{5'000};  // while a window waits for its commit, ACK(0) this often
  size_t max_connections = 1024;
  ByteSize read_chunk{64ull << 10};
  ByteSize max_in_flight{8ull << 20};  // per connection: bytes submitted but not yet committed
  size_t max_dead_letters = 1000;      // rejects kept per batch (the rest are counted)
  BeatsTlsOptions tls;
};

// The Beats (Lumberjack v2) input Filebeat's logstash output talks to. Events are decoded (with
// Filebeat's envelope opened, see document::EnvelopeSettings), masked and submitted to the store as
// they arrive; a window is acknowledged with its highest sequence only after all its events are
// committed (stored, duplicate or dead-lettered). Windows may be pipelined; ACKs go out in order.
// While a window waits, ACK(0) keepalives are sent every `keepalive`. A protocol error or a limit
// closes only that connection (logged and counted as verity_ingest_protocol_errors_total); the
// client then resends its unacknowledged window, which idempotency makes harmless.
// Backpressure: Backpressure::pause_reading (input.h) with max_in_flight.
class BeatsInput final : public ListeningInput {
 public:
  BeatsInput(boost::asio::io_context& io, BeatsInputOptions options, const InputContext& context);
  ~BeatsInput() override;
  BeatsInput(const BeatsInput&) = delete;
  BeatsInput& operator=(const BeatsInput&) = delete;

  // Loads TLS material (when enabled), binds and starts accepting. Errors: kInvalidArgument (TLS
  // files), kUnavailable (address in use).
  Status start() override;
  HostPort local_endpoint() const override;
  // Stops accepting and reading; events already read have been submitted when this returns.
  // REQUIRES: not called from an io_context thread.
  void stop() override;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace verity::ingest
