// Model quality in the store: the label join and the per-model aggregates (quality_writer.h; see
// database.h for the key layout). Everything here that writes runs on the commit thread, inside
// the commit group that stores the prediction or label it accounts for, except the orphaning pass
// (maintenance), which holds write_mu like a commit group does.

#include <algorithm>
#include <array>
#include <deque>
#include <limits>

#include <rocksdb/iterator.h>
#include <spdlog/spdlog.h>

#include "quality_writer.h"

#include "label_bundle.h"
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

// The group's bucket for the minute of `t`.
QualityWriter::GroupSums::Minute& minute_of(QualityWriter::GroupSums& q, std::string_view model,
                                            std::string_view version, EpochMillis t) {
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
      it->second.model.assign(model);
      it->second.version.assign(version);
      it->second.start = minute;
    }
    q.last_minute = &it->second;
    q.last_model.assign(model);
    q.last_model_version.assign(version);
  }
  return *q.last_minute;
}

void add_to_buckets(QualityWriter::GroupSums& q, std::string_view model, std::string_view version,
                    EpochMillis t, const Aggregate& a, int sign = 1) {
  minute_of(q, model, version, t).sum.add(a, sign);
}

void add_to_buckets(QualityWriter::GroupSums& q, const JoinSide& prediction, const Aggregate& a) {
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

// Sums every operand of a key in one merge pass over their sorted entries (an associative
// operator would decode, add and re-encode pairwise: quadratic in the operands a key collects
// between compactions).
class SumMergeOperator final : public rocksdb::MergeOperator {
 public:
  bool FullMergeV2(const MergeOperationInput& in, MergeOperationOutput* out) const override {
    std::vector<EncodedTerm> terms;
    terms.reserve(in.operand_list.size() + 1);
    if (in.existing_value != nullptr) terms.push_back({view(*in.existing_value)});
    for (const auto& operand : in.operand_list) terms.push_back({view(operand)});
    return sum(terms, out->new_value, in.key);
  }
  bool PartialMergeMulti(const rocksdb::Slice& key, const std::deque<rocksdb::Slice>& operands,
                         std::string* new_value, rocksdb::Logger*) const override {
    std::vector<EncodedTerm> terms;
    terms.reserve(operands.size());
    for (const auto& operand : operands) terms.push_back({view(operand)});
    return sum(terms, *new_value, key);
  }
  const char* Name() const override { return "verity.AggregateSum"; }

 private:
  static std::string_view view(const rocksdb::Slice& s) { return {s.data(), s.size()}; }
  static bool sum(const std::vector<EncodedTerm>& terms, std::string& out,
                  const rocksdb::Slice& key) {
    if (sum_encoded(terms, out)) return true;
    spdlog::error("store: a corrupt aggregate under a key of {} bytes", key.size());
    return false;
  }
};

}  // namespace

std::shared_ptr<rocksdb::MergeOperator> aggregate_merge_operator() {
  return std::make_shared<SumMergeOperator>();
}

void QualityWriter::GroupSums::clear() {
  minutes.clear();
  last_minute = nullptr;
  counters = Aggregate();
  versions.clear();
  last_version = versions.end();
  lags_seconds.clear();
}

bool QualityWriter::on() const { return store_.options.contributor != nullptr; }

void QualityWriter::register_metrics(prometheus::Registry& registry) {
  // Label-join counters: persisted, so they start from the committed totals.
  const LabelCounts counts = label_counts();
  auto counter = [&](const char* name, const char* help, uint64_t start) {
    auto* c = &prometheus::BuildCounter().Name(name).Help(help).Register(registry).Add({});
    c->Increment(static_cast<double>(start));
    return c;
  };
  joined_ =
      counter("verity_labels_joined_total",
              "Labels joined to their prediction (the first label of a request id)", counts.joined);
  corrected_ = counter("verity_labels_corrected_total",
                       "Joined labels replaced by a different label for the same request id",
                       counts.corrections);
  orphaned_ = counter("verity_labels_orphaned_total",
                      "Labels whose prediction had not arrived labels.max_wait after them",
                      counts.orphaned);
  late_joined_ = counter("verity_labels_late_joined_total",
                         "Orphaned labels whose prediction arrived after all", counts.late_joins);
  pending_gauge_ = &prometheus::BuildGauge()
                        .Name("verity_labels_pending")
                        .Help("Labels waiting for their prediction")
                        .Register(registry)
                        .Add({});
  pending_gauge_->Set(static_cast<double>(counts.pending));
  lag_ = &prometheus::BuildHistogram()
              .Name("verity_label_lag_seconds")
              .Help("Time from a prediction to its first label, observed when they join")
              .Register(registry)
              .Add({}, prometheus::Histogram::BucketBoundaries{60, 300, 900, 3600, 6 * 3600, 86400,
                                                               3 * 86400, 7 * 86400, 14 * 86400,
                                                               30 * 86400, 90 * 86400});
}

void QualityWriter::reopened() {
  std::lock_guard lock(mu_);
  ++reopens_;
}

void QualityWriter::prepare(const IngestBatch& batch, std::vector<PreparedEvent>& prepared,
                            std::vector<BatchBucket>& contributions) const {
  const Contributor& c = *store_.options.contributor;
  BatchSums sums;
  AggregateSum* last = nullptr;
  EpochMillis last_minute = 0;
  std::string_view last_model, last_version;
  std::vector<size_t> labels;
  for (size_t i = 0; i < batch.events.size(); ++i) {
    const Event& e = batch.events[i];
    if (e.kind == EventKind::kPrediction) {
      // Straight into the batch's sum for the minute (most events share the last one's).
      const EpochMillis minute = floor_to(e.timestamp_ms, kMinute);
      if (last == nullptr || last_minute != minute || last_model != e.model_name ||
          last_version != e.model_version) {
        last = &sums.sum_for(e.model_name, e.model_version, minute);
        last_minute = minute;
        last_model = e.model_name;
        last_version = e.model_version;
      }
      c.prediction(side_of(e), *last);
      continue;
    }
    labels.push_back(i);
  }
  if (!labels.empty()) plan_joins(batch, labels, prepared, sums);
  for (const auto& [key, sum] : sums.sums) {
    contributions.push_back({std::string(std::get<0>(key)), std::string(std::get<1>(key)),
                             std::get<2>(key), sum.encode()});
  }
}

namespace {
// The label side of a join: its document and time (a contributor reads no decoder captures in a
// join, and the commit thread, which may compute a planned join again, has none).
JoinSide label_side(const Event& e) {
  return {e.model_name, e.model_version, e.timestamp_ms, e.document};
}
}  // namespace

void QualityWriter::plan_joins(const IngestBatch& batch, const std::vector<size_t>& labels,
                               std::vector<PreparedEvent>& prepared, BatchSums& sums) const {
  std::shared_lock db_lock(store_.db_mu);
  if (!store_.db) return;  // reopening: the commit thread joins them
  // Each label's ids entry and stored label, then the records of the predictions that can be
  // joined here: two batched lookups, not three Gets per label. Whatever is missing, stored
  // already or unreadable is left to the commit thread (corrections, late labels, errors).
  PointLookups first;
  for (size_t i : labels) {
    first.add(store_.ids, batch.events[i].request_id);
    first.add(store_.labels, batch.events[i].request_id);
  }
  first.run(*store_.db);
  PointLookups records;
  std::vector<std::string> keys;
  keys.reserve(labels.size());   // records holds views of them: no reallocation
  std::vector<size_t> joinable;  // the events whose record is read
  for (size_t j = 0; j < labels.size(); ++j) {
    if (!first.status(2 * j).ok() || !first.status(2 * j + 1).IsNotFound()) continue;
    const auto entry = decode_id_entry(first.value(2 * j));
    if (!entry) continue;
    auto* cf = store_.find_partition(entry->day);
    if (cf == nullptr) continue;
    keys.push_back(sequence_key(entry->sequence));
    records.add(cf, keys.back());
    joinable.push_back(labels[j]);
  }
  records.run(*store_.db);
  const Contributor& c = *store_.options.contributor;
  for (size_t k = 0; k < joinable.size(); ++k) {
    if (!records.status(k).ok()) continue;
    auto p = decode_record_fields(records.value(k));
    if (!p || p->erased) continue;
    const Event& e = batch.events[joinable[k]];
    JoinPlan& plan = prepared[joinable[k]].join;
    plan.model = std::move(p->model_name);
    plan.version = std::move(p->model_version);
    plan.prediction_ms = p->timestamp_ms;
    plan.prediction_document = std::move(p->document);
    plan.lag_seconds = static_cast<double>(e.timestamp_ms - plan.prediction_ms) / 1000.0;
    plan.ready = true;
    // Straight into the batch's sum for the prediction's minute (no sum per label).
    c.join(plan.prediction(), label_side(e),
           sums.sum_for(plan.model, plan.version, floor_to(plan.prediction_ms, kMinute)));
  }
}

void QualityWriter::begin(const std::vector<Pending>& group, EpochMillis now) {
  sums_.clear();
  group_arrival_ms_ = now;
  label_slot_.clear();
  labels_in_effect_.clear();
  predictions_.clear();
  labels_.clear();
  pending_.clear();
  records_.clear();
  for (const auto& p : group) {
    for (const auto& e : p.batch.events) {
      label_slot_.push_back(e.kind == EventKind::kLabel ? SIZE_MAX : labels_in_effect_.size());
      if (e.kind != EventKind::kLabel) labels_in_effect_.add(store_.labels, e.request_id);
    }
  }
  labels_in_effect_.run(*store_.db);
}

void QualityWriter::add_batch(const std::vector<BatchBucket>& contributions) {
  for (const auto& b : contributions)
    minute_of(sums_, b.model, b.version, b.minute).parts.push_back(b.encoded);
}

bool QualityWriter::GroupSums::Minute::encode(std::string& out) const {
  if (parts.empty()) {
    out = sum.encode();
    return true;
  }
  if (parts.size() == 1 && sum.empty()) {
    out.assign(parts[0]);
    return true;
  }
  std::vector<EncodedTerm> terms;
  terms.reserve(parts.size() + 1);
  for (std::string_view p : parts) terms.push_back({p});
  std::string own;
  if (!sum.empty()) {
    own = sum.encode();
    terms.push_back({own});
  }
  return sum_encoded(terms, out);
}

void QualityWriter::unstore(const Event& e) {
  Aggregate a;
  store_.options.contributor->prediction(side_of(e), a);
  add_to_buckets(sums_, e.model_name, e.model_version, e.timestamp_ms, a, -1);
}

void QualityWriter::unplan(const Event& e, const JoinPlan& plan) {
  if (!plan.ready) return;
  Aggregate a;
  store_.options.contributor->join(plan.prediction(), label_side(e), a);
  add_to_buckets(sums_, plan.model, plan.version, plan.prediction_ms, a, -1);
}

void QualityWriter::apply_plan(const JoinPlan& plan) {
  // Its contribution came with its batch's sums (add_batch).
  sums_.counters.add("joined", 1);
  sums_.lags_seconds.push_back(plan.lag_seconds);
}

Status QualityWriter::add_prediction(const Event& e, size_t k, rocksdb::WriteBatch& wb) {
  const std::string_view id = e.request_id;
  const size_t slot = label_slot_[k];
  // The label in effect: changed by this group, or as stored.
  const JoinSide* label = nullptr;
  JoinSide stored_side;
  if (auto it = labels_.find(id); it != labels_.end()) {
    label = &it->second;
  } else if (labels_in_effect_.status(slot).ok()) {
    auto bundle = LabelBundle::decode(labels_in_effect_.value(slot));
    auto current = bundle ? decode_record_fields(bundle->current) : std::nullopt;
    if (!current) return Status::internal("corrupt label record for a request id in this group");
    StoredRecord& r = records_.emplace_back(std::move(*current));
    stored_side = side_of(r);
    stored_side.time_ms = bundle->first_ms;  // label lag is measured to the first label
    label = &stored_side;
  } else if (!labels_in_effect_.status(slot).IsNotFound()) {
    return from_rocksdb(labels_in_effect_.status(slot), "reading labels");
  }
  const bool label_pending_in_group = pending_.count(id) > 0;
  predictions_[id] = side_of(e);
  pending_.erase(id);

  // The prediction's own contribution came with its batch's sums (add_batch).
  const Contributor& c = *store_.options.contributor;
  const JoinSide p = side_of(e);
  // Most events of a group share their model version: no key built for them.
  auto& last = sums_.last_version;
  if (last == sums_.versions.end() || last->first.first != e.model_name ||
      last->first.second != e.model_version) {
    last = sums_.versions
               .try_emplace({e.model_name, e.model_version},
                            VersionSpan{e.timestamp_ms, e.timestamp_ms, 0})
               .first;
  }
  last->second.first = std::min(last->second.first, e.timestamp_ms);
  last->second.last = std::max(last->second.last, e.timestamp_ms);
  if (label == nullptr) return Status::ok();
  Aggregate a;
  c.join(p, *label, a);
  add_to_buckets(sums_, p, a);
  sums_.counters.add("joined", 1);
  sums_.lags_seconds.push_back(static_cast<double>(label->time_ms - p.time_ms) / 1000.0);
  // The label waited: in this group, or in the pending family (unless it was orphaned).
  EpochMillis since = 0;
  bool was_pending = label_pending_in_group;
  if (label_pending_in_group) {
    since = group_arrival_ms_;  // the arrival time join_label gave it
  } else {
    std::string value;
    auto s = store_.db->Get(rocksdb::ReadOptions(), store_.pending, pending_id_key(id), &value);
    if (s.ok() && value.size() == 8) {
      was_pending = true;
      since = static_cast<EpochMillis>(get_be(value, 8));
    } else if (!s.ok() && !s.IsNotFound()) {
      return from_rocksdb(s, "reading pending labels");
    }
  }
  if (was_pending) {
    rocksdb::Status s = wb.Delete(store_.pending, pending_id_key(id));
    if (s.ok()) s = wb.Delete(store_.pending, pending_time_key(since, id));
    if (!s.ok()) return from_rocksdb(s, "building the commit group");
    sums_.counters.add("pending", -1);
  } else {
    sums_.counters.add("late_joins", 1);
  }
  return Status::ok();
}

Status QualityWriter::add_label(const Event& e, const JoinPlan& plan, LabelChange change,
                                std::optional<StoredRecord> previous, EpochMillis previous_first_ms,
                                EpochMillis first_ms, rocksdb::WriteBatch& wb) {
  const std::string_view id = e.request_id;
  // Label sides carry the first label time: label lag is measured to it.
  if (change == LabelChange::kFirst && plan.ready) {
    apply_plan(plan);  // planned by the submitting thread against the store as it was
    labels_[id] = side_of(e);
    pending_.erase(id);
    return Status::ok();
  }
  unplan(e, plan);  // no longer the first label: joined below, from its history
  // What is in the aggregates now: the label in effect before, with the first time before.
  JoinSide old_side{};
  const JoinSide* old = nullptr;
  if (change != LabelChange::kFirst) {
    if (auto it = labels_.find(id); it != labels_.end()) {
      old_side = it->second;
    } else {
      if (!previous) return Status::internal("a label change without the label it changes");
      StoredRecord& r = records_.emplace_back(std::move(*previous));
      old_side = side_of(r);
      old_side.time_ms = previous_first_ms;
    }
    old = &old_side;
  }
  JoinSide new_side{};
  const char* counter = nullptr;
  if (change == LabelChange::kOlder) {
    if (first_ms == previous_first_ms) return Status::ok();  // not earlier than the first
    new_side = old_side;  // the same label in effect, measured from an earlier first label
    new_side.time_ms = first_ms;
  } else {
    new_side = side_of(e);
    new_side.time_ms = first_ms;
    if (change == LabelChange::kCorrection) counter = "corrections";
  }
  auto p = predictions_.find(id);
  bool now_pending = false;
  if (auto s = join_label(id, new_side, p == predictions_.end() ? nullptr : &p->second, old,
                          counter, pending_.count(id) > 0, wb, now_pending);
      !s) {
    return s;
  }
  labels_[id] = new_side;
  if (now_pending) {
    pending_.insert(id);
  } else {
    pending_.erase(id);
  }
  return Status::ok();
}

Status QualityWriter::join_label(std::string_view request_id, const JoinSide& l,
                                 const JoinSide* group_prediction, const JoinSide* old_label,
                                 const char* counter, bool old_pending_in_group,
                                 rocksdb::WriteBatch& wb, bool& now_pending) {
  const Contributor& c = *store_.options.contributor;
  now_pending = false;
  std::optional<StoredRecord> stored;
  JoinSide stored_side;
  const JoinSide* p = group_prediction;
  if (p == nullptr) {
    auto r = store_.read_prediction(request_id);
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
      if (counter != nullptr) sums_.counters.add(counter, 1);
    } else {
      sums_.counters.add("joined", 1);
      sums_.lags_seconds.push_back(static_cast<double>(l.time_ms - p->time_ms) / 1000.0);
    }
    c.join(*p, l, a);
    add_to_buckets(sums_, *p, a);
    return Status::ok();
  }
  if (old_label != nullptr) {
    // A change to a label that still waits (or was orphaned): its wait is unchanged.
    now_pending = old_pending_in_group;
    return Status::ok();
  }
  std::string since;
  put_be(since, static_cast<uint64_t>(group_arrival_ms_), 8);
  rocksdb::Status s = wb.Put(store_.pending, pending_id_key(request_id), since);
  if (s.ok()) s = wb.Put(store_.pending, pending_time_key(group_arrival_ms_, request_id), "");
  if (!s.ok()) return from_rocksdb(s, "building the commit group");
  sums_.counters.add("pending", 1);
  now_pending = true;
  return Status::ok();
}

Status QualityWriter::before_write(rocksdb::WriteBatch& wb) {
  // Every minute bucket the group touched gets its sum. The hour and day buckets of a model
  // version hold exactly its minute buckets before `rolled`: a minute at or past it (the last
  // kOpenMinutes of the version's predictions, where a live stream writes) is written to its
  // minute bucket only, and rolled up once, when `rolled` moves past it: its sum so far (kept in
  // memory, or read from the store) goes to its hour and day with this group's part. Older minutes
  // (late predictions, labels joining old predictions) are written to all three at once. So a
  // stream in time order adds one merge operand per version and group, not three; `rolled` is
  // written with the buckets (the `V` key), and a read takes the minutes past it from the minute
  // buckets.
  auto merge = [&](const std::string& key, std::string_view operand) {
    auto s = wb.Merge(store_.metrics, key, rocksdb::Slice(operand.data(), operand.size()));
    return s.ok() ? Status::ok() : from_rocksdb(s, "building the commit group");
  };
  constexpr EpochMillis kOpenMinutes = 2 * kMinute;
  constexpr EpochMillis kAllRolled = std::numeric_limits<EpochMillis>::max();
  // The versions' spans as they will be committed, and where their rollups stood.
  std::map<std::pair<std::string, std::string>, EpochMillis> rolled_before;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, span] : sums_.versions) {
      auto it = versions_.find(id);
      EpochMillis before = floor_to(span.first, kMinute);  // a new version: nothing rolled up
      if (it != versions_.end()) {
        span.first = std::min(span.first, it->second.first);
        span.last = std::max(span.last, it->second.last);
        before = it->second.rolled;
      }
      span.rolled = std::max(before, floor_to(span.last, kMinute) - kOpenMinutes);
      rolled_before[id] = before;
    }
  }
  auto rolled_of = [&](const std::string& model, const std::string& version) {
    auto id = std::make_pair(model, version);
    if (auto it = sums_.versions.find(id); it != sums_.versions.end()) return it->second.rolled;
    std::lock_guard lock(mu_);
    auto it = versions_.find(id);
    // A version this store never saw predictions of (they were stored with model quality off):
    // every bucket is rolled up at once.
    return it == versions_.end() ? kAllRolled : it->second.rolled;
  };

  // Rollup key -> what it adds: this group's minute sums (`encoded`) and the stored sums of the
  // minutes rolled up now (`closed`).
  std::vector<std::string> encoded;
  encoded.reserve(sums_.minutes.size());
  std::deque<std::string> closed;
  std::map<std::string, std::vector<std::string_view>> rollups;
  auto roll_up = [&](const std::string& prefix, EpochMillis minute, std::string_view sum) {
    for (auto [granularity, unit] : {std::pair{'h', kHour}, {'d', kDay}}) {
      std::string k = "B" + prefix + granularity;
      put_be(k, static_cast<uint64_t>(floor_to(minute, unit)), 8);
      rollups[k].push_back(sum);
    }
  };
  open_updates_.clear();
  open_closed_.clear();
  for (const auto& [key, m] : sums_.minutes) {
    if (!m.encode(encoded.emplace_back()))
      return Status::internal("summing a commit group's aggregates");
    std::string bucket = "B" + m.prefix + 'm' + key.substr(m.prefix.size());
    if (auto s = merge(bucket, encoded.back()); !s) return s;
    if (m.start < rolled_of(m.model, m.version)) {
      roll_up(m.prefix, m.start, encoded.back());
    } else {  // open: remembered (after the write) until it is rolled up
      open_updates_.push_back(
          {std::move(bucket), {m.model, m.version}, m.start, std::move(encoded.back())});
    }
  }
  // The minutes rolled up now, as they were before this group (its own part is added above):
  // from memory, or from the store where this instance may not have seen every write.
  auto minute_of = [](std::string_view bucket) {
    return static_cast<EpochMillis>(get_be(bucket.substr(bucket.size() - 8), 8));
  };
  std::unique_ptr<rocksdb::Iterator> stored;
  for (const auto& [id, span] : sums_.versions) {
    const EpochMillis before = rolled_before[id];
    if (span.rolled <= before) continue;
    const std::string prefix = version_prefix(id.first, id.second);
    const std::string begin = bucket_key(id.first, id.second, 'm', before);
    const std::string end = bucket_key(id.first, id.second, 'm', span.rolled);
    for (auto it = open_minutes_.lower_bound(begin); it != open_minutes_.end() && it->first < end;
         ++it) {
      roll_up(prefix, minute_of(it->first), it->second);
      open_closed_.push_back(it->first);
    }
    auto through = untracked_through_.find(id);
    if (through == untracked_through_.end() || through->second < before) continue;
    const std::string stored_end =
        bucket_key(id.first, id.second, 'm',
                   std::min(span.rolled, floor_to(through->second, kMinute) + kMinute));
    if (!stored) stored.reset(store_.db->NewIterator(rocksdb::ReadOptions(), store_.metrics));
    for (stored->Seek(begin); stored->Valid() && stored->key().compare(stored_end) < 0;
         stored->Next()) {
      const std::string_view k(stored->key().data(), stored->key().size());
      // Every minute bucket key of the version has the same length (a time of 8 bytes).
      if (k.size() != begin.size()) return Status::internal("a corrupt minute bucket key");
      if (open_minutes_.count(std::string(k)) > 0) continue;  // the same sum, rolled up above
      closed.emplace_back(stored->value().data(), stored->value().size());
      roll_up(prefix, minute_of(k), closed.back());
    }
    if (!stored->status().ok()) return from_rocksdb(stored->status(), "reading minute buckets");
  }
  for (const auto& [key, parts] : rollups) {
    if (parts.size() == 1) {
      if (auto s = merge(key, parts[0]); !s) return s;
      continue;
    }
    std::vector<EncodedTerm> terms;
    terms.reserve(parts.size());
    for (std::string_view part : parts) terms.push_back({part});
    std::string sum;
    if (!sum_encoded(terms, sum)) return Status::internal("summing a commit group's aggregates");
    if (auto s = merge(key, sum); !s) return s;
  }
  if (!sums_.counters.empty()) {
    if (auto s = wb.Merge(store_.metrics, kCountersKey, sums_.counters.encode()); !s.ok()) {
      return from_rocksdb(s, "building the commit group");
    }
  }
  std::lock_guard lock(mu_);
  for (const auto& [id, span] : sums_.versions) {
    if (auto it = versions_.find(id); it != versions_.end() && it->second == span) continue;
    std::string value;
    put_be(value, static_cast<uint64_t>(span.first), 8);
    put_be(value, static_cast<uint64_t>(span.last), 8);
    put_be(value, static_cast<uint64_t>(span.rolled), 8);
    if (auto s = wb.Put(store_.metrics, "V" + version_prefix(id.first, id.second), value);
        !s.ok()) {
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

void QualityWriter::after_write() {
  // The open minutes as written: at most kMaxOpenBytes of sums in memory; past that, a minute is
  // read from the store when it is rolled up. 8 MiB: 32 held up to a tenth of the server's 256 MB
  // (docs/design-notes.md, *Memory per event that does not grow with the store*).
  constexpr size_t kMaxOpenBytes = 8u << 20;
  for (const auto& key : open_closed_) {
    auto it = open_minutes_.find(key);
    open_minutes_bytes_ -= it->second.size();
    open_minutes_.erase(it);
  }
  for (auto& u : open_updates_) {
    auto it = open_minutes_.find(u.key);
    if (it != open_minutes_.end()) {
      const std::array<EncodedTerm, 2> terms = {EncodedTerm{it->second}, EncodedTerm{u.part}};
      std::string sum;
      open_minutes_bytes_ -= it->second.size();
      if (sum_encoded(terms, sum) && open_minutes_bytes_ + sum.size() <= kMaxOpenBytes) {
        open_minutes_bytes_ += sum.size();
        it->second = std::move(sum);
        continue;
      }
      open_minutes_.erase(it);  // not kept: the store's sum is read instead
    } else {
      auto through = untracked_through_.find(u.version);
      if (through != untracked_through_.end() && u.minute <= through->second) continue;
      if (open_minutes_bytes_ + u.part.size() <= kMaxOpenBytes) {
        open_minutes_bytes_ += u.part.size();
        open_minutes_.emplace(std::move(u.key), std::move(u.part));
        continue;
      }
    }
    EpochMillis& through = untracked_through_[u.version];
    through = std::max(through, u.minute);
  }
  const Aggregate& c = sums_.counters;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, span] : sums_.versions) versions_[id] = span;
    // After the write: a reader that saw the new generation reads the new sums.
    if (!sums_.minutes.empty()) ++bucket_write_groups_;
    for (const auto& [key, minute] : sums_.minutes) {
      auto it = bucket_writes_.find(minute.prefix);
      if (it == bucket_writes_.end()) it = bucket_writes_.try_emplace(minute.prefix).first;
      it->second[floor_to(minute.start, kDay)] = bucket_write_groups_;
    }
    label_counts_.joined = apply(label_counts_.joined, c.get("joined"));
    label_counts_.corrections = apply(label_counts_.corrections, c.get("corrections"));
    label_counts_.pending = apply(label_counts_.pending, c.get("pending"));
    label_counts_.late_joins = apply(label_counts_.late_joins, c.get("late_joins"));
    pending_gauge_->Set(static_cast<double>(label_counts_.pending));
  }
  joined_->Increment(c.get("joined"));
  corrected_->Increment(c.get("corrections"));
  late_joined_->Increment(c.get("late_joins"));
  for (double lag : sums_.lags_seconds) lag_->Observe(std::max(0.0, lag));
}

Status QualityWriter::load() {
  std::lock_guard lock(mu_);
  versions_.clear();
  open_minutes_.clear();
  open_minutes_bytes_ = 0;
  untracked_through_.clear();
  label_counts_ = LabelCounts();
  rocksdb::DB& db = *store_.db;
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(rocksdb::ReadOptions(), store_.metrics));
  for (it->Seek("V"); it->Valid() && it->key().starts_with("V"); it->Next()) {
    std::string_view k(it->key().data() + 1, it->key().size() - 1);
    uint64_t n = 0;
    if (!get_varint(k, n) || n > k.size()) return Status::internal("corrupt model version key");
    std::string model(k.substr(0, n));
    k.remove_prefix(n);
    if (!get_varint(k, n) || n != k.size()) return Status::internal("corrupt model version key");
    std::string_view v(it->value().data(), it->value().size());
    if (v.size() != 16 && v.size() != 24) return Status::internal("corrupt model version entry");
    VersionSpan span;
    span.first = static_cast<EpochMillis>(get_be(v, 8));
    span.last = static_cast<EpochMillis>(get_be(v.substr(8), 8));
    // Written before rollups waited for their minutes to close: every minute is rolled up.
    span.rolled = v.size() == 24 ? static_cast<EpochMillis>(get_be(v.substr(16), 8))
                                 : floor_to(span.last, kMinute) + kMinute;
    // Its minutes up to the last may hold sums written before this instance.
    untracked_through_[{model, std::string(k)}] = floor_to(span.last, kMinute);
    versions_[{model, std::string(k)}] = span;
  }
  if (!it->status().ok()) return from_rocksdb(it->status(), "reading model versions");
  std::string value;
  auto s = db.Get(rocksdb::ReadOptions(), store_.metrics, kCountersKey, &value);
  if (s.ok()) {
    auto c = Aggregate::decode(value);
    if (!c) return Status::internal("corrupt label counters");
    label_counts_.joined = apply(0, c->get("joined"));
    label_counts_.corrections = apply(0, c->get("corrections"));
    label_counts_.pending = apply(0, c->get("pending"));
    label_counts_.orphaned = apply(0, c->get("orphaned"));
    label_counts_.late_joins = apply(0, c->get("late_joins"));
  } else if (!s.IsNotFound()) {
    return from_rocksdb(s, "reading label counters");
  }
  return Status::ok();
}

Status QualityWriter::orphan_pending(MaintenanceReport& report) {
  if (!on()) return Status::ok();
  const EpochMillis cutoff = store_.clock.now_ms() - store_.options.label_max_wait.count();
  while (true) {
    std::lock_guard write_lock(store_.write_mu);  // the commit thread joins pending labels too
    std::shared_lock db_lock(store_.db_mu);
    if (!store_.db) return Status::unavailable("the store is reopening after a write failure");
    rocksdb::WriteBatch wb;
    uint64_t n = 0;
    std::unique_ptr<rocksdb::Iterator> it(
        store_.db->NewIterator(rocksdb::ReadOptions(), store_.pending));
    for (it->Seek("T"); it->Valid() && it->key().starts_with("T") && n < 10'000; it->Next()) {
      std::string_view k(it->key().data() + 1, it->key().size() - 1);
      if (k.size() < 8) return Status::internal("corrupt pending label key");
      if (static_cast<EpochMillis>(get_be(k, 8)) >= cutoff) break;
      rocksdb::Status s = wb.Delete(store_.pending, it->key());
      if (s.ok()) s = wb.Delete(store_.pending, pending_id_key(k.substr(8)));
      if (!s.ok()) return from_rocksdb(s, "orphaning labels");
      ++n;
    }
    if (!it->status().ok()) return from_rocksdb(it->status(), "reading pending labels");
    if (n == 0) return Status::ok();
    Aggregate c;
    c.add("orphaned", static_cast<double>(n));
    c.add("pending", -static_cast<double>(n));
    if (auto s = wb.Merge(store_.metrics, kCountersKey, c.encode()); !s.ok()) {
      return from_rocksdb(s, "orphaning labels");
    }
    if (auto s = store_.admin_write(wb, true, "orphaning labels"); !s) return s;
    {
      std::lock_guard lock(mu_);
      label_counts_.orphaned += n;
      label_counts_.pending = label_counts_.pending >= n ? label_counts_.pending - n : 0;
      pending_gauge_->Set(static_cast<double>(label_counts_.pending));
    }
    orphaned_->Increment(static_cast<double>(n));
    report.orphaned_labels += n;
    spdlog::info("store: {} labels waited longer than labels.max_wait: counted as orphaned", n);
  }
}

Status QualityWriter::fold() {
  if (!on()) return Status::ok();
  std::shared_lock db_lock(store_.db_mu);
  if (!store_.db || store_.db_failed.load()) return Status::ok();  // the next pass folds them
  // Every commit group adds a merge operand to the buckets it touches; a report reading a bucket
  // sums all of its operands. Flushing and compacting the new data into the levels below folds
  // each bucket's operands into one value (measured: a 30-day report 76 ms -> 16 ms). The
  // bottommost level, folded already, is not rewritten.
  rocksdb::FlushOptions fo;
  if (auto s = store_.db->Flush(fo, store_.metrics); !s.ok()) {
    return from_rocksdb(s, "flushing aggregates");
  }
  rocksdb::CompactRangeOptions co;
  co.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kSkip;
  co.canceled = &store_.cancel_compactions;
  auto s = store_.db->CompactRange(co, store_.metrics, nullptr, nullptr);
  if (s.IsManualCompactionPaused()) return Status::ok();  // stopping
  return from_rocksdb(s, "folding aggregates");
}

Result<Aggregate> QualityWriter::aggregate(std::string_view model,
                                           const std::optional<std::string>& version,
                                           EpochMillis from_ms, EpochMillis to_ms) const {
  std::vector<std::string> selected;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, range] : versions_) {
      if (id.first == model && (!version || *version == id.second)) selected.push_back(id.second);
    }
  }
  Aggregate out;
  const EpochMillis from = floor_to(from_ms, kMinute);
  const EpochMillis to = floor_to(to_ms, kMinute);
  if (selected.empty() || from >= to) return out;

  std::shared_lock db_lock(store_.db_mu);
  rocksdb::DB* db = store_.db.get();
  if (db == nullptr) return Status::unavailable("the store is reopening after a write failure");
  // One iterator reads everything: it sees the family as of its creation, so the version ranges
  // and the buckets agree. (No explicit snapshot: releasing one makes RocksDB 7.8 mark every
  // bottommost table file for a rewrite that zeroes its sequence numbers; read every few seconds
  // by the model gauges, that rewrote each hot partition file once more, ~3 us of compaction CPU
  // per ingested event.)
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), store_.metrics));
  // The buckets' bytes (an iterator's values do not outlive its next step), summed in one merge.
  std::vector<std::string> buckets;
  std::vector<int> signs;
  for (const auto& v : selected) {
    // The version's first and last prediction minute (written in the same batch as the buckets):
    // no bucket holds anything outside them.
    const std::string version_key = "V" + version_prefix(model, v);
    it->Seek(version_key);
    if (!it->status().ok()) return from_rocksdb(it->status(), "reading model versions");
    if (!it->Valid() || it->key().compare(version_key) != 0) continue;
    const std::string range = it->value().ToString();
    // No range known: plan as if anything could be stored anywhere.
    EpochMillis data_begin = from - kDay, data_end = to + kDay;
    if (range.size() == 16 || range.size() == 24) {
      data_begin = floor_to(static_cast<EpochMillis>(get_be(range, 8)), kMinute);
      data_end = floor_to(static_cast<EpochMillis>(get_be(std::string_view(range).substr(8), 8)),
                          kMinute) +
                 kMinute;
    }
    // Hours and days hold the minutes before `rolled` (before_write); the minutes past it are
    // read from their own buckets.
    EpochMillis rolled = data_end;
    if (range.size() == 24) {
      rolled = std::clamp(static_cast<EpochMillis>(get_be(std::string_view(range).substr(16), 8)),
                          data_begin, data_end);
    }
    std::vector<BucketPiece> pieces;
    if (from < std::min(to, rolled)) {
      pieces = BucketPlanner(data_begin, rolled).plan(from, std::min(to, rolled));
    }
    if (std::max(from, rolled) < to) pieces.push_back({'m', std::max(from, rolled), to, 1});
    for (const BucketPiece& piece : pieces) {
      const std::string end = bucket_key(model, v, piece.granularity, piece.end);
      for (it->Seek(bucket_key(model, v, piece.granularity, piece.begin));
           it->Valid() && it->key().compare(end) < 0; it->Next()) {
        buckets.emplace_back(it->value().data(), it->value().size());
        signs.push_back(piece.sign);
      }
      if (!it->status().ok()) return from_rocksdb(it->status(), "reading aggregates");
    }
  }
  std::vector<EncodedTerm> terms;
  terms.reserve(buckets.size());
  for (size_t i = 0; i < buckets.size(); ++i) terms.push_back({buckets[i], signs[i]});
  std::string sum;
  std::optional<Aggregate> result;
  if (sum_encoded(terms, sum)) result = Aggregate::decode(sum);
  if (!result) return Status::internal("corrupt aggregate for model " + std::string(model));
  return std::move(*result);
}

uint64_t QualityWriter::aggregate_generation(std::string_view model,
                                             const std::optional<std::string>& version,
                                             EpochMillis from_ms, EpochMillis to_ms) const {
  std::string prefix;
  put_varint(prefix, model.size());
  prefix += model;
  if (version) prefix = version_prefix(model, *version);
  const EpochMillis first_day = floor_to(from_ms, kDay);
  std::lock_guard lock(mu_);
  uint64_t newest = 0;
  for (auto it = bucket_writes_.lower_bound(prefix);
       it != bucket_writes_.end() && it->first.starts_with(prefix) &&
       (!version || it->first == prefix);
       ++it) {
    for (auto d = it->second.lower_bound(first_day); d != it->second.end() && d->first < to_ms;
         ++d) {
      newest = std::max(newest, d->second);
    }
  }
  return reopens_ << 48 | newest;
}

std::vector<ModelVersionInfo> QualityWriter::model_versions() const {
  std::lock_guard lock(mu_);
  std::vector<ModelVersionInfo> out;
  for (const auto& [id, range] : versions_) {
    out.push_back({id.first, id.second, range.first, range.last});
  }
  return out;
}

LabelCounts QualityWriter::label_counts() const {
  std::lock_guard lock(mu_);
  return label_counts_;
}

Result<Aggregate> Store::aggregate(std::string_view model,
                                   const std::optional<std::string>& version, EpochMillis from_ms,
                                   EpochMillis to_ms) const {
  return impl_->quality.aggregate(model, version, from_ms, to_ms);
}

uint64_t Store::aggregate_generation(std::string_view model,
                                     const std::optional<std::string>& version, EpochMillis from_ms,
                                     EpochMillis to_ms) const {
  return impl_->quality.aggregate_generation(model, version, from_ms, to_ms);
}

std::vector<ModelVersionInfo> Store::model_versions() const {
  return impl_->quality.model_versions();
}

LabelCounts Store::label_counts() const { return impl_->quality.label_counts(); }

}  // namespace verity::store
