// The commit thread: takes queued batches, checks idempotency, and writes them as one RocksDB
// WriteBatch per commit group, synced according to the policy, before reporting any of them.

#include <chrono>
#include <functional>
#include <unordered_map>

#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include "label_bundle.h"
#include "record_codec.h"
#include "search_keys.h"
#include "store_impl.h"
#include "verity/core/guard.h"
#include "verity/core/http.h"
#include "verity/document/json_writer.h"
#include "verity/store/partition.h"

namespace verity::store {

Status Store::Impl::commit_label(const Event& e, PreparedEvent& prep,
                                 const rocksdb::Status& stored_status,
                                 const std::string& stored_value, GroupBundles& bundles,
                                 uint64_t& seq, rocksdb::WriteBatch& wb, EventOutcome& outcome) {
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
    current = decode_record(bundle->current);
    if (!current) return Status::internal("corrupt label record for a request id in this group");
    current_digest = sha256_json_canonical(current->document);
    // The same label again, or any label this request id ever had (a replayed log, in any
    // order): a duplicate, whatever its age.
    if (current_digest == digest || bundle->seen(digest)) {
      outcome = EventOutcome::kDuplicate;
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
  index_writer.put_label(e.request_id, bundle->encode());  // in key order at the group's end
  // The label in effect changed: forward it (a late older label changes nothing indexed).
  if (change != LabelChange::kOlder) {
    if (auto st = outbox_writer.add_label(wb, sequence, e.request_id); !st) return st;
  }
  outcome = EventOutcome::kStored;
  if (!quality.on()) return Status::ok();
  return quality.add_label(e, prep.join, change, std::move(current), old_first, bundle->first_ms,
                           wb);
}

Status Store::Impl::write_group(std::vector<Pending>& group, std::vector<CommitResult>& results) {
  ++group_writes;
  results.assign(group.size(), CommitResult{});
  idempotency.begin(*db, ids, labels, group);  // one MultiGet for the whole group

  const EpochMillis now = clock.now_ms();
  const bool quality_on = quality.on();
  if (quality_on) quality.begin(group, now);  // the labels stored for the group's predictions
  chain_writer.begin();
  index_writer.begin();
  outbox_writer.begin();
  dead_letters.begin();
  GroupBundles bundles;
  uint64_t seq = next_sequence;
  // The batch is reused so its buffer is allocated once, unless a group made it large (labels
  // spread over many buckets can add tens of MB of aggregate operands): then it is given back.
  if (write_batch.GetDataSize() > (64u << 20)) write_batch = rocksdb::WriteBatch();
  rocksdb::WriteBatch& wb = write_batch;
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
        if (auto s = commit_label(e, prep, idempotency.stored_status(k),
                                  idempotency.stored_value(k), bundles, seq, wb, outcome);
            !s) {
          return s;
        }
        r.outcomes[i] = outcome;
        ++(outcome == EventOutcome::kDuplicate ? r.duplicates : r.stored);
        continue;
      }
      const Sha256Digest& digest = prep.digest;
      auto existing = idempotency.prediction(k, e, digest);
      if (!existing) return existing.status();
      if (existing->found && existing->digest == digest) {
        r.outcomes[i] = EventOutcome::kDuplicate;
        ++r.duplicates;
        if (quality_on) quality.unstore(e);  // its batch's sums counted it
        continue;
      }
      if (existing->found) {
        if (quality_on) quality.unstore(e);
        if (auto st = dead_letters.put_conflict(e, digest, batch.input, seq++, now, wb); !st)
          return st;
        r.outcomes[i] = EventOutcome::kDuplicateConflict;
        ++r.dead_lettered;
        continue;
      }

      // A new prediction: its record and chain link, its index entries, its outbox entry.
      const uint64_t sequence = seq++;
      patch_sequence(prep.record, sequence);
      uint32_t day = 0;
      if (auto st = chain_writer.add(e, prep.record, prep.entry_digest, sequence, wb, day); !st) {
        return st;
      }
      index_writer.add_prediction(e, prep.terms, day, sequence, digest);
      if (auto st = outbox_writer.add_prediction(wb, sequence, day, prep.record.size()); !st) {
        return st;
      }
      if (quality_on) {
        if (auto qs = quality.add_prediction(e, k, wb); !qs) return qs;
      }
      idempotency.stored(e.request_id, digest);
      r.outcomes[i] = EventOutcome::kStored;
      ++r.stored;
    }
    if (quality_on) quality.add_batch(group[g].contributions);
    if (auto st = dead_letters.put_rejects(batch, seq, now, wb, r); !st) return st;
  }
  if (seq == next_sequence) return Status::ok();  // only duplicates: nothing to write
  if (auto st = index_writer.before_write(wb, ids, by_time, field_index, labels); !st) return st;
  if (auto st = chain_writer.before_write(wb); !st) return st;
  if (quality_on) {
    if (auto qs = quality.before_write(wb); !qs) return qs;
  }
  summaries_flush_into(wb, seq);  // now and then: the buffered block summaries
  if (auto st = wb.Put(meta, kNextSequenceKey, sequence_key(seq)); !st.ok()) {
    return from_rocksdb(st, "building the commit group");
  }
  if (auto st = dead_letters.before_write(wb); !st) return st;
  rocksdb::WriteOptions wo;
  // Under sync: group the WAL is synced by the sync thread (run_commit_loop).
  wo.sync = options.sync == SyncPolicy::kAlways;
  auto st = db->Write(wo, &wb);
  if (!st.ok()) return from_rocksdb(st, "writing a commit group");
  next_sequence = seq;
  next_sequence_seen = seq;
  dead_letters.after_write();
  outbox_writer.after_write();
  if (quality_on) quality.after_write();
  chain_writer.after_write();
  return Status::ok();
}

// Answers every batch of `group` (in order) with `status`, or with its result when it is ok.
void Store::Impl::finish_group(std::vector<Pending>& group, std::vector<CommitResult>& results,
                               const Status& status, std::chrono::steady_clock::time_point start) {
  size_t items = 0;
  for (const auto& p : group) items += p.events();
  if (status) {
    commit_latency->Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    group_events->Observe(static_cast<double>(items));
  }
  queue.answered(group);
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
Status Store::Impl::settle_unsynced(std::vector<Pending>& group) {
  if (!unsynced) return Status::ok();
  Status s = syncer->wait();
  if (s) {
    if (summary_flush_owner == unsynced->write) summaries_written(true);
    advance_durable(unsynced->end_sequence);
    finish_group(unsynced->group, unsynced->results, s, unsynced->start);
  } else {
    std::vector<Pending> retry = std::move(unsynced->group);
    // Their write, and any written after it, may be lost with the WAL: the block summaries in
    // flight go back into the buffer (which holds every value of these batches not yet durable).
    summaries_written(false);
    for (auto& p : group) retry.push_back(std::move(p));
    group = std::move(retry);
  }
  unsynced.reset();
  return s;
}

void Store::Impl::run_commit_loop() {
  // Under sync: group, a group is written without a sync and its WAL is synced on the sync thread
  // while the next group is built and written; it is answered once that sync succeeded. Other
  // policies write (and sync, under always) in the Write itself.
  const bool pipelined = options.sync == SyncPolicy::kGroup;
  SubmissionQueue::GroupLimits limits;
  limits.max_events = options.max_group_events;
  limits.max_bytes = options.max_group_bytes.bytes;
  limits.one_batch = options.sync == SyncPolicy::kAlways;
  const std::function<bool()> sync_done = [this] { return syncer->done(); };
  std::vector<Pending> group;  // batches of a failed sync stay in it, written again first
  std::vector<CommitResult> results;
  while (true) {
    if (!queue.take(group, limits, unsynced.has_value(), sync_done)) break;  // stopped, all written
    // A sync that ended while nothing was queued: answer its group now.
    if (unsynced && syncer->done()) {
      if (auto s = settle_unsynced(group); !s) {
        commit_failures->Increment();
        set_writable(false, s.message());
        db_failed = true;
      }
    }
    if (group.empty()) continue;

    Status status;
    const auto start = std::chrono::steady_clock::now();
    while (true) {
      if (db && !db_failed) {
        std::lock_guard write_lock(write_mu);
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
          commit_failures->Increment();
          break;
        }
      } else if (!db) {
        status = reopen_error;
      } else if (status) {  // broken by a maintenance write or a failed sync
        status =
            Status::unavailable("a write failed; the store reopens once the disk takes writes");
      }
      if (status && pipelined) {
        // The group before must be durable before this one's sync starts (it is answered now).
        if (auto s = settle_unsynced(group); !s) {
          status = s;  // both are written again after the reopen
        } else {
          if (!writable.load()) set_writable(true, "");
          syncer->start(db.get());
          unsynced.emplace();
          unsynced->group = std::move(group);
          unsynced->results = std::move(results);
          unsynced->end_sequence = next_sequence;
          unsynced->write = group_writes;
          unsynced->start = start;
          group.clear();
          break;
        }
      } else if (status) {
        advance_durable(next_sequence);
        if (!writable.load()) set_writable(true, "");
        break;
      }
      commit_failures->Increment();
      set_writable(false, status.message());
      // A failed write leaves RocksDB's WAL writer with an error it does not recover from: a
      // later write on the same instance fails again or, in Debian's build, trips an assertion
      // (found on a real full tmpfs). So the instance is never written again: once the disk takes
      // writes, the store is reopened (recovery replays the WAL up to its last complete record,
      // which holds everything acknowledged) and the group is written again.
      db_failed = true;
      // The group written before this one is settled first: never reopen under a running sync.
      (void)settle_unsynced(group);
      if (!queue.pause(options.retry_interval, clock.now_ms())) break;  // the drain deadline passed
      // Reopen only once the disk takes writes again: until then the open database keeps
      // serving reads.
      if (!disk_writable()) {
        spdlog::debug("store: the data directory still refuses writes");
      } else if (auto reopened = reopen_db(); !reopened) {
        spdlog::debug("store: reopen: {}", reopened.message());
        reopen_error = reopened;
      } else {
        db_failed = false;
        spdlog::info("store: reopened the database after a write failure");
      }
    }
    if (!group.empty()) finish_group(group, results, status, start);
  }
  // Stopped with everything committed: the buffered block summaries are written, so that the
  // next open has none to make again.
  if (db && !db_failed) {
    std::lock_guard write_lock(write_mu);
    rocksdb::WriteBatch wb;
    summaries_flush_into(wb, next_sequence, true);
    if (wb.Count() > 0) {
      rocksdb::WriteOptions wo;
      wo.sync = options.sync != SyncPolicy::kNone;
      const auto s = db->Write(wo, &wb);
      if (!s.ok()) spdlog::warn("store: writing the block summaries at stop: {}", s.ToString());
      summaries_written(s.ok());
    }
  }
}

}  // namespace verity::store
