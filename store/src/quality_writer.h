#pragma once

// Model quality's write side in the store (quality_writer.cpp): the label join and the per-model
// aggregates of the metrics family (key layout in database.h), kept by one group writer of the
// commit pipeline (group_writers.h: begin, add..., before_write, after_write on the commit
// thread). The contributions themselves come from StoreOptions::contributor (quality/); this class
// decides when a prediction and its label meet, sums what they contribute per commit group, and
// owns what it publishes: model versions, label counters, the write generation of each day's
// buckets, and the label metrics. Readers (reports, /metrics) take them under its lock.

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <rocksdb/status.h>
#include <rocksdb/write_batch.h>

#include "database.h"
#include "verity/core/status.h"
#include "verity/store/aggregate.h"
#include "verity/store/store.h"

namespace verity::store {

struct Pending;
struct PreparedEvent;

// A label's join worked out by the submitting thread against the store as it was then: its
// contribution is in the batch's sums (BatchBucket, for the prediction's minute). The commit
// thread keeps it when nothing changed since (the usual case); otherwise (a duplicate, or no
// longer the first label) it subtracts it again, computed from the prediction kept here, and
// joins itself. Planned for a request id's first label only: corrections and late older labels
// are joined by the commit thread, which holds the label's history.
struct JoinPlan {
  bool ready = false;  // the prediction was stored (and not erased), and no label, at submission
  std::string model, version;  // the prediction's
  EpochMillis prediction_ms = 0;
  std::string prediction_document;
  double lag_seconds = 0;
  // The prediction as the join reads it (planned, and taken back out, the same way).
  JoinSide prediction() const { return {model, version, prediction_ms, prediction_document}; }
};

// The predictions of a batch and its planned label joins summed per model, version and minute by
// the submitting thread, and encoded there (sorted by key); the commit thread merges these with
// the other batches' (sum_encoded: no hashing, no sorting) and subtracts what the batch's
// duplicates (and plans it did not keep) contributed.
struct BatchBucket {
  std::string model, version;
  EpochMillis minute = 0;
  std::string encoded;  // an encoded Aggregate
};

// How a stored label changes a request id's labels (commit_loop.cpp decides, from its history).
enum class LabelChange {
  kFirst,       // the request id's first label
  kCorrection,  // newer by label time than the label in effect: it takes its place
  kOlder,       // older than the label in effect, arrived late: it may move the first label time
};

class QualityWriter {
 public:
  explicit QualityWriter(Store::Impl& store) : store_(store) {}
  bool on() const;  // StoreOptions::contributor is set
  void register_metrics(prometheus::Registry& registry);
  Status load();    // after the database opened: versions and counters
  void reopened();  // the database was reopened: every window's generation changes

  // Submitting thread: the batch's predictions and planned joins summed per bucket, and its
  // labels' plans.
  void prepare(const IngestBatch& batch, std::vector<PreparedEvent>& prepared,
               std::vector<BatchBucket>& contributions) const;

  // Commit thread, for one group (only when on()). begin() reads the label stored for each of
  // the group's predictions (one MultiGet; labels look their prediction up only when new or
  // corrected). Events are numbered k = 0, 1, ... across the group's batches.
  void begin(const std::vector<Pending>& group, EpochMillis now);
  // A batch's summed contributions, once its events were walked.
  void add_batch(const std::vector<BatchBucket>& contributions);
  // A prediction of the batch that turned out to be a duplicate or a conflict: its batch's sums
  // counted it.
  void unstore(const Event& e);
  // A label of the batch that was not joined as planned (a duplicate, or no longer the request
  // id's first label): its batch's sums counted the planned join. Nothing when it had no plan.
  void unplan(const Event& e, const JoinPlan& plan);
  // A newly stored prediction (event k): its label, if one waits, joins it.
  Status add_prediction(const Event& e, size_t k, rocksdb::WriteBatch& wb);
  // A stored label of the group. `previous`: the label in effect before (null for kFirst), with
  // `previous_first_ms` the request id's first label time before; `first_ms`: the first label
  // time now (label lag is measured to it).
  Status add_label(const Event& e, const JoinPlan& plan, LabelChange change,
                   std::optional<StoredRecord> previous, EpochMillis previous_first_ms,
                   EpochMillis first_ms, rocksdb::WriteBatch& wb);
  Status before_write(rocksdb::WriteBatch& wb);  // the group's merges, versions and counters
  void after_write();                            // versions, counters, generations, metrics

  // Maintenance: labels that waited longer than labels.max_wait are orphaned (under write_mu, like
  // a commit group); the aggregates' merge operands are folded (flush and compaction, db_mu
  // shared).
  Status orphan_pending(MaintenanceReport& report);
  Status fold();

  // Readers (Store's methods of the same names).
  Result<Aggregate> aggregate(std::string_view model, const std::optional<std::string>& version,
                              EpochMillis from_ms, EpochMillis to_ms) const;
  uint64_t aggregate_generation(std::string_view model, const std::optional<std::string>& version,
                                EpochMillis from_ms, EpochMillis to_ms) const;
  std::vector<ModelVersionInfo> model_versions() const;
  LabelCounts label_counts() const;

  // What one commit group adds to the aggregates (public for the helpers that fill it).
  // A model version's first and last prediction time, and how far its hour and day buckets
  // reach: they hold exactly the minute buckets before `rolled` (see before_write).
  struct VersionSpan {
    EpochMillis first = 0, last = 0;
    EpochMillis rolled = 0;
    bool operator==(const VersionSpan&) const = default;
  };
  struct GroupSums {
    struct Minute {
      std::string prefix;  // varint-len model | varint-len version
      std::string model, version;
      EpochMillis start = 0;
      // The group's batches' encoded sums for the minute (views of the group's BatchBuckets,
      // valid while it is written), and what the commit thread added itself.
      std::vector<std::string_view> parts;
      AggregateSum sum;
      // parts + sum, encoded. False when a part is not an Aggregate.
      bool encode(std::string& out) const;
    };
    std::map<std::string, Minute> minutes;  // prefix | u64 BE minute -> sum
    Minute* last_minute = nullptr;          // the bucket of the last addition (std::map: stable)
    std::string last_model, last_model_version;
    Aggregate counters;  // LabelCounts deltas
    // The group's predictions' versions: first and last time (before_write adds the committed
    // span and moves `rolled`).
    using Versions = std::map<std::pair<std::string, std::string>, VersionSpan>;
    Versions versions;
    Versions::iterator last_version = versions.end();
    std::vector<double> lags_seconds;  // label lag of first joins, for the histogram
    void clear();
  };

 private:
  // A batch's sums by model, version and minute (views of the events' and plans' strings),
  // numbering their keys once for the batch.
  struct BatchSums {
    AggregateKeys keys;
    std::map<std::tuple<std::string_view, std::string_view, EpochMillis>, AggregateSum> sums;
    AggregateSum& sum_for(std::string_view model, std::string_view version, EpochMillis minute) {
      return sums.try_emplace({model, version, minute}, keys).first->second;
    }
  };
  // The join plans of the batch's labels (events `labels`) whose prediction is stored and whose
  // request id has no label yet; their contributions are added to `sums`.
  void plan_joins(const IngestBatch& batch, const std::vector<size_t>& labels,
                  std::vector<PreparedEvent>& prepared, BatchSums& sums) const;
  // A label side `l` takes the place of `old_label` (null: the request id's first label) for a
  // request id: joins its prediction (in this group or stored) or waits. `counter`: the label
  // counter to add one to ("joined" is added for first labels; null: none, when only the first
  // label time moved).
  Status join_label(std::string_view request_id, const JoinSide& l,
                    const JoinSide* group_prediction, const JoinSide* old_label,
                    const char* counter, bool old_pending_in_group, rocksdb::WriteBatch& wb,
                    bool& now_pending);
  void apply_plan(const JoinPlan& plan);

  Store::Impl& store_;

  // Commit thread: the group being built.
  GroupSums sums_;
  EpochMillis group_arrival_ms_ = 0;  // the commit time of the group: when its labels wait from
  // The labels stored for the group's predictions (one MultiGet), by slot: event k (a prediction)
  // -> index in labels_in_effect_ (SIZE_MAX for a label).
  std::vector<size_t> label_slot_;
  PointLookups labels_in_effect_;
  // Predictions stored by this group, and the label in effect for request ids whose label this
  // group changed (its time: the first label time of the request id).
  std::unordered_map<std::string_view, JoinSide> predictions_, labels_;
  std::unordered_set<std::string_view> pending_;  // labels of this group that wait
  std::deque<StoredRecord> records_;  // decoded label records the JoinSides above point into

  // Model versions with their first and last prediction time, and the label counters, as
  // committed; the last commit group (a count since open) that wrote a bucket, per model version
  // prefix and UTC day (aggregate_generation). Guarded by mu_.
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, VersionSpan> versions_;

  // Commit thread: what the open minute buckets (at or past their version's `rolled`) hold, for
  // the minutes this instance saw every write of, so that rolling one up reads nothing. A minute
  // at or before its version's `untracked_through_` may hold sums written before (by an earlier
  // process, or lost from memory at a reopen, or past the memory bound): it is read from the
  // store when it is rolled up. Both are set again by load(); updates wait for after_write.
  std::map<std::string, std::string> open_minutes_;  // minute bucket key -> encoded sum
  size_t open_minutes_bytes_ = 0;
  std::map<std::pair<std::string, std::string>, EpochMillis> untracked_through_;
  // The group's changes to them, applied by after_write: new sums, and minutes rolled up.
  struct OpenUpdate {
    std::string key;
    std::pair<std::string, std::string> version;
    EpochMillis minute = 0;
    std::string part;  // the group's encoded sum for the minute
  };
  std::vector<OpenUpdate> open_updates_;
  std::vector<std::string> open_closed_;
  LabelCounts label_counts_;
  std::map<std::string, std::map<EpochMillis, uint64_t>, std::less<>> bucket_writes_;
  uint64_t bucket_write_groups_ = 0;
  uint64_t reopens_ = 0;  // a reopen may have lost writes that readers saw

  prometheus::Counter* joined_ = nullptr;
  prometheus::Counter* corrected_ = nullptr;
  prometheus::Counter* orphaned_ = nullptr;
  prometheus::Counter* late_joined_ = nullptr;
  prometheus::Gauge* pending_gauge_ = nullptr;
  prometheus::Histogram* lag_ = nullptr;
};

}  // namespace verity::store
