// The commit thread: takes queued batches, checks idempotency, and writes them as one RocksDB
// WriteBatch per commit group, synced according to the policy, before reporting any of them.

#include <chrono>
#include <unordered_map>
#include <unordered_set>

#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include "record_codec.h"
#include "store_impl.h"
#include "verity/core/guard.h"
#include "verity/core/http.h"
#include "verity/document/json_writer.h"
#include "verity/store/partition.h"

namespace verity::store {
namespace {

std::string dead_letter_json(uint64_t seq, std::string_view input, EpochMillis now,
                             std::string_view type, std::string_view reason, uint64_t line,
                             std::string_view request_id, std::string_view document,
                             uint64_t raw_length, std::string_view raw_sha256_hex) {
  std::string out;
  out.reserve(document.size() + reason.size() + 200);
  out += "{\"sequence\":" + std::to_string(seq);
  out += ",\"input\":";
  document::append_json_string(out, input);
  out += ",\"ingest_time\":\"" + format_rfc3339(now) + "\"";
  out += ",\"type\":";
  document::append_json_string(out, type);
  out += ",\"reason\":";
  document::append_json_string(out, reason);
  out += ",\"line\":" + std::to_string(line);
  if (!request_id.empty()) {
    out += ",\"request_id\":";
    document::append_json_string(out, request_id);
  }
  out += ",\"raw_length\":" + std::to_string(raw_length);
  if (!raw_sha256_hex.empty()) {
    out += ",\"raw_sha256\":\"";
    out += raw_sha256_hex;
    out += '"';
  }
  if (!document.empty()) {
    out += ",\"document\":";
    out += document;
  }
  out += '}';
  return out;
}

// The digest of what is already stored under a request id, from this group or the database.
struct Existing {
  bool found = false;
  Sha256Digest digest{};
};

}  // namespace

Status Store::Impl::join_in_group(const Event& e, const PreparedEvent& prep, size_t k,
                                  const std::optional<StoredRecord>& old_label,
                                  const std::vector<size_t>& label_slot,
                                  const std::vector<rocksdb::Status>& label_statuses,
                                  std::vector<std::string>& label_values,
                                  std::unordered_map<std::string_view, JoinSide>& group_predictions,
                                  std::unordered_map<std::string_view, JoinSide>& group_labels,
                                  std::unordered_set<std::string_view>& group_pending,
                                  rocksdb::WriteBatch& wb) {
  const std::string_view id = e.request_id;
  if (e.kind == EventKind::kLabel) {
    // The submitting thread's plan holds when the stored label it saw is still the one stored
    // and no label of this group came first (its prediction, stored then, still is).
    const JoinPlan& plan = prep.join;
    if (plan.ready && !group_labels.count(id) && plan.had_old == old_label.has_value() &&
        (!plan.had_old || plan.old_digest == old_label->digest)) {
      apply_join_plan(plan);
      group_labels[id] = side_of(e);
      group_pending.erase(id);
      return Status::ok();
    }
    const JoinSide* old = nullptr;
    JoinSide stored_old;
    if (auto it = group_labels.find(id); it != group_labels.end()) {
      old = &it->second;
    } else if (old_label) {
      stored_old = side_of(*old_label);
      old = &stored_old;
    }
    auto p = group_predictions.find(id);
    bool now_pending = false;
    if (auto s = quality_label(e, p == group_predictions.end() ? nullptr : &p->second, old,
                               group_pending.count(id) > 0, wb, now_pending);
        !s) {
      return s;
    }
    group_labels[id] = side_of(e);
    if (now_pending) {
      group_pending.insert(id);
    } else {
      group_pending.erase(id);
    }
    return Status::ok();
  }
  const JoinSide* label = nullptr;
  std::optional<StoredRecord> stored;
  JoinSide stored_side;
  if (auto it = group_labels.find(id); it != group_labels.end()) {
    label = &it->second;
  } else if (const size_t slot = label_slot[k]; label_statuses[slot].ok()) {
    stored = decode_record(label_values[slot]);
    if (!stored) return Status::internal("corrupt label record for a request id in this group");
    stored_side = side_of(*stored);
    label = &stored_side;
  } else if (!label_statuses[slot].IsNotFound()) {
    return from_rocksdb(label_statuses[slot], "reading labels");
  }
  if (auto s = quality_prediction(e, label, group_pending.count(id) > 0, wb); !s) return s;
  group_predictions[id] = side_of(e);
  group_pending.erase(id);
  return Status::ok();
}

Status Store::Impl::write_group(std::vector<Pending>& group, std::vector<CommitResult>& results) {
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
  std::vector<std::string> label_values;
  std::vector<rocksdb::Status> label_statuses;
  std::vector<size_t> label_slot;  // event index k -> index in label_values, or SIZE_MAX
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
      label_statuses = db->MultiGet(rocksdb::ReadOptions(), lcfs, lkeys, &label_values);
    }
  }
  std::unordered_map<std::string_view, JoinSide> group_predictions, group_labels;
  std::unordered_set<std::string_view> group_pending;  // labels of this group that wait

  std::unordered_map<std::string_view, Sha256Digest> in_group_predictions;
  std::unordered_map<std::string_view, Sha256Digest> in_group_labels;
  in_group_predictions.reserve(keys.size());
  uint32_t cached_day = 0;  // most events of a group share a partition: skip the locked lookup
  rocksdb::ColumnFamilyHandle* cached_cf = nullptr;
  ChainHead* cached_head = nullptr;
  uint32_t checked_model_day = 0;  // the last (partition, model) pair known to be recorded
  std::string_view checked_model;
  group_heads.clear();
  group_models.clear();
  group_outbox_events = group_outbox_bytes = 0;
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
      auto& seen = is_label ? in_group_labels : in_group_predictions;
      const Sha256Digest& digest = prep.digest;

      Existing existing;
      std::optional<StoredRecord> old_label;  // the stored label a new one corrects
      if (auto it = seen.find(e.request_id); it != seen.end()) {
        existing = {true, it->second};
      } else if (statuses[k].ok()) {
        existing.found = true;
        if (is_label) {
          old_label = decode_record(values[k]);
          if (!old_label) {
            return Status::internal("corrupt label record for a request id in this group");
          }
          existing.digest = sha256_json_canonical(old_label->document);
        } else {
          auto entry = decode_id_entry(values[k]);
          if (!entry) return Status::internal("corrupt request-id index entry");
          existing.digest = entry->digest;
        }
      } else if (!statuses[k].IsNotFound()) {
        return from_rocksdb(statuses[k], "reading the request-id index");
      }

      // Index entries written before digests were canonical hold the digest of the bytes as
      // sent: a document with whitespace is compared that way too before it is called a conflict.
      if (existing.found && existing.digest != digest && !is_label &&
          existing.digest == sha256(e.document)) {
        existing.digest = digest;
      }
      if (existing.found && existing.digest == digest) {
        r.outcomes[i] = EventOutcome::kDuplicate;
        ++r.duplicates;
        if (quality_on && !is_label) quality_unstore(e);  // its batch's sums counted it
        continue;
      }
      if (existing.found && !is_label) {
        if (quality_on) quality_unstore(e);
        const uint64_t s = seq++;
        value =
            dead_letter_json(s, batch.input, now, "duplicate_conflict",
                             "line " + std::to_string(e.line) +
                                 ": a different document is already stored under this request id",
                             e.line, e.request_id, e.document, e.document.size(), to_hex(digest));
        if (auto st = wb.Put(deadletter, sequence_key(s), value); !st.ok()) {
          return from_rocksdb(st, "building the commit group");
        }
        r.outcomes[i] = EventOutcome::kDuplicateConflict;
        ++r.dead_lettered;
        continue;
      }

      // New prediction, or a new or corrected label.
      const uint64_t sequence = seq++;
      patch_sequence(prep.record, sequence);
      rocksdb::Status st;
      if (is_label) {
        st = wb.Put(labels, e.request_id, prep.record);
        if (st.ok() && options.outbox) {
          st = wb.Put(outbox, sequence_key(sequence), "L" + e.request_id);
          ++group_outbox_events;
          group_outbox_bytes += e.request_id.size() + 1;
        }
      } else {
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
        if (st.ok()) st = wb.Put(ids, e.request_id, encode_id_entry({day, sequence, digest}));
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
        if (auto qs = join_in_group(e, prep, k, old_label, label_slot, label_statuses, label_values,
                                    group_predictions, group_labels, group_pending, wb);
            !qs) {
          return qs;
        }
      }
      seen[e.request_id] = digest;
      r.outcomes[i] = EventOutcome::kStored;
      ++r.stored;
    }
    if (quality_on) quality_add_batch(group[g].contributions);
    for (const Reject& rj : batch.rejects) {
      const uint64_t s = seq++;
      value = dead_letter_json(s, batch.input, now, rj.type, rj.reason, rj.line, {}, rj.document,
                               rj.raw_length, rj.raw_sha256_hex);
      if (auto st = wb.Put(deadletter, sequence_key(s), value); !st.ok()) {
        return from_rocksdb(st, "building the commit group");
      }
      ++r.rejects_written;
    }
  }
  if (seq == next_sequence) return Status::ok();  // only duplicates: nothing to write
  for (const auto& [day, head] : group_heads) {
    if (auto st = wb.Put(chain, head_key(day), encode_head(head)); !st.ok()) {
      return from_rocksdb(st, "building the commit group");
    }
  }

  if (quality_on) {
    if (auto qs = quality_finish_group(wb); !qs) return qs;
  }
  if (auto st = wb.Put(meta, kNextSequenceKey, sequence_key(seq)); !st.ok()) {
    return from_rocksdb(st, "building the commit group");
  }
  rocksdb::WriteOptions wo;
  wo.sync = options.sync != SyncPolicy::kNone;
  auto st = db->Write(wo, &wb);
  if (!st.ok()) return from_rocksdb(st, "writing a commit group");
  next_sequence = seq;
  next_sequence_seen = seq;
  outbox_events += group_outbox_events;
  outbox_bytes += group_outbox_bytes;
  if (quality_on) quality_after_write();
  std::lock_guard lock(state_mu);
  for (const auto& [day, head] : group_heads) state[day].chain = head;
  for (const auto& [day, model] : group_models) state[day].models.insert(model);
  return Status::ok();
}

void Store::Impl::run_commit_loop() {
  std::vector<Pending> group;
  std::vector<CommitResult> results;
  while (true) {
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return !queue.empty() || stopping; });
      if (queue.empty()) break;  // stopping, and everything is committed
      size_t events = 0, bytes = 0;
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

    size_t group_items = 0, group_bytes = 0;
    for (const auto& p : group) {
      group_items += p.batch.events.size() + p.batch.rejects.size();
      group_bytes += p.bytes;
    }
    Status status;
    while (true) {
      const auto start = std::chrono::steady_clock::now();
      if (db && !db_failed) {
        std::lock_guard write_lock(write_mu);
        bool threw = true;  // stays true only when write_group throws
        status = guarded("writing a commit group", [&] {
          Status s = write_group(group, results);
          threw = false;
          return s;
        });
        if (threw) {
          // Not the disk's fault (std::bad_alloc, say): the group fails, its inputs answer an
          // error (nothing was acknowledged), and the store goes on with the next group.
          spdlog::critical("store: {}", status.message());
          commit_failures->Increment();
          break;
        }
      } else if (!db) {
        status = reopen_error;
      } else if (status) {  // broken by a maintenance write
        status =
            Status::unavailable("a write failed; the store reopens once the disk takes writes");
      }
      if (status) {
        commit_latency->Observe(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        group_events->Observe(static_cast<double>(group_items));
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

    queued_bytes -= group_bytes;
    queued_events -= group_items;
    queue_depth_events->Set(static_cast<double>(queued_events.load()));
    queue_depth_bytes->Set(static_cast<double>(queued_bytes.load()));
    for (size_t g = 0; g < group.size(); ++g) {
      if (!status) {
        CommitResult failed;
        failed.status = status;
        failed.outcomes.assign(group[g].batch.events.size(), EventOutcome::kFailed);
        failed.failed =
            static_cast<uint32_t>(group[g].batch.events.size() + group[g].batch.rejects.size());
        group[g].done(failed);
      } else {
        group[g].done(results[g]);
      }
    }
    group.clear();
  }
}

}  // namespace verity::store
