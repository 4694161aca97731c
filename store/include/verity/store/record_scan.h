#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "verity/core/status.h"
#include "verity/core/time_format.h"
#include "verity/store/search_index.h"
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
  // With an indexer (StoreOptions::indexer), both narrow what is read; the caller still filters
  // every record returned. `terms`: only records holding one of them (the field index), in the
  // model versions whose model indexes every term's field (the others are read whole).
  // `may_match`: whether a block (search_index.h) may hold a record the caller wants; the blocks
  // it rules out are skipped.
  std::vector<IndexTerm> terms;
  std::function<bool(const BlockSummary&)> may_match;
};

// What a scan read to get its answers (for `explain` and the scan budget).
struct ScanStats {
  uint64_t partitions = 0;      // partitions (days) the range touched
  uint64_t slots = 0;           // time-index slots (10 minutes of a day) opened within them
  uint64_t groups = 0;          // model versions read within them, once per slot (10 minutes)
  uint64_t term_groups = 0;     // of them, read through the field index
  uint64_t term_ranges = 0;     // (model version, term) ranges of the field index read
  uint64_t blocks_read = 0;     // blocks (search_index.h) whose records were read
  uint64_t blocks_skipped = 0;  // blocks their summary ruled out
  uint64_t index_entries = 0;   // time-index entries read
  uint64_t records = 0;         // records read from partitions (tombstones included)
  uint64_t missing = 0;         // entries whose record is gone (a partition dropped meanwhile)
};

// A running scan over one consistent snapshot of the store. Not thread-safe; use it on one thread
// and destroy it promptly: it holds the store's read lock (a partition drop waits for it).
class RecordScan {
 public:
  virtual ~RecordScan() = default;
  // The next record (an erased one is its tombstone: `erased` set, no document), or null at the
  // end of the range; it stays valid until the next call (the scan reuses its memory). Its digest
  // is left to to_json (`digest_known` false). Errors: kUnavailable (RocksDB read error),
  // kInternal (a corrupt record).
  virtual Result<const StoredRecord*> next() = 0;
  virtual const ScanStats& stats() const = 0;
  // The latest label stored under `request_id` (read in the scan's snapshot), or nullopt.
  virtual Result<std::optional<StoredRecord>> label(std::string_view request_id) = 0;
};

}  // namespace verity::store
