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

#include "chain.h"
#include "dead_letters.h"
#include "group_writers.h"
#include "read_trail.h"
#include "time_index.h"
#include "verity/store/aggregate.h"
#include "verity/store/search_index.h"
#include "verity/store/store.h"
#include "wal_syncer.h"

namespace verity::store {

inline constexpr const char* kIdsCf = "ids";
inline constexpr const char* kLabelsCf = "labels";
inline constexpr const char* kDeadLetterCf = "deadletter";
inline constexpr const char* kChainCf = "chain";
inline constexpr const char* kAuditCf = "audit";
inline constexpr const char* kReadsCf = "reads";  // the read audit trail (read_trail.cpp)
// outbox: sequence -> 'P' day (u32 BE) record size (u32 BE): a prediction to forward,
//                     'L' request id: a new or corrected label to forward, or
//                     'X' request id: an erasure to propagate.
inline constexpr const char* kOutboxCf = "outbox";
inline constexpr const char* kOutboxCheckpointKey = "outbox_checkpoint";
// The first dead-letter sequence a shipper has not forwarded (dead_letters.cpp).
inline constexpr const char* kDeadLetterCheckpointKey = "dead_letter_checkpoint";
// metrics: model-quality aggregates (quality.cpp), summed by a merge operator:
//   'B' varint-len model | varint-len version | 'm'|'h'|'d' | u64 BE bucket start (ms) -> Aggregate
//   'V' varint-len model | varint-len version -> u64 BE first, u64 BE last prediction time
//   'C' -> Aggregate of LabelCounts
inline constexpr const char* kMetricsCf = "metrics";
// pending: labels waiting for their prediction:
//   'R' request id -> u64 BE arrival time;  'T' u64 BE arrival time | request id -> ""
inline constexpr const char* kPendingCf = "pending";
// Metadata keys in "default": tier of a partition, models seen in a partition, holds.
inline constexpr const char* kTierPrefix = "tier/";    // tier/p_YYYYMMDD -> hot|warm|cold
inline constexpr const char* kModelPrefix = "model/";  // model/p_YYYYMMDD/<model> -> ""
inline constexpr const char* kHoldPrefix = "hold/";    // hold/partition:<p> | hold/model:<m>
inline constexpr const char* kNextSequenceKey = "next_sequence";

inline JoinSide side_of(const Event& e) {
  return {e.model_name, e.model_version, e.timestamp_ms, e.document};
}
inline JoinSide side_of(const StoredRecord& r) {
  return {r.model_name, r.model_version, r.timestamp_ms, r.document};
}

// Sums Aggregate values (the metrics family's merge operator, quality.cpp).
std::shared_ptr<rocksdb::MergeOperator> aggregate_merge_operator();

// An event made ready for the commit thread by the submitting thread: digest computed and record
// encoded, with the sequence left to patch.
// A label's join worked out by the submitting thread against the store as it was then; the
// commit thread uses it when nothing changed since (the usual case) and joins itself otherwise.
// Planned for a request id's first label only: corrections and late older labels are joined by
// the commit thread, which holds the label's history.
struct JoinPlan {
  bool ready = false;  // the prediction was stored (and not erased), and no label, at submission
  std::string model, version;  // the prediction's
  EpochMillis prediction_ms = 0;
  double lag_seconds = 0;
  Aggregate delta;  // the label's contribution
};

struct PreparedEvent {
  Sha256Digest digest{};
  Sha256Digest entry_digest{};  // what the record contributes to its partition's hash chain
  std::string record;
  JoinPlan join;                 // a label's
  std::vector<IndexTerm> terms;  // a prediction's field-index terms (StoreOptions::indexer)
};

// What the store knows about a partition beyond its column family.
struct PartitionState {
  ChainHead chain;
  uint32_t seals = 0;
  uint64_t sealed_count = 0;  // records covered by the last seal
  Tier tier = Tier::kHot;
  std::set<std::string> models;
};

// Commit-thread scratch for model quality: what one commit group adds to the aggregates.
struct QualityGroup {
  struct Minute {
    std::string prefix;  // varint-len model | varint-len version
    EpochMillis start = 0;
    AggregateSum sum;
  };
  std::map<std::string, Minute> minutes;  // prefix | u64 BE minute -> sum
  Minute* last_minute = nullptr;          // the bucket of the last addition (std::map: stable)
  std::string last_model, last_model_version;
  Aggregate counters;  // LabelCounts deltas
  using Versions =
      std::map<std::pair<std::string, std::string>, std::pair<EpochMillis, EpochMillis>>;
  Versions versions;
  Versions::iterator last_version = versions.end();
  std::vector<double> lags_seconds;  // label lag of first joins, for the histogram
  void clear() {
    minutes.clear();
    last_minute = nullptr;
    counters = Aggregate();
    versions.clear();
    last_version = versions.end();
    lags_seconds.clear();
  }
};

// The predictions of a batch summed per model, version and minute by the submitting thread; the
// commit thread adds these sums and subtracts what the batch's duplicates contributed.
struct BatchBucket {
  std::string model, version;
  EpochMillis minute = 0;
  AggregateSum sum;
};

struct Pending {
  IngestBatch batch;
  std::vector<PreparedEvent> prepared;  // prepared[i] belongs to batch.events[i]
  std::vector<BatchBucket> contributions;
  CommitCallback done;
  size_t bytes = 0;
};

// sync: group: a group written without a sync, answered once its WAL sync returned (namespace
// scope: clang cannot default-construct a class nested in one still incomplete, for std::optional).
struct UnsyncedGroup {
  std::vector<Pending> group;
  uint64_t write = 0;  // Impl::group_writes of its write (owns the summaries it wrote, if any)
  std::vector<CommitResult> results;
  uint64_t end_sequence = 0;  // next_sequence after it
  std::chrono::steady_clock::time_point start;
};

struct Store::Impl {
  Impl(const StoreOptions& o, const Clock& c) : options(o), clock(c) {}

  const StoreOptions options;
  const Clock& clock;

  std::unique_ptr<rocksdb::Env> fault_env;  // wraps the file system when options.faults is set
  // Readers hold db_mu shared while they use db; the commit thread holds it alone to reopen. db is
  // null between a failed reopen and the next attempt.
  mutable std::shared_mutex db_mu;
  Status reopen_error;  // commit thread only: why the last reopen failed
  // Commit thread: a write failed on the open instance, which must not be written again until
  // it is reopened. Maintenance reads it (as !writable) to stay away too.
  std::atomic<bool> db_failed{false};
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;  // every open handle, destroyed before db
  rocksdb::ColumnFamilyHandle* meta = nullptr;        // "default"
  rocksdb::ColumnFamilyHandle* ids = nullptr;
  rocksdb::ColumnFamilyHandle* labels = nullptr;
  rocksdb::ColumnFamilyHandle* deadletter = nullptr;
  rocksdb::ColumnFamilyHandle* chain = nullptr;
  rocksdb::ColumnFamilyHandle* audit = nullptr;
  rocksdb::ColumnFamilyHandle* outbox = nullptr;
  rocksdb::ColumnFamilyHandle* metrics = nullptr;
  rocksdb::ColumnFamilyHandle* pending = nullptr;
  rocksdb::ColumnFamilyHandle* by_time = nullptr;      // the time index (time_index.h)
  rocksdb::ColumnFamilyHandle* reads = nullptr;        // the read audit trail (read_trail.cpp)
  rocksdb::ColumnFamilyHandle* field_index = nullptr;  // search_keys.h
  rocksdb::ColumnFamilyHandle* blocks = nullptr;       // block summaries (search_keys.h)
  std::atomic<uint64_t> outbox_checkpoint{1};
  std::atomic<uint64_t> outbox_events{0};
  std::atomic<uint64_t> outbox_bytes{0};
  rocksdb::ColumnFamilyOptions partition_options;
  std::shared_ptr<rocksdb::Cache> cache;

  // Commit groups hold write_mu while they build and write; maintenance that rewrites records
  // (erasure) or drops partitions holds it too. Lock order: write_mu, db_mu, partitions_mu,
  // state_mu.
  std::mutex write_mu;
  // Partition state (chains, seals, tiers, models) and holds; the commit thread updates chains
  // only after a successful write, so readers see committed state.
  mutable std::mutex state_mu;
  std::map<uint32_t, PartitionState> state;  // guarded by state_mu
  std::set<std::string> hold_set;            // guarded by state_mu: Hold::to_string()
  uint64_t next_audit_id = 1;                // guarded by state_mu
  // One erasure or maintenance pass at a time.
  std::mutex maintenance_mu;
  std::thread maintenance_thread;
  std::condition_variable maintenance_cv;       // with mu: wakes the manager to stop
  std::atomic<bool> cancel_compactions{false};  // set by stop(): long recompactions give up

  // The commit pipeline's group writers (group_writers.h); commit thread only.
  IdempotencyLookup idempotency;
  ChainWriter chain_writer{*this};
  IndexWriter index_writer;
  OutboxWriter outbox_writer{*this};
  DeadLetters dead_letters{*this};  // the dead-letter store (dead_letters.h)
  QualityGroup quality;
  EpochMillis group_arrival_ms = 0;  // the commit time of the group being built

  // Model versions with their first and last prediction time, and the label counters, as
  // committed. Guarded by quality_mu.
  mutable std::mutex quality_mu;
  std::map<std::pair<std::string, std::string>, std::pair<EpochMillis, EpochMillis>> versions;
  LabelCounts label_counts;
  // The last commit group (a count since open) that wrote a model-quality bucket, per model
  // version prefix and UTC day: aggregate_generation(). Guarded by quality_mu.
  std::map<std::string, std::map<EpochMillis, uint64_t>, std::less<>> bucket_writes;
  uint64_t bucket_write_groups = 0;
  uint64_t reopens = 0;  // a reopen may have lost writes that readers saw: every window changes

  // Partition handles by day. Written by the commit thread (creating a partition), read by readers.
  mutable std::shared_mutex partitions_mu;
  std::map<uint32_t, rocksdb::ColumnFamilyHandle*> partitions;  // guarded by partitions_mu

  // The submission queue. mu guards queue and stopping; cv wakes the commit thread.
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Pending> queue;
  bool stopping = false;
  EpochMillis drain_deadline_ms = 0;  // guarded by mu; set by stop()
  std::atomic<uint64_t> queued_bytes{0};
  std::atomic<uint64_t> queued_events{0};
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
  prometheus::Gauge* queue_depth_events = nullptr;
  prometheus::Gauge* queue_depth_bytes = nullptr;
  prometheus::Counter* commit_failures = nullptr;
  prometheus::Family<prometheus::Gauge>* tier_partitions = nullptr;
  prometheus::Family<prometheus::Gauge>* tier_disk_bytes = nullptr;
  prometheus::Family<prometheus::Gauge>* tier_raw_bytes = nullptr;
  prometheus::Family<prometheus::Gauge>* memory_bytes = nullptr;
  prometheus::Family<prometheus::Counter>* maintenance_actions = nullptr;
  prometheus::Counter* erasures = nullptr;
  prometheus::Gauge* writable_gauge = nullptr;
  prometheus::Counter* labels_joined = nullptr;
  prometheus::Counter* labels_corrected = nullptr;
  prometheus::Counter* labels_orphaned = nullptr;
  prometheus::Counter* labels_late_joined = nullptr;
  prometheus::Gauge* labels_pending = nullptr;
  prometheus::Histogram* label_lag = nullptr;

  Status open_db();
  // Closes and reopens the database (on the commit thread). RocksDB does not Resume() from some
  // write errors (a failed WAL append on a full disk is fatal to the open instance); reopening
  // replays the WAL up to the last complete record, which holds everything acknowledged.
  Status reopen_db();
  void close_db();
  // Whether a small file can be written and synced in the data directory (space came back).
  bool disk_writable() const;
  void register_metrics(prometheus::Registry& registry);
  Result<rocksdb::ColumnFamilyHandle*> partition_cf(uint32_t day);
  // A copy of `handles`, which the commit thread extends when it creates a partition.
  std::vector<rocksdb::ColumnFamilyHandle*> all_handles() const {
    std::shared_lock lock(partitions_mu);
    return handles;
  }
  // Point reads; the caller holds db_mu (shared).
  Result<std::optional<StoredRecord>> read_prediction(std::string_view request_id) const;
  Result<std::optional<StoredRecord>> read_label(std::string_view request_id) const;
  rocksdb::ColumnFamilyHandle* find_partition(uint32_t day) const;

  // Model quality (quality.cpp), on the commit thread while it builds a group.
  // A newly stored prediction: its own contribution, and its label's if one waits.
  Status quality_prediction(const Event& e, const JoinSide* label, bool label_pending_in_group,
                            rocksdb::WriteBatch& wb);
  // On the submitting thread: the batch's predictions summed per bucket, and its labels' plans.
  void quality_prepare(const IngestBatch& batch, std::vector<PreparedEvent>& prepared,
                       std::vector<BatchBucket>& contributions) const;
  // On the commit thread: a batch's summed contributions, or (sign -1) a prediction that turned
  // out to be a duplicate.
  void quality_add_batch(const std::vector<BatchBucket>& contributions);
  void quality_unstore(const Event& e);
  void apply_join_plan(const JoinPlan& plan);
  // A label side `l` takes the place of `old_label` (null: the request id's first label) for a
  // request id: joins its prediction (in this group or stored) or waits. Label sides carry the
  // first label time of the request id as their time (label lag is measured to it). `counter`:
  // the label counter to add one to ("joined" is added for first labels; null: none, when only
  // the first label time moved).
  Status quality_label(std::string_view request_id, const JoinSide& l,
                       const JoinSide* group_prediction, const JoinSide* old_label,
                       const char* counter, bool old_pending_in_group, rocksdb::WriteBatch& wb,
                       bool& now_pending);
  Status quality_finish_group(rocksdb::WriteBatch& wb);
  // Commit-thread state of one group for the label join (commit_loop.cpp).
  struct GroupJoin;
  // Model quality's part of a group: the label stored for each of its predictions, if any (one
  // MultiGet; labels look their prediction up only when new or corrected, in quality_label).
  void begin_join(GroupJoin& g, const std::vector<Pending>& group);
  // A stored prediction's join step in write_group: its label, if one waits, joins it.
  Status join_prediction(const Event& e, size_t label_slot, GroupJoin& g, rocksdb::WriteBatch& wb);
  // A label of the group: a duplicate (also of any label seen before for its request id, however
  // old), the first label, a correction (newer by label time), or an older label that arrived late
  // (kept in the history; it may move the first label time). Writes the label bundle and joins.
  // `stored_*`: what the group's MultiGet read under the request id in the labels family.
  Status commit_label(const Event& e, PreparedEvent& prep, const rocksdb::Status& stored_status,
                      const std::string& stored_value, GroupJoin& g, uint64_t& seq,
                      rocksdb::WriteBatch& wb, EventOutcome& outcome);
  void quality_after_write();
  Status load_quality();  // after open_db: versions and counters
  // Orphans labels that waited longer than labels.max_wait (maintenance).
  Status orphan_pending(MaintenanceReport& report);
  // Folds the merge operands of the aggregates (maintenance): flush and compact the new data.
  Status fold_aggregates();

  void run_commit_loop();
  void finish_group(std::vector<Pending>& group, std::vector<CommitResult>& results,
                    const Status& status, std::chrono::steady_clock::time_point start);
  Status settle_unsynced(std::vector<Pending>& group);
  Status write_group(std::vector<Pending>& group, std::vector<CommitResult>& results);
  void set_writable(bool ok, const std::string& error);

  // Maintenance (maintenance.cpp).
  // Writes a batch outside the commit thread (seals, tiers, holds, erasures, drops). Refused while
  // the instance is broken by a failed write; a failure here breaks it (see db_failed).
  Status admin_write(rocksdb::WriteBatch& wb, bool sync, std::string_view what);
  Status load_state();  // after open_db: chains, seals, tiers, models, holds, audit id
  Status build_time_index();
  // The field index and block summaries (search_index.cpp). On the submitting thread: a batch's
  // predictions' terms (into `prepared`), and their values into the buffered block summaries.
  void index_prepare(const IngestBatch& batch, std::vector<PreparedEvent>& prepared) const {
    summaries_add(batch, &prepared);
  }
  // At open: rebuilds both when the indexer's spec is not the one the store was written with.
  Status build_search_index();
  // Block summaries are buffered in memory and written every second or so, with the watermark:
  // the sequence below which every record's values are in the written summaries. At open, the
  // blocks of the records at and past the watermark are summarised again from their records (a
  // crash loses at most the buffer, which those records cover).
  // On the submitting thread: a batch's predictions' values, into the calling thread's shard.
  void summaries_add(const IngestBatch& batch, std::vector<PreparedEvent>* prepared) const;
  // Commit thread, building a group that writes: when due (or `force`), the buffered summaries as
  // merges and the watermark (next_sequence) go into `wb`.
  void summaries_flush_into(rocksdb::WriteBatch& wb, bool force = false);
  // Commit thread, once the write that carried them is durable (ok) or may be lost (back into the
  // buffer): right after the write, or under sync: group when its WAL sync settles. One write of
  // summaries is in flight at a time.
  void summaries_written(bool ok);
  uint64_t group_writes = 0;         // commit thread: write_group calls
  uint64_t summary_flush_owner = 0;  // commit thread: the group_writes that wrote the buffer
  Status recover_summaries();
  using SummaryMap = std::unordered_map<std::string, BlockSummary>;
  // The buffer, in shards picked by thread (inputs prepare batches on several threads). Each
  // shard's mutex guards its summaries being added to, and those being written (until the write
  // is done). Scans take every shard's with their snapshot, under the shards' locks.
  struct SummaryShard {
    std::mutex mu;
    std::shared_ptr<SummaryMap> current = std::make_shared<SummaryMap>();
    std::shared_ptr<SummaryMap> flushing;
  };
  static constexpr size_t kSummaryShards = 8;
  mutable std::array<SummaryShard, kSummaryShards> summary_shards;
  std::chrono::steady_clock::time_point summary_flushed_at = std::chrono::steady_clock::now();
  ReadTrail read_trail{*this};  // the read audit trail (read_trail.h)
  Status load_outbox();         // after open_db: the checkpoint and the backlog
  Status apply_tier_options(rocksdb::ColumnFamilyHandle* cf, Tier tier);
  rocksdb::ColumnFamilyOptions partition_cf_options() const;  // own table factory per partition
  // Adds an audit entry to `wb`. `id` is taken from allocate_audit_id() when 0.
  Status append_audit(rocksdb::WriteBatch& wb, std::string_view action, std::string fields_json,
                      uint64_t id = 0);
  uint64_t allocate_audit_id();
  Status seal(uint32_t day, MaintenanceReport& report);
  Status move_tier(uint32_t day, Tier to, MaintenanceReport& report);
  Status drop_partition(uint32_t day, MaintenanceReport& report);
  bool held(uint32_t day) const;  // REQUIRES: state_mu held
  void update_tier_metrics();
  void run_maintenance_loop();
  Result<MaintenanceReport> maintenance_pass();
  PartitionVerification verify_partition(uint32_t day, rocksdb::ColumnFamilyHandle* cf) const;
};

// Days since the end of `day` (YYYYMMDD) at `now`; negative while the day has not ended.
int64_t partition_age_days(uint32_t day, EpochMillis now);
EpochMillis partition_day_end(uint32_t day);

Status from_rocksdb(const rocksdb::Status& s, std::string_view what);

}  // namespace verity::store
