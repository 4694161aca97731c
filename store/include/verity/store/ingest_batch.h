#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "verity/core/event.h"
#include "verity/core/status.h"

namespace verity::store {

// What became of one event of a batch.
enum class EventOutcome : uint8_t {
  kStored,             // newly written
  kDuplicate,          // the same document was already stored under its request id: a no-op
  kDuplicateConflict,  // a different document exists under its request id: dead-lettered
  kFailed,             // not written: the store was unavailable until shutdown
};

// Events and rejects read from one input in one go. `input` names the input for accounting and the
// dead-letter record ("tcp", "http", ...).
struct IngestBatch {
  std::string input;
  std::vector<Event> events;
  std::vector<Reject> rejects;
  // Rejects beyond the batch's cap (dead_letters.max_per_batch): counted by type, not kept. The
  // store writes one dead-letter entry that counts them; metrics count every one.
  std::vector<std::pair<std::string, uint64_t>> omitted_rejects;
  // Not 0: the outbox checkpoint moves here in the same write (when it is ahead of the one
  // stored). The shipper's dead letters carry the checkpoint past the entries they stand for, so a
  // crash before its acknowledgment cannot send those entries again and dead-letter them twice.
  uint64_t outbox_checkpoint = 0;
  uint64_t omitted() const {
    uint64_t n = 0;
    for (const auto& [type, k] : omitted_rejects) n += k;
    return n;
  }
  size_t bytes() const;
};

// The result of committing a batch. When `status` is ok every stored, duplicate and dead-lettered
// record is durable under the sync policy. outcomes[i] belongs to events[i].
struct CommitResult {
  Status status;
  std::vector<EventOutcome> outcomes;
  uint32_t stored = 0;
  uint32_t duplicates = 0;
  uint32_t dead_lettered = 0;    // events dead-lettered by the store (duplicate_conflict)
  uint32_t rejects_written = 0;  // batch.rejects written to the dead-letter store
  uint32_t failed = 0;           // events and rejects not written
};

// Runs on the store's commit thread: keep it short and never block in it.
using CommitCallback = std::function<void(const CommitResult&)>;

}  // namespace verity::store
