// The dead-letter store: entries written by commit groups (rejects, conflicts, what the shippers
// could not deliver), kept within a size cap and a retention so that a flood of bad input can
// never fill the disk the predictions need.

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
  return Status::ok();
}

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
    rocksdb::WriteBatch wb;
    const uint64_t total = dead_letter_bytes.load() - std::min(freed, dead_letter_bytes.load());
    std::string v;
    put_be(v, total, 8);
    (void)wb.DeleteRange(deadletter, first, end);
    (void)wb.Put(meta, kDeadLetterBytesKey, v);
    if (auto s = admin_write(wb, false, "trimming dead letters"); !s) return s;
    dead_letter_bytes = total;
    dead_letter_bytes_gauge->Set(static_cast<double>(total));
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
