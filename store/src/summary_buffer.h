#pragma once

// The block summaries not yet written (summary_buffer.cpp). Submitting threads add each batch's
// predictions' values (into a shard picked by thread, so that parallel inputs rarely meet); the
// commit thread now and then moves them into a commit group's WriteBatch as merges, with the
// watermark, and learns later whether that write became durable (a lost write's summaries come back
// into the buffer). One write of summaries is in flight at a time. Scans read the buffer with their
// database snapshot, so every record the snapshot holds has its values in one or the other.

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "pending.h"
#include "verity/store/search_index.h"

namespace verity::store {

class SummaryBuffer {
 public:
  using Map = std::unordered_map<std::string, BlockSummary>;
  static constexpr size_t kShards = 8;
  // Each shard's maps as of a scan's snapshot: the one added to, the one being written.
  using View = std::array<std::array<std::shared_ptr<const Map>, 2>, kShards>;

  // Submitting thread: the values of the batch's predictions, and their field-index terms into
  // `prepared` (when not null).
  void add(const Indexer& indexer, const IngestBatch& batch, std::vector<PreparedEvent>* prepared);

  // Commit thread, building a group that writes: when `interval` has passed since the last write
  // of summaries, a shard holds many blocks, or `force`, and none is in flight, puts the buffered
  // summaries into `wb` as merges into `blocks`, and `watermark` (the sequence after the last
  // record the write holds) under the watermark key in `meta`. True when it did.
  bool flush_into(rocksdb::WriteBatch& wb, rocksdb::ColumnFamilyHandle* blocks,
                  rocksdb::ColumnFamilyHandle* meta, uint64_t watermark,
                  std::chrono::milliseconds interval, bool force);
  // Commit thread: the write that carried them is durable (ok), or may be lost: they go back.
  void written(bool ok);

  // A scan's view, taken while `with_locks()` runs (it takes the database snapshot) under every
  // shard's lock.
  template <class F>
  View view(F&& with_locks) const {
    std::array<std::unique_lock<std::mutex>, kShards> locks;
    View v;
    for (size_t i = 0; i < kShards; ++i) {
      locks[i] = std::unique_lock(shards_[i].mu);
      v[i] = {shards_[i].current, shards_[i].flushing};
    }
    with_locks();
    return v;
  }
  // Calls `visit(summary)` for each buffered summary of block `key` in `v`, until it returns false.
  template <class F>
  void find(const View& v, const std::string& key, F&& visit) const {
    for (size_t i = 0; i < kShards; ++i) {
      std::lock_guard lock(shards_[i].mu);  // the map added to may be growing
      for (const auto& map : v[i]) {
        if (map == nullptr) continue;
        if (auto it = map->find(key); it != map->end() && !visit(it->second)) return;
      }
    }
  }

 private:
  // Each shard's mutex guards its summaries being added to, and those being written (until the
  // write is settled).
  struct Shard {
    mutable std::mutex mu;
    std::shared_ptr<Map> current = std::make_shared<Map>();
    std::shared_ptr<Map> flushing;
  };
  std::array<Shard, kShards> shards_;
  std::chrono::steady_clock::time_point flushed_at_ = std::chrono::steady_clock::now();
};

}  // namespace verity::store
