#pragma once

// The commit thread (commit_loop.cpp): it takes prepared batches from the submission queue as
// commit groups, writes each group as one RocksDB WriteBatch built by the group writers (one per
// concern: group_writers.h, dead_letters.h, quality_writer.h, the block-summary buffer), syncs it
// under the policy (sync: group: on the sync thread, while the next group is built), and only
// then answers the group's batches. A failed write breaks the instance: the loop waits for the
// disk, reopens the store and writes the group again. It owns the sequences, the commit thread's
// scratch and the store's writable state.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <rocksdb/status.h>
#include <rocksdb/write_batch.h>

#include "group_writers.h"
#include "label_bundle.h"
#include "pending.h"
#include "wal_syncer.h"

namespace verity::store {

// sync: group: a group written without a sync, answered once its WAL sync returned (namespace
// scope: clang cannot default-construct a class nested in one still incomplete, for std::optional).
struct UnsyncedGroup {
  std::vector<Pending> group;
  uint64_t write = 0;  // CommitLoop's group_writes_ of its write (owns the summaries it wrote)
  std::vector<CommitResult> results;
  uint64_t end_sequence = 0;  // next_sequence after it
  std::chrono::steady_clock::time_point start;
};

class CommitLoop {
 public:
  explicit CommitLoop(Store::Impl& store)
      : store_(store), chain_writer_(store), outbox_writer_(store) {}

  void register_metrics(prometheus::Registry& registry);
  // Starts the commit thread (and, for sync: group, the sync thread).
  void start();
  // Waits for the commit thread to end (the submission queue was stopped: it drains first).
  void join();

  // The next sequence to write. The commit thread's, or whoever holds write_mu (an erasure).
  uint64_t next_sequence = 1;
  std::atomic<uint64_t> next_sequence_seen{1};  // a copy readable from other threads
  // Every sequence below it is durable under the sync policy (sync: group: its WAL sync
  // returned). Written records are readable before (like Elasticsearch documents before a
  // translog fsync); the outbox is read only below it, so nothing is forwarded that a power loss
  // could take back.
  std::atomic<uint64_t> durable_sequence{1};
  void advance_durable(uint64_t next) {  // never moves back (an erasure may have gone further)
    uint64_t cur = durable_sequence.load();
    while (cur < next && !durable_sequence.compare_exchange_weak(cur, next)) {
    }
  }
  // The sequences as loaded at open.
  void opened(uint64_t next) {
    next_sequence = next;
    next_sequence_seen = next;
    durable_sequence = next;
  }

  // Whether the last commit succeeded, and why not. Maintenance writes that fail set it too.
  bool writable() const { return writable_.load(); }
  std::string last_error() const;
  void set_writable(bool ok, const std::string& error);

 private:
  void run();
  void finish_group(std::vector<Pending>& group, std::vector<CommitResult>& results,
                    const Status& status, std::chrono::steady_clock::time_point start);
  Status settle_unsynced(std::vector<Pending>& group);
  Status write_group(std::vector<Pending>& group, std::vector<CommitResult>& results);
  // The label bundles of request ids whose labels the group being built touched, as they will be
  // written.
  using GroupBundles = std::unordered_map<std::string_view, LabelBundle>;
  // A label of the group: a duplicate (also of any label seen before for its request id, however
  // old), the first label, a correction (newer by label time), or an older label that arrived late
  // (kept in the history; it may move the first label time). Writes the label bundle, forwards a
  // changed label, and has model quality join it. `stored_*`: what the group's MultiGet read under
  // the request id in the labels family.
  Status commit_label(const Event& e, PreparedEvent& prep, const rocksdb::Status& stored_status,
                      std::string_view stored_value, GroupBundles& bundles, uint64_t& seq,
                      rocksdb::WriteBatch& wb, EventOutcome& outcome);
  // The block summaries: into a group's batch when due, and settled with the write that carried
  // them (durable, or back into the buffer).
  void flush_summaries(rocksdb::WriteBatch& wb, uint64_t watermark, bool force = false);
  void summaries_written(bool ok);

  Store::Impl& store_;
  // The group writers of the commit thread alone (group_writers.h).
  IdempotencyLookup idempotency_;
  ChainWriter chain_writer_;
  IndexWriter index_writer_;
  OutboxWriter outbox_writer_;

  std::thread thread_;
  rocksdb::WriteBatch write_batch_;   // reused across groups so its buffer is allocated once
  uint64_t group_writes_ = 0;         // write_group calls
  uint64_t summary_flush_owner_ = 0;  // the group_writes_ that wrote the block-summary buffer
  Status reopen_error_;               // why the last reopen failed
  // sync: group: the group written last, whose WAL sync runs on the sync thread.
  std::unique_ptr<WalSyncer> syncer_;
  std::optional<UnsyncedGroup> unsynced_;

  std::atomic<bool> writable_{true};
  mutable std::mutex error_mu_;
  std::string last_error_;  // guarded by error_mu_

  prometheus::Histogram* commit_latency_ = nullptr;
  prometheus::Histogram* group_events_ = nullptr;
  prometheus::Counter* commit_failures_ = nullptr;
  prometheus::Gauge* writable_gauge_ = nullptr;
};

}  // namespace verity::store
