#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "verity/store/store.h"

namespace verity::store {

inline constexpr const char* kIdsCf = "ids";
inline constexpr const char* kLabelsCf = "labels";
inline constexpr const char* kDeadLetterCf = "deadletter";
inline constexpr const char* kNextSequenceKey = "next_sequence";

// An event made ready for the commit thread by the submitting thread: digest computed and record
// encoded, with the sequence left to patch.
struct PreparedEvent {
  Sha256Digest digest{};
  std::string record;
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
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;  // every open handle, destroyed before db
  rocksdb::ColumnFamilyHandle* meta = nullptr;        // "default"
  rocksdb::ColumnFamilyHandle* ids = nullptr;
  rocksdb::ColumnFamilyHandle* labels = nullptr;
  rocksdb::ColumnFamilyHandle* deadletter = nullptr;
  rocksdb::ColumnFamilyOptions partition_options;

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
  prometheus::Gauge* partition_count = nullptr;
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
  rocksdb::ColumnFamilyHandle* find_partition(uint32_t day) const;

  void run_commit_loop();
  Status write_group(std::vector<Pending>& group, std::vector<CommitResult>& results);
  void set_writable(bool ok, const std::string& error);
};

Status from_rocksdb(const rocksdb::Status& s, std::string_view what);

}  // namespace verity::store
