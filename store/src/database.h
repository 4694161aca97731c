#pragma once

// The database holder (database.cpp): the RocksDB instance with its options, every column family
// handle the store uses, and the partitions' handles, opened, closed and reopened as one. It owns
// db_mu (readers hold it shared while they use `db`; the commit thread holds it alone to reopen)
// and partitions_mu. What the store keeps beside the database (sequences, chains, model quality,
// dead letters) is loaded by Store::Impl::open_db after open() succeeded.
//
// Store::Impl is a Database: the store's concerns (commit_loop.cpp, retention.cpp, scan.cpp, ...)
// read `db`, the family handles and the partitions map as members; only this class opens and
// closes the database and creates or drops a partition's family.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/listener.h>
#include <rocksdb/options.h>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include "verity/core/status.h"
#include "verity/store/store.h"

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
// metrics: model-quality aggregates (quality_writer.cpp), summed by a merge operator:
//   'B' varint-len model | varint-len version | 'm'|'h'|'d' | u64 BE bucket start (ms) -> Aggregate
//   'V' varint-len model | varint-len version -> u64 BE first, u64 BE last prediction time
//   'C' -> Aggregate of LabelCounts
inline constexpr const char* kMetricsCf = "metrics";
// pending: labels waiting for their prediction:
//   'R' request id -> u64 BE arrival time;  'T' u64 BE arrival time | request id -> ""
inline constexpr const char* kPendingCf = "pending";

// A RocksDB status as Verity's: disk and I/O trouble is unavailable (retried), the rest internal.
Status from_rocksdb(const rocksdb::Status& s, std::string_view what);

// Point lookups of many keys at once through RocksDB's batched MultiGet: the keys are sorted, and
// each table file's Bloom filter is probed for all of them together, with prefetching (the
// per-key form probed each file for each key in turn: 6.5% of all ingest CPU, on the commit
// thread, mostly cache misses in the `ids` filters; 3.1% batched). Reused from group to group.
class PointLookups {
 public:
  void clear();
  // Key k (numbered from 0 in the order added); the key's bytes must outlive run() and reads.
  void add(rocksdb::ColumnFamilyHandle* cf, std::string_view key);
  void run(rocksdb::DB& db);
  size_t size() const { return keys_.size(); }
  const rocksdb::Status& status(size_t k) const { return statuses_[k]; }
  std::string_view value(size_t k) const { return values_[k].ToStringView(); }

 private:
  std::vector<rocksdb::ColumnFamilyHandle*> cfs_;
  std::vector<rocksdb::Slice> keys_;
  std::vector<rocksdb::PinnableSlice> values_;
  std::vector<rocksdb::Status> statuses_;
};

// What RocksDB's background jobs did, per column family: flushes and compactions with their
// bytes and CPU, as Prometheus counters (verity_store_flushes_total, ..._compaction_cpu_seconds_
// total). The partitions' families count as one, "partitions" (one per day would be unbounded).
// Installed on every open; events before attach() (a reopen's recovery) are not counted.
class LsmActivity : public rocksdb::EventListener {
 public:
  void attach(prometheus::Registry& registry);
  void OnFlushCompleted(rocksdb::DB* db, const rocksdb::FlushJobInfo& info) override;
  void OnCompactionCompleted(rocksdb::DB* db, const rocksdb::CompactionJobInfo& info) override;

 private:
  struct Counters {
    prometheus::Counter *flushes, *flush_bytes, *compactions, *read_bytes, *written_bytes, *cpu;
  };
  Counters* counters(const std::string& cf_name);  // REQUIRES: mu_ held

  std::mutex mu_;
  prometheus::Family<prometheus::Counter>* flushes_ = nullptr;  // the families: set by attach()
  prometheus::Family<prometheus::Counter>* flush_bytes_ = nullptr;
  prometheus::Family<prometheus::Counter>* compactions_ = nullptr;
  prometheus::Family<prometheus::Counter>* read_bytes_ = nullptr;
  prometheus::Family<prometheus::Counter>* written_bytes_ = nullptr;
  prometheus::Family<prometheus::Counter>* cpu_ = nullptr;
  std::map<std::string, Counters, std::less<>> by_family_;
};

class Database {
 public:
  explicit Database(const StoreOptions& options);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Opens (or creates) the database in data_dir with every family the store uses and every
  // partition found. REQUIRES: closed; the caller holds db_mu alone, or no other thread runs.
  Status open();
  // Closes it (handles first); `db` is null after. Same requirement.
  void close();
  // Whether a small file can be written and synced in the data directory (space came back).
  bool disk_writable() const;

  // Partition handles by day.
  rocksdb::ColumnFamilyHandle* find_partition(uint32_t day) const;
  // Creates the column family of a new partition (the commit thread, under write_mu).
  Result<rocksdb::ColumnFamilyHandle*> create_partition(uint32_t day);
  // Drops a partition's column family (retention, holding write_mu and db_mu alone: no reader
  // holds its handle).
  Status drop_partition(uint32_t day);
  // A copy of every open handle (the commit thread extends them when it creates a partition).
  std::vector<rocksdb::ColumnFamilyHandle*> all_handles() const {
    std::shared_lock lock(partitions_mu);
    return handles_;
  }

  // Readers hold db_mu shared while they use db; the commit thread holds it alone to reopen. db is
  // null between a failed reopen and the next attempt.
  mutable std::shared_mutex db_mu;
  // Commit thread: a write failed on the open instance, which must not be written again until
  // it is reopened. Maintenance reads it (as !writable) to stay away too.
  std::atomic<bool> db_failed{false};
  std::unique_ptr<rocksdb::DB> db;
  rocksdb::ColumnFamilyHandle* meta = nullptr;  // "default"
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
  std::shared_ptr<rocksdb::Cache> cache;               // data blocks and memtables
  const std::shared_ptr<LsmActivity> lsm_activity = std::make_shared<LsmActivity>();

  // Partition handles by day. Written under partitions_mu by open() and close() (db_mu held
  // alone), create_partition (the commit thread) and drop_partition (retention, db_mu alone).
  // Read under partitions_mu, or with db_mu held: its writers other than the commit thread hold
  // db_mu alone, so the commit thread (open_db's loaders) and holders of db_mu may read it
  // without partitions_mu.
  mutable std::shared_mutex partitions_mu;
  std::map<uint32_t, rocksdb::ColumnFamilyHandle*> partitions;  // guarded by partitions_mu

 private:
  rocksdb::ColumnFamilyOptions partition_cf_options() const;  // own table factory per partition

  // What the database is opened with (StoreOptions' part of it).
  const std::string data_dir_;
  const uint64_t block_cache_bytes_, write_buffer_bytes_;
  const WalCompression wal_compression_;
  const HotCompression hot_compression_;
  const std::shared_ptr<WriteFaults> faults_;

  std::unique_ptr<rocksdb::Env> fault_env_;            // wraps the file system when faults_ is set
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // every open handle, destroyed before db
  rocksdb::ColumnFamilyOptions partition_options_;
};

}  // namespace verity::store
