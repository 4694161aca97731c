#pragma once

#include <memory>

#include "verity/core/clock.h"
#include "verity/core/http.h"
#include "verity/core/units.h"
#include "verity/document/field_mapping.h"
#include "verity/ingest/document_decoder.h"
#include "verity/ingest/input.h"
#include "verity/ingest/input_metrics.h"
#include "verity/ingest/masker.h"
#include "verity/ingest/masking_metrics.h"

namespace boost::asio {
class io_context;
}
namespace verity::store {
class BatchSink;
}

namespace verity::ingest {

struct HttpIngestOptions {
  ByteSize max_line{1ull << 20};  // a longer NDJSON line or bulk source is rejected
  Duration retry_after{1000};     // Retry-After of a 429 answered while the store is backlogged
  // An answer lists the first max_errors per-line errors and counts the rest by type.
  size_t max_errors = 100;
  // Rejects of one request kept for the dead-letter store; the rest are counted.
  size_t max_dead_letters = 1000;
  // A _bulk request of more actions is refused whole (413), as a too-large request is: its answer
  // (one item per action) must stay bounded.
  size_t max_bulk_actions = 10000;
};

// Ingest over HTTP. Every request is decoded on the calling I/O thread, submitted to the store as
// one batch, and answered only after that batch is durable, so a 2xx means committed:
//   POST /v1/predictions  NDJSON of predictions (and labels, as on every input)
//   POST /v1/labels       NDJSON of labels only (a prediction there is rejected: not_a_label)
//   POST /_bulk, POST /{index}/_bulk   Elasticsearch's bulk API (index and create actions)
// Before a line is read, Backpressure::admit_request (input.h) answers 503 while the store cannot
// write and 429 while it is backlogged, with Retry-After. Thread-safe.
class HttpIngest {
 public:
  // `context.metrics` counts NDJSON requests (input "http"), `bulk_metrics` bulk requests
  // ("es_bulk"); the HTTP server bounds request memory (context.budget is not used here).
  // Responses are built on `io` (not on the store's commit thread).
  HttpIngest(boost::asio::io_context& io, const InputContext& context, InputMetrics& bulk_metrics,
             HttpIngestOptions options);
  ~HttpIngest();
  HttpIngest(const HttpIngest&) = delete;
  HttpIngest& operator=(const HttpIngest&) = delete;

  // The answer: 200 {"received", "stored", "duplicates", "dead_lettered", "rejected", "errors":
  // [{"line", "type", "reason"}]} (400 with the same body when every line was rejected).
  void predictions(HttpRequest req, HttpResponder respond);
  void labels(HttpRequest req, HttpResponder respond);
  // The answer is Elasticsearch's: {"took", "errors", "items": [...]} in request order, compact,
  // honouring filter_path for took/errors/items and items.*.<field>.
  void bulk(HttpRequest req, HttpResponder respond);

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace verity::ingest
