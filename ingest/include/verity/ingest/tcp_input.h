#pragma once

#include <memory>

#include "verity/core/clock.h"
#include "verity/core/status.h"
#include "verity/core/units.h"
#include "verity/document/field_mapping.h"
#include "verity/ingest/document_decoder.h"
#include "verity/ingest/input.h"
#include "verity/ingest/input_metrics.h"
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

struct TcpInputOptions {
  HostPort listen{"127.0.0.1", 5170};
  ByteSize max_line{1ull << 20};       // longer lines are rejected (line_too_long)
  Duration idle_timeout{300'000};      // a connection silent this long is closed
  size_t max_connections = 1024;       // connections beyond this are closed at once
  ByteSize read_chunk{64ull << 10};    // bytes per socket read
  ByteSize max_in_flight{8ull << 20};  // per connection: bytes submitted but not yet committed
  size_t max_dead_letters = 1000;      // rejects kept per batch (the rest are counted)
};

// NDJSON over TCP (one JSON document per line, '\n' or "\r\n"). Each read is framed, decoded and
// submitted to the store as one batch. A connection stops reading while its uncommitted bytes
// exceed max_in_flight or the store is backlogged (Backpressure::pause_reading, input.h: through
// TCP flow control).
//
// Runs on the given io_context, which may be run by several threads; each connection has a strand.
class TcpInput final : public ListeningInput {
 public:
  TcpInput(boost::asio::io_context& io, TcpInputOptions options, const InputContext& context);
  ~TcpInput() override;
  TcpInput(const TcpInput&) = delete;
  TcpInput& operator=(const TcpInput&) = delete;

  // Binds and starts accepting. Errors: kUnavailable (address in use, permission).
  Status start() override;
  // The bound address (useful with port 0). REQUIRES: start() succeeded.
  HostPort local_endpoint() const override;
  // Stops accepting and reading. Complete lines already read have been submitted to the store when
  // this returns; a partial last line is dropped. Blocks until every connection has stopped.
  // REQUIRES: not called from an io_context thread.
  void stop() override;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace verity::ingest
