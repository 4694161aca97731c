// Model quality in the store: the label join and the per-model aggregates (see store_impl.h for
// the key layout). Everything here that writes runs on the commit thread, inside the commit group
// that stores the prediction or label it accounts for, except the orphaning pass (maintenance),
// which holds write_mu like a commit group does.

#include <algorithm>

#include <rocksdb/iterator.h>
#include <spdlog/spdlog.h>

#include "record_codec.h"
#include "store_impl.h"

namespace verity::store {
namespace {

constexpr EpochMillis kMinute = 60'000;
constexpr EpochMillis kHour = 3'600'000;
constexpr EpochMillis kDay = 86'400'000;

EpochMillis floor_to(EpochMillis t, EpochMillis unit) { return t - (((t % unit) + unit) % unit); }

std::string version_prefix(std::string_view model, std::string_view version) {
  std::string k;
  put_varint(k, model.size());
  k += model;
  put_varint(k, version.size());
  k += version;
  return k;
}

std::string bucket_key(std::string_view model, std::string_view version, char granularity,
                       EpochMillis start) {
  std::string k = "B" + version_prefix(model, version);
  k += granularity;
  put_be(k, static_cast<uint64_t>(start), 8);
  return k;
}

std::string pending_time_key(EpochMillis t, std::string_view request_id) {
  std::string k = "T";
  put_be(k, static_cast<uint64_t>(t), 8);
  k += request_id;
  return k;
}
std::string pending_id_key(std::string_view request_id) { return "R" + std::string(request_id); }

constexpr const char* kCountersKey = "C";

template <typename Sum>  // Aggregate or AggregateSum
void add_to_buckets(QualityGroup& q, std::string_view model, std::string_view version,
                    EpochMillis t, const Sum& a, int sign = 1) {
  const EpochMillis minute = floor_to(t, kMinute);
  // Most events of a group fall in the bucket of the one before: no key built for them.
  if (q.last_minute == nullptr || q.last_minute->start != minute || q.last_model != model ||
      q.last_model_version != version) {
    std::string prefix = version_prefix(model, version);
    std::string key = prefix;
    put_be(key, static_cast<uint64_t>(minute), 8);
    auto [it, fresh] = q.minutes.try_emplace(std::move(key));
    if (fresh) {
      it->second.prefix = std::move(prefix);
      it->second.start = minute;
    }
    q.last_minute = &it->second;
    q.last_model.assign(model);
    q.last_model_version.assign(version);
  }
  q.last_minute->sum.add(a, sign);
}

void add_to_buckets(QualityGroup& q, const JoinSide& prediction, const Aggregate& a) {
  add_to_buckets(q, prediction.model, prediction.version, prediction.time_ms, a);
}

// Which buckets to read for a window: a plan of signed pieces (a piece adds or subtracts every
// bucket of its granularity in [begin, end)), chosen to read the fewest bytes. Sums are exact
// integers, so a whole day minus the hours and minutes after the window's end is the same sum as
// those hours and minutes of the window; a window ending now needs one day bucket instead of up to
// 23 hours and 59 minutes. Buckets outside the version's first and last minute hold nothing and
// are left out of a plan.
struct BucketPiece {
  char granularity;  // m | h | d
  EpochMillis begin, end;
  int sign;
};

class BucketPlanner {
 public:
  BucketPlanner(EpochMillis data_begin, EpochMillis data_end)
      : data_begin_(data_begin), data_end_(data_end) {}

  // [begin, end): minute-aligned.
  std::vector<BucketPiece> plan(EpochMillis begin, EpochMillis end) const {
    return cover(kDay, begin, end).pieces;
  }

 private:
  struct Plan {
    std::vector<BucketPiece> pieces;
    int64_t cost = 0;
    void add(const Plan& other, int sign) {
      for (BucketPiece p : other.pieces) {
        p.sign *= sign;
        pieces.push_back(p);
      }
      cost += other.cost;
    }
  };

  static EpochMillis ceil_to(EpochMillis t, EpochMillis unit) {
    return floor_to(t + unit - 1, unit);
  }
  static char granularity(EpochMillis unit) {
    return unit == kDay ? 'd' : unit == kHour ? 'h' : 'm';
  }
  static EpochMillis smaller(EpochMillis unit) { return unit == kDay ? kHour : kMinute; }
  // Bytes read grow with the granularity (a day's bucket holds more distinct entries).
  static int64_t weight(EpochMillis unit) { return unit == kDay ? 3 : unit == kHour ? 2 : 1; }

  // Every `unit` bucket of [begin, end) that can hold data (both unit-aligned).
  Plan buckets(EpochMillis unit, EpochMillis begin, EpochMillis end) const {
    Plan p;
    const EpochMillis lo = std::max(begin, floor_to(data_begin_, unit));
    const EpochMillis hi = std::min(end, ceil_to(data_end_, unit));
    if (lo < hi) {
      p.pieces.push_back({granularity(unit), lo, hi, 1});
      p.cost = (hi - lo) / unit * weight(unit);
    }
    return p;
  }

  // [begin, end) at most one `unit` long, inside one unit bucket: its smaller buckets, or the
  // whole bucket minus the smaller buckets around the part.
  Plan part(EpochMillis unit, EpochMillis begin, EpochMillis end) const {
    if (begin >= end) return {};
    Plan inside = cover(smaller(unit), begin, end);
    const EpochMillis u = floor_to(begin, unit);
    Plan whole = buckets(unit, u, u + unit);
    whole.add(cover(smaller(unit), u, begin), -1);
    whole.add(cover(smaller(unit), end, u + unit), -1);
    return whole.cost < inside.cost ? whole : inside;
  }

  Plan cover(EpochMillis unit, EpochMillis begin, EpochMillis end) const {
    Plan p;
    if (begin >= end) return p;
    if (unit == kMinute) return buckets(kMinute, begin, end);
    const EpochMillis b = ceil_to(begin, unit), e = floor_to(end, unit);
    if (b > e) return part(unit, begin, end);  // inside one bucket
    p.add(part(unit, begin, b), 1);
    p.add(buckets(unit, b, e), 1);
    p.add(part(unit, e, end), 1);
    return p;
  }

  EpochMillis data_begin_, data_end_;
};

// Sums every operand of a key in one pass (an associative operator would decode, add and
// re-encode pairwise: quadratic in the operands a key collects between compactions).
class SumMergeOperator final : public rocksdb::MergeOperator {
 public:
  bool FullMergeV2(const MergeOperationInput& in, MergeOperationOutput* out) const override {
    AggregateSum sum;
    if (in.existing_value != nullptr && !add(sum, *in.existing_value, in.key)) return false;
    for (const auto& operand : in.operand_list) {
      if (!add(sum, operand, in.key)) return false;
    }
    out->new_value = sum.encode();
    return true;
  }
  bool PartialMergeMulti(const rocksdb::Slice& key, const std::deque<rocksdb::Slice>& operands,
                         std::string* new_value, rocksdb::Logger*) const override {
    AggregateSum sum;
    for (const auto& operand : operands) {
      if (!add(sum, operand, key)) return false;
    }
    *new_value = sum.encode();
    return true;
  }
  const char* Name() const override { return "verity.AggregateSum"; }

 private:
  static bool add(AggregateSum& sum, const rocksdb::Slice& bytes, const rocksdb::Slice& key) {
    if (sum.add_encoded(std::string_view(bytes.data(), bytes.size()))) return true;
    spdlog::error("store: a corrupt aggregate under a key of {} bytes", key.size());
    return false;
  }
};

}  // namespace

std::shared_ptr<rocksdb::MergeOperator> aggregate_merge_operator() {
  return std::make_shared<SumMergeOperator>();
}

void Store::Impl::quality_prepare(const IngestBatch& batch, std::vector<PreparedEvent>& prepared,
                                  std::vector<BatchBucket>& contributions) const {
  const Contributor& c = *options.contributor;
  std::map<std::tuple<std::string_view, std::string_view, EpochMillis>, AggregateSum> sums;
  AggregateSum* last = nullptr;
  EpochMillis last_minute = 0;
  std::string_view last_model, last_version;
  std::optional<std::shared_lock<std::shared_mutex>> db_lock;
  for (size_t i = 0; i < batch.events.size(); ++i) {
    const Event& e = batch.events[i];
    if (e.kind == EventKind::kPrediction) {
      // Straight into the batch's sum for the minute (most events share the last one's).
      const EpochMillis minute = floor_to(e.timestamp_ms, kMinute);
      if (last == nullptr || last_minute != minute || last_model != e.model_name ||
          last_version != e.model_version) {
        last = &sums[{e.model_name, e.model_version, minute}];
        last_minute = minute;
        last_model = e.model_name;
        last_version = e.model_version;
      }
      c.prediction(side_of(e), *last);
      continue;
    }
    if (!db_lock) db_lock.emplace(db_mu);
    if (!db) continue;  // reopening: the commit thread joins it
    auto p = read_prediction(e.request_id);
    if (!p || !*p || (*p)->erased) continue;
    auto old = read_label(e.request_id);
    if (!old || *old) continue;  // corrections and late labels: the commit thread joins them
    JoinPlan& plan = prepared[i].join;
    const JoinSide ps = side_of(**p);
    c.join(ps, side_of(e), plan.delta);
    plan.model = (*p)->model_name;
    plan.version = (*p)->model_version;
    plan.prediction_ms = (*p)->timestamp_ms;
    plan.lag_seconds = static_cast<double>(e.timestamp_ms - ps.time_ms) / 1000.0;
    plan.ready = true;
  }
  for (auto& [key, sum] : sums) {
    contributions.push_back({std::string(std::get<0>(key)), std::string(std::get<1>(key)),
                             std::get<2>(key), std::move(sum)});
  }
}

void Store::Impl::quality_add_batch(const std::vector<BatchBucket>& contributions) {
  for (const auto& b : contributions) add_to_buckets(quality, b.model, b.version, b.minute, b.sum);
}

void Store::Impl::quality_unstore(const Event& e) {
  Aggregate a;
  options.contributor->prediction(side_of(e), a);
  add_to_buckets(quality, e.model_name, e.model_version, e.timestamp_ms, a, -1);
}

void Store::Impl::apply_join_plan(const JoinPlan& plan) {
  quality.counters.add("joined", 1);
  quality.lags_seconds.push_back(plan.lag_seconds);
  add_to_buckets(quality, plan.model, plan.version, plan.prediction_ms, plan.delta);
}

Status Store::Impl::quality_prediction(const Event& e, const JoinSide* label,
                                       bool label_pending_in_group, rocksdb::WriteBatch& wb) {
  // The prediction's own contribution came with its batch's sums (quality_add_batch).
  const Contributor& c = *options.contributor;
  const JoinSide p = side_of(e);
  // Most events of a group share their model version: no key built for them.
  auto& last = quality.last_version;
  if (last == quality.versions.end() || last->first.first != e.model_name ||
      last->first.second != e.model_version) {
    last = quality.versions
               .try_emplace({e.model_name, e.model_version}, e.timestamp_ms, e.timestamp_ms)
               .first;
  }
  last->second.first = std::min(last->second.first, e.timestamp_ms);
  last->second.second = std::max(last->second.second, e.timestamp_ms);
  if (label != nullptr) {
    Aggregate a;
    c.join(p, *label, a);
    add_to_buckets(quality, p, a);
    quality.counters.add("joined", 1);
    quality.lags_seconds.push_back(static_cast<double>(label->time_ms - p.time_ms) / 1000.0);
    // The label waited: in this group, or in the pending family (unless it was orphaned).
    EpochMillis since = 0;
    bool was_pending = label_pending_in_group;
    if (label_pending_in_group) {
      since = group_arrival_ms;  // the arrival time quality_label gave it
    } else {
      std::string value;
      auto s = db->Get(rocksdb::ReadOptions(), pending, pending_id_key(e.request_id), &value);
      if (s.ok() && value.size() == 8) {
        was_pending = true;
        since = static_cast<EpochMillis>(get_be(value, 8));
      } else if (!s.ok() && !s.IsNotFound()) {
        return from_rocksdb(s, "reading pending labels");
      }
    }
    if (was_pending) {
      rocksdb::Status s = wb.Delete(pending, pending_id_key(e.request_id));
      if (s.ok()) s = wb.Delete(pending, pending_time_key(since, e.request_id));
      if (!s.ok()) return from_rocksdb(s, "building the commit group");
      quality.counters.add("pending", -1);
    } else {
      quality.counters.add("late_joins", 1);
    }
  }
  return Status::ok();
}

Status Store::Impl::quality_label(std::string_view request_id, const JoinSide& l,
                                  const JoinSide* group_prediction, const JoinSide* old_label,
                                  const char* counter, bool old_pending_in_group,
                                  rocksdb::WriteBatch& wb, bool& now_pending) {
  const Contributor& c = *options.contributor;
  now_pending = false;
  std::optional<StoredRecord> stored;
  JoinSide stored_side;
  const JoinSide* p = group_prediction;
  if (p == nullptr) {
    auto r = read_prediction(request_id);
    if (!r) return r.status();
    if (*r && (*r)->erased) return Status::ok();  // an erased prediction joins nothing any more
    if (*r) {
      stored = std::move(**r);
      stored_side = side_of(*stored);
      p = &stored_side;
    }
  }
  if (p != nullptr) {
    Aggregate a;
    if (old_label != nullptr) {  // the old contribution out, the new one in
      Aggregate old;
      c.join(*p, *old_label, old);
      a.add(old, -1);
      if (counter != nullptr) quality.counters.add(counter, 1);
    } else {
      quality.counters.add("joined", 1);
      quality.lags_seconds.push_back(static_cast<double>(l.time_ms - p->time_ms) / 1000.0);
    }
    c.join(*p, l, a);
    add_to_buckets(quality, *p, a);
    return Status::ok();
  }
  if (old_label != nullptr) {
    // A change to a label that still waits (or was orphaned): its wait is unchanged.
    now_pending = old_pending_in_group;
    return Status::ok();
  }
  std::string since;
  put_be(since, static_cast<uint64_t>(group_arrival_ms), 8);
  rocksdb::Status s = wb.Put(pending, pending_id_key(request_id), since);
  if (s.ok()) s = wb.Put(pending, pending_time_key(group_arrival_ms, request_id), "");
  if (!s.ok()) return from_rocksdb(s, "building the commit group");
  quality.counters.add("pending", 1);
  now_pending = true;
  return Status::ok();
}

Status Store::Impl::quality_finish_group(rocksdb::WriteBatch& wb) {
  // Minute buckets as summed; hours and days from the minutes (one addition per minute, not per
  // event). A group usually spans one minute of each model version: then its hour and day
  // operands are the minute's bytes, not summed again.
  auto merge = [&](const std::string& key, const std::string& operand) {
    auto s = wb.Merge(metrics, key, operand);
    return s.ok() ? Status::ok() : from_rocksdb(s, "building the commit group");
  };
  std::vector<std::string> encoded;
  encoded.reserve(quality.minutes.size());
  // Rollup key -> the minutes it covers (indexes into `encoded`, with their sums).
  std::map<std::string, std::vector<std::pair<size_t, const AggregateSum*>>> rollups;
  for (const auto& [key, m] : quality.minutes) {
    encoded.push_back(m.sum.encode());
    if (auto s = merge("B" + m.prefix + 'm' + key.substr(m.prefix.size()), encoded.back()); !s) {
      return s;
    }
    for (auto [granularity, unit] : {std::pair{'h', kHour}, {'d', kDay}}) {
      std::string k = "B" + m.prefix + granularity;
      put_be(k, static_cast<uint64_t>(floor_to(m.start, unit)), 8);
      rollups[k].emplace_back(encoded.size() - 1, &m.sum);
    }
  }
  for (const auto& [key, parts] : rollups) {
    if (parts.size() == 1) {
      if (auto s = merge(key, encoded[parts[0].first]); !s) return s;
      continue;
    }
    AggregateSum sum;
    for (const auto& part : parts) sum.add(*part.second);
    if (auto s = merge(key, sum.encode()); !s) return s;
  }
  if (!quality.counters.empty()) {
    if (auto s = wb.Merge(metrics, kCountersKey, quality.counters.encode()); !s.ok()) {
      return from_rocksdb(s, "building the commit group");
    }
  }
  std::lock_guard lock(quality_mu);
  for (auto& [id, range] : quality.versions) {
    auto it = versions.find(id);
    if (it != versions.end()) {
      range.first = std::min(range.first, it->second.first);
      range.second = std::max(range.second, it->second.second);
      if (range == it->second) continue;
    }
    std::string value;
    put_be(value, static_cast<uint64_t>(range.first), 8);
    put_be(value, static_cast<uint64_t>(range.second), 8);
    if (auto s = wb.Put(metrics, "V" + version_prefix(id.first, id.second), value); !s.ok()) {
      return from_rocksdb(s, "building the commit group");
    }
  }
  return Status::ok();
}

namespace {
uint64_t apply(uint64_t base, double delta) {
  return static_cast<uint64_t>(std::max(0.0, static_cast<double>(base) + delta));
}
}  // namespace

void Store::Impl::quality_after_write() {
  const Aggregate& c = quality.counters;
  {
    std::lock_guard lock(quality_mu);
    for (const auto& [id, range] : quality.versions) versions[id] = range;
    // After the write: a reader that saw the new generation reads the new sums.
    if (!quality.minutes.empty()) ++bucket_write_groups;
    for (const auto& [key, minute] : quality.minutes) {
      auto it = bucket_writes.find(minute.prefix);
      if (it == bucket_writes.end()) it = bucket_writes.try_emplace(minute.prefix).first;
      it->second[floor_to(minute.start, kDay)] = bucket_write_groups;
    }
    label_counts.joined = apply(label_counts.joined, c.get("joined"));
    label_counts.corrections = apply(label_counts.corrections, c.get("corrections"));
    label_counts.pending = apply(label_counts.pending, c.get("pending"));
    label_counts.late_joins = apply(label_counts.late_joins, c.get("late_joins"));
    labels_pending->Set(static_cast<double>(label_counts.pending));
  }
  labels_joined->Increment(c.get("joined"));
  labels_corrected->Increment(c.get("corrections"));
  labels_late_joined->Increment(c.get("late_joins"));
  for (double lag : quality.lags_seconds) label_lag->Observe(std::max(0.0, lag));
}

Status Store::Impl::load_quality() {
  std::lock_guard lock(quality_mu);
  versions.clear();
  label_counts = LabelCounts();
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), metrics));
  for (it->Seek("V"); it->Valid() && it->key().starts_with("V"); it->Next()) {
    std::string_view k(it->key().data() + 1, it->key().size() - 1);
    uint64_t n = 0;
    if (!get_varint(k, n) || n > k.size()) return Status::internal("corrupt model version key");
    std::string model(k.substr(0, n));
    k.remove_prefix(n);
    if (!get_varint(k, n) || n != k.size()) return Status::internal("corrupt model version key");
    std::string_view v(it->value().data(), it->value().size());
    if (v.size() != 16) return Status::internal("corrupt model version entry");
    versions[{model, std::string(k)}] = {static_cast<EpochMillis>(get_be(v, 8)),
                                         static_cast<EpochMillis>(get_be(v.substr(8), 8))};
  }
  if (!it->status().ok()) return from_rocksdb(it->status(), "reading model versions");
  std::string value;
  auto s = db->Get(rocksdb::ReadOptions(), metrics, kCountersKey, &value);
  if (s.ok()) {
    auto c = Aggregate::decode(value);
    if (!c) return Status::internal("corrupt label counters");
    label_counts.joined = apply(0, c->get("joined"));
    label_counts.corrections = apply(0, c->get("corrections"));
    label_counts.pending = apply(0, c->get("pending"));
    label_counts.orphaned = apply(0, c->get("orphaned"));
    label_counts.late_joins = apply(0, c->get("late_joins"));
  } else if (!s.IsNotFound()) {
    return from_rocksdb(s, "reading label counters");
  }
  return Status::ok();
}

Status Store::Impl::orphan_pending(MaintenanceReport& report) {
  if (!options.contributor) return Status::ok();
  const EpochMillis cutoff = clock.now_ms() - options.label_max_wait.count();
  while (true) {
    std::lock_guard write_lock(write_mu);  // the commit thread joins pending labels too
    std::shared_lock db_lock(db_mu);
    if (!db) return Status::unavailable("the store is reopening after a write failure");
    rocksdb::WriteBatch wb;
    uint64_t n = 0;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), pending));
    for (it->Seek("T"); it->Valid() && it->key().starts_with("T") && n < 10'000; it->Next()) {
      std::string_view k(it->key().data() + 1, it->key().size() - 1);
      if (k.size() < 8) return Status::internal("corrupt pending label key");
      if (static_cast<EpochMillis>(get_be(k, 8)) >= cutoff) break;
      rocksdb::Status s = wb.Delete(pending, it->key());
      if (s.ok()) s = wb.Delete(pending, pending_id_key(k.substr(8)));
      if (!s.ok()) return from_rocksdb(s, "orphaning labels");
      ++n;
    }
    if (!it->status().ok()) return from_rocksdb(it->status(), "reading pending labels");
    if (n == 0) return Status::ok();
    Aggregate c;
    c.add("orphaned", static_cast<double>(n));
    c.add("pending", -static_cast<double>(n));
    if (auto s = wb.Merge(metrics, kCountersKey, c.encode()); !s.ok()) {
      return from_rocksdb(s, "orphaning labels");
    }
    if (auto s = admin_write(wb, true, "orphaning labels"); !s) return s;
    {
      std::lock_guard lock(quality_mu);
      label_counts.orphaned += n;
      label_counts.pending = label_counts.pending >= n ? label_counts.pending - n : 0;
      labels_pending->Set(static_cast<double>(label_counts.pending));
    }
    labels_orphaned->Increment(static_cast<double>(n));
    report.orphaned_labels += n;
    spdlog::info("store: {} labels waited longer than labels.max_wait: counted as orphaned", n);
  }
}

Status Store::Impl::fold_aggregates() {
  if (!options.contributor) return Status::ok();
  std::shared_lock db_lock(db_mu);
  if (!db || db_failed.load()) return Status::ok();  // the next pass folds them
  // Every commit group adds a merge operand to the buckets it touches; a report reading a bucket
  // sums all of its operands. Flushing and compacting the new data into the levels below folds
  // each bucket's operands into one value (measured: a 30-day report 76 ms -> 16 ms). The
  // bottommost level, folded already, is not rewritten.
  rocksdb::FlushOptions fo;
  if (auto s = db->Flush(fo, metrics); !s.ok()) return from_rocksdb(s, "flushing aggregates");
  rocksdb::CompactRangeOptions co;
  co.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kSkip;
  co.canceled = &cancel_compactions;
  auto s = db->CompactRange(co, metrics, nullptr, nullptr);
  if (s.IsManualCompactionPaused()) return Status::ok();  // stopping
  return from_rocksdb(s, "folding aggregates");
}

Result<Aggregate> Store::aggregate(std::string_view model,
                                   const std::optional<std::string>& version, EpochMillis from_ms,
                                   EpochMillis to_ms) const {
  Impl& im = *impl_;
  std::vector<std::string> selected;
  {
    std::lock_guard lock(im.quality_mu);
    for (const auto& [id, range] : im.versions) {
      if (id.first == model && (!version || *version == id.second)) selected.push_back(id.second);
    }
  }
  Aggregate out;
  const EpochMillis from = floor_to(from_ms, kMinute);
  const EpochMillis to = floor_to(to_ms, kMinute);
  if (selected.empty() || from >= to) return out;

  std::shared_lock db_lock(im.db_mu);
  if (!im.db) return Status::unavailable("the store is reopening after a write failure");
  rocksdb::ReadOptions ro;
  std::unique_ptr<const rocksdb::Snapshot, std::function<void(const rocksdb::Snapshot*)>> snap(
      im.db->GetSnapshot(), [&](const rocksdb::Snapshot* s) { im.db->ReleaseSnapshot(s); });
  ro.snapshot = snap.get();
  std::unique_ptr<rocksdb::Iterator> it(im.db->NewIterator(ro, im.metrics));
  AggregateSum sum;
  for (const auto& v : selected) {
    // The version's first and last prediction minute, as of the same snapshot (written in the
    // same batch as the buckets): no bucket holds anything outside them.
    std::string range;
    auto rs = im.db->Get(ro, im.metrics, "V" + version_prefix(model, v), &range);
    if (rs.IsNotFound()) continue;
    if (!rs.ok()) return from_rocksdb(rs, "reading model versions");
    // No range known: plan as if anything could be stored anywhere.
    EpochMillis data_begin = from - kDay, data_end = to + kDay;
    if (range.size() == 16) {
      data_begin = floor_to(static_cast<EpochMillis>(get_be(range, 8)), kMinute);
      data_end = floor_to(static_cast<EpochMillis>(get_be(std::string_view(range).substr(8), 8)),
                          kMinute) +
                 kMinute;
    }
    for (const BucketPiece& piece : BucketPlanner(data_begin, data_end).plan(from, to)) {
      const std::string end = bucket_key(model, v, piece.granularity, piece.end);
      for (it->Seek(bucket_key(model, v, piece.granularity, piece.begin));
           it->Valid() && it->key().compare(end) < 0; it->Next()) {
        if (!sum.add_encoded(std::string_view(it->value().data(), it->value().size()),
                             piece.sign)) {
          return Status::internal("corrupt aggregate for model " + std::string(model));
        }
      }
      if (!it->status().ok()) return from_rocksdb(it->status(), "reading aggregates");
    }
  }
  return sum.result();
}

uint64_t Store::aggregate_generation(std::string_view model,
                                     const std::optional<std::string>& version, EpochMillis from_ms,
                                     EpochMillis to_ms) const {
  const Impl& im = *impl_;
  std::string prefix;
  put_varint(prefix, model.size());
  prefix += model;
  if (version) prefix = version_prefix(model, *version);
  const EpochMillis first_day = floor_to(from_ms, kDay);
  std::lock_guard lock(im.quality_mu);
  uint64_t newest = 0;
  for (auto it = im.bucket_writes.lower_bound(prefix);
       it != im.bucket_writes.end() && it->first.starts_with(prefix) &&
       (!version || it->first == prefix);
       ++it) {
    for (auto d = it->second.lower_bound(first_day); d != it->second.end() && d->first < to_ms;
         ++d) {
      newest = std::max(newest, d->second);
    }
  }
  return im.reopens << 48 | newest;
}

std::vector<ModelVersionInfo> Store::model_versions() const {
  std::lock_guard lock(impl_->quality_mu);
  std::vector<ModelVersionInfo> out;
  for (const auto& [id, range] : impl_->versions) {
    out.push_back({id.first, id.second, range.first, range.second});
  }
  return out;
}

LabelCounts Store::label_counts() const {
  std::lock_guard lock(impl_->quality_mu);
  return impl_->label_counts;
}

}  // namespace verity::store
