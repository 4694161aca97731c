#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <rocksdb/db.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/write_batch.h>

#include "audit_log.h"
#include "chain.h"
#include "commit_loop.h"
#include "database.h"
#include "dead_letters.h"
#include "group_writers.h"
#include "label_bundle.h"
#include "outbox.h"
#include "partition_states.h"
#include "pending.h"
#include "quality_writer.h"
#include "read_trail.h"
#include "retention.h"
#include "submission_queue.h"
#include "summary_buffer.h"
#include "time_index.h"
#include "verity/store/aggregate.h"
#include "verity/store/search_index.h"
#include "verity/store/store.h"
#include "wal_syncer.h"

namespace verity::store {

// The first dead-letter sequence a shipper has not forwarded (dead_letters.cpp).
inline constexpr const char* kDeadLetterCheckpointKey = "dead_letter_checkpoint";
// Metadata keys in "default" beside the partitions' (partition_states.h): holds.
inline constexpr const char* kHoldPrefix = "hold/";  // hold/partition:<p> | hold/model:<m>
inline constexpr const char* kNextSequenceKey = "next_sequence";

inline JoinSide side_of(const Event& e) {
  return {e.model_name, e.model_version, e.timestamp_ms, e.document, &e.observed};
}
inline JoinSide side_of(const StoredRecord& r) {
  return {r.model_name, r.model_version, r.timestamp_ms, r.document};
}

// Sums Aggregate values (the metrics family's merge operator, quality_writer.cpp).
std::shared_ptr<rocksdb::MergeOperator> aggregate_merge_operator();

struct Store::Impl : Database {  // the database holder: database.h
  Impl(const StoreOptions& o, const Clock& c) : Database(o), options(o), clock(c) {}

  const StoreOptions options;
  const Clock& clock;

  // Commit groups hold write_mu while they build and write; maintenance that rewrites records
  // (erasure) or drops partitions holds it too. Lock order: write_mu, db_mu, partitions_mu, then
  // the lock of one concern (the partition states', the audit log's, a group writer's).
  std::mutex write_mu;
  // Partition state (chains, seals, tiers, models); the commit thread updates chains
  // only after a successful write, so readers see committed state.
  PartitionStates partition_states;
  AuditLog audit_log{*this, clock};  // the administration audit trail
  // Set by stop(): long recompactions (tier moves, folds, dead-letter trims) give up.
  std::atomic<bool> cancel_compactions{false};

  DeadLetters dead_letters{*this};  // the dead-letter store (dead_letters.h)
  QualityWriter quality{*this};     // model quality: the label join, the aggregates

  SubmissionQueue queue;     // prepared batches waiting for the commit thread
  CommitLoop commit{*this};  // the commit thread, the sequences, writable (commit_loop.h)
  std::once_flag stop_once;

  prometheus::Family<prometheus::Gauge>* memory_bytes = nullptr;
  prometheus::Gauge* compaction_pending_bytes = nullptr;
  prometheus::Gauge* compactions_running = nullptr;
  prometheus::Counter* erasures = nullptr;

  // Opens the database (Database::open) and loads what the store keeps beside it: the next
  // sequence, the outbox, model quality, dead letters, partition state, the read trail, and the
  // indexes (made again when missing or stale).
  Status open_db();
  // Closes and reopens the database (on the commit thread). RocksDB does not Resume() from some
  // write errors (a failed WAL append on a full disk is fatal to the open instance); reopening
  // replays the WAL up to the last complete record, which holds everything acknowledged.
  Status reopen_db();
  void register_metrics(prometheus::Registry& registry);
  Result<rocksdb::ColumnFamilyHandle*> partition_cf(uint32_t day);
  // Point reads; the caller holds db_mu (shared).
  Result<std::optional<StoredRecord>> read_prediction(std::string_view request_id) const;
  Result<std::optional<StoredRecord>> read_label(std::string_view request_id) const;

  // Administration (maintenance.cpp).
  // Writes a batch outside the commit thread (seals, tiers, holds, erasures, drops). Refused while
  // the instance is broken by a failed write; a failure here breaks it (see db_failed).
  Status admin_write(rocksdb::WriteBatch& wb, bool sync, std::string_view what);
  Status move_legacy_chain_heads();  // in load_state: 'H' heads of the chain family to meta
  Status load_state();  // after open_db: partition states (and their tiers' options), audit ids
  Status build_time_index();
  // The field index and block summaries (search_index.cpp). On the submitting thread: a batch's
  // predictions' terms (into `prepared`), and their values into the buffered block summaries.
  void index_prepare(const IngestBatch& batch, std::vector<PreparedEvent>& prepared) {
    summaries_add(batch, &prepared);
  }
  // At open: rebuilds both when the indexer's spec is not the one the store was written with.
  Status build_search_index();
  // Block summaries are buffered in memory (summary_buffer.h) and written every second or so,
  // with the watermark: the sequence below which every record's values are in the written
  // summaries. At open, the blocks of the records at and past the watermark are summarised again
  // from their records (a crash loses at most the buffer, which those records cover).
  // On the submitting thread: a batch's predictions' values, and their terms into `prepared`.
  void summaries_add(const IngestBatch& batch, std::vector<PreparedEvent>* prepared);
  // The commit thread writes the buffer with a group now and then (CommitLoop).
  Status recover_summaries();
  SummaryBuffer summaries;
  Outbox outbox_reader{*this};  // the outbox's checkpoint and backlog (outbox.h)
  ReadTrail read_trail{*this};  // the read audit trail (read_trail.h)
  Retention retention{*this};   // the tier manager and holds (retention.h)
};

// Days since the end of `day` (YYYYMMDD) at `now`; negative while the day has not ended.
int64_t partition_age_days(uint32_t day, EpochMillis now);
EpochMillis partition_day_end(uint32_t day);

}  // namespace verity::store
