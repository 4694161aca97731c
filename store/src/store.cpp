#include "verity/store/store.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>

#include <prometheus/registry.h>
#include <rocksdb/cache.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/write_buffer_manager.h>
#include <spdlog/spdlog.h>

#include "chain.h"
#include "label_bundle.h"
#include "record_codec.h"
#include "search_keys.h"
#include "store_impl.h"
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

rocksdb::ColumnFamilyOptions Store::Impl::partition_cf_options() const {
  rocksdb::ColumnFamilyOptions o = partition_options;
  // Each partition gets its own table factory, so a tier change (block size) affects only it.
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table_options(cache, false)));
  return o;
}

Status Store::Impl::open_db() {
  cache = rocksdb::NewLRUCache(options.block_cache.bytes);
  rocksdb::DBOptions db_opts;
  db_opts.create_if_missing = true;
  db_opts.create_missing_column_families = true;
  db_opts.max_background_jobs = 2;
  // The WAL is transient (deleted once memtables are flushed), so compressing it saves no space at
  // rest; it costs commit-thread CPU (measured: about 18% of ingest throughput, see docs/).
  db_opts.wal_compression =
      options.wal_compression == WalCompression::kZstd ? rocksdb::kZSTD : rocksdb::kNoCompression;
  db_opts.write_buffer_manager =
      std::make_shared<rocksdb::WriteBufferManager>(options.write_buffer.bytes, cache);
  db_opts.enable_pipelined_write = false;
  db_opts.allow_concurrent_memtable_write = false;
  db_opts.info_log_level = rocksdb::WARN_LEVEL;
  db_opts.info_log = std::make_shared<SpdlogLogger>(rocksdb::WARN_LEVEL);
  if (options.faults) {
    fault_env = rocksdb::NewCompositeEnv(std::make_shared<FaultFileSystem>(options.faults));
    db_opts.env = fault_env.get();
  }
  db_opts.keep_log_file_num = 4;
  db_opts.max_total_wal_size = 256ull << 20;

  rocksdb::ColumnFamilyOptions base;
  base.write_buffer_size = std::min<uint64_t>(options.write_buffer.bytes / 2, 32ull << 20);
  base.max_write_buffer_number = 3;
  base.compression = rocksdb::kLZ4Compression;
  // Hot data: LZ4 (or none) at every level; warm and cold partitions are recompressed with zstd
  // and dictionaries by the tier manager (maintenance.cpp).
  base.level_compaction_dynamic_level_bytes = true;

  partition_options = base;
  partition_options.compression = options.retention.hot_compression == HotCompression::kNone
                                      ? rocksdb::kNoCompression
                                      : rocksdb::kLZ4Compression;

  rocksdb::ColumnFamilyOptions ids_options = base;
  ids_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table_options(cache, true)));
  // Idempotency looks up every incoming request id, and nearly all are new: a memtable Bloom filter
  // answers "absent" without searching the skip list.
  ids_options.memtable_whole_key_filtering = true;
  ids_options.memtable_prefix_bloom_size_ratio = 0.1;

  rocksdb::ColumnFamilyOptions meta_options = base;
  meta_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table_options(cache, false)));

  std::vector<std::string> names;
  rocksdb::Options probe(db_opts, base);
  auto listed = rocksdb::DB::ListColumnFamilies(probe, options.data_dir, &names);
  if (!listed.ok()) names = {rocksdb::kDefaultColumnFamilyName};  // a new store
  rocksdb::ColumnFamilyOptions metrics_options = meta_options;
  metrics_options.merge_operator = aggregate_merge_operator();
  metrics_options.max_successive_merges = 16;

  rocksdb::ColumnFamilyOptions blocks_options = meta_options;
  blocks_options.merge_operator = block_summary_merge_operator();
  blocks_options.max_successive_merges = 16;

  for (const char* required :
       {kIdsCf, kLabelsCf, kDeadLetterCf, kChainCf, kAuditCf, kOutboxCf, kMetricsCf, kPendingCf,
        kTimeIndexCf, kReadsCf, kFieldIndexCf, kBlocksCf}) {
    if (std::find(names.begin(), names.end(), required) == names.end())
      names.emplace_back(required);
  }

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
    } else {
      descriptors.emplace_back(name, meta_options);
    }
  }
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(db_opts, options.data_dir, descriptors, &handles, &raw);
  if (!s.ok()) {
    return Status::unavailable("cannot open the store at " + options.data_dir + ": " + s.ToString(),
                               false);
  }
  db.reset(raw);
  for (auto* h : handles) {
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

  std::string seq;
  s = db->Get(rocksdb::ReadOptions(), meta, kNextSequenceKey, &seq);
  if (s.ok()) {
    auto v = parse_sequence_key(seq);
    if (!v) return Status::internal("the store's next_sequence record is corrupt");
    next_sequence = *v;
  } else if (!s.IsNotFound()) {
    return from_rocksdb(s, "reading next_sequence");
  }
  next_sequence_seen = next_sequence;
  durable_sequence = next_sequence;
  if (auto st = load_outbox(); !st) return st;
  if (auto st = load_quality(); !st) return st;
  if (auto st = dead_letters.load(); !st) return st;
  if (auto st = load_state(); !st) return st;
  if (auto st = read_trail.load(); !st) return st;
  if (auto st = build_time_index(); !st) return st;
  if (auto st = build_search_index(); !st) return st;
  return recover_summaries();
}

void Store::Impl::register_metrics(prometheus::Registry& registry) {
  commit_latency = &prometheus::BuildHistogram()
                        .Name("verity_store_commit_latency_seconds")
                        .Help("Time to write and sync one commit group")
                        .Register(registry)
                        .Add({}, prometheus::Histogram::BucketBoundaries{
                                     0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02,
                                     0.03, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5});
  dead_letters.register_metrics(registry);
  group_events = &prometheus::BuildHistogram()
                      .Name("verity_store_commit_group_events")
                      .Help("Events and rejects written per commit group")
                      .Register(registry)
                      .Add({}, prometheus::Histogram::BucketBoundaries{1, 10, 100, 500, 1000, 2000,
                                                                       5000, 10000, 20000});
  auto& depth = prometheus::BuildGauge()
                    .Name("verity_store_queue_depth")
                    .Help("Events and bytes waiting for the commit thread")
                    .Register(registry);
  queue_depth_events = &depth.Add({{"unit", "events"}});
  queue_depth_bytes = &depth.Add({{"unit", "bytes"}});
  commit_failures = &prometheus::BuildCounter()
                         .Name("verity_store_commit_failures_total")
                         .Help("Commit group writes that failed and were retried")
                         .Register(registry)
                         .Add({});
  tier_partitions = &prometheus::BuildGauge()
                         .Name("verity_store_partitions")
                         .Help("Partitions (one per UTC day of prediction time) by tier")
                         .Register(registry);
  tier_disk_bytes = &prometheus::BuildGauge()
                         .Name("verity_store_disk_bytes")
                         .Help("Bytes of table files of the partitions of a tier")
                         .Register(registry);
  tier_raw_bytes = &prometheus::BuildGauge()
                        .Name("verity_store_raw_bytes")
                        .Help(
                            "Bytes of the documents stored in the partitions of a tier, "
                            "uncompressed")
                        .Register(registry);
  memory_bytes = &prometheus::BuildGauge()
                      .Name("verity_store_memory_bytes")
                      .Help(
                          "RocksDB's memory: memtables, block cache, and table readers (the "
                          "filters and indexes of the ids and labels column families)")
                      .Register(registry);
  maintenance_actions = &prometheus::BuildCounter()
                             .Name("verity_store_maintenance_actions_total")
                             .Help(
                                 "Partitions sealed, moved to a tier, dropped, or kept by a "
                                 "legal hold, by the tier manager")
                             .Register(registry);
  erasures = &prometheus::BuildCounter()
                  .Name("verity_store_erased_records_total")
                  .Help("Predictions replaced by tombstones by data-subject erasures")
                  .Register(registry)
                  .Add({});
  writable_gauge = &prometheus::BuildGauge()
                        .Name("verity_store_writable")
                        .Help("1 when the last commit succeeded, 0 while writes are failing")
                        .Register(registry)
                        .Add({});
  writable_gauge->Set(1);
  update_tier_metrics();

  // Label-join counters: persisted, so they start from the committed totals.
  const LabelCounts counts = label_counts;
  auto counter = [&](const char* name, const char* help, uint64_t start) {
    auto* c = &prometheus::BuildCounter().Name(name).Help(help).Register(registry).Add({});
    c->Increment(static_cast<double>(start));
    return c;
  };
  labels_joined =
      counter("verity_labels_joined_total",
              "Labels joined to their prediction (the first label of a request id)", counts.joined);
  labels_corrected = counter("verity_labels_corrected_total",
                             "Joined labels replaced by a different label for the same request id",
                             counts.corrections);
  labels_orphaned = counter("verity_labels_orphaned_total",
                            "Labels whose prediction had not arrived labels.max_wait after them",
                            counts.orphaned);
  labels_late_joined =
      counter("verity_labels_late_joined_total",
              "Orphaned labels whose prediction arrived after all", counts.late_joins);
  labels_pending = &prometheus::BuildGauge()
                        .Name("verity_labels_pending")
                        .Help("Labels waiting for their prediction")
                        .Register(registry)
                        .Add({});
  labels_pending->Set(static_cast<double>(counts.pending));
  label_lag = &prometheus::BuildHistogram()
                   .Name("verity_label_lag_seconds")
                   .Help("Time from a prediction to its first label, observed when they join")
                   .Register(registry)
                   .Add({}, prometheus::Histogram::BucketBoundaries{
                                60, 300, 900, 3600, 6 * 3600, 86400, 3 * 86400, 7 * 86400,
                                14 * 86400, 30 * 86400, 90 * 86400});
}

rocksdb::ColumnFamilyHandle* Store::Impl::find_partition(uint32_t day) const {
  std::shared_lock lock(partitions_mu);
  auto it = partitions.find(day);
  return it == partitions.end() ? nullptr : it->second;
}

Result<rocksdb::ColumnFamilyHandle*> Store::Impl::partition_cf(uint32_t day) {
  if (auto* h = find_partition(day)) return h;
  rocksdb::ColumnFamilyHandle* h = nullptr;
  const std::string name = partition_name(day);
  auto s = db->CreateColumnFamily(partition_cf_options(), name, &h);
  if (!s.ok()) return from_rocksdb(s, "creating partition " + name);
  {
    std::unique_lock lock(partitions_mu);
    partitions[day] = h;
    handles.push_back(h);
  }
  {
    std::lock_guard lock(state_mu);
    state.try_emplace(day).first->second.chain = empty_chain(day);
  }
  return h;
}

void Store::Impl::set_writable(bool ok, const std::string& error) {
  const bool was = writable.exchange(ok);
  writable_gauge->Set(ok ? 1 : 0);
  std::lock_guard lock(error_mu);
  last_error = ok ? "" : error;
  if (was && !ok) spdlog::error("store: commit failed, retrying: {}", error);
  if (!was && ok) spdlog::info("store: commits succeed again");
}

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<Store>> Store::open(const StoreOptions& options, const Clock& clock,
                                           prometheus::Registry& registry) {
  auto impl = std::make_unique<Impl>(options, clock);
  if (auto s = impl->open_db(); !s) return s;
  impl->register_metrics(registry);
  Impl* raw = impl.get();
  impl->syncer = std::make_unique<WalSyncer>([raw] {
    { std::lock_guard lock(raw->mu); }  // the commit thread waits on cv under mu
    raw->cv.notify_all();
  });
  impl->commit_thread = std::thread([raw] { raw->run_commit_loop(); });
  if (options.retention.check_interval.count() > 0) {
    impl->maintenance_thread = std::thread([raw] { raw->run_maintenance_loop(); });
  }
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

void Store::Impl::close_db() {
  if (!db) return;
  for (auto* h : handles) {
    // Ignored on purpose: closing a handle only fails for an already-dropped family.
    (void)db->DestroyColumnFamilyHandle(h);
  }
  handles.clear();
  meta = ids = labels = deadletter = chain = audit = outbox = metrics = pending = nullptr;
  auto s = db->Close();
  if (!s.ok()) spdlog::warn("store: close: {}", s.ToString());
  db.reset();
}

bool Store::Impl::disk_writable() const {
  const auto fs = (fault_env ? fault_env.get() : rocksdb::Env::Default())->GetFileSystem();
  const std::string path = options.data_dir + "/.write_probe";
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

Status Store::Impl::reopen_db() {
  std::unique_lock db_lock(db_mu);
  std::unique_lock partitions_lock(partitions_mu);
  close_db();
  partitions.clear();
  {
    std::lock_guard lock(state_mu);
    state.clear();
  }
  {
    std::lock_guard lock(quality_mu);
    ++reopens;
  }
  auto s = open_db();
  if (!s) close_db();
  return s;
}

Store::~Store() {
  stop();
  impl_->close_db();
}

void Store::stop(Duration drain_deadline) {
  std::call_once(impl_->stop_once, [&] {
    {
      std::lock_guard lock(impl_->mu);
      impl_->stopping = true;
      impl_->drain_deadline_ms = impl_->clock.now_ms() + drain_deadline.count();
    }
    impl_->cv.notify_all();
    impl_->cancel_compactions = true;
    impl_->maintenance_cv.notify_all();
    if (impl_->maintenance_thread.joinable()) impl_->maintenance_thread.join();
    if (impl_->commit_thread.joinable()) impl_->commit_thread.join();
    impl_->syncer.reset();  // idle now: the commit thread settles every sync before it ends
  });
}

PreparedBatch::PreparedBatch() = default;
PreparedBatch::PreparedBatch(IngestBatch batch) : plain_(std::move(batch)) {}
PreparedBatch::~PreparedBatch() = default;
PreparedBatch::PreparedBatch(PreparedBatch&&) noexcept = default;
PreparedBatch& PreparedBatch::operator=(PreparedBatch&&) noexcept = default;
size_t PreparedBatch::bytes() const { return pending_ ? pending_->bytes : plain_.bytes(); }
const IngestBatch& PreparedBatch::batch() const { return pending_ ? pending_->batch : plain_; }

Store::Prepared Store::prepare(IngestBatch batch) const {
  Prepared out;
  out.pending_ = std::make_unique<Pending>();
  Pending& p = *out.pending_;
  p.bytes = batch.bytes();
  // Digests and record encoding run here, on the submitting thread, so that submitters work in
  // parallel and the commit thread only checks idempotency and writes.
  p.prepared.resize(batch.events.size());
  const EpochMillis now = impl_->clock.now_ms();
  StoredRecord rec;
  for (size_t i = 0; i < batch.events.size(); ++i) {
    Event& e = batch.events[i];
    PreparedEvent& prep = p.prepared[i];
    // Idempotency compares documents without their insignificant whitespace: the same document
    // re-sent by another JSON serializer is a duplicate, not a conflict (the first bytes stay).
    prep.digest = sha256_json_canonical(e.document);
    rec.sequence = 0;  // the commit thread patches it; the chain entry digest is taken without it
    rec.kind = e.kind;
    rec.request_id = e.request_id;
    rec.timestamp_ms = e.timestamp_ms;
    rec.ingest_time_ms = now;
    rec.model_name = e.model_name;
    rec.model_version = e.model_version;
    rec.input = batch.input;
    rec.masking_version = e.masking_version;
    rec.source = e.source;
    rec.digest = prep.digest;
    rec.document = std::move(e.document);
    encode_record(rec, prep.record);
    if (e.kind == EventKind::kPrediction) prep.entry_digest = sha256(prep.record);
    e.document = std::move(rec.document);  // kept for dead-lettering a conflict
  }
  if (impl_->options.contributor) impl_->quality_prepare(batch, p.prepared, p.contributions);
  if (impl_->options.indexer) impl_->index_prepare(batch, p.prepared);
  // What the prepared batch holds, not what was read: a label of 60 bytes carries its
  // contribution (a few KB), and queued bytes are what inputs pause on (max_queue_bytes).
  for (const PreparedEvent& e : p.prepared) {
    p.bytes += e.record.capacity() + e.join.delta.memory_bytes() + e.join.model.size() +
               e.join.version.size() + sizeof(PreparedEvent);
  }
  for (const BatchBucket& b : p.contributions)
    p.bytes += sizeof(BatchBucket) + b.sum.memory_bytes();
  for (const PreparedEvent& e : p.prepared) {
    for (const IndexTerm& t : e.terms)
      p.bytes += sizeof(IndexTerm) + t.field.size() + t.token.size();
  }

  p.batch = std::move(batch);
  return out;
}

void Store::submit(Prepared prepared, CommitCallback done) {
  if (!prepared.pending_) prepared = prepare(std::move(prepared.plain_));
  Pending& p = *prepared.pending_;
  const size_t bytes = p.bytes;
  const size_t events = p.batch.events.size() + p.batch.rejects.size();
  {
    std::lock_guard lock(impl_->mu);
    if (!impl_->stopping) {
      p.done = std::move(done);
      impl_->queue.push_back(std::move(p));
      impl_->queued_bytes += bytes;
      impl_->queued_events += events;
      impl_->queue_depth_events->Set(static_cast<double>(impl_->queued_events.load()));
      impl_->queue_depth_bytes->Set(static_cast<double>(impl_->queued_bytes.load()));
      impl_->cv.notify_one();
      return;
    }
  }
  CommitResult r;
  r.status = Status::unavailable("the store is shutting down", false);
  r.outcomes.assign(p.batch.events.size(), EventOutcome::kFailed);
  r.failed = static_cast<uint32_t>(events);
  done(r);
}

bool Store::backlogged() const {
  return impl_->queued_bytes.load() > impl_->options.max_queue_bytes.bytes;
}

bool Store::writable() const { return impl_->writable.load(); }

std::string Store::unavailable_reason() const {
  std::lock_guard lock(impl_->error_mu);
  return impl_->last_error;
}

Result<std::optional<StoredRecord>> Store::Impl::read_prediction(
    std::string_view request_id) const {
  std::string value;
  auto s = db->Get(rocksdb::ReadOptions(), ids, request_id, &value);
  if (s.IsNotFound()) return std::optional<StoredRecord>();
  if (!s.ok()) return from_rocksdb(s, "reading the request-id index");
  auto entry = decode_id_entry(value);
  if (!entry) return Status::internal("corrupt request-id index entry");
  auto* cf = find_partition(entry->day);
  const std::string partition = partition_name(entry->day);
  if (cf == nullptr) return Status::internal("the index names a missing partition " + partition);
  s = db->Get(rocksdb::ReadOptions(), cf, sequence_key(entry->sequence), &value);
  if (s.IsNotFound()) {
    return Status::internal("partition " + partition + " lacks sequence " +
                            std::to_string(entry->sequence) + " that the index names");
  }
  if (!s.ok()) return from_rocksdb(s, "reading partition " + partition);
  auto rec = decode_record(value);
  if (!rec)
    return Status::internal("corrupt record at sequence " + std::to_string(entry->sequence));
  rec->partition = partition;
  return std::optional<StoredRecord>(std::move(*rec));
}

Result<std::optional<StoredRecord>> Store::Impl::read_label(std::string_view request_id) const {
  std::string value;
  auto s = db->Get(rocksdb::ReadOptions(), labels, request_id, &value);
  if (s.IsNotFound()) return std::optional<StoredRecord>();
  if (!s.ok()) return from_rocksdb(s, "reading labels");
  auto bundle = LabelBundle::decode(value);
  auto rec = bundle ? decode_record(bundle->current) : std::nullopt;
  if (!rec) return Status::internal("corrupt label record");
  rec->partition = kLabelsCf;
  return std::optional<StoredRecord>(std::move(*rec));
}

Result<std::vector<StoredRecord>> Store::get_label_history(std::string_view request_id) const {
  std::shared_lock db_lock(impl_->db_mu);
  if (!impl_->db) return Status::unavailable("the store is reopening after a write failure");
  std::string value;
  auto s = impl_->db->Get(rocksdb::ReadOptions(), impl_->labels, request_id, &value);
  std::vector<StoredRecord> out;
  if (s.IsNotFound()) return out;
  if (!s.ok()) return from_rocksdb(s, "reading labels");
  auto bundle = LabelBundle::decode(value);
  if (!bundle) return Status::internal("corrupt label record");
  for (const auto& h : bundle->history) {
    if (h.record.empty()) continue;
    auto rec = decode_record(h.record);
    if (!rec) return Status::internal("corrupt label record");
    rec->partition = kLabelsCf;
    out.push_back(std::move(*rec));
  }
  return out;
}

Result<std::optional<std::string>> Store::get_chain_link(std::string_view partition,
                                                         uint64_t sequence) const {
  const auto day = parse_partition_name(partition);
  if (!day) return std::optional<std::string>();
  std::shared_lock db_lock(impl_->db_mu);
  if (!impl_->db) return Status::unavailable("the store is reopening after a write failure");
  std::string value;
  auto s = impl_->db->Get(rocksdb::ReadOptions(), impl_->chain, link_key(*day, sequence), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return from_rocksdb(s, "reading the hash chain");
  return std::optional<std::string>(
      to_hex(reinterpret_cast<const uint8_t*>(value.data()), value.size()));
}

Result<std::optional<StoredRecord>> Store::get_prediction(std::string_view request_id) const {
  std::shared_lock db_lock(impl_->db_mu);
  if (!impl_->db) return Status::unavailable("the store is reopening after a write failure");
  return impl_->read_prediction(request_id);
}

Result<std::optional<StoredRecord>> Store::get_label(std::string_view request_id) const {
  std::shared_lock db_lock(impl_->db_mu);
  if (!impl_->db) return Status::unavailable("the store is reopening after a write failure");
  return impl_->read_label(request_id);
}

Result<std::vector<std::string>> Store::dead_letters(uint64_t from, size_t limit) const {
  std::shared_lock db_lock(impl_->db_mu);
  if (!impl_->db) return Status::unavailable("the store is reopening after a write failure");
  std::vector<std::string> out;
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->deadletter));
  for (it->Seek(sequence_key(from)); it->Valid() && out.size() < limit; it->Next()) {
    out.emplace_back(it->value().ToString());
  }
  if (!it->status().ok()) return from_rocksdb(it->status(), "reading the dead-letter store");
  return out;
}

StoreStats Store::stats() const {
  StoreStats st;
  st.next_sequence = impl_->next_sequence_seen.load();
  st.queued_events = impl_->queued_events.load();
  st.queued_bytes = impl_->queued_bytes.load();
  std::shared_lock lock(impl_->partitions_mu);
  for (const auto& [day, h] : impl_->partitions) st.partitions.push_back(partition_name(day));
  return st;
}

size_t IngestBatch::bytes() const {
  size_t n = 0;
  for (const auto& e : events) n += e.document.size() + e.request_id.size() + 64;
  for (const auto& r : rejects) n += r.document.size() + r.reason.size() + 64;
  return n;
}

}  // namespace verity::store
