#include "verity/store/store.h"

#include <algorithm>

#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include "chain.h"
#include "label_bundle.h"
#include "record_codec.h"
#include "search_keys.h"
#include "store_impl.h"
#include "verity/store/partition.h"

namespace verity::store {

Status Store::Impl::open_db() {
  if (auto st = Database::open(); !st) return st;
  std::string seq;
  auto s = db->Get(rocksdb::ReadOptions(), meta, kNextSequenceKey, &seq);
  uint64_t next = commit.next_sequence;  // 1 in a new store; kept by a reopen
  if (s.ok()) {
    auto v = parse_sequence_key(seq);
    if (!v) return Status::internal("the store's next_sequence record is corrupt");
    next = *v;
  } else if (!s.IsNotFound()) {
    return from_rocksdb(s, "reading next_sequence");
  }
  commit.opened(next);
  if (auto st = outbox_reader.load(); !st) return st;
  if (auto st = quality.load(); !st) return st;
  if (auto st = dead_letters.load(); !st) return st;
  if (auto st = load_state(); !st) return st;
  if (auto st = retention.load(); !st) return st;
  if (auto st = read_trail.load(); !st) return st;
  if (auto st = build_time_index(); !st) return st;
  if (auto st = build_search_index(); !st) return st;
  return recover_summaries();
}

void Store::Impl::register_metrics(prometheus::Registry& registry) {
  commit.register_metrics(registry);
  dead_letters.register_metrics(registry);
  queue.register_metrics(registry);
  memory_bytes = &prometheus::BuildGauge()
                      .Name("verity_store_memory_bytes")
                      .Help(
                          "RocksDB's memory: memtables, block cache, and table readers (the "
                          "filters and indexes of the ids and labels column families)")
                      .Register(registry);
  compaction_pending_bytes =
      &prometheus::BuildGauge()
           .Name("verity_store_compaction_pending_bytes")
           .Help(
               "RocksDB's estimate of the bytes compaction must rewrite to bring every level "
               "within its target (the LSM's backlog; it stalls writes when it grows too far)")
           .Register(registry)
           .Add({});
  compactions_running = &prometheus::BuildGauge()
                             .Name("verity_store_compactions_running")
                             .Help("RocksDB compactions running now")
                             .Register(registry)
                             .Add({});
  erasures = &prometheus::BuildCounter()
                  .Name("verity_store_erased_records_total")
                  .Help("Predictions replaced by tombstones by data-subject erasures")
                  .Register(registry)
                  .Add({});
  retention.register_metrics(registry);
  lsm_activity->attach(registry);

  quality.register_metrics(registry);
}

Result<rocksdb::ColumnFamilyHandle*> Store::Impl::partition_cf(uint32_t day) {
  if (auto* h = find_partition(day)) return h;
  auto h = create_partition(day);
  if (!h) return h;
  partition_states.add(day);
  return h;
}

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<Store>> Store::open(const StoreOptions& options, const Clock& clock,
                                           prometheus::Registry& registry) {
  auto impl = std::make_unique<Impl>(options, clock);
  if (auto s = impl->open_db(); !s) return s;
  impl->register_metrics(registry);
  impl->commit.start();
  impl->retention.start();  // the tier manager
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

Status Store::Impl::reopen_db() {
  std::unique_lock db_lock(db_mu);
  close();
  partition_states.clear();
  quality.reopened();
  auto s = open_db();
  if (!s) close();
  return s;
}

Store::~Store() {
  stop();
  impl_->close();
}

void Store::stop(Duration drain_deadline) {
  std::call_once(impl_->stop_once, [&] {
    impl_->queue.stop(impl_->clock.now_ms() + drain_deadline.count());
    impl_->cancel_compactions = true;
    impl_->retention.stop();
    impl_->commit.join();
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
  if (impl_->quality.on()) impl_->quality.prepare(batch, p.prepared, p.contributions);
  // The captures are read by prepare alone (a duplicate's contribution is taken back out by
  // unstore, which reads the document: the two ways agree), so they are not held while queued.
  for (Event& e : batch.events) e.observed = {};
  if (impl_->options.indexer) impl_->index_prepare(batch, p.prepared);
  // What the prepared batch holds, not what was read: a label of 60 bytes carries its
  // prediction's document, and queued bytes are what inputs pause on (max_queue_bytes).
  for (const PreparedEvent& e : p.prepared) {
    p.bytes += e.record.capacity() + e.join.prediction_document.capacity() + e.join.model.size() +
               e.join.version.size() + sizeof(PreparedEvent);
  }
  for (const BatchBucket& b : p.contributions)
    p.bytes += sizeof(BatchBucket) + b.encoded.capacity();
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
  const size_t events = p.events();
  p.done = std::move(done);
  if (impl_->queue.push(p)) return;
  CommitResult r;
  r.status = Status::unavailable("the store is shutting down", false);
  r.outcomes.assign(p.batch.events.size(), EventOutcome::kFailed);
  r.failed = static_cast<uint32_t>(events);
  p.done(r);
}

bool Store::backlogged() const {
  return impl_->queue.bytes() > impl_->options.max_queue_bytes.bytes;
}

bool Store::writable() const { return impl_->commit.writable(); }

std::string Store::unavailable_reason() const { return impl_->commit.last_error(); }

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
  st.next_sequence = impl_->commit.next_sequence_seen.load();
  st.queued_events = impl_->queue.events();
  st.queued_bytes = impl_->queue.bytes();
  std::shared_lock db_lock(impl_->db_mu);  // not between a reopen's close and open
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
