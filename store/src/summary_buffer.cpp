#include "summary_buffer.h"

#include <functional>
#include <thread>

#include "record_codec.h"
#include "search_keys.h"
#include "verity/core/time_format.h"

namespace verity::store {

void SummaryBuffer::add(const Indexer& indexer, const IngestBatch& batch,
                        std::vector<PreparedEvent>* prepared) {
  std::vector<IndexTerm> unused_terms;
  // Values go straight into the shard's summaries: a block's paths are there after its first
  // event, so adding one allocates nothing (a summary per batch and block allocated every path).
  Shard& shard = shards_[std::hash<std::thread::id>{}(std::this_thread::get_id()) % kShards];
  std::string key;
  std::lock_guard lock(shard.mu);
  for (size_t i = 0; i < batch.events.size(); ++i) {
    const Event& e = batch.events[i];
    if (e.kind != EventKind::kPrediction) continue;
    key.clear();
    append_block_key(key, utc_day(e.timestamp_ms), e.model_name, e.model_version,
                     block_start(e.timestamp_ms));
    auto it = shard.current->find(key);
    if (it == shard.current->end()) it = shard.current->emplace(key, BlockSummary{}).first;
    it->second.count_record();
    unused_terms.clear();
    indexer.index(e.model_name, e.model_version, e.document,
                  prepared != nullptr ? (*prepared)[i].terms : unused_terms, it->second);
  }
}

bool SummaryBuffer::flush_into(rocksdb::WriteBatch& wb, rocksdb::ColumnFamilyHandle* blocks,
                               rocksdb::ColumnFamilyHandle* meta, uint64_t watermark,
                               std::chrono::milliseconds interval, bool force) {
  // Written every interval, or sooner when a shard holds many blocks (model versions named by
  // documents can be many: the buffer stays bounded).
  constexpr size_t kMaxBlocks = 4096;
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - flushed_at_ < interval) {
    bool large = false;
    for (Shard& shard : shards_) {
      std::lock_guard lock(shard.mu);
      large = large || shard.current->size() >= kMaxBlocks;
    }
    if (!large) return false;
  }
  // One write of summaries in flight: until it is durable (or known lost) nothing else goes, so
  // that the write's fate decides what the buffer gets back.
  for (Shard& shard : shards_) {
    std::lock_guard lock(shard.mu);
    if (shard.flushing) return false;
  }
  flushed_at_ = now;
  bool any = false;
  for (Shard& shard : shards_) {
    std::shared_ptr<Map> out;
    {
      std::lock_guard lock(shard.mu);
      if (shard.current->empty()) continue;
      out = std::move(shard.current);
      shard.current = std::make_shared<Map>();
      shard.flushing = out;
    }
    for (const auto& [key, s] : *out) (void)wb.Merge(blocks, key, s.encode());
    any = true;
  }
  // Every record below the watermark was prepared, so its values are in what is written now or
  // was written before. (The group's own records count: the watermark was once the group's first
  // sequence, so a store stopped right after a group that carried the summaries made that group's
  // blocks again at its next open.)
  if (any) (void)wb.Put(meta, kSummaryWatermarkKey, sequence_key(watermark));
  return any;
}

void SummaryBuffer::written(bool ok) {
  for (Shard& shard : shards_) {
    std::lock_guard lock(shard.mu);
    if (!shard.flushing) continue;
    if (!ok) {
      for (const auto& [key, s] : *shard.flushing) {
        auto [it, fresh] = shard.current->try_emplace(key, s);
        if (!fresh) it->second.merge(s);
      }
    }
    shard.flushing.reset();
  }
}

}  // namespace verity::store
