// The commit thread: takes queued batches, checks idempotency, and writes them as one RocksDB
// WriteBatch per commit group, synced according to the policy, before reporting any of them.

#include <chrono>
#include <deque>
#include <unordered_map>
#include <unordered_set>

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
namespace {

// The digest of what is already stored under a request id, from this group or the database.
struct Existing {
  bool found = false;
  Sha256Digest digest{};
};

}  // namespace

// What write_group knows of the label join while it builds one group.
struct Store::Impl::GroupJoin {
  bool quality_on = false;
  // The labels stored for the group's predictions (one MultiGet), by label_slot.
  std::vector<std::string> label_values;
  std::vector<rocksdb::Status> label_statuses;
  // Predictions stored by this group, and the label in effect for request ids whose label this
  // group changed (its time: the first label time of the request id).
  std::unordered_map<std::string_view, JoinSide> predictions, labels;
  std::unordered_set<std::string_view> pending;  // labels of this group that wait
  // The label bundles of request ids whose labels this group touched, as they will be written.
  std::unordered_map<std::string_view, LabelBundle> bundles;
  std::deque<StoredRecord> records;  // decoded label records the JoinSides above point into
};

Status Store::Impl::join_prediction(const Event& e, size_t slot, GroupJoin& g,
                                    rocksdb::WriteBatch& wb) {
  const std::string_view id = e.request_id;
  const JoinSide* label = nullptr;
  JoinSide stored_side;
  if (auto it = g.labels.find(id); it != g.labels.end()) {
    label = &it->second;
  } else if (g.label_statuses[slot].ok()) {
    auto bundle = LabelBundle::decode(g.label_values[slot]);
    auto current = bundle ? decode_record(bundle->current) : std::nullopt;
    if (!current) return Status::internal("corrupt label record for a request id in this group");
    StoredRecord& r = g.records.emplace_back(std::move(*current));
    stored_side = side_of(r);
    stored_side.time_ms = bundle->first_ms;  // label lag is measured to the first label
    label = &stored_side;
  } else if (!g.label_statuses[slot].IsNotFound()) {
    return from_rocksdb(g.label_statuses[slot], "reading labels");
  }
  if (auto s = quality_prediction(e, label, g.pending.count(id) > 0, wb); !s) return s;
  g.predictions[id] = side_of(e);
  g.pending.erase(id);
  return Status::ok();
}

Status Store::Impl::commit_label(const Event& e, PreparedEvent& prep,
                                 const rocksdb::Status& stored_status,
                                 const std::string& stored_value, GroupJoin& g, uint64_t& seq,
                                 rocksdb::WriteBatch& wb, EventOutcome& outcome) {
  const std::string_view id = e.request_id;
  const Sha256Digest& digest = prep.digest;  // of the canonical document
  // The request id's labels as they stand: from this group, or as stored.
  LabelBundle* bundle = nullptr;
  if (auto it = g.bundles.find(id); it != g.bundles.end()) {
    bundle = &it->second;
  } else if (stored_status.ok()) {
    auto b = LabelBundle::decode(stored_value);
    if (!b) return Status::internal("corrupt label record for a request id in this group");
    bundle = &g.bundles.emplace(id, std::move(*b)).first->second;
  } else if (!stored_status.IsNotFound()) {
    return from_rocksdb(stored_status, "reading labels");
  }

  enum class Change { kFirst, kCorrection, kOlder } change = Change::kFirst;
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
    change = e.timestamp_ms < current->timestamp_ms ? Change::kOlder : Change::kCorrection;
  }

  const uint64_t sequence = seq++;
  patch_sequence(prep.record, sequence);
  const EpochMillis old_first = bundle != nullptr ? bundle->first_ms : e.timestamp_ms;
  if (bundle == nullptr) {
    bundle = &g.bundles.emplace(id, LabelBundle{}).first->second;
    bundle->current = prep.record;
    bundle->first_ms = e.timestamp_ms;
  } else if (change == Change::kOlder) {
    bundle->remember(e.timestamp_ms, digest, prep.record);
    bundle->first_ms = std::min(bundle->first_ms, e.timestamp_ms);
  } else {
    bundle->remember(current->timestamp_ms, current_digest, std::move(bundle->current));
    bundle->current = prep.record;
    bundle->first_ms = std::min(bundle->first_ms, e.timestamp_ms);
  }
  group_label_puts.put(e.request_id, bundle->encode());  // in key order at the end of the group
  rocksdb::Status st;
  // The label in effect changed: forward it (a late older label changes nothing indexed).
  if (st.ok() && change != Change::kOlder && options.outbox) {
    st = wb.Put(outbox, sequence_key(sequence), "L" + e.request_id);
    ++group_outbox_events;
    group_outbox_bytes += e.request_id.size() + 1;
  }
  if (!st.ok()) return from_rocksdb(st, "building the commit group");
  outcome = EventOutcome::kStored;
  if (!g.quality_on) return Status::ok();

  // The join. Label sides carry the first label time: label lag is measured to it.
  if (change == Change::kFirst && prep.join.ready) {
    apply_join_plan(prep.join);  // planned by the submitting thread against the store as it was
    JoinSide side = side_of(e);
    g.labels[id] = side;
    g.pending.erase(id);
    return Status::ok();
  }
  // What is in the aggregates now: the label in effect before, with the first time before.
  JoinSide old_side{};
  const JoinSide* old = nullptr;
  if (change != Change::kFirst) {
    if (auto it = g.labels.find(id); it != g.labels.end()) {
      old_side = it->second;
    } else {
      StoredRecord& r = g.records.emplace_back(std::move(*current));
      old_side = side_of(r);
      old_side.time_ms = old_first;
    }
    old = &old_side;
  }
  JoinSide new_side{};
  const char* counter = nullptr;
  if (change == Change::kOlder) {
    if (bundle->first_ms == old_first)
      return Status::ok();  // not earlier than the first: no change
    new_side = old_side;    // the same label in effect, measured from an earlier first label
    new_side.time_ms = bundle->first_ms;
  } else {
    new_side = side_of(e);
    new_side.time_ms = bundle->first_ms;
    if (change == Change::kCorrection) counter = "corrections";
  }
  auto p = g.predictions.find(id);
  bool now_pending = false;
  if (auto s = quality_label(id, new_side, p == g.predictions.end() ? nullptr : &p->second, old,
                             counter, g.pending.count(id) > 0, wb, now_pending);
      !s) {
    return s;
  }
  g.labels[id] = new_side;
  if (now_pending) {
    g.pending.insert(id);
  } else {
    g.pending.erase(id);
  }
  return Status::ok();
}

Status Store::Impl::write_group(std::vector<Pending>& group, std::vector<CommitResult>& results) {
  ++group_writes;
  results.assign(group.size(), CommitResult{});

  // One MultiGet per kind for every request id in the group.
  std::vector<rocksdb::ColumnFamilyHandle*> cfs;
  std::vector<rocksdb::Slice> keys;
  for (const auto& p : group) {
    for (const auto& e : p.batch.events) {
      cfs.push_back(e.kind == EventKind::kLabel ? labels : ids);
      keys.emplace_back(e.request_id);
    }
  }
  std::vector<std::string> values;
  std::vector<rocksdb::Status> statuses;
  if (!keys.empty()) statuses = db->MultiGet(rocksdb::ReadOptions(), cfs, keys, &values);

  // Model quality: the label stored for each prediction of the group, if any (labels look their
  // prediction up only when they are new or corrected, in quality_label).
  const bool quality_on = options.contributor != nullptr;
  GroupJoin gj;
  gj.quality_on = quality_on;
  std::vector<size_t> label_slot;  // event index k -> index in gj.label_values, or SIZE_MAX
  if (quality_on) {
    quality.clear();
    std::vector<rocksdb::ColumnFamilyHandle*> lcfs;
    std::vector<rocksdb::Slice> lkeys;
    for (const auto& p : group) {
      for (const auto& e : p.batch.events) {
        label_slot.push_back(e.kind == EventKind::kLabel ? SIZE_MAX : lkeys.size());
        if (e.kind != EventKind::kLabel) {
          lcfs.push_back(labels);
          lkeys.emplace_back(e.request_id);
        }
      }
    }
    if (!lkeys.empty()) {
      gj.label_statuses = db->MultiGet(rocksdb::ReadOptions(), lcfs, lkeys, &gj.label_values);
    }
  }

  std::unordered_map<std::string_view, Sha256Digest> in_group_predictions;
  in_group_predictions.reserve(keys.size());
  uint32_t cached_day = 0;  // most events of a group share a partition: skip the locked lookup
  rocksdb::ColumnFamilyHandle* cached_cf = nullptr;
  ChainHead* cached_head = nullptr;
  uint32_t checked_model_day = 0;  // the last (partition, model) pair known to be recorded
  std::string_view checked_model;
  group_heads.clear();
  group_models.clear();
  group_id_puts.clear();
  group_time_puts.clear();
  group_field_puts.clear();
  group_label_puts.clear();
  group_outbox_events = group_outbox_bytes = 0;
  group_dead_letter_bytes = 0;
  group_dead_letter_events = 0;
  const EpochMillis now = clock.now_ms();
  group_arrival_ms = now;
  uint64_t seq = next_sequence;
  // The batch is reused so its buffer is allocated once, unless a group made it large (labels
  // spread over many buckets can add tens of MB of aggregate operands): then it is given back.
  if (write_batch.GetDataSize() > (64u << 20)) write_batch = rocksdb::WriteBatch();
  rocksdb::WriteBatch& wb = write_batch;
  wb.Clear();
  std::string value;
  size_t k = 0;

  for (size_t g = 0; g < group.size(); ++g) {
    const IngestBatch& batch = group[g].batch;
    CommitResult& r = results[g];
    r.outcomes.resize(batch.events.size());
    for (size_t i = 0; i < batch.events.size(); ++i, ++k) {
      const Event& e = batch.events[i];
      PreparedEvent& prep = group[g].prepared[i];
      const bool is_label = e.kind == EventKind::kLabel;
      if (is_label) {
        EventOutcome outcome = EventOutcome::kStored;
        if (auto s = commit_label(e, prep, statuses[k], values[k], gj, seq, wb, outcome); !s) {
          return s;
        }
        r.outcomes[i] = outcome;
        ++(outcome == EventOutcome::kDuplicate ? r.duplicates : r.stored);
        continue;
      }
      auto& seen = in_group_predictions;
      const Sha256Digest& digest = prep.digest;

      Existing existing;
      if (auto it = seen.find(e.request_id); it != seen.end()) {
        existing = {true, it->second};
      } else if (statuses[k].ok()) {
        existing.found = true;
        auto entry = decode_id_entry(values[k]);
        if (!entry) return Status::internal("corrupt request-id index entry");
        existing.digest = entry->digest;
      } else if (!statuses[k].IsNotFound()) {
        return from_rocksdb(statuses[k], "reading the request-id index");
      }

      // Index entries written before digests were canonical hold the digest of the bytes as
      // sent: a document with whitespace is compared that way too before it is called a conflict.
      if (existing.found && existing.digest != digest && existing.digest == sha256(e.document)) {
        existing.digest = digest;
      }
      if (existing.found && existing.digest == digest) {
        r.outcomes[i] = EventOutcome::kDuplicate;
        ++r.duplicates;
        if (quality_on) quality_unstore(e);  // its batch's sums counted it
        continue;
      }
      if (existing.found) {
        if (quality_on) quality_unstore(e);
        const uint64_t s = seq++;
        DeadLetter d;
        d.type = "duplicate_conflict";
        d.reason = "line " + std::to_string(e.line) +
                   ": a different document is already stored under this request id";
        d.line = e.line;
        d.request_id = e.request_id;
        d.document = e.document;
        d.raw_length = e.document.size();
        const std::string hex = to_hex(digest);
        d.raw_sha256_hex = hex;
        if (auto st = put_dead_letter(wb, s, batch.input, now, d); !st) return st;
        r.outcomes[i] = EventOutcome::kDuplicateConflict;
        ++r.dead_lettered;
        continue;
      }

      // A new prediction.
      const uint64_t sequence = seq++;
      patch_sequence(prep.record, sequence);
      rocksdb::Status st;
      {
        const uint32_t day = utc_day(e.timestamp_ms);
        if (day != cached_day || cached_cf == nullptr) {
          auto cf = partition_cf(day);
          if (!cf) return cf.status();
          cached_day = day;
          cached_cf = *cf;
          auto [it, fresh] = group_heads.try_emplace(day);
          if (fresh) {
            std::lock_guard lock(state_mu);
            auto known = state.find(day);
            it->second = known != state.end() ? known->second.chain : empty_chain(day);
          }
          cached_head = &it->second;  // unordered_map references survive rehashing
        }
        ChainHead& head = *cached_head;
        head.link = chain_step(head.link, sequence, prep.entry_digest);
        ++head.count;
        head.last_sequence = sequence;
        head.raw_bytes += e.document.size();
        st = wb.Put(cached_cf, sequence_key(sequence), prep.record);
        // The index entries go in at the end of the group, in key order (sorted_puts.h).
        group_id_puts.begin().append(e.request_id);
        group_id_puts.key_done();
        append_id_entry(group_id_puts.begin_value(), {day, sequence, digest});
        group_id_puts.end();
        append_time_index_key(group_time_puts.begin(), day, e.model_name, e.model_version,
                              e.timestamp_ms, e.request_id);
        group_time_puts.key_done();
        group_time_puts.begin_value().append(sequence_key(sequence));
        group_time_puts.end();
        for (const IndexTerm& t : prep.terms) {
          std::string& k = group_field_puts.begin();
          append_field_index_group(k, day, e.model_name, e.model_version, t.field, t.token);
          put_time(k, e.timestamp_ms);
          k.append(e.request_id);
          group_field_puts.key_done();
          group_field_puts.begin_value().append(sequence_key(sequence));
          group_field_puts.end();
        }
        if (st.ok() && options.outbox) {
          std::string v = "P";
          put_be(v, day, 4);
          const auto size = static_cast<uint32_t>(prep.record.size());
          put_be(v, size, 4);
          st = wb.Put(outbox, sequence_key(sequence), v);
          ++group_outbox_events;
          group_outbox_bytes += size;
        }
        if (st.ok()) {
          st = wb.Put(
              chain, link_key(day, sequence),
              rocksdb::Slice(reinterpret_cast<const char*>(head.link.data()), kStoredLinkBytes));
        }
        if (st.ok() && (day != checked_model_day || e.model_name != checked_model)) {
          bool known;
          {
            std::lock_guard lock(state_mu);
            auto p = state.find(day);
            known = p != state.end() && p->second.models.count(e.model_name) > 0;
          }
          for (const auto& [d, m] : group_models) known = known || (d == day && m == e.model_name);
          if (!known) {
            group_models.emplace_back(day, e.model_name);
            st = wb.Put(meta, kModelPrefix + partition_name(day) + "/" + e.model_name, "");
          }
          checked_model_day = day;
          checked_model = e.model_name;
        }
      }
      if (!st.ok()) return from_rocksdb(st, "building the commit group");
      if (quality_on) {
        if (auto qs = join_prediction(e, label_slot[k], gj, wb); !qs) return qs;
      }
      seen[e.request_id] = digest;
      r.outcomes[i] = EventOutcome::kStored;
      ++r.stored;
    }
    if (quality_on) quality_add_batch(group[g].contributions);
    // Rejects go to the dead-letter store, unless it is far over its cap (a flood): then they
    // are only counted, so that rejects never crowd out the predictions that are acknowledged.
    const bool dead_letters_full = dead_letters_over_cap();
    for (const Reject& rj : batch.rejects) {
      if (dead_letters_full) {
        dead_letters_dropped("cap", 1);
        continue;
      }
      const uint64_t s = seq++;
      DeadLetter d;
      d.type = rj.type;
      d.reason = rj.reason;
      d.line = rj.line;
      d.document = rj.document;
      d.raw_length = rj.raw_length;
      d.raw_sha256_hex = rj.raw_sha256_hex;
      if (auto st = put_dead_letter(wb, s, batch.input, now, d); !st) return st;
      ++r.rejects_written;
    }
    if (!batch.omitted_rejects.empty()) {
      // One entry for the rejects the batch did not keep (dead_letters.max_per_batch).
      dead_letters_dropped("per_batch", batch.omitted());
      if (!dead_letters_full) {
        std::string counts;
        for (const auto& [type, n] : batch.omitted_rejects) {
          counts += (counts.empty() ? "" : ", ") + type + " " + std::to_string(n);
        }
        DeadLetter d;
        d.type = "rejects_omitted";
        d.reason = std::to_string(batch.omitted()) + " more rejects of this batch were counted, " +
                   "not kept (dead_letters.max_per_batch): " + counts;
        if (auto st = put_dead_letter(wb, seq++, batch.input, now, d); !st) return st;
      }
    }
  }
  if (seq == next_sequence) return Status::ok();  // only duplicates: nothing to write
  if (auto st = group_id_puts.flush_into(wb, ids); !st.ok()) {
    return from_rocksdb(st, "building the commit group");
  }
  if (auto st = group_time_puts.flush_into(wb, by_time); !st.ok()) {
    return from_rocksdb(st, "building the commit group");
  }
  if (auto st = group_field_puts.flush_into(wb, field_index); !st.ok()) {
    return from_rocksdb(st, "building the commit group");
  }
  if (auto st = group_label_puts.flush_into(wb, labels); !st.ok()) {
    return from_rocksdb(st, "building the commit group");
  }
  for (const auto& [day, head] : group_heads) {
    if (auto st = wb.Put(chain, head_key(day), encode_head(head)); !st.ok()) {
      return from_rocksdb(st, "building the commit group");
    }
  }

  if (quality_on) {
    if (auto qs = quality_finish_group(wb); !qs) return qs;
  }
  summaries_flush_into(wb);  // now and then: the buffered block summaries
  if (auto st = wb.Put(meta, kNextSequenceKey, sequence_key(seq)); !st.ok()) {
    return from_rocksdb(st, "building the commit group");
  }
  if (auto st = dead_letters_before_write(wb); !st) return st;
  rocksdb::WriteOptions wo;
  // Under sync: group the WAL is synced by the sync thread (run_commit_loop).
  wo.sync = options.sync == SyncPolicy::kAlways;
  auto st = db->Write(wo, &wb);
  if (!st.ok()) return from_rocksdb(st, "writing a commit group");
  next_sequence = seq;
  next_sequence_seen = seq;
  dead_letters_after_write();
  outbox_events += group_outbox_events;
  outbox_bytes += group_outbox_bytes;
  if (quality_on) quality_after_write();
  std::lock_guard lock(state_mu);
  for (const auto& [day, head] : group_heads) state[day].chain = head;
  for (const auto& [day, model] : group_models) state[day].models.insert(model);
  return Status::ok();
}

// Answers every batch of `group` (in order) with `status`, or with its result when it is ok.
void Store::Impl::finish_group(std::vector<Pending>& group, std::vector<CommitResult>& results,
                               const Status& status, std::chrono::steady_clock::time_point start) {
  size_t items = 0, bytes = 0;
  for (const auto& p : group) {
    items += p.batch.events.size() + p.batch.rejects.size();
    bytes += p.bytes;
  }
  if (status) {
    commit_latency->Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    group_events->Observe(static_cast<double>(items));
  }
  queued_bytes -= bytes;
  queued_events -= items;
  queue_depth_events->Set(static_cast<double>(queued_events.load()));
  queue_depth_bytes->Set(static_cast<double>(queued_bytes.load()));
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
  std::vector<Pending> group;
  std::vector<CommitResult> results;
  while (true) {
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] {
        return !queue.empty() || !group.empty() || (unsynced ? syncer->done() : stopping);
      });
      if (queue.empty() && group.empty() && !unsynced) break;  // stopping, everything committed
      size_t events = 0, bytes = 0;
      for (const auto& p : group) {  // batches of a failed sync, written again first
        events += p.batch.events.size() + p.batch.rejects.size();
        bytes += p.bytes;
      }
      while (!queue.empty()) {
        const size_t n = queue.front().batch.events.size() + queue.front().batch.rejects.size();
        if (!group.empty() &&
            (options.sync == SyncPolicy::kAlways || events + n > options.max_group_events ||
             bytes + queue.front().bytes > options.max_group_bytes.bytes)) {
          break;
        }
        events += n;
        bytes += queue.front().bytes;
        group.push_back(std::move(queue.front()));
        queue.pop_front();
      }
    }
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
      std::unique_lock lock(mu);
      if (stopping && clock.now_ms() >= drain_deadline_ms) break;
      cv.wait_for(lock, options.retry_interval);
      lock.unlock();
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
    summaries_flush_into(wb, true);
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
