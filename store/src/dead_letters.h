#pragma once

// The dead-letter store (dead_letters.cpp): rejects, conflicts and what shippers could not
// deliver, kept within dead_letters.max_bytes and dead_letters.retention, and forwarded from a
// checkpoint of its own. It owns its counts, its forwarding checkpoint and the lock that orders
// the checkpoint's writers; it is one of the commit pipeline's group writers (group_writers.h:
// begin, put..., before_write, after_write on the commit thread).

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <rocksdb/write_batch.h>

#include "verity/core/sha256.h"
#include "verity/core/status.h"
#include "verity/store/store.h"

namespace verity::store {

// One entry as a commit group writes it (JSON).
struct DeadLetter {
  std::string_view type, request_id, document, raw_sha256_hex;
  std::string reason;  // often built for the entry: owned
  uint64_t line = 0;
  uint64_t raw_length = 0;
};

class DeadLetters {
 public:
  explicit DeadLetters(Store::Impl& store) : store_(store) {}
  void register_metrics(prometheus::Registry& registry);
  Status load();  // after the database opened: the size, the checkpoint and the backlog

  // Commit thread, for one group.
  void begin();
  Status put(rocksdb::WriteBatch& wb, uint64_t seq, std::string_view input, EpochMillis now,
             const DeadLetter& d);
  // A prediction whose request id holds a different document, at `seq`.
  Status put_conflict(const Event& e, const Sha256Digest& digest, std::string_view input,
                      uint64_t seq, EpochMillis now, rocksdb::WriteBatch& wb);
  // A batch's rejects from `seq` on (only counted while the store is far over its cap), with one
  // entry for those the batch did not keep.
  Status put_rejects(const IngestBatch& batch, uint64_t& seq, EpochMillis now,
                     rocksdb::WriteBatch& wb, CommitResult& r);
  Status before_write(rocksdb::WriteBatch& wb);  // the new size, in the group's write
  void after_write();

  // Maintenance: entries past the retention and, over the cap, the oldest down to 80% of it.
  Status trim();
  bool trim_due() const { return trim_due_.load(); }  // over the cap: trim at once

  // The shipper's side (Store's OutboxSource methods).
  Result<DeadLetterRead> read(uint64_t from, size_t max_entries, size_t max_bytes) const;
  Status ack(uint64_t next);
  uint64_t checkpoint() const { return checkpoint_.load(); }
  uint64_t backlog() const;
  uint64_t take_trimmed() { return trimmed_.exchange(0); }

 private:
  bool over_cap() const;
  void dropped(const char* reason, uint64_t n);

  Store::Impl& store_;
  // The size (key and value bytes), as committed; persisted in "default".
  std::atomic<uint64_t> bytes_{0};
  std::atomic<bool> trim_due_{false};
  prometheus::Gauge* bytes_gauge_ = nullptr;
  prometheus::Family<prometheus::Counter>* dropped_ = nullptr;
  // Forwarding: the checkpoint and the entries at or past it (signed: an ack may count a group's
  // entries before the commit thread has added them). fwd_mu_ serialises the checkpoint's
  // writers (ack and trim) with their counts; lock order: write_mu, db_mu, then it.
  std::mutex fwd_mu_;
  std::atomic<uint64_t> checkpoint_{1};
  std::atomic<int64_t> backlog_{0};
  std::atomic<uint64_t> trimmed_{0};  // at or past the checkpoint, since last taken
  // Commit thread: what the group being built writes.
  uint64_t group_bytes_ = 0, group_events_ = 0;
};

}  // namespace verity::store
