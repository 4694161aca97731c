// The read audit trail: who read which prediction data, chained so that an altered, inserted or
// deleted entry is found by verify().
//   reads:   u64 BE id -> 32-byte link | u64 BE time (ms) | JSON entry
//   default: reads_head -> u64 BE id | 32-byte link      (the last entry; written with it)
//            reads_base -> u64 BE id | 32-byte link      (the first kept entry, and the link before
//                                                          it; moved by retention)
// link_n = SHA-256(link_{n-1} | u64 BE n | JSON), link_0 = SHA-256("verity-reads-v1").
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <cstring>

#include "read_trail.h"
#include "record_codec.h"
#include "store_impl.h"
#include "verity/document/json_writer.h"

namespace verity::store {
namespace {

constexpr const char* kHeadKey = "reads_head";
constexpr const char* kBaseKey = "reads_base";

Sha256Digest genesis() { return sha256("verity-reads-v1"); }

Sha256Digest link_of(const Sha256Digest& prev, uint64_t id, std::string_view json) {
  std::string data(reinterpret_cast<const char*>(prev.data()), prev.size());
  put_be(data, id, 8);
  data.append(json);
  return sha256(data);
}

std::string encode_point(uint64_t id, const Sha256Digest& link) {
  std::string v;
  put_be(v, id, 8);
  v.append(reinterpret_cast<const char*>(link.data()), link.size());
  return v;
}

bool decode_point(std::string_view v, uint64_t& id, Sha256Digest& link) {
  if (v.size() != 8 + link.size()) return false;
  id = get_be(v, 8);
  std::memcpy(link.data(), v.data() + 8, link.size());
  return true;
}

}  // namespace

Status ReadTrail::load() {
  std::string v;
  auto s = store_.db->Get(rocksdb::ReadOptions(), store_.meta, kHeadKey, &v);
  std::lock_guard lock(mu_);
  if (s.IsNotFound()) {
    next_id_ = 1;
    link_ = genesis();
    return Status::ok();
  }
  if (!s.ok()) return from_rocksdb(s, "reading the read audit trail");
  uint64_t id = 0;
  if (!decode_point(v, id, link_)) return Status::internal("corrupt read audit head");
  next_id_ = id + 1;
  return Status::ok();
}

Status Store::record_read(const ReadRecord& r) { return impl_->read_trail.record(r); }

Result<std::vector<std::string>> Store::read_trail(EpochMillis from_ms, EpochMillis to_ms,
                                                   std::string_view actor, uint64_t after_id,
                                                   size_t limit) const {
  return impl_->read_trail.list(from_ms, to_ms, actor, after_id, limit);
}

Status ReadTrail::record(const ReadRecord& r) {
  std::shared_lock db_lock(store_.db_mu);
  if (!store_.db) return Status::unavailable("the store is reopening after a write failure");
  std::lock_guard lock(mu_);
  const uint64_t id = next_id_;
  const EpochMillis now = store_.clock.now_ms();
  std::string json;
  {
    document::JsonWriter w(json);
    w.begin_object();
    w.member("id", id).member("time", format_rfc3339(now)).member("kind", "read");
    w.member("actor", r.actor).member("endpoint", r.endpoint).member("query", r.query);
    w.member("returned", r.returned);
    if (!r.request_ids.empty()) {
      w.key("request_ids").begin_array();
      for (const auto& rid : r.request_ids) w.string(rid);
      w.end_array();
    }
    w.end_object();
  }
  const Sha256Digest link = link_of(link_, id, json);
  std::string value(reinterpret_cast<const char*>(link.data()), link.size());
  put_be(value, static_cast<uint64_t>(now), 8);
  value += json;
  rocksdb::WriteBatch wb;
  (void)wb.Put(store_.reads, sequence_key(id), value);
  (void)wb.Put(store_.meta, kHeadKey, encode_point(id, link));
  // Not synced: a read is recorded before its answer is sent, and survives a process crash.
  if (auto s = store_.admin_write(wb, false, "recording a read"); !s) return s;
  link_ = link;
  next_id_ = id + 1;
  return Status::ok();
}

Result<std::vector<std::string>> ReadTrail::list(EpochMillis from_ms, EpochMillis to_ms,
                                                 std::string_view actor, uint64_t after_id,
                                                 size_t limit) const {
  std::shared_lock db_lock(store_.db_mu);
  if (!store_.db) return Status::unavailable("the store is reopening after a write failure");
  std::vector<std::string> out;
  std::unique_ptr<rocksdb::Iterator> it(
      store_.db->NewIterator(rocksdb::ReadOptions(), store_.reads));
  simdjson::dom::parser parser;
  for (it->Seek(sequence_key(after_id + 1)); it->Valid() && out.size() < limit; it->Next()) {
    const std::string_view v = it->value().ToStringView();
    if (v.size() < 40) continue;
    const auto time = static_cast<EpochMillis>(get_be(v.substr(32), 8));
    if (time < from_ms || time >= to_ms) continue;
    const std::string_view json = v.substr(40);
    if (!actor.empty()) {
      simdjson::dom::element e;
      std::string_view a;
      if (parser.parse(json.data(), json.size()).get(e) || e["actor"].get_string().get(a) ||
          a != actor) {
        continue;
      }
    }
    out.emplace_back(json);
  }
  if (!it->status().ok()) return from_rocksdb(it->status(), "reading the read audit trail");
  return out;
}

PartitionVerification ReadTrail::verify() const {
  rocksdb::DB* db = store_.db.get();
  PartitionVerification out;
  out.partition = "read_audit";
  auto fail = [&out](uint64_t id, std::string reason) {
    out.ok = false;
    out.first_break = ChainBreak{id, std::move(reason)};
  };
  rocksdb::ReadOptions ro;
  const rocksdb::Snapshot* snap = db->GetSnapshot();
  ro.snapshot = snap;
  uint64_t expect = 1;
  Sha256Digest link = genesis();
  std::string v;
  auto s = db->Get(ro, store_.meta, kBaseKey, &v);
  if (s.ok() && !decode_point(v, expect, link)) fail(0, "the trail's base record is corrupt");
  uint64_t head_id = 0;
  Sha256Digest head_link{};
  s = db->Get(ro, store_.meta, kHeadKey, &v);
  const bool has_head = s.ok();
  if (has_head && !decode_point(v, head_id, head_link)) fail(0, "the trail's head is corrupt");
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, store_.reads));
  for (it->Seek(sequence_key(expect)); out.ok && it->Valid(); it->Next()) {
    const auto id = parse_sequence_key(it->key().ToStringView());
    const std::string_view value = it->value().ToStringView();
    if (!id || value.size() < 40) {
      fail(expect, "an entry that is not one of the trail's");
      break;
    }
    if (*id != expect) {
      fail(expect, *id > expect ? "entry missing (deleted)" : "entry out of order (inserted)");
      break;
    }
    const Sha256Digest computed = link_of(link, *id, value.substr(40));
    if (std::memcmp(computed.data(), value.data(), computed.size()) != 0) {
      fail(*id, "entry altered: its link does not match its content");
      break;
    }
    link = computed;
    ++out.records;
    ++expect;
  }
  if (!it->status().ok()) fail(expect, "read error: " + it->status().ToString());
  if (out.ok && has_head && (head_id != expect - 1 || head_link != link)) {
    fail(expect, "the trail ends before its recorded head (entries deleted at the end)");
  }
  if (out.ok && !has_head && expect != 1) fail(expect, "entries without a recorded head");
  it.reset();
  db->ReleaseSnapshot(snap);
  return out;
}

Status ReadTrail::trim() {
  const auto retention = store_.options.read_audit_retention;
  if (retention.count() <= 0) return Status::ok();
  const EpochMillis cutoff = store_.clock.now_ms() - retention.count();
  std::shared_lock db_lock(store_.db_mu);
  if (!store_.db || store_.db_failed.load()) return Status::ok();
  std::lock_guard lock(mu_);
  std::unique_ptr<rocksdb::Iterator> it(
      store_.db->NewIterator(rocksdb::ReadOptions(), store_.reads));
  uint64_t last_id = 0;
  Sha256Digest last_link{};
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string_view value = it->value().ToStringView();
    const auto id = parse_sequence_key(it->key().ToStringView());
    if (!id || value.size() < 40) break;
    if (static_cast<EpochMillis>(get_be(value.substr(32), 8)) >= cutoff) break;
    last_id = *id;
    std::memcpy(last_link.data(), value.data(), last_link.size());
  }
  if (!it->status().ok()) return from_rocksdb(it->status(), "trimming the read audit trail");
  if (last_id == 0) return Status::ok();
  rocksdb::WriteBatch wb;
  (void)wb.DeleteRange(store_.reads, sequence_key(0), sequence_key(last_id + 1));
  (void)wb.Put(store_.meta, kBaseKey, encode_point(last_id + 1, last_link));
  if (auto s = store_.admin_write(wb, true, "trimming the read audit trail"); !s) return s;
  spdlog::info("store: read audit entries up to {} passed their retention", last_id);
  return Status::ok();
}

}  // namespace verity::store
