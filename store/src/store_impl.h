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

// sync: group: a group written without a sync, answered once its WAL sync returned (namespace
// scope: clang cannot default-construct a class nested in one still incomplete, for std::optional).
struct UnsyncedGroup {
  std::vector<Pending> group;
  uint64_t write = 0;  // Impl::group_writes of its write (owns the summaries it wrote, if any)
  std::vector<CommitResult> results;
  uint64_t end_sequence = 0;  // next_sequence after it
  std::chrono::steady_clock::time_point start;
};

struct Store::Impl : Database {  // the database holder: database.h
  Impl(const StoreOptions& o, const Clock& c) : Database(o), options(o), clock(c) {}

  const StoreOptions options;
  const Clock& clock;

  Status reopen_error;  // commit thread only: why the last reopen failed

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

  // The commit pipeline's group writers (group_writers.h); commit thread only.
  IdempotencyLookup idempotency;
  ChainWriter chain_writer{*this};
  IndexWriter index_writer;
  OutboxWriter outbox_writer{*this};
  DeadLetters dead_letters{*this};  // the dead-letter store (dead_letters.h)
  QualityWriter quality{*this};     // model quality: the label join, the aggregates

  SubmissionQueue queue;  // prepared batches waiting for the commit thread
  std::thread commit_thread;
  std::once_flag stop_once;

  // Commit-thread state.
  rocksdb::WriteBatch write_batch;  // reused across groups so its buffer is allocated once
  uint64_t next_sequence = 1;
  std::atomic<uint64_t> next_sequence_seen{1};  // a copy readable from other threads
  // Every sequence below it is durable under the sync policy (sync: group: its WAL sync
  // returned). Written records are readable before (like Elasticsearch documents before a translog
  // fsync); the outbox is read only below it, so nothing is forwarded that a power loss could
  // take back.
  std::atomic<uint64_t> durable_sequence{1};
  void advance_durable(uint64_t next) {  // never moves back (an erasure may have gone further)
    uint64_t cur = durable_sequence.load();
    while (cur < next && !durable_sequence.compare_exchange_weak(cur, next)) {
    }
  }
  // sync: group: the group written last, whose WAL sync runs on the sync thread.
  std::unique_ptr<WalSyncer> syncer;
  std::optional<UnsyncedGroup> unsynced;

  std::atomic<bool> writable{true};
  mutable std::mutex error_mu;
  std::string last_error;  // guarded by error_mu

  prometheus::Histogram* commit_latency = nullptr;
  prometheus::Histogram* group_events = nullptr;
  prometheus::Counter* commit_failures = nullptr;
  prometheus::Family<prometheus::Gauge>* memory_bytes = nullptr;
  prometheus::Counter* erasures = nullptr;
  prometheus::Gauge* writable_gauge = nullptr;

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

  // The commit thread (commit_loop.cpp).
  void run_commit_loop();
  void finish_group(std::vector<Pending>& group, std::vector<CommitResult>& results,
                    const Status& status, std::chrono::steady_clock::time_point start);
  Status settle_unsynced(std::vector<Pending>& group);
  Status write_group(std::vector<Pending>& group, std::vector<CommitResult>& results);
  // The label bundles of request ids whose labels the group being built touched, as they will be
  // written.
  using GroupBundles = std::unordered_map<std::string_view, LabelBundle>;
  // A label of the group: a duplicate (also of any label seen before for its request id, however
  // old), the first label, a correction (newer by label time), or an older label that arrived late
  // (kept in the history; it may move the first label time). Writes the label bundle, forwards a
  // changed label, and has model quality join it. `stored_*`: what the group's MultiGet read under
  // the request id in the labels family.
  Status commit_label(const Event& e, PreparedEvent& prep, const rocksdb::Status& stored_status,
                      const std::string& stored_value, GroupBundles& bundles, uint64_t& seq,
                      rocksdb::WriteBatch& wb, EventOutcome& outcome);
  void set_writable(bool ok, const std::string& error);

  // Administration (maintenance.cpp).
  // Writes a batch outside the commit thread (seals, tiers, holds, erasures, drops). Refused while
  // the instance is broken by a failed write; a failure here breaks it (see db_failed).
  Status admin_write(rocksdb::WriteBatch& wb, bool sync, std::string_view what);
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
  // Commit thread, building a group that writes: when due (or `force`), the buffered summaries as
  // merges and the watermark go into `wb`. `watermark`: the sequence after the last record the
  // write holds (every record below it was prepared, so its values are in the buffer or were
  // written before).
  void summaries_flush_into(rocksdb::WriteBatch& wb, uint64_t watermark, bool force = false);
  // Commit thread, once the write that carried them is durable (ok) or may be lost (back into the
  // buffer): right after the write, or under sync: group when its WAL sync settles.
  void summaries_written(bool ok);
  uint64_t group_writes = 0;         // commit thread: write_group calls
  uint64_t summary_flush_owner = 0;  // commit thread: the group_writes that wrote the buffer
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
