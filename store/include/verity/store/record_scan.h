#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "verity/core/status.h"
#include "verity/core/time_format.h"
#include "verity/store/stored_record.h"

namespace verity::store {

// Which stored predictions a scan reads, in (timestamp, request id) order: a total order, since
// request ids are unique.
struct ScanRange {
  std::optional<std::string> model;    // nullopt: every model
  std::optional<std::string> version;  // nullopt: every version (of `model`, or of every model)
  EpochMillis from_ms = std::numeric_limits<EpochMillis>::min();  // inclusive
  EpochMillis to_ms = std::numeric_limits<EpochMillis>::max();    // exclusive
  bool descending = false;
  // Resume strictly after this position in scan order (a search cursor).
  struct Position {
    EpochMillis timestamp_ms = 0;
    std::string request_id;
  };
  std::optional<Position> after;
};

// What a scan read to get its answers (for `explain` and the scan budget).
struct ScanStats {
  uint64_t partitions = 0;     // partitions (days) the range touched
  uint64_t groups = 0;         // model versions read within them
  uint64_t index_entries = 0;  // time-index entries read
  uint64_t records = 0;        // records read from partitions (tombstones included)
  uint64_t missing = 0;        // entries whose record is gone (a partition dropped meanwhile)
};

// A running scan over one consistent snapshot of the store. Not thread-safe; use it on one thread
// and destroy it promptly: it holds the store's read lock (a partition drop waits for it).
class RecordScan {
 public:
  virtual ~RecordScan() = default;
  // The next record (an erased one is its tombstone: `erased` set, no document), or nullopt at the
  // end of the range. Errors: kUnavailable (RocksDB read error), kInternal (a corrupt record).
  virtual Result<std::optional<StoredRecord>> next() = 0;
  virtual const ScanStats& stats() const = 0;
  // The latest label stored under `request_id` (read in the scan's snapshot), or nullopt.
  virtual Result<std::optional<StoredRecord>> label(std::string_view request_id) = 0;
};

}  // namespace verity::store
