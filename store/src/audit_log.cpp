#include "audit_log.h"

#include <memory>

#include <simdjson.h>

#include "database.h"
#include "record_codec.h"
#include "verity/core/sha256.h"
#include "verity/core/time_format.h"
#include "verity/document/json_writer.h"

namespace verity::store {

Status AuditLog::load() {
  std::unique_ptr<rocksdb::Iterator> it(db_.db->NewIterator(rocksdb::ReadOptions(), db_.audit));
  it->SeekToLast();
  uint64_t next = 1;
  if (it->Valid()) {
    if (auto last = parse_sequence_key(it->key().ToStringView())) next = *last + 1;
  }
  if (!it->status().ok()) return from_rocksdb(it->status(), "reading the audit trail");
  std::lock_guard lock(mu_);
  next_id_ = next;
  return Status::ok();
}

uint64_t AuditLog::allocate() {
  std::lock_guard lock(mu_);
  return next_id_++;
}

Status AuditLog::append(rocksdb::WriteBatch& wb, std::string_view action,
                        std::string_view fields_json, uint64_t id) {
  const uint64_t n = id != 0 ? id : allocate();
  std::string entry = "{\"id\":" + std::to_string(n) + ",\"time\":\"" +
                      format_rfc3339(clock_.now_ms()) + "\",\"action\":";
  document::append_json_string(entry, action);
  entry += fields_json;
  entry += '}';
  return from_rocksdb(wb.Put(db_.audit, sequence_key(n), entry), "writing the audit trail");
}

Result<std::vector<std::string>> AuditLog::read(uint64_t from, size_t limit) const {
  std::shared_lock db_lock(db_.db_mu);
  if (!db_.db) return Status::unavailable("the store is reopening after a write failure");
  std::vector<std::string> out;
  std::unique_ptr<rocksdb::Iterator> it(db_.db->NewIterator(rocksdb::ReadOptions(), db_.audit));
  simdjson::dom::parser parser;
  for (it->Seek(sequence_key(from)); it->Valid() && out.size() < limit; it->Next()) {
    const std::string_view value = it->value().ToStringView();
    simdjson::dom::element e;
    if (parser.parse(value.data(), value.size()).get(e) == simdjson::SUCCESS && e.is_object()) {
      out.emplace_back(value);
      continue;
    }
    // An entry that is not JSON (an older version stored a name's raw bytes): said so, by its id
    // and digest, so the trail stays readable and the entry stays accounted for.
    std::string entry;
    document::JsonWriter w(entry);
    w.begin_object();
    w.member("id", parse_sequence_key(it->key().ToStringView()).value_or(0));
    w.member("unreadable", true).member("bytes", uint64_t{value.size()});
    w.member("sha256", sha256_hex(value));
    w.end_object();
    out.push_back(std::move(entry));
  }
  if (!it->status().ok()) return from_rocksdb(it->status(), "reading the audit trail");
  return out;
}

}  // namespace verity::store
