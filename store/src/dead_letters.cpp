// The dead-letter store: entries written by commit groups (rejects, conflicts, what the shippers
// could not deliver), kept within a size cap and a retention so that a flood of bad input can
// never fill the disk the predictions need.

#include <algorithm>

#include <rocksdb/iterator.h>
#include <spdlog/spdlog.h>

#include "dead_letters.h"
#include "record_codec.h"
#include "store_impl.h"
#include "verity/document/json_writer.h"

namespace verity::store {
namespace {

constexpr const char* kDeadLetterBytesKey = "dead_letter_bytes";

// The ingest time an entry records, or nullopt when it cannot be read.
std::optional<EpochMillis> ingest_time_of(std::string_view entry) {
  static constexpr std::string_view kMember = "\"ingest_time\":\"";
  const size_t at = entry.find(kMember);
  if (at == std::string_view::npos) return std::nullopt;
  const size_t from = at + kMember.size();
  const size_t to = entry.find('"', from);
  if (to == std::string_view::npos) return std::nullopt;
  auto t = parse_rfc3339(entry.substr(from, to - from));
  if (!t) return std::nullopt;
  return *t;
}

// Entries in [from, to) (keys), as a count; the caller holds db_mu.
Result<int64_t> count_dead_letters(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf,
                                   const std::string& from, const std::string& to) {
  rocksdb::Slice upper(to);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper;
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(ro, cf));
  int64_t n = 0;
  for (it->Seek(from); it->Valid(); it->Next()) ++n;
  if (!it->status().ok()) return from_rocksdb(it->status(), "counting dead letters");
  return n;
}

}  // namespace

void DeadLetters::begin() { group_bytes_ = group_events_ = 0; }

Status DeadLetters::put(rocksdb::WriteBatch& wb, uint64_t seq, std::string_view input,
                        EpochMillis now, const DeadLetter& d) {
  std::string out;
  out.reserve(d.document.size() + d.reason.size() + 200);
  {
    document::JsonWriter w(out);
    w.begin_object();
    w.member("sequence", seq).member("input", input).member("ingest_time", format_rfc3339(now));
    w.member("type", d.type).member("reason", d.reason).member("line", d.line);
    if (!d.request_id.empty()) w.member("request_id", d.request_id);
    w.member("raw_length", d.raw_length);
    if (!d.raw_sha256_hex.empty()) w.member("raw_sha256", d.raw_sha256_hex);
    // The document goes last: readers find it at ',"document":' (erasure strips it there).
    if (!d.document.empty()) w.member_raw("document", d.document);
    w.end_object();
  }
  const std::string key = sequence_key(seq);
  group_bytes_ += key.size() + out.size();
  ++group_events_;
  auto st = wb.Put(store_.deadletter, key, out);
  return st.ok() ? Status::ok() : from_rocksdb(st, "building the commit group");
}

Status DeadLetters::put_conflict(const Event& e, const Sha256Digest& digest, std::string_view input,
                                 uint64_t seq, EpochMillis now, rocksdb::WriteBatch& wb) {
  DeadLetter d;
  d.type = "duplicate_conflict";
  d.reason = "line " + std::to_string(e.line) +
             ": a different document is already stored under this request id";
  d.line = e.line;
  d.request_id = e.request_id;
  d.document = e.document;
  d.raw_length = e.document.size();
  const std::string hex = to_hex(digest);
  d.raw_sha256_hex = hex;
  return put(wb, seq, input, now, d);
}

Status DeadLetters::put_rejects(const IngestBatch& batch, uint64_t& seq, EpochMillis now,
                                rocksdb::WriteBatch& wb, CommitResult& r) {
  // Rejects go to the dead-letter store, unless it is far over its cap (a flood): then they are
  // only counted, so that rejects never crowd out the predictions that are acknowledged.
  const bool full = over_cap();
  for (const Reject& rj : batch.rejects) {
    if (full) {
      dropped("cap", 1);
      continue;
    }
    DeadLetter d;
    d.type = rj.type;
    d.reason = rj.reason;
    d.line = rj.line;
    d.document = rj.document;
    d.raw_length = rj.raw_length;
    d.raw_sha256_hex = rj.raw_sha256_hex;
    if (auto st = put(wb, seq++, batch.input, now, d); !st) return st;
    ++r.rejects_written;
  }
  if (!batch.omitted_rejects.empty()) {
    // One entry for the rejects the batch did not keep (dead_letters.max_per_batch).
    dropped("per_batch", batch.omitted());
    if (!full) {
      std::string counts;
      for (const auto& [type, n] : batch.omitted_rejects) {
        counts += (counts.empty() ? "" : ", ") + type + " " + std::to_string(n);
      }
      DeadLetter d;
      d.type = "rejects_omitted";
      d.reason = std::to_string(batch.omitted()) + " more rejects of this batch were counted, " +
                 "not kept (dead_letters.max_per_batch): " + counts;
      if (auto st = put(wb, seq++, batch.input, now, d); !st) return st;
    }
  }
  return Status::ok();
}

bool DeadLetters::over_cap() const {
  const uint64_t cap = store_.options.dead_letter_max_bytes.bytes;
  return cap > 0 && bytes_.load() + group_bytes_ > cap + cap / 2;
}

void DeadLetters::dropped(const char* reason, uint64_t n) {
  if (n > 0) dropped_->Add({{"reason", reason}}).Increment(static_cast<double>(n));
}

void DeadLetters::register_metrics(prometheus::Registry& registry) {
  bytes_gauge_ = &prometheus::BuildGauge()
                      .Name("verity_dead_letters_bytes")
                      .Help("Bytes in the dead-letter store (dead_letters.max_bytes)")
                      .Register(registry)
                      .Add({});
  bytes_gauge_->Set(static_cast<double>(bytes_.load()));
  dropped_ =
      &prometheus::BuildCounter()
           .Name("verity_dead_letters_dropped_total")
           .Help(
               "Dead letters not kept: per_batch (beyond dead_letters.max_per_batch, counted in "
               "one entry), cap (far over max_bytes: not written), size (oldest removed over "
               "max_bytes), retention (older than dead_letters.retention)")
           .Register(registry);
}

Status DeadLetters::before_write(rocksdb::WriteBatch& wb) {
  if (group_bytes_ == 0) return Status::ok();
  std::string v;
  put_be(v, bytes_.load() + group_bytes_, 8);
  auto st = wb.Put(store_.meta, kDeadLetterBytesKey, v);
  return st.ok() ? Status::ok() : from_rocksdb(st, "building the commit group");
}

void DeadLetters::after_write() {
  backlog_ += static_cast<int64_t>(group_events_);
  group_events_ = 0;
  if (group_bytes_ == 0) return;
  const uint64_t total = bytes_ += group_bytes_;
  group_bytes_ = 0;
  bytes_gauge_->Set(static_cast<double>(total));
  const uint64_t cap = store_.options.dead_letter_max_bytes.bytes;
  if (cap > 0 && total > cap && !trim_due_.exchange(true)) {
    store_.retention.wake();  // the tier manager trims at once, not at its next pass
  }
}

Status DeadLetters::load() {
  rocksdb::DB* db = store_.db.get();
  auto* meta = store_.meta;
  auto* deadletter = store_.deadletter;
  std::string v;
  auto s = db->Get(rocksdb::ReadOptions(), meta, kDeadLetterBytesKey, &v);
  uint64_t total = 0;
  if (s.ok() && v.size() == 8) {
    total = get_be(v, 8);
  } else if (s.ok() || s.IsNotFound()) {
    // A store written before the count was kept: counted once.
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), deadletter));
    for (it->SeekToFirst(); it->Valid(); it->Next()) total += it->key().size() + it->value().size();
    if (!it->status().ok()) return from_rocksdb(it->status(), "counting dead letters");
  } else {
    return from_rocksdb(s, "reading the dead-letter count");
  }
  bytes_ = total;
  if (bytes_gauge_ != nullptr) bytes_gauge_->Set(static_cast<double>(total));

  // The forwarding checkpoint, and (when a shipper forwards them) the entries past it.
  uint64_t checkpoint = 1;
  s = db->Get(rocksdb::ReadOptions(), meta, kDeadLetterCheckpointKey, &v);
  if (s.ok()) {
    auto c = parse_sequence_key(v);
    if (!c) return Status::internal("the store's dead-letter checkpoint is corrupt");
    checkpoint = *c;
  } else if (!s.IsNotFound()) {
    return from_rocksdb(s, "reading the dead-letter checkpoint");
  }
  int64_t backlog = 0;
  if (store_.options.forward_dead_letters) {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), deadletter));
    for (it->Seek(sequence_key(checkpoint)); it->Valid(); it->Next()) ++backlog;
    if (!it->status().ok()) return from_rocksdb(it->status(), "counting dead letters to forward");
  }
  checkpoint_ = checkpoint;
  backlog_ = backlog;
  return Status::ok();
}

Result<DeadLetterRead> Store::read_dead_letters(uint64_t from, size_t max_entries,
                                                size_t max_bytes) const {
  return impl_->dead_letters.read(from, max_entries, max_bytes);
}

Status Store::ack_dead_letters(uint64_t next) { return impl_->dead_letters.ack(next); }

uint64_t Store::dead_letter_checkpoint() const { return impl_->dead_letters.checkpoint(); }

uint64_t Store::dead_letter_backlog() const { return impl_->dead_letters.backlog(); }

uint64_t Store::take_dead_letters_trimmed() { return impl_->dead_letters.take_trimmed(); }

Result<DeadLetterRead> DeadLetters::read(uint64_t from, size_t max_entries,
                                         size_t max_bytes) const {
  std::shared_lock db_lock(store_.db_mu);
  if (!store_.db) return Status::unavailable("the store is reopening after a write failure");
  DeadLetterRead out;
  out.next = from;
  size_t bytes = 0;
  std::unique_ptr<rocksdb::Iterator> it(
      store_.db->NewIterator(rocksdb::ReadOptions(), store_.deadletter));
  const uint64_t durable =
      store_.commit.durable_sequence.load();  // only what is durable (outbox.cpp)
  for (it->Seek(sequence_key(from));
       it->Valid() && out.entries.size() < max_entries && (bytes < max_bytes || bytes == 0);
       it->Next()) {
    auto seq = parse_sequence_key(it->key().ToStringView());
    if (!seq) return Status::internal("corrupt dead-letter key");
    if (*seq >= durable) break;
    DeadLetterEntry e;
    e.sequence = *seq;
    e.json = it->value().ToString();
    e.ingest_time_ms = ingest_time_of(e.json).value_or(0);
    bytes += e.json.size();
    out.next = *seq + 1;
    out.entries.push_back(std::move(e));
  }
  if (!it->status().ok()) return from_rocksdb(it->status(), "reading the dead-letter store");
  return out;
}

Status DeadLetters::ack(uint64_t next) {
  std::shared_lock db_lock(store_.db_mu);
  if (!store_.db) return Status::unavailable("the store is reopening after a write failure");
  std::lock_guard fwd(fwd_mu_);
  const uint64_t from = checkpoint_.load();
  if (next <= from) return Status::ok();
  auto acked =
      count_dead_letters(*store_.db, store_.deadletter, sequence_key(from), sequence_key(next));
  if (!acked) return acked.status();
  rocksdb::WriteBatch wb;
  (void)wb.Put(store_.meta, kDeadLetterCheckpointKey, sequence_key(next));
  // Not synced: a checkpoint lost with a power cut re-sends entries Elasticsearch answers 409.
  if (auto s = store_.admin_write(wb, false, "moving the dead-letter checkpoint"); !s) return s;
  checkpoint_ = next;
  backlog_ -= *acked;
  return Status::ok();
}

uint64_t DeadLetters::backlog() const {
  return static_cast<uint64_t>(std::max<int64_t>(0, backlog_.load()));
}

Status DeadLetters::trim() {
  trim_due_ = false;
  const StoreOptions& options = store_.options;
  const uint64_t cap = options.dead_letter_max_bytes.bytes;
  const EpochMillis cutoff = options.dead_letter_retention.count() > 0
                                 ? store_.clock.now_ms() - options.dead_letter_retention.count()
                                 : std::numeric_limits<EpochMillis>::min();
  // Down to 80% of the cap when over it (so that trims are not one entry at a time), and every
  // entry past the retention.
  const uint64_t have = bytes_.load();
  const uint64_t free_for_size = cap > 0 && have > cap ? have - cap * 4 / 5 : 0;
  std::string first, last;
  uint64_t freed = 0, by_size = 0, by_age = 0;
  {
    std::shared_lock db_lock(store_.db_mu);
    if (!store_.db || store_.db_failed.load()) return Status::ok();
    rocksdb::ReadOptions ro;
    ro.fill_cache = false;
    std::unique_ptr<rocksdb::Iterator> it(store_.db->NewIterator(ro, store_.deadletter));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const std::string_view value = it->value().ToStringView();
      const bool old = ingest_time_of(value).value_or(cutoff) < cutoff;
      if (!old && freed >= free_for_size) break;
      if (first.empty()) first = it->key().ToString();
      last = it->key().ToString();
      freed += it->key().size() + value.size();
      ++(old ? by_age : by_size);
      if (by_age + by_size >= 1'000'000) break;  // one pass at a time; the next goes on
    }
    if (!it->status().ok()) return from_rocksdb(it->status(), "reading dead letters");
  }
  if (first.empty()) return Status::ok();
  std::string end = last;
  end.push_back('\0');  // just past the last key trimmed
  {
    std::lock_guard write_lock(store_.write_mu);  // the count is written by commit groups too
    std::shared_lock db_lock(store_.db_mu);
    if (!store_.db) return Status::unavailable("the store is reopening after a write failure");
    // Entries a shipper has not acknowledged are lost to it: the checkpoint moves past them, and
    // they are counted (under the lock its acks take, so that none is counted twice).
    std::lock_guard fwd(fwd_mu_);
    const uint64_t checkpoint = checkpoint_.load();
    const std::string from = std::max(first, sequence_key(checkpoint));
    int64_t unforwarded = 0;
    if (from < end) {
      auto n = count_dead_letters(*store_.db, store_.deadletter, from, end);
      if (!n) return n.status();
      unforwarded = *n;
    }
    const uint64_t past = parse_sequence_key(last).value_or(0) + 1;
    rocksdb::WriteBatch wb;
    const uint64_t total = bytes_.load() - std::min(freed, bytes_.load());
    std::string v;
    put_be(v, total, 8);
    (void)wb.DeleteRange(store_.deadletter, first, end);
    (void)wb.Put(store_.meta, kDeadLetterBytesKey, v);
    if (past > checkpoint) {
      (void)wb.Put(store_.meta, kDeadLetterCheckpointKey, sequence_key(past));
    }
    if (auto s = store_.admin_write(wb, false, "trimming dead letters"); !s) return s;
    bytes_ = total;
    bytes_gauge_->Set(static_cast<double>(total));
    if (past > checkpoint) checkpoint_ = past;
    backlog_ -= unforwarded;
    trimmed_ += static_cast<uint64_t>(unforwarded);
  }
  dropped("retention", by_age);
  dropped("size", by_size);
  spdlog::info(
      "store: {} dead letters past dead_letters.retention and {} over dead_letters.max_bytes "
      "removed ({} bytes)",
      by_age, by_size, freed);
  // The deleted range leaves the disk at its compaction.
  std::shared_lock db_lock(store_.db_mu);
  if (!store_.db) return Status::ok();
  rocksdb::CompactRangeOptions co;
  co.canceled = &store_.cancel_compactions;
  rocksdb::Slice lo(first), hi(end);
  auto s = store_.db->CompactRange(co, store_.deadletter, &lo, &hi);
  if (s.IsManualCompactionPaused()) return Status::ok();
  return from_rocksdb(s, "compacting trimmed dead letters");
}

}  // namespace verity::store
