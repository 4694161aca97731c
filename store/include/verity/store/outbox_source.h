#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "verity/core/status.h"
#include "verity/core/time_format.h"
#include "verity/store/ingest_batch.h"
#include "verity/store/stored_record.h"

namespace verity::store {

// A stored prediction waiting in the outbox.
struct OutboxEntry {
  enum class Kind {
    kPrediction,  // forward `record`, with `label` when one is already stored
    kLabel,       // a new or corrected `label` for the stored prediction `record`
    kErasure,     // delete the copies of the prediction `record.request_id` (nothing else set)
    kUnreadable,  // the entry or its record cannot be read for good (corrupt): `problem` says why
  };
  uint64_t sequence = 0;
  Kind kind = Kind::kPrediction;
  StoredRecord record;
  std::optional<StoredRecord> label;
  std::string problem;  // kUnreadable
};
struct OutboxRead {
  std::vector<OutboxEntry> entries;
  uint64_t next = 0;  // where the following read starts (past every entry looked at)
};
struct OutboxBacklog {
  uint64_t events = 0;
  uint64_t bytes = 0;  // encoded record bytes
};

// One dead-letter entry as a shipper reads it.
struct DeadLetterEntry {
  uint64_t sequence = 0;
  EpochMillis ingest_time_ms = 0;  // 0 when the entry does not say (never for entries written here)
  std::string json;                // the entry (see Store::dead_letters)
};
struct DeadLetterRead {
  std::vector<DeadLetterEntry> entries;
  uint64_t next = 0;  // where the following read starts (past every entry returned)
};

// What a shipper sees of the store: the outbox of committed predictions, labels and erasures, and
// the dead-letter store, each read from a durable checkpoint that the shipper moves past what it
// delivered; and a way to write its own dead letters. `Store` implements it (the contracts are
// documented there); tests/shippers drives the shipper over a fake one as well.
class OutboxSource {
 public:
  virtual ~OutboxSource() = default;

  // Entries from sequence `from` on, at most `max_events` and about `max_bytes`, only durable
  // ones. Errors are retryable only (kUnavailable).
  virtual Result<OutboxRead> read_outbox(uint64_t from, size_t max_events,
                                         size_t max_bytes) const = 0;
  // Everything before `next` was delivered: the checkpoint moves there.
  virtual Status ack_outbox(uint64_t next) = 0;
  virtual uint64_t outbox_checkpoint() const = 0;
  virtual OutboxBacklog outbox_backlog() const = 0;
  // The ingest time of the oldest undelivered entry, or nullopt when there is none.
  virtual Result<std::optional<EpochMillis>> outbox_oldest_ingest_ms() const = 0;

  // Dead-letter entries from sequence `from` on (at most `max_entries`, about `max_bytes`, at
  // least one), and their own checkpoint.
  virtual Result<DeadLetterRead> read_dead_letters(uint64_t from, size_t max_entries,
                                                   size_t max_bytes) const = 0;
  virtual Status ack_dead_letters(uint64_t next) = 0;
  virtual uint64_t dead_letter_checkpoint() const = 0;
  virtual uint64_t dead_letter_backlog() const = 0;
  // Entries past the checkpoint removed by trimming since the last call (never forwarded).
  virtual uint64_t take_dead_letters_trimmed() = 0;

  // Writes `batch.rejects` (the shipper's refused records) to the dead-letter store; `done` runs
  // once they are durable, or with an error.
  virtual void write_dead_letters(IngestBatch batch, CommitCallback done) = 0;

 protected:
  OutboxSource() = default;
  OutboxSource(const OutboxSource&) = default;
  OutboxSource& operator=(const OutboxSource&) = default;
};

}  // namespace verity::store
