// The database holder (database.h): opening RocksDB with the store's families and options,
// closing and reopening it, and the partitions' column families.

#include "database.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>

#include <rocksdb/cache.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/write_buffer_manager.h>
#include <spdlog/spdlog.h>

#include "rocksdb_crc32c.h"
#include "search_keys.h"
#include "store_impl.h"
#include "time_index.h"
#include "verity/store/partition.h"

namespace verity::store {

Status from_rocksdb(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return Status::ok();
  std::string msg = std::string(what) + ": " + s.ToString();
  if (s.IsNoSpace() || s.IsIOError() || s.IsBusy() || s.IsTryAgain() || s.IsTimedOut()) {
    return Status::unavailable(std::move(msg));
  }
  if (s.IsNotFound()) return Status::not_found(std::move(msg));
  return Status::internal(std::move(msg));
}

void PointLookups::clear() {
  cfs_.clear();
  keys_.clear();
}

void PointLookups::add(rocksdb::ColumnFamilyHandle* cf, std::string_view key) {
  cfs_.push_back(cf);
  keys_.emplace_back(key.data(), key.size());
}

void PointLookups::run(rocksdb::DB& db) {
  const size_t n = keys_.size();
  if (values_.size() < n) values_.resize(n);
  for (size_t k = 0; k < n; ++k) values_[k].Reset();
  statuses_.assign(n, rocksdb::Status());
  if (n == 0) return;
  db.MultiGet(rocksdb::ReadOptions(), n, cfs_.data(), keys_.data(), values_.data(),
              statuses_.data());
  // A value pinned in a table block or memtable would keep it past a reopen of the database
  // (releasing it then touches freed memory): the few values found are copied out at once.
  for (size_t k = 0; k < n; ++k) {
    if (!values_[k].IsPinned()) continue;
    std::string copy(values_[k].data(), values_[k].size());
    values_[k].Reset();
    values_[k].PinSelf(copy);
  }
}

void LsmActivity::attach(prometheus::Registry& registry) {
  std::lock_guard lock(mu_);
  auto counter = [&](const char* name, const char* help) {
    return &prometheus::BuildCounter().Name(name).Help(help).Register(registry);
  };
  flushes_ = counter("verity_store_flushes_total", "RocksDB memtable flushes, by column family");
  flush_bytes_ = counter("verity_store_flush_bytes_total",
                         "Bytes of the table files written by flushes, by column family");
  compactions_ = counter("verity_store_compactions_total",
                         "RocksDB compactions finished (trivial moves included), by column family");
  read_bytes_ = counter("verity_store_compaction_read_bytes_total",
                        "Bytes compactions read, by column family");
  written_bytes_ = counter("verity_store_compaction_written_bytes_total",
                           "Bytes compactions wrote, by column family");
  cpu_ = counter("verity_store_compaction_cpu_seconds_total",
                 "CPU time of compactions, by column family");
}

LsmActivity::Counters* LsmActivity::counters(const std::string& cf_name) {
  if (flushes_ == nullptr) return nullptr;
  const std::string family = parse_partition_name(cf_name) ? "partitions" : cf_name;
  auto it = by_family_.find(family);
  if (it == by_family_.end()) {
    const std::map<std::string, std::string> labels = {{"family", family}};
    it = by_family_
             .emplace(family, Counters{&flushes_->Add(labels), &flush_bytes_->Add(labels),
                                       &compactions_->Add(labels), &read_bytes_->Add(labels),
                                       &written_bytes_->Add(labels), &cpu_->Add(labels)})
             .first;
  }
  return &it->second;
}

void LsmActivity::OnFlushCompleted(rocksdb::DB*, const rocksdb::FlushJobInfo& info) {
  std::lock_guard lock(mu_);
  Counters* c = counters(info.cf_name);
  if (c == nullptr) return;
  const auto& t = info.table_properties;
  c->flushes->Increment();
  c->flush_bytes->Increment(static_cast<double>(t.data_size + t.index_size + t.filter_size));
}

void LsmActivity::OnCompactionCompleted(rocksdb::DB*, const rocksdb::CompactionJobInfo& info) {
  std::lock_guard lock(mu_);
  Counters* c = counters(info.cf_name);
  if (c == nullptr || !info.status.ok()) return;
  c->compactions->Increment();
  c->read_bytes->Increment(static_cast<double>(info.stats.total_input_bytes));
  c->written_bytes->Increment(static_cast<double>(info.stats.total_output_bytes));
  c->cpu->Increment(static_cast<double>(info.stats.cpu_micros) / 1e6);
}

namespace {

rocksdb::BlockBasedTableOptions table_options(const std::shared_ptr<rocksdb::Cache>& cache,
                                              bool bloom) {
  rocksdb::BlockBasedTableOptions t;
  t.block_cache = cache;
  t.block_size = 16 * 1024;
  t.cache_index_and_filter_blocks = true;
  t.pin_l0_filter_and_index_blocks_in_cache = true;
  t.format_version = 5;
  if (bloom) {
    // The ids and labels column families are probed for every event (idempotency, the label in
    // effect), and nearly every probe is for an id not stored yet: the answer comes from the
    // filters. Cached, they were evicted by memtables and data blocks and re-read (pread +
    // checksum) on every lookup, and the cost per event grew with what was stored (4x at 2M
    // events). Held by the table readers instead, they stay in memory: about 1.25 bytes per id
    // (10 bits), plus the index (verity_store_memory_bytes{kind="table_readers"}).
    t.cache_index_and_filter_blocks = false;
    t.pin_l0_filter_and_index_blocks_in_cache = false;
    t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10, false));
    t.whole_key_filtering = true;
    t.optimize_filters_for_memory = true;
  }
  return t;
}

// RocksDB's own log, routed to Verity's. Its default (a LOG file in the data directory) fails on a
// full disk, and Debian's build then aborts on the next log line (an assertion in
// WritableFileWriter, found on a real full tmpfs).
class SpdlogLogger : public rocksdb::Logger {
 public:
  explicit SpdlogLogger(rocksdb::InfoLogLevel level) : rocksdb::Logger(level) {}
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
  }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel()) return;
    char buf[1024];
    std::vsnprintf(buf, sizeof buf, format, ap);
    const auto l = level >= rocksdb::InfoLogLevel::ERROR_LEVEL  ? spdlog::level::err
                   : level >= rocksdb::InfoLogLevel::WARN_LEVEL ? spdlog::level::warn
                   : level >= rocksdb::InfoLogLevel::INFO_LEVEL ? spdlog::level::debug
                                                                : spdlog::level::trace;
    spdlog::log(l, "rocksdb: {}", buf);
  }
};

// Files whose writes fail with NoSpace, or whose syncs fail, while a fault is set.
class FaultFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  FaultFile(std::unique_ptr<rocksdb::FSWritableFile> f, std::shared_ptr<WriteFaults> faults)
      : FSWritableFileOwnerWrapper(std::move(f)), faults_(std::move(faults)) {}
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                           rocksdb::IODebugContext* d) override {
    if (faults_->no_space) return rocksdb::IOStatus::NoSpace("injected: no space left");
    return FSWritableFileOwnerWrapper::Append(data, o, d);
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                           const rocksdb::DataVerificationInfo& v,
                           rocksdb::IODebugContext* d) override {
    if (faults_->no_space) return rocksdb::IOStatus::NoSpace("injected: no space left");
    return FSWritableFileOwnerWrapper::Append(data, o, v, d);
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
    if (faults_->no_space) return rocksdb::IOStatus::NoSpace("injected: no space left");
    if (faults_->sync_fails) return rocksdb::IOStatus::IOError("injected: sync failed");
    return FSWritableFileOwnerWrapper::Sync(o, d);
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
    if (faults_->no_space) return rocksdb::IOStatus::NoSpace("injected: no space left");
    if (faults_->sync_fails) return rocksdb::IOStatus::IOError("injected: sync failed");
    return FSWritableFileOwnerWrapper::Fsync(o, d);
  }

 private:
  std::shared_ptr<WriteFaults> faults_;
};

class FaultFileSystem : public rocksdb::FileSystemWrapper {
 public:
  explicit FaultFileSystem(std::shared_ptr<WriteFaults> faults)
      : FileSystemWrapper(rocksdb::FileSystem::Default()), faults_(std::move(faults)) {}
  const char* Name() const override { return "VerityFaultFileSystem"; }
  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* out,
                                    rocksdb::IODebugContext* d) override {
    if (faults_->no_space) return rocksdb::IOStatus::NoSpace("injected: no space left");
    auto s = FileSystemWrapper::NewWritableFile(name, o, out, d);
    if (s.ok()) *out = std::make_unique<FaultFile>(std::move(*out), faults_);
    return s;
  }

 private:
  std::shared_ptr<WriteFaults> faults_;
};

}  // namespace

Database::Database(const StoreOptions& options)
    : data_dir_(options.data_dir),
      block_cache_bytes_(options.block_cache.bytes),
      write_buffer_bytes_(options.write_buffer.bytes),
      wal_compression_(options.wal_compression),
      hot_compression_(options.retention.hot_compression),
      faults_(options.faults) {}

Database::~Database() { close(); }

rocksdb::ColumnFamilyOptions Database::partition_cf_options() const {
  rocksdb::ColumnFamilyOptions o = partition_options_;
  // Each partition gets its own table factory, so a tier change (block size) affects only it.
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table_options(cache, false)));
  return o;
}

Status Database::open() {
#if defined(__x86_64__)
  // Also what links rocksdb_crc32c.cpp in ahead of RocksDB's own (see there).
  spdlog::debug("store: crc32c: {}", rocksdb::crc32c::IsFastCrc32Supported());
#endif
  cache = rocksdb::NewLRUCache(block_cache_bytes_);
  rocksdb::DBOptions db_opts;
  db_opts.create_if_missing = true;
  db_opts.create_missing_column_families = true;
  db_opts.max_background_jobs = 2;
  // The WAL is transient (deleted once memtables are flushed), so compressing it saves no space at
  // rest; it costs commit-thread CPU (measured: about 18% of ingest throughput, see docs/).
  db_opts.wal_compression =
      wal_compression_ == WalCompression::kZstd ? rocksdb::kZSTD : rocksdb::kNoCompression;
  db_opts.write_buffer_manager =
      std::make_shared<rocksdb::WriteBufferManager>(write_buffer_bytes_, cache);
  db_opts.enable_pipelined_write = false;
  db_opts.allow_concurrent_memtable_write = false;
  db_opts.info_log_level = rocksdb::WARN_LEVEL;
  db_opts.info_log = std::make_shared<SpdlogLogger>(rocksdb::WARN_LEVEL);
  if (faults_) {
    fault_env_ = rocksdb::NewCompositeEnv(std::make_shared<FaultFileSystem>(faults_));
    db_opts.env = fault_env_.get();
  }
  db_opts.listeners.push_back(lsm_activity);
  db_opts.keep_log_file_num = 4;
  db_opts.max_total_wal_size = 256ull << 20;

  rocksdb::ColumnFamilyOptions base;
  base.write_buffer_size = std::min<uint64_t>(write_buffer_bytes_ / 2, 32ull << 20);
  base.max_write_buffer_number = 3;
  base.compression = rocksdb::kLZ4Compression;
  // Hot data: LZ4 (or none) at every level; warm and cold partitions are recompressed with zstd
  // and dictionaries by the tier manager (retention.cpp).
  base.level_compaction_dynamic_level_bytes = true;

  partition_options_ = base;
  // A partition's memtable is an eighth of the budget. The write buffer manager flushes the
  // family with the oldest memtable whenever the budget is full, and with the partition's at half
  // the budget that was each time the partition's memtable rolled over: the index families
  // (`ids`, `by_time`, `chain`), whose memtables are the oldest, were flushed every ~80k events as
  // ~2.5 MB table files, and since their keys interleave (random ids, versions, the chain's head)
  // each L0 compaction rewrote the whole family.
  // Smaller partition memtables leave them the room instead (~12 flushes per 2M events, not 25):
  // 2M events over one stream, the compaction thread 3.4 -> 1.0 us/event. The partition's own
  // table files stay trivially moved (its keys are sequences) and just smaller.
  partition_options_.write_buffer_size =
      std::max<uint64_t>(std::min<uint64_t>(write_buffer_bytes_ / 8, 32ull << 20), 1ull << 20);
  partition_options_.compression = hot_compression_ == HotCompression::kNone
                                       ? rocksdb::kNoCompression
                                       : rocksdb::kLZ4Compression;

  rocksdb::ColumnFamilyOptions ids_options = base;
  ids_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table_options(cache, true)));
  // Idempotency looks up every incoming request id, and nearly all are new: a memtable Bloom filter
  // answers "absent" without searching the skip list. Its size is a share of the write buffer
  // (32 MiB): 2% is ~16 bits per entry of a full memtable (~100 bytes each), well under 1% false
  // positives. At 10% it was ~80 bits per entry, and 11 MB of the label phase's heap (the
  // filters of `ids` and `labels`, mutable and flushing).
  ids_options.memtable_whole_key_filtering = true;
  ids_options.memtable_prefix_bloom_size_ratio = 0.02;

  rocksdb::ColumnFamilyOptions meta_options = base;
  meta_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table_options(cache, false)));

  std::vector<std::string> names;
  rocksdb::Options probe(db_opts, base);
  auto listed = rocksdb::DB::ListColumnFamilies(probe, data_dir_, &names);
  if (!listed.ok()) names = {rocksdb::kDefaultColumnFamilyName};  // a new store
  rocksdb::ColumnFamilyOptions metrics_options = meta_options;
  metrics_options.merge_operator = aggregate_merge_operator();
  metrics_options.max_successive_merges = 16;
  // Labels joining old predictions merge into minute, hour and day buckets in every commit group,
  // and every 16th operand of a key makes the memtable hold the key's whole merged value again (a
  // day bucket is thousands of entries): at 32 MiB this family's memtables were 66 of the label
  // phase's 150 MB of live heap (3M predictions + 2M labels). At 16 MiB: peak RSS 218/221 ->
  // 192/202 MiB, for 2.5-5 us more of its compactions per label (fewer of the `labels` family's).
  metrics_options.write_buffer_size = std::min<uint64_t>(base.write_buffer_size, 16ull << 20);

  rocksdb::ColumnFamilyOptions blocks_options = meta_options;
  blocks_options.merge_operator = block_summary_merge_operator();
  blocks_options.max_successive_merges = 16;

  for (const char* required :
       {kIdsCf, kLabelsCf, kDeadLetterCf, kChainCf, kAuditCf, kOutboxCf, kMetricsCf, kPendingCf,
        kTimeIndexCf, kReadsCf, kFieldIndexCf, kBlocksCf}) {
    if (std::find(names.begin(), names.end(), required) == names.end())
      names.emplace_back(required);
  }

  // The time and field indexes: new entries go to the ends of their slot's groups (time_index.h),
  // so each table file flushed there overlaps the lower level's files holding that slot, and a
  // compaction rewrites those files whole. Small files bound that rewrite to about the slot's
  // entries; at the default 64 MB, one file held the family's last ~4M entries and every L0
  // compaction rewrote it (its input grew 9 -> 76 MB over 6M events).
  rocksdb::ColumnFamilyOptions index_options = meta_options;
  index_options.target_file_size_base = 8ull << 20;

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& name : names) {
    if (name == kIdsCf || name == kLabelsCf) {
      descriptors.emplace_back(name, ids_options);
    } else if (parse_partition_name(name)) {
      descriptors.emplace_back(name, partition_cf_options());
    } else if (name == kMetricsCf) {
      descriptors.emplace_back(name, metrics_options);
    } else if (name == kBlocksCf) {
      descriptors.emplace_back(name, blocks_options);
    } else if (name == kTimeIndexCf || name == kFieldIndexCf) {
      descriptors.emplace_back(name, index_options);
    } else {
      descriptors.emplace_back(name, meta_options);
    }
  }
  rocksdb::DB* raw = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> opened;
  auto s = rocksdb::DB::Open(db_opts, data_dir_, descriptors, &opened, &raw);
  if (!s.ok()) {
    return Status::unavailable("cannot open the store at " + data_dir_ + ": " + s.ToString(),
                               false);
  }
  db.reset(raw);
  std::unique_lock lock(partitions_mu);
  handles_ = std::move(opened);
  for (auto* h : handles_) {
    const std::string& name = h->GetName();
    if (name == rocksdb::kDefaultColumnFamilyName)
      meta = h;
    else if (name == kIdsCf)
      ids = h;
    else if (name == kLabelsCf)
      labels = h;
    else if (name == kDeadLetterCf)
      deadletter = h;
    else if (name == kChainCf)
      chain = h;
    else if (name == kAuditCf)
      audit = h;
    else if (name == kOutboxCf)
      outbox = h;
    else if (name == kMetricsCf)
      metrics = h;
    else if (name == kPendingCf)
      pending = h;
    else if (name == kTimeIndexCf)
      by_time = h;
    else if (name == kReadsCf)
      reads = h;
    else if (name == kFieldIndexCf)
      field_index = h;
    else if (name == kBlocksCf)
      blocks = h;
    else if (auto day = parse_partition_name(name))
      partitions[*day] = h;
  }
  return Status::ok();
}

void Database::close() {
  if (!db) return;
  std::unique_lock lock(partitions_mu);
  partitions.clear();
  for (auto* h : handles_) {
    // Ignored on purpose: closing a handle only fails for an already-dropped family.
    (void)db->DestroyColumnFamilyHandle(h);
  }
  handles_.clear();
  meta = ids = labels = deadletter = chain = audit = outbox = metrics = pending = nullptr;
  by_time = reads = field_index = blocks = nullptr;
  auto s = db->Close();
  if (!s.ok()) spdlog::warn("store: close: {}", s.ToString());
  db.reset();
}

bool Database::disk_writable() const {
  const auto fs = (fault_env_ ? fault_env_.get() : rocksdb::Env::Default())->GetFileSystem();
  const std::string path = data_dir_ + "/.write_probe";
  std::unique_ptr<rocksdb::FSWritableFile> f;
  const rocksdb::IOOptions io;
  bool ok = fs->NewWritableFile(path, rocksdb::FileOptions(), &f, nullptr).ok();
  if (ok) {
    ok = f->Append(std::string(4096, '\0'), io, nullptr).ok() && f->Sync(io, nullptr).ok();
    ok = f->Close(io, nullptr).ok() && ok;
  }
  (void)fs->DeleteFile(path, io, nullptr);  // absent when it could not be created
  return ok;
}

rocksdb::ColumnFamilyHandle* Database::find_partition(uint32_t day) const {
  std::shared_lock lock(partitions_mu);
  auto it = partitions.find(day);
  return it == partitions.end() ? nullptr : it->second;
}

Result<rocksdb::ColumnFamilyHandle*> Database::create_partition(uint32_t day) {
  rocksdb::ColumnFamilyHandle* h = nullptr;
  const std::string name = partition_name(day);
  auto s = db->CreateColumnFamily(partition_cf_options(), name, &h);
  if (!s.ok()) return from_rocksdb(s, "creating partition " + name);
  std::unique_lock lock(partitions_mu);
  partitions[day] = h;
  handles_.push_back(h);
  return h;
}

Status Database::drop_partition(uint32_t day) {
  rocksdb::ColumnFamilyHandle* cf = nullptr;
  {
    std::unique_lock lock(partitions_mu);
    auto it = partitions.find(day);
    if (it == partitions.end()) return Status::ok();
    cf = it->second;
    partitions.erase(it);
  }
  auto d = db->DropColumnFamily(cf);
  if (!d.ok()) return from_rocksdb(d, "dropping " + partition_name(day));
  {
    std::unique_lock lock(partitions_mu);
    handles_.erase(std::remove(handles_.begin(), handles_.end(), cf), handles_.end());
  }
  (void)db->DestroyColumnFamilyHandle(cf);
  return Status::ok();
}

}  // namespace verity::store
