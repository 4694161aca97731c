#pragma once

// What the inputs (TCP, Beats, HTTP) share: what each is built from (InputContext), the one
// backpressure rule they all follow (Backpressure), and the face a listening input shows to the
// server that starts and stops it (ListeningInput).

#include <cstddef>
#include <cstdint>
#include <memory>

#include "verity/core/clock.h"
#include "verity/core/status.h"
#include "verity/core/units.h"
#include "verity/document/field_mapping.h"
#include "verity/store/batch_sink.h"

namespace verity::ingest {

class InputMetrics;
class Masker;
class MaskingMetrics;
class MemoryBudget;

// Where an input's batches go and what decodes, masks and counts them on the way.
struct InputContext {
  store::BatchSink& sink;
  std::shared_ptr<const document::FieldMappingSet> mappings;
  const Clock& clock;
  InputMetrics& metrics;
  std::shared_ptr<const Masker> masker = nullptr;  // null: documents are stored as sent
  MaskingMetrics* masking_metrics = nullptr;       // null: masking is not counted
  MemoryBudget* budget = nullptr;                  // null: read buffers are not bounded together
};

// The one backpressure rule of every input. Nothing is acknowledged before it is committed, so
// what a client sent and was not answered is "in flight"; an input holds a bounded amount of it
// and waits for the store when the store falls behind:
// - a stream connection (TCP, Beats) stops reading (TCP flow control pushes back to the client)
//   while it holds more than max_in_flight uncommitted bytes, or while it holds any and the store
//   is backlogged; a commit answered wakes it;
// - a request (HTTP, _bulk) is answered before a line of it is read: 503 while the store cannot
//   write (a full disk, an I/O error), 429 while it is backlogged, each with Retry-After.
class Backpressure {
 public:
  enum class Verdict { kAccept, kBacklogged, kUnwritable };

  // `max_in_flight`: a stream connection's (requests are refused or taken whole).
  explicit Backpressure(const store::BatchSink& sink, ByteSize max_in_flight = ByteSize{~0ull})
      : sink_(sink), max_in_flight_(max_in_flight.bytes) {}

  // A stream connection holding `in_flight` uncommitted bytes.
  bool pause_reading(size_t in_flight) const {
    return in_flight > max_in_flight_ || (in_flight > 0 && sink_.backlogged());
  }
  // A request about to be read.
  Verdict admit_request() const {
    if (!sink_.writable()) return Verdict::kUnwritable;
    return sink_.backlogged() ? Verdict::kBacklogged : Verdict::kAccept;
  }

 private:
  const store::BatchSink& sink_;
  const uint64_t max_in_flight_;
};

// A listening input (TCP, Beats), as the server starts and stops it.
class ListeningInput {
 public:
  virtual ~ListeningInput() = default;
  // Binds and starts accepting. Errors: kUnavailable (address in use, permission),
  // kInvalidArgument (TLS files).
  virtual Status start() = 0;
  // The bound address (useful with port 0). REQUIRES: start() succeeded.
  virtual HostPort local_endpoint() const = 0;
  // Stops accepting and reading; what was read in complete units has been submitted when it
  // returns. REQUIRES: not called from an io_context thread.
  virtual void stop() = 0;
};

}  // namespace verity::ingest
