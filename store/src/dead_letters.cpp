// The dead-letter store: entries written by commit groups (rejects, conflicts, what the shippers
// could not deliver), kept within a size cap and a retention so that a flood of bad input can
// never fill the disk the predictions need.

#include <algorithm>

#include <rocksdb/iterator.h>
#include <spdlog/spdlog.h>

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

Status Store::Impl::put_dead_letter(rocksdb::WriteBatch& wb, uint64_t seq, std::string_view input,
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
  group_dead_letter_bytes += key.size() + out.size();
  ++group_dead_letter_events;
  auto st = wb.Put(deadletter, key, out);
  return st.ok() ? Status::ok() : from_rocksdb(st, "building the commit group");
}

bool Store::Impl::dead_letters_over_cap() const {
  const uint64_t cap = options.dead_letter_max_bytes.bytes;
  return cap > 0 && dead_letter_bytes.load() + group_dead_letter_bytes > cap + cap / 2;
}

void Store::Impl::dead_letters_dropped(const char* reason, uint64_t n) {
  if (n > 0) dead_letter_dropped->Add({{"reason", reason}}).Increment(static_cast<double>(n));
}

Status Store::Impl::dead_letters_before_write(rocksdb::WriteBatch& wb) {
  if (group_dead_letter_bytes == 0) return Status::ok();
  std::string v;
  put_be(v, dead_letter_bytes.load() + group_dead_letter_bytes, 8);
  auto st = wb.Put(meta, kDeadLetterBytesKey, v);
  return st.ok() ? Status::ok() : from_rocksdb(st, "building the commit group");
}

void Store::Impl::dead_letters_after_write() {
  dead_letter_backlog += static_cast<int64_t>(group_dead_letter_events);
  group_dead_letter_events = 0;
  if (group_dead_letter_bytes == 0) return;
  const uint64_t total = dead_letter_bytes += group_dead_letter_bytes;
  group_dead_letter_bytes = 0;
  dead_letter_bytes_gauge->Set(static_cast<double>(total));
  const uint64_t cap = options.dead_letter_max_bytes.bytes;
  if (cap > 0 && total > cap && !dead_letter_trim.exchange(true)) {
    std::lock_guard lock(mu);
    maintenance_cv.notify_all();  // the tier manager trims at once, not at its next pass
  }
}

Status Store::Impl::load_dead_letters() {
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
  dead_letter_bytes = total;
  if (dead_letter_bytes_gauge != nullptr) dead_letter_bytes_gauge->Set(static_cast<double>(total));

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
  if (options.forward_dead_letters) {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), deadletter));
    for (it->Seek(sequence_key(checkpoint)); it->Valid(); it->Next()) ++backlog;
    if (!it->status().ok()) return from_rocksdb(it->status(), "counting dead letters to forward");
  }
  dead_letter_checkpoint = checkpoint;
  dead_letter_backlog = backlog;
  return Status::ok();
}

Result<DeadLetterRead> Store::read_dead_letters(uint64_t from, size_t max_entries,
                                                size_t max_bytes) const {
  std::shared_lock db_lock(impl_->db_mu);
  if (!impl_->db) return Status::unavailable("the store is reopening after a write failure");
  DeadLetterRead out;
  out.next = from;
  size_t bytes = 0;
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->deadletter));
  const uint64_t durable = impl_->durable_sequence.load();  // only what is durable (outbox.cpp)
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

Status Store::ack_dead_letters(uint64_t next) {
  std::shared_lock db_lock(impl_->db_mu);
  if (!impl_->db) return Status::unavailable("the store is reopening after a write failure");
  std::lock_guard fwd(impl_->dead_letter_fwd_mu);
  const uint64_t from = impl_->dead_letter_checkpoint.load();
  if (next <= from) return Status::ok();
  auto acked =
      count_dead_letters(*impl_->db, impl_->deadletter, sequence_key(from), sequence_key(next));
  if (!acked) return acked.status();
  rocksdb::WriteBatch wb;
  (void)wb.Put(impl_->meta, kDeadLetterCheckpointKey, sequence_key(next));
  // Not synced: a checkpoint lost with a power cut re-sends entries Elasticsearch answers 409.
  if (auto s = impl_->admin_write(wb, false, "moving the dead-letter checkpoint"); !s) return s;
  impl_->dead_letter_checkpoint = next;
  impl_->dead_letter_backlog -= *acked;
  return Status::ok();
}

uint64_t Store::dead_letter_checkpoint() const { return impl_->dead_letter_checkpoint.load(); }

uint64_t Store::dead_letter_backlog() const {
  return static_cast<uint64_t>(std::max<int64_t>(0, impl_->dead_letter_backlog.load()));
}

uint64_t Store::take_dead_letters_trimmed() { return impl_->dead_letters_trimmed.exchange(0); }

Status Store::Impl::trim_dead_letters() {
  dead_letter_trim = false;
  const uint64_t cap = options.dead_letter_max_bytes.bytes;
  const EpochMillis cutoff = options.dead_letter_retention.count() > 0
                                 ? clock.now_ms() - options.dead_letter_retention.count()
                                 : std::numeric_limits<EpochMillis>::min();
  // Down to 80% of the cap when over it (so that trims are not one entry at a time), and every
  // entry past the retention.
  const uint64_t have = dead_letter_bytes.load();
  const uint64_t free_for_size = cap > 0 && have > cap ? have - cap * 4 / 5 : 0;
  std::string first, last;
  uint64_t freed = 0, by_size = 0, by_age = 0;
  {
    std::shared_lock db_lock(db_mu);
    if (!db || db_failed.load()) return Status::ok();
    rocksdb::ReadOptions ro;
    ro.fill_cache = false;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, deadletter));
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
    std::lock_guard write_lock(write_mu);  // the count is written by commit groups too
    std::shared_lock db_lock(db_mu);
    if (!db) return Status::unavailable("the store is reopening after a write failure");
    // Entries a shipper has not acknowledged are lost to it: the checkpoint moves past them, and
    // they are counted (under the lock its acks take, so that none is counted twice).
    std::lock_guard fwd(dead_letter_fwd_mu);
    const uint64_t checkpoint = dead_letter_checkpoint.load();
    const std::string from = std::max(first, sequence_key(checkpoint));
    int64_t unforwarded = 0;
    if (from < end) {
      auto n = count_dead_letters(*db, deadletter, from, end);
      if (!n) return n.status();
      unforwarded = *n;
    }
    const uint64_t past = parse_sequence_key(last).value_or(0) + 1;
    rocksdb::WriteBatch wb;
    const uint64_t total = dead_letter_bytes.load() - std::min(freed, dead_letter_bytes.load());
    std::string v;
    put_be(v, total, 8);
    (void)wb.DeleteRange(deadletter, first, end);
    (void)wb.Put(meta, kDeadLetterBytesKey, v);
    if (past > checkpoint) (void)wb.Put(meta, kDeadLetterCheckpointKey, sequence_key(past));
    if (auto s = admin_write(wb, false, "trimming dead letters"); !s) return s;
    dead_letter_bytes = total;
    dead_letter_bytes_gauge->Set(static_cast<double>(total));
    if (past > checkpoint) dead_letter_checkpoint = past;
    dead_letter_backlog -= unforwarded;
    dead_letters_trimmed += static_cast<uint64_t>(unforwarded);
  }
  dead_letters_dropped("retention", by_age);
  dead_letters_dropped("size", by_size);
  spdlog::info(
      "store: {} dead letters past dead_letters.retention and {} over dead_letters.max_bytes "
      "removed ({} bytes)",
      by_age, by_size, freed);
  // The deleted range leaves the disk at its compaction.
  std::shared_lock db_lock(db_mu);
  if (!db) return Status::ok();
  rocksdb::CompactRangeOptions co;
  co.canceled = &cancel_compactions;
  rocksdb::Slice lo(first), hi(end);
  auto s = db->CompactRange(co, deadletter, &lo, &hi);
  if (s.IsManualCompactionPaused()) return Status::ok();
  return from_rocksdb(s, "compacting trimmed dead letters");
}

}  // namespace verity::store
