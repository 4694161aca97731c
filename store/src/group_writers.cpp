#include "group_writers.h"

#include "record_codec.h"
#include "search_keys.h"
#include "store_impl.h"
#include "verity/store/partition.h"

namespace verity::store {
namespace {

Status building(const rocksdb::Status& st) {
  return st.ok() ? Status::ok() : from_rocksdb(st, "building the commit group");
}

}  // namespace

// --- IdempotencyLookup -------------------------------------------------------------------------

void IdempotencyLookup::begin(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* ids,
                              rocksdb::ColumnFamilyHandle* labels,
                              const std::vector<Pending>& group) {
  lookups_.clear();
  for (const auto& p : group) {
    for (const auto& e : p.batch.events) {
      lookups_.add(e.kind == EventKind::kLabel ? labels : ids, e.request_id);
    }
  }
  lookups_.run(db);
  in_group_.clear();
  in_group_.reserve(lookups_.size());
}

Result<IdempotencyLookup::Existing> IdempotencyLookup::prediction(
    size_t k, const Event& e, const Sha256Digest& digest) const {
  Existing existing;
  if (auto it = in_group_.find(e.request_id); it != in_group_.end()) {
    return Existing{true, it->second};
  }
  if (lookups_.status(k).ok()) {
    auto entry = decode_id_entry(lookups_.value(k));
    if (!entry) return Status::internal("corrupt request-id index entry");
    existing = {true, entry->digest};
  } else if (!lookups_.status(k).IsNotFound()) {
    return from_rocksdb(lookups_.status(k), "reading the request-id index");
  }
  // Index entries written before digests were canonical hold the digest of the bytes as sent: a
  // document with whitespace is compared that way too before it is called a conflict.
  if (existing.found && existing.digest != digest && existing.digest == sha256(e.document)) {
    existing.digest = digest;
  }
  return existing;
}

// --- ChainWriter -------------------------------------------------------------------------------

void ChainWriter::begin() {
  heads_.clear();
  models_.clear();
  cached_day_ = 0;
  cached_cf_ = nullptr;
  cached_head_ = nullptr;
  checked_model_day_ = 0;
  checked_model_ = {};
}

Status ChainWriter::add(const Event& e, const std::string& record, const Sha256Digest& entry_digest,
                        uint64_t sequence, rocksdb::WriteBatch& wb, uint32_t& day) {
  day = utc_day(e.timestamp_ms);
  if (day != cached_day_ || cached_cf_ == nullptr) {
    auto cf = store_.partition_cf(day);
    if (!cf) return cf.status();
    cached_day_ = day;
    cached_cf_ = *cf;
    auto [it, fresh] = heads_.try_emplace(day);
    if (fresh) it->second = store_.partition_states.chain(day);
    cached_head_ = &it->second;
  }
  ChainHead& head = *cached_head_;
  head.link = chain_step(head.link, sequence, entry_digest);
  ++head.count;
  head.last_sequence = sequence;
  head.raw_bytes += e.document.size();
  if (auto st = wb.Put(cached_cf_, sequence_key(sequence), record); !st.ok()) return building(st);
  if (auto st =
          wb.Put(store_.chain, link_key(day, sequence),
                 rocksdb::Slice(reinterpret_cast<const char*>(head.link.data()), kStoredLinkBytes));
      !st.ok()) {
    return building(st);
  }
  if (day != checked_model_day_ || e.model_name != checked_model_) {
    bool known = store_.partition_states.has_model(day, e.model_name);
    for (const auto& [d, m] : models_) known = known || (d == day && m == e.model_name);
    if (!known) {
      models_.emplace_back(day, e.model_name);
      if (auto st =
              wb.Put(store_.meta, kModelPrefix + partition_name(day) + "/" + e.model_name, "");
          !st.ok()) {
        return building(st);
      }
    }
    checked_model_day_ = day;
    checked_model_ = e.model_name;
  }
  return Status::ok();
}

Status ChainWriter::before_write(rocksdb::WriteBatch& wb) {
  for (const auto& [day, head] : heads_) {
    if (auto st = wb.Put(store_.meta, head_key(day), encode_head(head)); !st.ok()) {
      return building(st);
    }
  }
  return Status::ok();
}

void ChainWriter::after_write() { store_.partition_states.committed(heads_, models_); }

// --- IndexWriter -------------------------------------------------------------------------------

void IndexWriter::begin() {
  ids_.clear();
  times_.clear();
  fields_.clear();
  labels_.clear();
}

void IndexWriter::add_prediction(const Event& e, const std::vector<IndexTerm>& terms, uint32_t day,
                                 uint64_t sequence, const Sha256Digest& digest) {
  ids_.begin().append(e.request_id);
  ids_.key_done();
  append_id_entry(ids_.begin_value(), {day, sequence, digest});
  ids_.end();
  append_time_index_key(times_.begin(), day, e.model_name, e.model_version, e.timestamp_ms,
                        e.request_id);
  times_.key_done();
  times_.begin_value().append(sequence_key(sequence));
  times_.end();
  for (const IndexTerm& t : terms) {
    std::string& k = fields_.begin();
    append_field_index_group(k, day, e.timestamp_ms, e.model_name, e.model_version, t.field,
                             t.token);
    put_time(k, e.timestamp_ms);
    k.append(e.request_id);
    fields_.key_done();
    fields_.begin_value().append(sequence_key(sequence));
    fields_.end();
  }
}

Status IndexWriter::before_write(rocksdb::WriteBatch& wb, rocksdb::ColumnFamilyHandle* ids,
                                 rocksdb::ColumnFamilyHandle* by_time,
                                 rocksdb::ColumnFamilyHandle* fields,
                                 rocksdb::ColumnFamilyHandle* labels) {
  if (auto st = ids_.flush_into(wb, ids); !st.ok()) return building(st);
  if (auto st = times_.flush_into(wb, by_time); !st.ok()) return building(st);
  if (auto st = fields_.flush_into(wb, fields); !st.ok()) return building(st);
  if (auto st = labels_.flush_into(wb, labels); !st.ok()) return building(st);
  return Status::ok();
}

// --- OutboxWriter ------------------------------------------------------------------------------

Status OutboxWriter::add_prediction(rocksdb::WriteBatch& wb, uint64_t sequence, uint32_t day,
                                    size_t record_size) {
  if (!store_.options.outbox) return Status::ok();
  std::string v = "P";
  put_be(v, day, 4);
  const auto size = static_cast<uint32_t>(record_size);
  put_be(v, size, 4);
  if (auto st = wb.Put(store_.outbox, sequence_key(sequence), v); !st.ok()) return building(st);
  ++events_;
  bytes_ += size;
  return Status::ok();
}

Status OutboxWriter::add_label(rocksdb::WriteBatch& wb, uint64_t sequence,
                               std::string_view request_id) {
  if (!store_.options.outbox) return Status::ok();
  std::string v = "L";
  v.append(request_id);
  if (auto st = wb.Put(store_.outbox, sequence_key(sequence), v); !st.ok()) return building(st);
  ++events_;
  bytes_ += request_id.size() + 1;
  return Status::ok();
}

void OutboxWriter::after_write() { store_.outbox_reader.appended(events_, bytes_); }

}  // namespace verity::store
