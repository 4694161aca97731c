#pragma once

#include <cstddef>
#include <memory>

#include "verity/store/ingest_batch.h"

namespace verity::store {

struct Pending;  // a batch on its way to the store's commit thread (store internals)

// A batch made ready for its sink's commit by the thread that read it: for the store, digests,
// encoded records and model-quality contributions. Move-only. One built from a plain batch holds
// it unprepared (what a fake sink makes; the store prepares it when it is submitted).
class PreparedBatch {
 public:
  PreparedBatch();
  explicit PreparedBatch(IngestBatch batch);
  ~PreparedBatch();
  PreparedBatch(PreparedBatch&&) noexcept;
  PreparedBatch& operator=(PreparedBatch&&) noexcept;
  // What the batch holds in memory (what inputs pause on): prepared, more than what was read.
  size_t bytes() const;
  const IngestBatch& batch() const;

 private:
  friend class Store;
  std::unique_ptr<Pending> pending_;
  IngestBatch plain_;  // when not prepared
};

// Where inputs deliver what they read: the store, or a fake in ingest's tests. The interface the
// inputs see of the store (DESIGN.md: ingest -> store), nothing else of it.
class BatchSink {
 public:
  virtual ~BatchSink() = default;
  // Prepares a batch on the calling thread. Thread-safe: inputs prepare batches of one connection
  // on several threads, then submit them in order.
  virtual PreparedBatch prepare(IngestBatch batch) const = 0;
  // Queues a prepared batch. Thread-safe; never blocks. `done` runs exactly once: once the batch
  // is durable (every outcome final), or with kUnavailable when the sink is stopping. Batches
  // commit in the order they are submitted.
  virtual void submit(PreparedBatch batch, CommitCallback done) = 0;
  // prepare() and submit() on the calling thread.
  void submit(IngestBatch batch, CommitCallback done) {
    submit(prepare(std::move(batch)), std::move(done));
  }
  // True while more is queued than the sink's budget: inputs should pause reading. Thread-safe.
  virtual bool backlogged() const = 0;
  // False while the sink cannot write (disk full, I/O errors): HTTP answers 503 at once.
  virtual bool writable() const = 0;
};

}  // namespace verity::store
