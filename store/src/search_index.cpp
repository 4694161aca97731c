// The field index and block summaries (search_keys.h, search_index.h): keys, what a batch's
// preparation adds, and the rebuild at open.
#include <set>
#include <thread>
#include <unordered_map>

#include <spdlog/spdlog.h>

#include "record_codec.h"
#include "search_keys.h"
#include "store_impl.h"

namespace verity::store {

void append_term(std::string& out, std::string_view field, std::string_view token) {
  put_varint(out, field.size());
  out.append(field);
  put_varint(out, token.size());
  out.append(token);
}

void append_field_index_group(std::string& out, uint32_t day, EpochMillis ts,
                              std::string_view model, std::string_view version,
                              std::string_view field, std::string_view token) {
  append_time_index_group(out, day, time_slot(ts), model, version);
  append_term(out, field, token);
}

EpochMillis block_start(EpochMillis ts) {
  const EpochMillis b = BlockSummary::kBlockMillis;
  const EpochMillis q = ts / b;
  return (ts % b != 0 && ts < 0 ? q - 1 : q) * b;
}

static_assert(kTimeSlotMillis % BlockSummary::kBlockMillis == 0, "a block lies within one slot");

void append_block_key(std::string& out, uint32_t day, std::string_view model,
                      std::string_view version, EpochMillis start) {
  append_time_index_group(out, day, time_slot(start), model, version);
  put_time(out, start);
}

void Store::Impl::summaries_add(const IngestBatch& batch, std::vector<PreparedEvent>* prepared) {
  const Indexer& indexer = *options.indexer;
  if (indexer.summarizes()) {
    summaries.add(indexer, batch, prepared);
    return;
  }
  std::vector<IndexTerm> unused_terms;
  BlockSummary unused;
  for (size_t i = 0; prepared != nullptr && i < batch.events.size(); ++i) {
    const Event& e = batch.events[i];
    if (e.kind != EventKind::kPrediction) continue;
    indexer.index(e.model_name, e.model_version, e.document, (*prepared)[i].terms, unused);
  }
}

// The summary of one block, from its records (read through the time index).
static Result<BlockSummary> summarize_block(rocksdb::DB& db, const Indexer& indexer,
                                            rocksdb::ColumnFamilyHandle* by_time,
                                            rocksdb::ColumnFamilyHandle* partition,
                                            std::string_view block_key) {
  BlockSummary summary;
  const std::string lower(block_key);
  std::string upper(block_key.substr(0, block_key.size() - 8));
  const auto start = static_cast<EpochMillis>(get_be(block_key.substr(block_key.size() - 8), 8) ^
                                              (uint64_t{1} << 63));
  put_time(upper, start + BlockSummary::kBlockMillis);
  rocksdb::ReadOptions ro;
  const rocksdb::Slice lo(lower), hi(upper);
  ro.iterate_lower_bound = &lo;
  ro.iterate_upper_bound = &hi;
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(ro, by_time));
  std::vector<IndexTerm> unused;
  std::string value;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const rocksdb::Slice seq = it->value();
    auto s = db.Get(rocksdb::ReadOptions(), partition, seq, &value);
    if (s.IsNotFound()) continue;
    if (!s.ok()) return from_rocksdb(s, "summarising a block");
    auto rec = decode_record_fields(value);
    summary.count_record();
    if (!rec || rec->erased) continue;
    unused.clear();
    indexer.index(rec->model_name, rec->model_version, rec->document, unused, summary);
  }
  if (!it->status().ok()) return from_rocksdb(it->status(), "summarising a block");
  return summary;
}

Status Store::Impl::recover_summaries() {
  if (!options.indexer || !options.indexer->summarizes()) return Status::ok();
  std::string mark;
  auto s = db->Get(rocksdb::ReadOptions(), meta, kSummaryWatermarkKey, &mark);
  if (!s.ok() && !s.IsNotFound()) return from_rocksdb(s, "reading the summary watermark");
  const uint64_t watermark = s.ok() ? parse_sequence_key(mark).value_or(0) : 0;
  if (watermark >= commit.next_sequence) return Status::ok();
  uint64_t records = 0, summarised = 0;
  rocksdb::WriteBatch wb;
  for (const auto& [day, cf] : partitions) {
    std::set<std::string> keys;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), cf));
    std::string key;
    for (it->Seek(sequence_key(watermark)); it->Valid(); it->Next()) {
      auto rec = decode_record_fields({it->value().data(), it->value().size()});
      if (!rec || rec->kind != EventKind::kPrediction) continue;
      key.clear();
      append_block_key(key, day, rec->model_name, rec->model_version,
                       block_start(rec->timestamp_ms));
      keys.insert(key);
      ++records;
    }
    if (!it->status().ok()) return from_rocksdb(it->status(), "recovering block summaries");
    for (const auto& k : keys) {
      auto summary = summarize_block(*db, *options.indexer, by_time, cf, k);
      if (!summary) return summary.status();
      (void)wb.Put(blocks, k, summary->encode());
      ++summarised;
    }
  }
  (void)wb.Put(meta, kSummaryWatermarkKey, sequence_key(commit.next_sequence));
  rocksdb::WriteOptions wo;
  wo.sync = true;
  if (s = db->Write(wo, &wb); !s.ok()) return from_rocksdb(s, "recovering block summaries");
  if (records > 0) {
    spdlog::info(
        "store: {} block summaries made again from their records ({} records past the "
        "summaries written last)",
        summarised, records);
  }
  return Status::ok();
}

Status Store::Impl::build_search_index() {
  std::string stored;
  auto s = db->Get(rocksdb::ReadOptions(), meta, kSearchIndexSpecKey, &stored);
  if (!s.ok() && !s.IsNotFound()) return from_rocksdb(s, "reading the search index spec");
  const bool has_spec = s.ok();
  rocksdb::WriteOptions wo;
  wo.sync = true;
  if (!options.indexer) {
    // Written without an indexer from now on: an indexer opening this store later rebuilds.
    if (!has_spec) return Status::ok();
    s = db->Delete(wo, meta, kSearchIndexSpecKey);
    return s.ok() ? Status::ok() : from_rocksdb(s, "clearing the search index spec");
  }
  const std::string spec = options.indexer->spec();
  if (has_spec && stored == spec) return Status::ok();

  // Every stored prediction indexed and summarised again, a partition at a time, before the
  // commit thread starts (a store upgraded, or search.indexed_fields changed).
  const std::string lo(4, '\0'), hi(4, '\xff');
  rocksdb::WriteBatch wb;
  (void)wb.DeleteRange(field_index, lo, hi);
  (void)wb.DeleteRange(blocks, lo, hi);
  (void)wb.Delete(meta, kSearchIndexSpecKey);
  if (s = db->Write(wo, &wb); !s.ok()) return from_rocksdb(s, "clearing the search index");
  wb.Clear();
  uint64_t indexed = 0;
  std::vector<IndexTerm> terms;
  std::unordered_map<std::string, BlockSummary> day_blocks;
  std::string key;
  for (const auto& [day, cf] : partitions) {
    day_blocks.clear();
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), cf));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const rocksdb::Slice k = it->key();
      auto rec = decode_record_fields({it->value().data(), it->value().size()});
      if (!rec || rec->kind != EventKind::kPrediction || k.size() != 8) continue;
      key.clear();
      append_block_key(key, day, rec->model_name, rec->model_version,
                       block_start(rec->timestamp_ms));
      BlockSummary& summary = day_blocks[key];
      summary.count_record();
      if (rec->erased) continue;  // a tombstone holds no values
      terms.clear();
      options.indexer->index(rec->model_name, rec->model_version, rec->document, terms, summary);
      for (const IndexTerm& t : terms) {
        key.clear();
        append_field_index_group(key, day, rec->timestamp_ms, rec->model_name, rec->model_version,
                                 t.field, t.token);
        put_time(key, rec->timestamp_ms);
        key += rec->request_id;
        s = wb.Put(field_index, key, rocksdb::Slice(k.data(), k.size()));
        if (!s.ok()) break;
      }
      if (s.ok() && wb.Count() >= 10'000) {
        s = db->Write(rocksdb::WriteOptions(), &wb);
        wb.Clear();
      }
      if (!s.ok()) return from_rocksdb(s, "building the field index");
      ++indexed;
    }
    if (!it->status().ok()) return from_rocksdb(it->status(), "building the field index");
    if (!options.indexer->summarizes()) day_blocks.clear();
    for (const auto& [k, summary] : day_blocks) {
      if (s = wb.Merge(blocks, k, summary.encode()); !s.ok()) break;
    }
    if (s.ok()) s = db->Write(rocksdb::WriteOptions(), &wb);
    wb.Clear();
    if (!s.ok()) return from_rocksdb(s, "building the block summaries");
  }
  wb.Clear();
  (void)wb.Put(meta, kSearchIndexSpecKey, spec);
  (void)wb.Put(meta, kSummaryWatermarkKey, sequence_key(commit.next_sequence));
  s = db->Write(wo, &wb);
  if (!s.ok()) return from_rocksdb(s, "building the search index");
  if (indexed > 0) {
    spdlog::info("store: field index and block summaries built over {} stored predictions",
                 indexed);
  }
  return Status::ok();
}

}  // namespace verity::store
