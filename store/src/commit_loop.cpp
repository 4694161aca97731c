// The commit thread: takes queued batches, checks idempotency, and writes them as one RocksDB
// WriteBatch per commit group, synced according to the policy, before reporting any of them.

#include "commit_loop.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <thread>
#include <unordered_map>

#include <prometheus/registry.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include "label_bundle.h"
#include "record_codec.h"
#include "search_keys.h"
#include "store_impl.h"
#include "verity/core/guard.h"
#include "verity/core/http.h"
#include "verity/core/thread_name.h"
#include "verity/document/json_writer.h"
#include "verity/store/partition.h"

namespace verity::store {

void CommitLoop::register_metrics(prometheus::Registry& registry) {
  commit_latency_ = &prometheus::BuildHistogram()
                         .Name("verity_store_commit_latency_seconds")
                         .Help("Time to write and sync one commit group")
                         .Register(registry)
                         .Add({}, prometheus::Histogram::BucketBoundaries{
                                      0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02,
                                      0.03, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5});
  group_events_ = &prometheus::BuildHistogram()
                       .Name("verity_store_commit_group_events")
                       .Help("Events and rejects written per commit group")
                       .Register(registry)
                       .Add({}, prometheus::Histogram::BucketBoundaries{1, 10, 100, 500, 1000, 2000,
                                                                        5000, 10000, 20000});
  commit_failures_ = &prometheus::BuildCounter()
                          .Name("verity_store_commit_failures_total")
                          .Help("Commit group writes that failed and were retried")
                          .Register(registry)
                          .Add({});
  writable_gauge_ = &prometheus::BuildGauge()
                         .Name("verity_store_writable")
                         .Help("1 when the last commit succeeded, 0 while writes are failing")
                         .Register(registry)
                         .Add({});
  writable_gauge_->Set(1);
}

void CommitLoop::start() {
  syncer_ = std::make_unique<WalSyncer>([this] { store_.queue.wake(); });
  thread_ = std::thread([this] { run(); });
  set_thread_name(thread_, "verity-commit");
}

void CommitLoop::join() {
  if (thread_.joinable()) thread_.join();
  syncer_.reset();  // idle now: the commit thread settles every sync before it ends
}

std::string CommitLoop::last_error() const {
  std::lock_guard lock(error_mu_);
  return last_error_;
}

void CommitLoop::set_writable(bool ok, const std::string& error) {
  const bool was = writable_.exchange(ok);
  if (writable_gauge_ != nullptr) writable_gauge_->Set(ok ? 1 : 0);
  std::lock_guard lock(error_mu_);
  last_error_ = ok ? "" : error;
  if (was && !ok) spdlog::error("store: commit failed, retrying: {}", error);
  if (!was && ok) spdlog::info("store: commits succeed again");
}

void CommitLoop::flush_summaries(rocksdb::WriteBatch& wb, uint64_t watermark, bool force) {
  const StoreOptions& o = store_.options;
  if (!o.indexer || !o.indexer->summarizes()) return;
  const std::chrono::milliseconds interval(o.summary_flush_interval.count());
  if (store_.summaries.flush_into(wb, store_.blocks, store_.meta, watermark, interval, force)) {
    summary_flush_owner_ = group_writes_;
  }
}

void CommitLoop::summaries_written(bool ok) { store_.summaries.written(ok); }

Status CommitLoop::commit_label(const Event& e, PreparedEvent& prep,
                                const rocksdb::Status& stored_status, std::string_view stored_value,
                                GroupBundles& bundles, uint64_t& seq, rocksdb::WriteBatch& wb,
                                EventOutcome& outcome) {
  const std::string_view id = e.request_id;
  const Sha256Digest& digest = prep.digest;  // of the canonical document
  // The request id's labels as they stand: from this group, or as stored.
  LabelBundle* bundle = nullptr;
  if (auto it = bundles.find(id); it != bundles.end()) {
    bundle = &it->second;
  } else if (stored_status.ok()) {
    auto b = LabelBundle::decode(stored_value);
    if (!b) return Status::internal("corrupt label record for a request id in this group");
    bundle = &bundles.emplace(id, std::move(*b)).first->second;
  } else if (!stored_status.IsNotFound()) {
    return from_rocksdb(stored_status, "reading labels");
  }

  LabelChange change = LabelChange::kFirst;
  std::optional<StoredRecord> current;
  Sha256Digest current_digest{};
  if (bundle != nullptr) {
    current = decode_record_fields(bundle->current);
    if (!current) return Status::internal("corrupt label record for a request id in this group");
    current_digest = sha256_json_canonical(current->document);
    // The same label again, or any label this request id ever had (a replayed log, in any
    // order): a duplicate, whatever its age.
    if (current_digest == digest || bundle->seen(digest)) {
      outcome = EventOutcome::kDuplicate;
      if (store_.quality.on()) store_.quality.unplan(e, prep.join);  // its batch's sums counted it
      return Status::ok();
    }
    // Labels are ordered by their own time (arrival breaks ties): an older label never
    // overrides a newer one.
    change =
        e.timestamp_ms < current->timestamp_ms ? LabelChange::kOlder : LabelChange::kCorrection;
  }

  const uint64_t sequence = seq++;
  patch_sequence(prep.record, sequence);
  const EpochMillis old_first = bundle != nullptr ? bundle->first_ms : e.timestamp_ms;
  if (bundle == nullptr) {
    bundle = &bundles.emplace(id, LabelBundle{}).first->second;
    bundle->current = prep.record;
    bundle->first_ms = e.timestamp_ms;
  } else if (change == LabelChange::kOlder) {
    bundle->remember(e.timestamp_ms, digest, prep.record);
    bundle->first_ms = std::min(bundle->first_ms, e.timestamp_ms);
  } else {
    bundle->remember(current->timestamp_ms, current_digest, std::move(bundle->current));
    bundle->current = prep.record;
    bundle->first_ms = std::min(bundle->first_ms, e.timestamp_ms);
  }
  index_writer_.put_label(e.request_id, bundle->encode());  // in key order at the group's end
  // The label in effect changed: forward it (a late older label changes nothing indexed).
  if (change != LabelChange::kOlder) {
    if (auto st = outbox_writer_.add_label(wb, sequence, e.request_id); !st) return st;
  }
  outcome = EventOutcome::kStored;
  if (!store_.quality.on()) return Status::ok();
  return store_.quality.add_label(e, prep.join, change, std::move(current), old_first,
                                  bundle->first_ms, wb);
}

Status CommitLoop::write_group(std::vector<Pending>& group, std::vector<CommitResult>& results) {
  ++group_writes_;
  results.assign(group.size(), CommitResult{});
  idempotency_.begin(*store_.db, store_.ids, store_.labels,
                     group);  // one MultiGet for the whole group

  const EpochMillis now = store_.clock.now_ms();
  const bool quality_on = store_.quality.on();
  if (quality_on)
    store_.quality.begin(group, now);  // the labels stored for the group's predictions
  chain_writer_.begin();
  index_writer_.begin();
  outbox_writer_.begin();
  store_.dead_letters.begin();
  GroupBundles bundles;
  uint64_t seq = next_sequence;
  // The batch is reused so its buffer is allocated once, unless a group made it large (labels
  // spread over many buckets can add tens of MB of aggregate operands): then it is given back.
  if (write_batch_.GetDataSize() > (64u << 20)) write_batch_ = rocksdb::WriteBatch();
  rocksdb::WriteBatch& wb = write_batch_;
  wb.Clear();
  size_t k = 0;

  for (size_t g = 0; g < group.size(); ++g) {
    const IngestBatch& batch = group[g].batch;
    CommitResult& r = results[g];
    r.outcomes.resize(batch.events.size());
    for (size_t i = 0; i < batch.events.size(); ++i, ++k) {
      const Event& e = batch.events[i];
      PreparedEvent& prep = group[g].prepared[i];
      if (e.kind == EventKind::kLabel) {
        EventOutcome outcome = EventOutcome::kStored;
        if (auto s = commit_label(e, prep, idempotency_.stored_status(k),
                                  idempotency_.stored_value(k), bundles, seq, wb, outcome);
            !s) {
          return s;
        }
        r.outcomes[i] = outcome;
        ++(outcome == EventOutcome::kDuplicate ? r.duplicates : r.stored);
        continue;
      }
      const Sha256Digest& digest = prep.digest;
      auto existing = idempotency_.prediction(k, e, digest);
      if (!existing) return existing.status();
      if (existing->found && existing->digest == digest) {
        r.outcomes[i] = EventOutcome::kDuplicate;
        ++r.duplicates;
        if (quality_on) store_.quality.unstore(e);  // its batch's sums counted it
        continue;
      }
      if (existing->found) {
        if (quality_on) store_.quality.unstore(e);
        if (auto st = store_.dead_letters.put_conflict(e, digest, batch.input, seq++, now, wb); !st)
          return st;
        r.outcomes[i] = EventOutcome::kDuplicateConflict;
        ++r.dead_lettered;
        continue;
      }

      // A new prediction: its record and chain link, its index entries, its outbox entry.
      const uint64_t sequence = seq++;
      patch_sequence(prep.record, sequence);
      uint32_t day = 0;
      if (auto st = chain_writer_.add(e, prep.record, prep.entry_digest, sequence, wb, day); !st) {
        return st;
      }
      index_writer_.add_prediction(e, prep.terms, day, sequence, digest);
      if (auto st = outbox_writer_.add_prediction(wb, sequence, day, prep.record.size()); !st) {
        return st;
      }
      if (quality_on) {
        if (auto qs = store_.quality.add_prediction(e, k, wb); !qs) return qs;
      }
      idempotency_.stored(e.request_id, digest);
      r.outcomes[i] = EventOutcome::kStored;
      ++r.stored;
    }
    if (quality_on) store_.quality.add_batch(group[g].contributions);
    if (auto st = store_.dead_letters.put_rejects(batch, seq, now, wb, r); !st) return st;
  }
  if (seq == next_sequence) return Status::ok();  // only duplicates: nothing to write
  if (auto st = index_writer_.before_write(wb, store_.ids, store_.by_time, store_.field_index,
                                           store_.labels);
      !st)
    return st;
  if (auto st = chain_writer_.before_write(wb); !st) return st;
  if (quality_on) {
    if (auto qs = store_.quality.before_write(wb); !qs) return qs;
  }
  flush_summaries(wb, seq);  // now and then: the buffered block summaries
  if (auto st = wb.Put(store_.meta, kNextSequenceKey, sequence_key(seq)); !st.ok()) {
    return from_rocksdb(st, "building the commit group");
  }
  if (auto st = store_.dead_letters.before_write(wb); !st) return st;
  uint64_t outbox_checkpoint = 0;
  for (const auto& p : group) {
    outbox_checkpoint = std::max(outbox_checkpoint, p.batch.outbox_checkpoint);
  }
  // The acknowledgment that follows (Outbox::ack) writes the same key again and deletes the
  // entries.
  if (outbox_checkpoint > store_.outbox_reader.checkpoint()) {
    if (auto st = wb.Put(store_.meta, kOutboxCheckpointKey, sequence_key(outbox_checkpoint));
        !st.ok()) {
      return from_rocksdb(st, "building the commit group");
    }
  }
  rocksdb::WriteOptions wo;
  // Under sync: group the WAL is synced by the sync thread (run_commit_loop).
  wo.sync = store_.options.sync == SyncPolicy::kAlways;
  auto st = store_.db->Write(wo, &wb);
  if (!st.ok()) return from_rocksdb(st, "writing a commit group");
  next_sequence = seq;
  next_sequence_seen = seq;
  store_.dead_letters.after_write();
  outbox_writer_.after_write();
  if (quality_on) store_.quality.after_write();
  chain_writer_.after_write();
  return Status::ok();
}

// Answers every batch of `group` (in order) with `status`, or with its result when it is ok.
void CommitLoop::finish_group(std::vector<Pending>& group, std::vector<CommitResult>& results,
                              const Status& status, std::chrono::steady_clock::time_point start) {
  size_t items = 0;
  for (const auto& p : group) items += p.events();
  if (status) {
    commit_latency_->Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    group_events_->Observe(static_cast<double>(items));
  }
  store_.queue.answered(group);
  for (size_t g = 0; g < group.size(); ++g) {
    if (!status) {
      CommitResult failed;
      failed.status = status;
      failed.outcomes.assign(group[g].batch.events.size(), EventOutcome::kFailed);
      failed.failed = static_cast<uint32_t>(
          group[g].batch.events.size() + group[g].batch.rejects.size() + group[g].batch.omitted());
      group[g].done(failed);
    } else {
      group[g].done(results[g]);
    }
  }
  group.clear();
}

// Waits for the sync of the group written last (if any). Synced, it is answered; otherwise its
// batches go back to the front of `group`, to be written again once the store is reopened (what
// the WAL kept of them is then found as duplicates), and the sync's error is returned.
Status CommitLoop::settle_unsynced(std::vector<Pending>& group) {
  if (!unsynced_) return Status::ok();
  Status s = syncer_->wait();
  if (s) {
    if (summary_flush_owner_ == unsynced_->write) summaries_written(true);
    advance_durable(unsynced_->end_sequence);
    finish_group(unsynced_->group, unsynced_->results, s, unsynced_->start);
  } else {
    std::vector<Pending> retry = std::move(unsynced_->group);
    // Their write, and any written after it, may be lost with the WAL: the block summaries in
    // flight go back into the buffer (which holds every value of these batches not yet durable).
    summaries_written(false);
    for (auto& p : group) retry.push_back(std::move(p));
    group = std::move(retry);
  }
  unsynced_.reset();
  return s;
}

void CommitLoop::run() {
  // Under sync: group, a group is written without a sync and its WAL is synced on the sync thread
  // while the next group is built and written; it is answered once that sync succeeded. Other
  // policies write (and sync, under always) in the Write itself.
  const bool pipelined = store_.options.sync == SyncPolicy::kGroup;
  SubmissionQueue::GroupLimits limits;
  limits.max_events = store_.options.max_group_events;
  limits.max_bytes = store_.options.max_group_bytes.bytes;
  limits.one_batch = store_.options.sync == SyncPolicy::kAlways;
  const std::function<bool()> sync_done = [this] { return syncer_->done(); };
  std::vector<Pending> group;  // batches of a failed sync stay in it, written again first
  std::vector<CommitResult> results;
  while (true) {
    if (!store_.queue.take(group, limits, unsynced_.has_value(), sync_done))
      break;  // stopped, all written
    // A sync that ended while nothing was queued: answer its group now.
    if (unsynced_ && syncer_->done()) {
      if (auto s = settle_unsynced(group); !s) {
        commit_failures_->Increment();
        set_writable(false, s.message());
        store_.db_failed = true;
      }
    }
    if (group.empty()) continue;

    Status status;
    const auto start = std::chrono::steady_clock::now();
    while (true) {
      if (store_.db && !store_.db_failed) {
        std::lock_guard write_lock(store_.write_mu);
        bool threw = true;  // stays true only when write_group throws
        status = guarded("writing a commit group", [&] {
          Status s = write_group(group, results);
          threw = false;
          return s;
        });
        // The summaries this write carried: kept once durable (now, or when its WAL sync
        // settles under sync: group), back into the buffer if it failed.
        if (!status || threw) {
          summaries_written(false);
        } else if (!pipelined) {
          summaries_written(true);
        }
        if (threw) {
          // Not the disk's fault (std::bad_alloc, say): the group fails, its inputs answer an
          // error (nothing was acknowledged), and the store goes on with the next group.
          spdlog::critical("store: {}", status.message());
          commit_failures_->Increment();
          break;
        }
      } else if (!store_.db) {
        status = reopen_error_;
      } else if (status) {  // broken by a maintenance write or a failed sync
        status =
            Status::unavailable("a write failed; the store reopens once the disk takes writes");
      }
      if (status && pipelined) {
        // The group before must be durable before this one's sync starts (it is answered now).
        if (auto s = settle_unsynced(group); !s) {
          status = s;  // both are written again after the reopen
        } else {
          if (!writable_.load()) set_writable(true, "");
          syncer_->start(store_.db.get());
          unsynced_.emplace();
          unsynced_->group = std::move(group);
          unsynced_->results = std::move(results);
          unsynced_->end_sequence = next_sequence;
          unsynced_->write = group_writes_;
          unsynced_->start = start;
          group.clear();
          break;
        }
      } else if (status) {
        advance_durable(next_sequence);
        if (!writable_.load()) set_writable(true, "");
        break;
      }
      commit_failures_->Increment();
      set_writable(false, status.message());
      // A failed write leaves RocksDB's WAL writer with an error it does not recover from: a
      // later write on the same instance fails again or, in Debian's build, trips an assertion
      // (found on a real full tmpfs). So the instance is never written again: once the disk takes
      // writes, the store is reopened (recovery replays the WAL up to its last complete record,
      // which holds everything acknowledged) and the group is written again.
      store_.db_failed = true;
      // The group written before this one is settled first: never reopen under a running sync.
      (void)settle_unsynced(group);
      if (!store_.queue.pause(store_.options.retry_interval, store_.clock.now_ms()))
        break;  // the drain deadline passed
      // Reopen only once the disk takes writes again: until then the open database keeps
      // serving reads.
      if (!store_.disk_writable()) {
        spdlog::debug("store: the data directory still refuses writes");
      } else if (auto reopened = store_.reopen_db(); !reopened) {
        spdlog::debug("store: reopen: {}", reopened.message());
        reopen_error_ = reopened;
      } else {
        store_.db_failed = false;
        spdlog::info("store: reopened the database after a write failure");
      }
    }
    if (!group.empty()) finish_group(group, results, status, start);
  }
  // Stopped with everything committed: the buffered block summaries are written, so that the
  // next open has none to make again.
  if (store_.db && !store_.db_failed) {
    std::lock_guard write_lock(store_.write_mu);
    rocksdb::WriteBatch wb;
    flush_summaries(wb, next_sequence, true);
    if (wb.Count() > 0) {
      rocksdb::WriteOptions wo;
      wo.sync = store_.options.sync != SyncPolicy::kNone;
      const auto s = store_.db->Write(wo, &wb);
      if (!s.ok()) spdlog::warn("store: writing the block summaries at stop: {}", s.ToString());
      summaries_written(s.ok());
    }
  }
}

}  // namespace verity::store
