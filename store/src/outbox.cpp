// The outbox: stored predictions in append order for a shipper, from a durable checkpoint.

#include "outbox.h"

#include "record_codec.h"
#include "store_impl.h"
#include "verity/store/partition.h"

namespace verity::store {
namespace {

// The bytes an outbox entry stands for (the record's size for a prediction).
uint64_t entry_bytes(std::string_view v) {
  if (v.size() == 9 && v[0] == 'P') return get_be(v.substr(5), 4);
  return v.size();
}

}  // namespace

Status Outbox::load() {
  rocksdb::DB* db = store_.db.get();
  std::string v;
  auto s = db->Get(rocksdb::ReadOptions(), store_.meta, kOutboxCheckpointKey, &v);
  uint64_t checkpoint = 1;
  if (s.ok()) {
    auto c = parse_sequence_key(v);
    if (!c) return Status::internal("the store's outbox checkpoint is corrupt");
    checkpoint = *c;
  } else if (!s.IsNotFound()) {
    return from_rocksdb(s, "reading the outbox checkpoint");
  }
  uint64_t events = 0, bytes = 0;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), store_.outbox));
  for (it->Seek(sequence_key(checkpoint)); it->Valid(); it->Next()) {
    ++events;
    bytes += entry_bytes(it->value().ToStringView());
  }
  if (!it->status().ok()) return from_rocksdb(it->status(), "reading the outbox");
  checkpoint_ = checkpoint;
  deleted_before_ = 0;  // also on a reopen: the next stretch starts from the first sequence
  events_ = events;
  bytes_ = bytes;
  return Status::ok();
}

Result<OutboxRead> Outbox::read(uint64_t from, size_t max_events, size_t max_bytes,
                                uint64_t durable) const {
  std::shared_lock db_lock(store_.db_mu);
  if (!store_.db) return Status::unavailable("the store is reopening after a write failure");
  OutboxRead out;
  out.next = from;
  size_t bytes = 0;
  // A record that cannot be read for good (corrupt bytes) becomes an unreadable entry for the
  // shipper to dead-letter; a read that may work later (I/O error) fails the whole read.
  auto unreadable = [&](uint64_t seq, const Status& why) -> Status {
    if (why.retryable()) return why;
    OutboxEntry e;
    e.sequence = seq;
    e.kind = OutboxEntry::Kind::kUnreadable;
    e.problem = why.message();
    out.entries.push_back(std::move(e));
    return Status::ok();
  };
  std::unique_ptr<rocksdb::Iterator> records;  // of partition `records_day`
  uint32_t records_day = 0;
  std::unique_ptr<rocksdb::Iterator> it(
      store_.db->NewIterator(rocksdb::ReadOptions(), store_.outbox));
  for (it->Seek(sequence_key(from));
       it->Valid() && out.entries.size() < max_events && (bytes < max_bytes || bytes == 0);
       it->Next()) {
    auto seq = parse_sequence_key(it->key().ToStringView());
    if (!seq) return Status::internal("corrupt outbox key");
    if (*seq >= durable) break;
    const std::string_view v = it->value().ToStringView();
    out.next = *seq + 1;
    if (v.empty()) {
      if (auto s = unreadable(*seq, Status::internal("an empty outbox entry")); !s) return s;
      continue;
    }
    if (v[0] == 'X') {
      OutboxEntry e;
      e.sequence = *seq;
      e.kind = OutboxEntry::Kind::kErasure;
      e.record.request_id = std::string(v.substr(1));
      bytes += v.size();
      out.entries.push_back(std::move(e));
      continue;
    }
    OutboxEntry e;
    e.sequence = *seq;
    if (v[0] == 'L') {
      e.kind = OutboxEntry::Kind::kLabel;
      const std::string_view id = v.substr(1);
      auto label = store_.read_label(id);
      if (!label) {
        if (auto s = unreadable(*seq, label.status()); !s) return s;
        continue;
      }
      auto prediction = store_.read_prediction(id);
      if (!prediction) {
        if (auto s = unreadable(*seq, prediction.status()); !s) return s;
        continue;
      }
      // No label (erased), or no prediction yet: its own entry will carry the label.
      if (!*label || !*prediction || (*prediction)->erased) continue;
      e.record = std::move(**prediction);
      e.label = std::move(**label);
    } else {
      if (v.size() != 9 || v[0] != 'P') {
        if (auto s = unreadable(*seq, Status::internal("an outbox entry of unknown form")); !s) {
          return s;
        }
        continue;
      }
      const auto day = static_cast<uint32_t>(get_be(v.substr(1), 4));
      auto* cf = store_.find_partition(day);
      if (cf == nullptr) continue;  // dropped by retention before it was shipped
      // The records of a partition are read in sequence order with one iterator: a point read
      // per record decompressed a whole block for each of them.
      if (!records || records_day != day) {
        records.reset(store_.db->NewIterator(rocksdb::ReadOptions(), cf));
        records_day = day;
      }
      const std::string key = sequence_key(*seq);
      if (records->Valid() && records->key().compare(key) < 0) records->Next();
      if (!records->Valid() || records->key().compare(key) != 0) records->Seek(key);
      if (!records->status().ok()) {
        const auto s = records->status();
        records.reset();
        if (auto u = unreadable(*seq, from_rocksdb(s, "reading a record for the outbox")); !u) {
          return u;
        }
        continue;
      }
      if (!records->Valid() || records->key().compare(key) != 0) continue;  // not found
      auto rec = decode_record(records->value().ToStringView());
      if (!rec) {
        if (auto u = unreadable(*seq, Status::internal("a corrupt record")); !u) return u;
        continue;
      }
      if (rec->erased) continue;  // erased before it was shipped: never shipped
      rec->partition = partition_name(day);
      e.record = std::move(*rec);
      auto label = store_.read_label(e.record.request_id);
      if (!label) {
        if (auto u = unreadable(*seq, label.status()); !u) return u;
        continue;
      }
      if (*label) e.label = std::move(**label);
    }
    bytes += e.record.document.size() + 64;
    out.entries.push_back(std::move(e));
  }
  if (!it->status().ok()) return from_rocksdb(it->status(), "reading the outbox");
  return out;
}

Result<std::optional<EpochMillis>> Outbox::oldest_ingest_ms() const {
  std::shared_lock db_lock(store_.db_mu);
  if (!store_.db) return Status::unavailable("the store is reopening after a write failure");
  std::string value;
  // The checkpoint is read after the iterator is made: ack() writes, then moves the checkpoint,
  // and entries before the checkpoint may not be deleted yet, so a checkpoint read first could be
  // older than an acknowledgment the iterator already sees.
  std::unique_ptr<rocksdb::Iterator> it(
      store_.db->NewIterator(rocksdb::ReadOptions(), store_.outbox));
  const uint64_t from = checkpoint_.load();
  // The first entry that names a record with an ingest time (erasures have none); a few at most.
  int looked = 0;
  for (it->Seek(sequence_key(from)); it->Valid() && looked < 64; it->Next(), ++looked) {
    const std::string_view v = it->value().ToStringView();
    if (v.size() == 9 && v[0] == 'P') {
      auto* cf = store_.find_partition(static_cast<uint32_t>(get_be(v.substr(1), 4)));
      if (cf == nullptr) continue;
      auto s = store_.db->Get(rocksdb::ReadOptions(), cf, it->key(), &value);
      if (!s.ok()) continue;
      if (auto rec = decode_record_fields(value))
        return std::optional<EpochMillis>(rec->ingest_time_ms);
    } else if (!v.empty() && v[0] == 'L') {
      auto label = store_.read_label(v.substr(1));
      if (label && *label) return std::optional<EpochMillis>((*label)->ingest_time_ms);
    }
  }
  return std::optional<EpochMillis>();
}

Status Outbox::ack(uint64_t next) {
  std::shared_lock db_lock(store_.db_mu);
  if (!store_.db) return Status::unavailable("the store is reopening after a write failure");
  const uint64_t from = checkpoint_.load();
  if (next <= from) return Status::ok();
  uint64_t events = 0, bytes = 0;
  {
    const std::string end = sequence_key(next);
    rocksdb::Slice upper(end);
    rocksdb::ReadOptions ro;
    ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(store_.db->NewIterator(ro, store_.outbox));
    for (it->Seek(sequence_key(from)); it->Valid(); it->Next()) {
      ++events;
      bytes += entry_bytes(it->value().ToStringView());
    }
    if (!it->status().ok()) return from_rocksdb(it->status(), "reading the outbox");
  }
  rocksdb::WriteBatch wb;
  (void)wb.Put(store_.meta, kOutboxCheckpointKey, sequence_key(next));
  // Entries before the checkpoint are deleted in stretches of kDeleteStretch, each with one range
  // tombstone that starts where the previous one ended. Reads seek to the checkpoint, so what lies
  // acknowledged but not yet deleted is never visited. RocksDB 7.8 fragments every range tombstone
  // in a memtable each time an iterator is created on it: a tombstone per acknowledgment, each from
  // 0, made that quadratic in the acknowledgments since the last flush (one range [0, next) per
  // step, all overlapping).
  const uint64_t deleted = deleted_before_.load();
  const bool delete_now = next > deleted && next - deleted >= kDeleteStretch;
  if (delete_now) {
    (void)wb.DeleteRange(store_.outbox, sequence_key(deleted), sequence_key(next));
  }
  // Not synced: a checkpoint lost with a power cut only re-sends what follows the last synced one,
  // which Elasticsearch answers 409 (our _id), so an fsync per batch would buy nothing.
  if (auto s = store_.admin_write(wb, false, "moving the outbox checkpoint"); !s) return s;
  if (delete_now) deleted_before_ = next;
  checkpoint_ = next;
  events_ -= std::min(events, events_.load());
  bytes_ -= std::min(bytes, bytes_.load());
  return Status::ok();
}

// The store's OutboxSource methods over it. Only what is durable is read: a record a power loss
// could still take back is not forwarded.
Result<OutboxRead> Store::read_outbox(uint64_t from, size_t max_events, size_t max_bytes) const {
  return impl_->outbox_reader.read(from, max_events, max_bytes,
                                   impl_->commit.durable_sequence.load());
}

Result<std::optional<EpochMillis>> Store::outbox_oldest_ingest_ms() const {
  return impl_->outbox_reader.oldest_ingest_ms();
}

Status Store::ack_outbox(uint64_t next) { return impl_->outbox_reader.ack(next); }

uint64_t Store::outbox_checkpoint() const { return impl_->outbox_reader.checkpoint(); }

OutboxBacklog Store::outbox_backlog() const { return impl_->outbox_reader.backlog(); }

}  // namespace verity::store
