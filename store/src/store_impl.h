#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "chain.h"
#include "verity/store/store.h"

namespace verity::store {

inline constexpr const char* kIdsCf = "ids";
inline constexpr const char* kLabelsCf = "labels";
inline constexpr const char* kDeadLetterCf = "deadletter";
inline constexpr const char* kChainCf = "chain";
inline constexpr const char* kAuditCf = "audit";
// outbox: sequence -> 'P' day (u32 BE) record size (u32 BE): a prediction to forward,
//                     'L' request id: a new or corrected label to forward, or
//                     'X' request id: an erasure to propagate.
inline constexpr const char* kOutboxCf = "outbox";
inline constexpr const char* kOutboxCheckpointKey = "outbox_checkpoint";
// Metadata keys in "default": tier of a partition, models seen in a partition, holds.
inline constexpr const char* kTierPrefix = "tier/";    // tier/p_YYYYMMDD -> hot|warm|cold
inline constexpr const char* kModelPrefix = "model/";  // model/p_YYYYMMDD/<model> -> ""
inline constexpr const char* kHoldPrefix = "hold/";    // hold/partition:<p> | hold/model:<m>
inline constexpr const char* kNextSequenceKey = "next_sequence";

// An event made ready for the commit thread by the submitting thread: digest computed and record
// encoded, with the sequence left to patch.
struct PreparedEvent {
  Sha256Digest digest{};
  Sha256Digest entry_digest{};  // what the record contributes to its partition's hash chain
  std::string record;
};

// What the store knows about a partition beyond its column family.
struct PartitionState {
  ChainHead chain;
  uint32_t seals = 0;
  uint64_t sealed_count = 0;  // records covered by the last seal
  Tier tier = Tier::kHot;
  std::set<std::string> models;
};

struct Pending {
  IngestBatch batch;
  std::vector<PreparedEvent> prepared;  // prepared[i] belongs to batch.events[i]
  CommitCallback done;
  size_t bytes = 0;
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

  // Commit-thread scratch for chains: heads as they will be once the group is written, and models
  // new to a partition.
  std::unordered_map<uint32_t, ChainHead> group_heads;
  std::vector<std::pair<uint32_t, std::string>> group_models;
  uint64_t group_outbox_events = 0, group_outbox_bytes = 0;

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
  prometheus::Family<prometheus::Counter>* maintenance_actions = nullptr;
  prometheus::Counter* erasures = nullptr;
  prometheus::Gauge* writable_gauge = nullptr;

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

  void run_commit_loop();
  Status write_group(std::vector<Pending>& group, std::vector<CommitResult>& results);
  void set_writable(bool ok, const std::string& error);

  // Maintenance (maintenance.cpp).
  // Writes a batch outside the commit thread (seals, tiers, holds, erasures, drops). Refused while
  // the instance is broken by a failed write; a failure here breaks it (see db_failed).
  Status admin_write(rocksdb::WriteBatch& wb, bool sync, std::string_view what);
  Status load_state();
  Status load_outbox();  // after open_db: the checkpoint and the backlog  // after open_db: chains,
                         // seals, tiers, models, holds, audit id
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
