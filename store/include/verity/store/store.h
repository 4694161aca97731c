#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "verity/core/clock.h"
#include "verity/core/status.h"
#include "verity/core/units.h"
#include "verity/store/admin.h"
#include "verity/store/aggregate.h"
#include "verity/store/batch_sink.h"
#include "verity/store/ingest_batch.h"
#include "verity/store/outbox_source.h"
#include "verity/store/readers.h"
#include "verity/store/record_scan.h"
#include "verity/store/retention.h"
#include "verity/store/search_index.h"
#include "verity/store/stored_record.h"

namespace prometheus {
class Registry;
}

namespace verity::store {

enum class SyncPolicy {
  kAlways,  // every submitted batch is its own fsynced write
  kGroup,   // batches queued while a write is in flight are written together, then one fsync
  kNone,    // no fsync: survives a process crash (kill -9), not a power loss
};

enum class WalCompression { kNone, kZstd };

// A test seam: while `no_space` is set, every write to the store's files fails as on a full disk
// (RocksDB sees IOStatus::NoSpace from the file system). Never set by the server.
struct WriteFaults {
  std::atomic<bool> no_space{false};    // writes, syncs and new files fail with NoSpace
  std::atomic<bool> sync_fails{false};  // syncs fail with an I/O error (writes succeed)
};

struct StoreOptions {
  std::string data_dir = "./data";
  SyncPolicy sync = SyncPolicy::kGroup;
  // Most events, and most bytes, in one commit group (a group holds at least one batch). Smaller
  // groups commit sooner; larger ones amortise the sync.
  size_t max_group_events = 16384;
  ByteSize max_group_bytes{4ull << 20};
  // Queued bytes beyond which backlogged() says inputs should stop reading.
  ByteSize max_queue_bytes{64ull << 20};
  // Shared RocksDB block cache.
  ByteSize block_cache{64ull << 20};
  // Memtable budget across all column families.
  ByteSize write_buffer{64ull << 20};
  // Compression of the write-ahead log. The WAL only lives until its memtables are flushed.
  WalCompression wal_compression = WalCompression::kNone;
  // How long the commit thread waits before retrying a failed write (disk full, I/O error).
  Duration retry_interval{1000};
  // Keep an outbox of stored predictions (sequence -> partition) for a shipper to read in append
  // order from a durable checkpoint. Off: nothing is written to it.
  bool outbox = false;
  // Tiers, retention, sealing (see retention.h).
  RetentionOptions retention;
  // Model quality: what predictions and joined labels add to the per-model aggregates. Null: no
  // aggregates are kept (labels are still stored).
  std::shared_ptr<const Contributor> contributor;
  // Search: each stored prediction's field-index terms and block summary (search_index.h). Null:
  // neither is kept, and scans read every record of their range.
  std::shared_ptr<const Indexer> indexer;
  // How often buffered block summaries are written (with a commit group). Tests set 0: every
  // group writes them.
  Duration summary_flush_interval{1000};
  // A label whose prediction has not arrived this long after the label is counted as orphaned.
  Duration label_max_wait{30ll * 86'400'000};
  // The dead-letter store (rejects, conflicts, what shippers could not deliver): most bytes kept,
  // the oldest going first (0: no cap), and how long an entry is kept (0: for ever). Far over
  // the cap (1.5x, a flood), new rejects are counted and not written, so that they never crowd
  // out the predictions that are acknowledged.
  ByteSize dead_letter_max_bytes{1ull << 30};
  Duration dead_letter_retention{30ll * 86'400'000};
  // A shipper forwards dead letters (Store::read_dead_letters): the entries past its checkpoint
  // are counted at open for dead_letter_backlog(). Off: the count starts at zero (the store is
  // otherwise the same; nothing else depends on it).
  bool forward_dead_letters = false;
  // How long the read audit trail keeps an entry (0: for ever).
  Duration read_audit_retention{365ll * 86'400'000};
  // Tests only: injected write failures (see WriteFaults). Null in production.
  std::shared_ptr<WriteFaults> faults;
};

struct StoreStats {
  uint64_t next_sequence = 0;
  uint64_t queued_events = 0;
  uint64_t queued_bytes = 0;
  std::vector<std::string> partitions;  // "p_YYYYMMDD", sorted
};

// One read of prediction data for the read audit trail (who read what).
struct ReadRecord {
  std::string actor;     // the credential's name, or "anonymous"
  std::string endpoint;  // "search", "get", "model_metrics", "audit", ...
  std::string query;     // the request's path and query string
  uint64_t returned = 0;
  std::vector<std::string> request_ids;  // point lookups
};

// The RocksDB-backed store. Layout (column families):
//   p_YYYYMMDD  sequence -> prediction record (one per UTC day of prediction time)
//   ids         request id -> partition day, sequence, digest (the request-id index)
//   labels      request id -> latest label record
//   deadletter  sequence -> JSON {input, type, reason, line, ...}
//   chain       per-partition hash chains: links, heads and seals (src/chain.h)
//   audit       id -> JSON: the append-only admin audit trail (erasures, holds, drops)
//   default     store metadata (next sequence, partition tiers and models, holds)
// Writes happen only on the commit thread, so the read-check-write of idempotency needs no locks.
// Reads are thread-safe and may run on any thread.
class Store final : public BatchSink,
                    public OutboxSource,
                    public RecordReader,
                    public AggregateReader,
                    public StoreAdmin {
 public:
  // Opens or creates the store under options.data_dir and starts the commit thread. Errors:
  // kUnavailable (cannot open: locked by another process, I/O error, unreadable data).
  static Result<std::unique_ptr<Store>> open(const StoreOptions& options, const Clock& clock,
                                             prometheus::Registry& registry);
  ~Store();  // stop(), then closes the database
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // A batch made ready for the commit thread: digests, encoded records and model-quality
  // contributions, computed by the thread that calls prepare() (BatchSink).
  using Prepared = PreparedBatch;
  Prepared prepare(IngestBatch batch) const override;
  // Batches commit in the order they are submitted; `done` runs on the commit thread once the
  // batch is durable under the sync policy, or inline with kUnavailable after stop().
  void submit(Prepared batch, CommitCallback done) override;
  using BatchSink::submit;  // submit(IngestBatch, done): prepare() and submit() on this thread
  // True while more than max_queue_bytes are queued: inputs should pause reading. Thread-safe.
  bool backlogged() const override;

  // The prediction stored under `request_id`, or nullopt. Thread-safe.
  Result<std::optional<StoredRecord>> get_prediction(std::string_view request_id) const override;
  // The latest label stored under `request_id`, or nullopt. Thread-safe.
  Result<std::optional<StoredRecord>> get_label(std::string_view request_id) const override;
  // The labels the one in effect replaced or outranked (corrections, and older labels that came
  // late), in arrival order; the newest 16 are kept whole. Thread-safe.
  Result<std::vector<StoredRecord>> get_label_history(std::string_view request_id) const override;
  // A stored prediction's link in its partition's hash chain, as kept (the first 8 bytes of
  // SHA-256(previous link | sequence | entry digest), in hex: it locates a break, the head and the
  // seals hold whole links), or nullopt when there is none for it (not a day partition, or an
  // unknown sequence). Thread-safe.
  Result<std::optional<std::string>> get_chain_link(std::string_view partition,
                                                    uint64_t sequence) const override;
  // Stored predictions in (timestamp, request id) order over one snapshot, read through the time
  // index: a model version's day is one seek and a sequential read. Thread-safe; the scan holds
  // the store's read lock until it is destroyed. Errors: kUnavailable; from next(),
  // kResourceExhausted when a day holds more than 4,096 model versions in the range (name a model).
  Result<std::unique_ptr<RecordScan>> scan(const ScanRange& range) const override;
  // Dead-letter entries (JSON text) in append order, starting at sequence `from`, at most `limit`.
  // Each is {sequence, input, ingest_time, type, reason, line, request_id?, raw_length,
  // raw_sha256?, document?}; the document is the masked document, last.
  Result<std::vector<std::string>> dead_letters(uint64_t from, size_t limit) const;

  // Dead-letter forwarding. Entries come from the dead-letter store itself (they stay there after
  // they are forwarded, for the store's own cap and retention to remove): at most `max_entries`
  // and about `max_bytes` (at least one) from sequence `from` on, in append order. Errors:
  // kUnavailable only. Thread-safe.
  Result<DeadLetterRead> read_dead_letters(uint64_t from, size_t max_entries,
                                           size_t max_bytes) const override;
  // Everything before `next` was forwarded (or refused for good): the durable checkpoint moves
  // there (not fsynced, like the outbox's: re-sending is harmless). Never moves back.
  // Thread-safe.
  Status ack_dead_letters(uint64_t next) override;
  // The first sequence not yet acknowledged (1 on a new store). Trimming (dead_letters.max_bytes,
  // retention) moves it past the entries it removes. Thread-safe.
  uint64_t dead_letter_checkpoint() const override;
  // Entries at or past the checkpoint (StoreOptions::forward_dead_letters: counted at open).
  uint64_t dead_letter_backlog() const override;
  // How many entries at or past the checkpoint the trim removed since the last call (they were
  // never acknowledged, so never forwarded unless a shipper had them in flight); resets the count.
  uint64_t take_dead_letters_trimmed() override;
  // A shipper's refused records: submit() (they are a batch of rejects like any other).
  void write_dead_letters(IngestBatch batch, CommitCallback done) override {
    submit(std::move(batch), std::move(done));
  }

  // True when the last commit succeeded (or none was tried). Thread-safe.
  bool writable() const override;
  // Why the store is not writable, for /readyz and logs ("" when writable).
  std::string unavailable_reason() const;
  StoreStats stats() const;

  // Every partition with its tier, size, chain head and holds, oldest first. Thread-safe.
  Result<std::vector<PartitionInfo>> partitions() const override;
  // Recomputes the hash chain of every partition (or of `partition` only; kNotFound when it does
  // not exist) and reports the first break in each. Thread-safe.
  Result<VerifyReport> verify(const std::string& partition) const override;
  Result<VerifyReport> verify() const { return verify(std::string()); }
  // One pass of the tier manager, by the store's clock: seals closed partitions, moves partitions
  // to warm/cold by recompaction, drops partitions past delete_after unless held. The background
  // manager calls this every retention.check_interval; tests call it directly. Thread-safe.
  Result<MaintenanceReport> run_maintenance();
  // Sets or clears a legal hold; recorded in the audit trail. Thread-safe.
  Status set_hold(const Hold& hold, bool on, std::string_view actor) override;
  Result<std::vector<Hold>> holds() const override;
  // Replaces every matching prediction by a tombstone (kept in the chain), deletes matching labels
  // and the labels of the erased predictions, strips matching documents from dead-letter entries,
  // compacts the touched ranges so the old bytes leave the disk, and appends an audit entry.
  Result<EraseReport> erase(const EraseRequest& request) override;
  // Outbox (StoreOptions::outbox): entries from sequence `from` on, in append order, at most
  // `max_events` and about `max_bytes`, only those durable under the sync policy (a record is
  // readable by lookups and searches as soon as it is written, a little before its group's WAL
  // sync returns; it is forwarded only after). Predictions whose partition was dropped or whose
  // record was erased are passed over (never shipped), and so are labels whose prediction is not
  // stored (yet: the prediction's own entry will carry its label). An entry whose record is corrupt
  // is returned as kUnreadable (never an error that would stop the reader for good); errors are
  // retryable only (kUnavailable). Thread-safe.
  Result<OutboxRead> read_outbox(uint64_t from, size_t max_events, size_t max_bytes) const override;
  // The ingest time of the oldest undelivered prediction or label (looking at the first entries
  // past the checkpoint), or nullopt when there is none. Thread-safe.
  Result<std::optional<EpochMillis>> outbox_oldest_ingest_ms() const override;
  // Sets the gauges read at scrape time: verity_store_memory_bytes{kind} (RocksDB's memtables,
  // block cache, and table readers: the ids' and labels' filters and indexes).
  void update_gauges() const;
  // Everything before `next` was delivered: the checkpoint moves there (not fsynced: re-sending is
  // harmless, see outbox.cpp). The entries before it are deleted in stretches (up to 16,383 stay
  // until the next one), so a read from below the checkpoint may still return some of them.
  Status ack_outbox(uint64_t next) override;
  uint64_t outbox_checkpoint() const override;
  OutboxBacklog outbox_backlog() const override;

  // Model quality (StoreOptions::contributor). The sum of the aggregates of `model` (one version,
  // or all when `version` is nullopt) over predictions made in [from_ms, to_ms), at minute
  // resolution: both ends are rounded down to the minute. Thread-safe.
  Result<Aggregate> aggregate(std::string_view model, const std::optional<std::string>& version,
                              EpochMillis from_ms, EpochMillis to_ms) const override;
  // Changes whenever a commit writes to a bucket of the window's aggregate (or the store is
  // reopened); equal numbers from two calls mean aggregate() of the window is unchanged in between
  // (for caching a window that no longer moves, such as a drift baseline). Day resolution: a write
  // anywhere in a day of the window changes it. Thread-safe.
  uint64_t aggregate_generation(std::string_view model, const std::optional<std::string>& version,
                                EpochMillis from_ms, EpochMillis to_ms) const override;
  // Every model version with aggregates, by model then version. Thread-safe.
  std::vector<ModelVersionInfo> model_versions() const override;
  LabelCounts label_counts() const override;

  // Writes every memtable to table files (benchmarks, and before copying a stopped store).
  Status flush();
  // Flushes, then waits until RocksDB has no compaction pending or running (at most 30 minutes):
  // benchmarks read a store at rest, not one still compacting the load they just wrote.
  Status settle();
  // Appends to the read audit trail (chained: verify() checks it). Thread-safe.
  Status record_read(const ReadRecord& read);
  // Read audit entries (JSON text: id, time, kind "read", actor, endpoint, query, returned,
  // request_ids?) with time in [from_ms, to_ms) and, unless `actor` is empty, that actor; ids
  // after `after_id`, at most `limit`, oldest first. Thread-safe.
  Result<std::vector<std::string>> read_trail(EpochMillis from_ms, EpochMillis to_ms,
                                              std::string_view actor, uint64_t after_id,
                                              size_t limit) const override;
  // Audit entries (JSON text) from id `from`, at most `limit`. Thread-safe.
  Result<std::vector<std::string>> audit_trail(uint64_t from, size_t limit) const override;

  // Stops accepting batches, commits everything queued (retrying a failing disk for at most
  // `drain_deadline`), and joins the commit thread. Idempotent.
  void stop(Duration drain_deadline = Duration(30'000));

  struct Impl;

 private:
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace verity::store
