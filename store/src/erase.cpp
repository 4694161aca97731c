// Data-subject erasure: tombstones that keep the chain, label and dead-letter clean-up, compaction
// so the erased bytes leave the disk, and the audit entry.

#include <algorithm>

#include "label_bundle.h"
#include "record_codec.h"
#include "store_impl.h"
#include "verity/core/http.h"
#include "verity/document/json_writer.h"
#include "verity/store/partition.h"

namespace verity::store {
namespace {

bool contains_any(std::string_view haystack, const std::vector<std::string>& needles) {
  for (const auto& n : needles) {
    if (!n.empty() && haystack.find(n) != std::string_view::npos) return true;
  }
  return false;
}

// The document inside a dead-letter entry: it is written last, after `,"document":`. Keys and
// strings before it are JSON-escaped, so the first unescaped occurrence is the member itself.
std::string_view dead_letter_document(std::string_view entry) {
  static constexpr std::string_view kMember = ",\"document\":";
  const size_t at = entry.find(kMember);
  if (at == std::string_view::npos || entry.size() < at + kMember.size() + 1) return {};
  return entry.substr(at + kMember.size(), entry.size() - at - kMember.size() - 1);
}

struct KeyRange {
  std::string lo, hi;
  void add(const std::string& k) {
    if (lo.empty() || k < lo) lo = k;
    if (hi.empty() || k > hi) hi = k;
  }
};

}  // namespace

Result<EraseReport> Store::erase(const EraseRequest& req) {
  if (req.needles.empty() || !req.matches) {
    return Status::invalid_argument("an erasure needs the subject's stored forms and a matcher");
  }
  Impl& im = *impl_;
  std::lock_guard pass_lock(im.retention.pass_mutex());

  // 1. Find what matches, without pausing ingestion. Records never change after their commit
  //    except by erasure, and erasures run one at a time.
  std::map<uint32_t, std::vector<std::string>> predictions;  // day -> sequence keys
  std::set<std::string> label_ids;
  std::vector<std::string> dead_letter_keys;
  {
    std::shared_lock db_lock(im.db_mu);
    if (!im.db) return Status::unavailable("the store is reopening after a write failure");
    std::vector<std::pair<uint32_t, rocksdb::ColumnFamilyHandle*>> parts;
    {
      std::shared_lock lock(im.partitions_mu);
      parts.assign(im.partitions.begin(), im.partitions.end());
    }
    rocksdb::ReadOptions ro;
    ro.fill_cache = false;
    for (const auto& [day, cf] : parts) {
      std::unique_ptr<rocksdb::Iterator> it(im.db->NewIterator(ro, cf));
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        if (!contains_any(it->value().ToStringView(), req.needles)) continue;
        auto rec = decode_record(it->value().ToStringView());
        if (!rec || rec->erased || !req.matches(rec->document)) continue;
        predictions[day].push_back(it->key().ToString());
        label_ids.insert(rec->request_id);
      }
      if (!it->status().ok()) return from_rocksdb(it->status(), "scanning " + cf->GetName());
    }
    std::unique_ptr<rocksdb::Iterator> it(im.db->NewIterator(ro, im.labels));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (!contains_any(it->value().ToStringView(), req.needles)) continue;
      // A request id's labels go together: the one in effect and those it replaced.
      auto bundle = LabelBundle::decode(it->value().ToStringView());
      if (!bundle) continue;
      bool match = false;
      if (auto rec = decode_record(bundle->current)) match = req.matches(rec->document);
      for (const auto& h : bundle->history) {
        if (match || h.record.empty()) continue;
        if (auto rec = decode_record(h.record)) match = req.matches(rec->document);
      }
      if (match) label_ids.insert(it->key().ToString());
    }
    if (!it->status().ok()) return from_rocksdb(it->status(), "scanning labels");
    it.reset(im.db->NewIterator(ro, im.deadletter));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const std::string_view doc = dead_letter_document(it->value().ToStringView());
      if (!doc.empty() && contains_any(doc, req.needles) && req.matches(doc)) {
        dead_letter_keys.push_back(it->key().ToString());
      }
    }
    if (!it->status().ok()) return from_rocksdb(it->status(), "scanning the dead-letter store");
  }

  // 2. Rewrite in one atomic, synced batch, with commits paused so chain heads stay exact.
  EraseReport report;
  KeyRange label_range, dead_letter_range;
  {
    std::lock_guard write_lock(im.write_mu);
    std::shared_lock db_lock(im.db_mu);
    if (!im.db) return Status::unavailable("the store is reopening after a write failure");
    const EpochMillis now = im.clock.now_ms();
    rocksdb::WriteBatch wb;
    report.audit_id = im.audit_log.allocate();
    std::map<uint32_t, ChainHead> heads;
    std::string value, tombstone;
    // With an outbox, each erasure is also queued for the shippers (new sequences, taken while
    // commits are paused), so copies already forwarded are deleted too.
    uint64_t next_seq = im.commit.next_sequence;
    uint64_t outbox_added = 0, outbox_added_bytes = 0;
    for (const auto& [day, keys] : predictions) {
      auto* cf = im.find_partition(day);
      if (cf == nullptr) continue;  // dropped by retention meanwhile
      heads[day] = im.partition_states.chain(day);
      for (const auto& key : keys) {
        auto s = im.db->Get(rocksdb::ReadOptions(), cf, key, &value);
        if (!s.ok()) return from_rocksdb(s, "re-reading an erased record");
        auto entry = chain_entry_digest(value);
        auto rec = decode_record(value);
        if (!entry || !rec) return Status::internal("an erased record became unreadable");
        if (rec->erased) continue;
        rec->erased_at_ms = now;
        rec->erasure_audit_id = report.audit_id;
        encode_tombstone(*rec, *entry, tombstone);
        (void)wb.Put(cf, key, tombstone);
        if (im.options.outbox) {
          const std::string v = "X" + rec->request_id;
          (void)wb.Put(im.outbox, sequence_key(next_seq++), v);
          ++outbox_added;
          outbox_added_bytes += v.size();
        }
        ChainHead& h = heads[day];
        ++h.erased;
        h.raw_bytes -= std::min<uint64_t>(h.raw_bytes, rec->document.size());
        ++report.predictions;
      }
      (void)wb.Put(im.meta, head_key(day), encode_head(heads[day]));
      report.partitions.push_back(partition_name(day));
    }
    for (const auto& id : label_ids) {
      auto s = im.db->Get(rocksdb::ReadOptions(), im.labels, id, &value);
      if (s.IsNotFound()) continue;
      if (!s.ok()) return from_rocksdb(s, "reading a label");
      (void)wb.Delete(im.labels, id);
      label_range.add(id);
      ++report.labels;
    }
    for (const auto& key : dead_letter_keys) {
      auto s = im.db->Get(rocksdb::ReadOptions(), im.deadletter, key, &value);
      if (!s.ok()) return from_rocksdb(s, "re-reading a dead-letter entry");
      const std::string_view doc = dead_letter_document(value);
      if (doc.empty()) continue;
      std::string rewritten(value.data(), doc.data() - value.data() - 12);  // up to ,"document":
      rewritten += ",\"erased\":true,\"erasure_audit_id\":" + std::to_string(report.audit_id) + "}";
      (void)wb.Put(im.deadletter, key, rewritten);
      dead_letter_range.add(key);
      ++report.dead_letters;
    }
    std::string fields = ",\"actor\":";
    document::append_json_string(fields, req.actor);
    fields += ",\"subject_field\":";
    document::append_json_string(fields, req.subject_field);
    fields += ",\"subject\":";
    document::append_json_string(fields, req.subject_fingerprint);
    std::string counts = report.to_json();  // {"audit_id":N,"predictions":...,"partitions":[...]}
    fields += counts.substr(counts.find(",\"predictions\""));
    fields.pop_back();  // the report's closing brace
    if (auto s = im.audit_log.append(wb, "erase", fields, report.audit_id); !s) return s;
    if (next_seq != im.commit.next_sequence)
      (void)wb.Put(im.meta, kNextSequenceKey, sequence_key(next_seq));
    if (auto s = im.admin_write(wb, true, "writing an erasure"); !s) return s;
    im.commit.next_sequence = next_seq;
    im.commit.next_sequence_seen = next_seq;
    im.commit.advance_durable(
        next_seq);  // a synced write: everything written before is durable too
    im.outbox_reader.appended(outbox_added, outbox_added_bytes);
    im.partition_states.erased(heads);
  }
  im.erasures->Increment(static_cast<double>(report.predictions));

  // 3. Old versions stay in table files and the WAL until compaction: flush every family (so the
  //    WAL holding the originals becomes obsolete) and recompact the touched key ranges, which
  //    rewrites those files (and their compression dictionaries) without the erased bytes.
  std::shared_lock db_lock(im.db_mu);
  if (!im.db) return report;  // written and synced; the compaction happens at the next erasure
  if (auto s = im.db->Flush(rocksdb::FlushOptions(), im.all_handles()); !s.ok()) {
    return from_rocksdb(s, "flushing after an erasure");
  }
  rocksdb::CompactRangeOptions cro;
  cro.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  auto compact = [&](rocksdb::ColumnFamilyHandle* cf, const KeyRange& r) -> Status {
    if (r.lo.empty()) return Status::ok();
    rocksdb::Slice lo(r.lo), hi(r.hi);
    return from_rocksdb(im.db->CompactRange(cro, cf, &lo, &hi), "compacting " + cf->GetName());
  };
  for (const auto& [day, keys] : predictions) {
    auto* cf = im.find_partition(day);
    if (cf == nullptr) continue;
    KeyRange r;
    for (const auto& k : keys) r.add(k);
    if (auto s = compact(cf, r); !s) return s;
  }
  if (auto s = compact(im.labels, label_range); !s) return s;
  if (auto s = compact(im.deadletter, dead_letter_range); !s) return s;
  return report;
}

}  // namespace verity::store
