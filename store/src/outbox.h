#pragma once

// The outbox's reading side (outbox.cpp): shippers read the outbox (what OutboxWriter, in
// group_writers.h, and erasures append) from a checkpoint, only below the durable sequence, and
// move the checkpoint past what they delivered or dead-lettered. It owns the checkpoint and the
// backlog's counts (events and bytes past the checkpoint).

#include <atomic>
#include <cstdint>
#include <optional>

#include "verity/core/status.h"
#include "verity/store/outbox_source.h"
#include "verity/store/store.h"

namespace verity::store {

inline constexpr const char* kOutboxCheckpointKey = "outbox_checkpoint";  // in "default"

class Outbox {
 public:
  explicit Outbox(Store::Impl& store) : store_(store) {}

  // After the database opened: the checkpoint, and the backlog counted from it.
  Status load();
  // Up to `max_events` entries (and about `max_bytes`) from sequence `from`, none at or past
  // `durable`. Takes db_mu (shared).
  Result<OutboxRead> read(uint64_t from, size_t max_events, size_t max_bytes,
                          uint64_t durable) const;
  // The ingest time of the oldest record past the checkpoint (none when the backlog is empty).
  Result<std::optional<EpochMillis>> oldest_ingest_ms() const;
  // Moves the checkpoint to `next` (never back). The entries before it are deleted once they are
  // kDeleteStretch or more (and the first time after a restart, from the first sequence).
  Status ack(uint64_t next);
  static constexpr uint64_t kDeleteStretch = 16384;
  uint64_t checkpoint() const { return checkpoint_.load(); }
  OutboxBacklog backlog() const { return OutboxBacklog{events_.load(), bytes_.load()}; }
  // Entries were written past the checkpoint (a commit group's, an erasure's).
  void appended(uint64_t events, uint64_t bytes) {
    events_ += events;
    bytes_ += bytes;
  }

 private:
  Store::Impl& store_;
  std::atomic<uint64_t> checkpoint_{1};
  // Entries before this are deleted. 0 after load(): what an earlier run acknowledged but had not
  // deleted yet goes with the first stretch.
  std::atomic<uint64_t> deleted_before_{0};
  std::atomic<uint64_t> events_{0};
  std::atomic<uint64_t> bytes_{0};
};

}  // namespace verity::store
