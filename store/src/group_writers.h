#pragma once

// The commit pipeline's writers, one per concern (DESIGN.md, store/: "a commit pipeline, one group
// writer per concern"). write_group (commit_loop.cpp) runs them for each commit group:
//   begin()          before the group is built (clears the writer's scratch for the group),
//   add...()         while it walks the group's events, each adding its part to the WriteBatch,
//   before_write()   once, with what the writer collected (heads, sorted index entries),
//   after_write()    only when the group's WriteBatch was written: the writer publishes what
//                    it holds as committed.
// Each owns its per-group scratch (reused across groups, so that buffers are allocated once). They
// run on the commit thread only. The store's other concerns have writers of their own: dead
// letters (dead_letters.h), model quality (quality_writer.h), block summaries (search_index.cpp).

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "chain.h"
#include "database.h"
#include "sorted_puts.h"
#include "verity/core/sha256.h"
#include "verity/core/status.h"
#include "verity/store/store.h"

namespace verity::store {

struct Pending;
struct PreparedEvent;

// Idempotency: what is already stored under each request id of the group (one MultiGet for the
// whole group: the ids family for predictions, the labels family for labels), and the predictions
// this group stores, which later events of the group see first.
class IdempotencyLookup {
 public:
  // The digest of what is already stored under a request id, from this group or the database.
  struct Existing {
    bool found = false;
    Sha256Digest digest{};
  };

  // Reads every request id of `group` (events numbered k = 0, 1, ... across its batches).
  void begin(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* ids, rocksdb::ColumnFamilyHandle* labels,
             const std::vector<Pending>& group);
  // Event k, a label: what the labels family holds under its request id.
  const rocksdb::Status& stored_status(size_t k) const { return lookups_.status(k); }
  std::string_view stored_value(size_t k) const { return lookups_.value(k); }
  // Event k, a prediction whose canonical document has `digest`.
  Result<Existing> prediction(size_t k, const Event& e, const Sha256Digest& digest) const;
  // The group stored a prediction under `request_id` (it must outlive the group).
  void stored(std::string_view request_id, const Sha256Digest& digest) {
    in_group_[request_id] = digest;
  }

 private:
  PointLookups lookups_;
  std::unordered_map<std::string_view, Sha256Digest> in_group_;
};

// Partitions and their hash chains: a new prediction's record goes into the partition of its UTC
// day, the chain of that partition takes its next link, and a model's first record in a partition
// is noted in the metadata. The heads are written with the group and become the committed state
// (PartitionState) only after the write.
class ChainWriter {
 public:
  explicit ChainWriter(Store::Impl& store) : store_(store) {}
  void begin();
  // Writes `record` (a prediction's, its sequence patched in) into its partition at `sequence`,
  // with its chain link. `day` is set to the partition.
  Status add(const Event& e, const std::string& record, const Sha256Digest& entry_digest,
             uint64_t sequence, rocksdb::WriteBatch& wb, uint32_t& day);
  Status before_write(rocksdb::WriteBatch& wb);  // each touched partition's head
  void after_write();                            // heads and models into the partition state

 private:
  Store::Impl& store_;
  std::unordered_map<uint32_t, ChainHead> heads_;  // as they will be once the group is written
  std::vector<std::pair<uint32_t, std::string>> models_;  // new to their partition
  // Most events of a group share a partition: the last one's lookup is kept.
  uint32_t cached_day_ = 0;
  rocksdb::ColumnFamilyHandle* cached_cf_ = nullptr;
  ChainHead* cached_head_ = nullptr;  // into heads_ (unordered_map references survive rehashing)
  uint32_t checked_model_day_ = 0;    // the last (partition, model) pair known to be recorded
  std::string_view checked_model_;
};

// The index entries of the group: request id -> partition, sequence and digest; time index;
// field index; label bundles. Collected while the group is built and added to the WriteBatch in
// key order (sorted_puts.h).
class IndexWriter {
 public:
  void begin();
  // A new prediction stored in partition `day` at `sequence`, with its field-index terms.
  void add_prediction(const Event& e, const std::vector<IndexTerm>& terms, uint32_t day,
                      uint64_t sequence, const Sha256Digest& digest);
  // A request id's label bundle as it will be written (the last one put wins).
  void put_label(std::string_view request_id, std::string_view bundle) {
    labels_.put(request_id, bundle);
  }
  Status before_write(rocksdb::WriteBatch& wb, rocksdb::ColumnFamilyHandle* ids,
                      rocksdb::ColumnFamilyHandle* by_time, rocksdb::ColumnFamilyHandle* fields,
                      rocksdb::ColumnFamilyHandle* labels);

 private:
  SortedPuts ids_, times_, fields_, labels_;
};

// The outbox shippers read (StoreOptions::outbox): a stored prediction, or a label that changed
// the label in effect, at its sequence. Off: nothing is written.
class OutboxWriter {
 public:
  explicit OutboxWriter(Store::Impl& store) : store_(store) {}
  void begin() { events_ = bytes_ = 0; }
  Status add_prediction(rocksdb::WriteBatch& wb, uint64_t sequence, uint32_t day,
                        size_t record_size);
  Status add_label(rocksdb::WriteBatch& wb, uint64_t sequence, std::string_view request_id);
  void after_write();  // the backlog counters

 private:
  Store::Impl& store_;
  uint64_t events_ = 0, bytes_ = 0;
};

}  // namespace verity::store
