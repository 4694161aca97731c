// The label join and the aggregates in the store, with a contributor that records exactly what it
// was asked: every prediction adds "n"; every join adds "labelled" and "label=<document>". The
// metric maths lives in query/ and is tested there and against scikit-learn.

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <filesystem>
#include <future>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "seed.h"
#include "verity/store/store.h"
#include "wait.h"

namespace verity::store {
namespace {

namespace fs = std::filesystem;

constexpr EpochMillis kNow = 1795000000000;  // 2026-11-18T11:06:40Z
constexpr EpochMillis kMinute = 60'000;
constexpr EpochMillis kDay = 86'400'000;

class RecordingContributor final : public Contributor {
 public:
  void prediction(const JoinSide& p, AggregateSink& out) const override {
    out.add("n", 1);
    out.add("model=" + std::string(p.model) + "/" + std::string(p.version), 1);
  }
  void join(const JoinSide& p, const JoinSide& l, AggregateSink& out) const override {
    out.add("labelled", 1);
    out.add("label=" + std::string(l.document), 1);
    out.add("lag_ms", static_cast<double>(l.time_ms - p.time_ms));
  }
};

class LabelJoinTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("verity_label_join_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    options_.data_dir = dir_.string();
    options_.retention.check_interval = Duration(0);
    options_.contributor = std::make_shared<RecordingContributor>();
    options_.label_max_wait = Duration(7 * kDay);
    open();
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }
  // A new, empty store in the same place.
  void reset() {
    store_.reset();
    fs::remove_all(dir_);
    open();
  }
  void open() {
    store_.reset();
    registry_ = std::make_shared<prometheus::Registry>();
    auto s = Store::open(options_, clock_, *registry_);
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    store_ = std::move(s).value();
  }
  CommitResult commit(std::vector<Event> events) {
    IngestBatch b;
    b.input = "http";
    b.events = std::move(events);
    std::promise<CommitResult> p;
    store_->submit(std::move(b), [&](const CommitResult& r) { p.set_value(r); });
    return p.get_future().get();
  }
  static Event prediction(const std::string& id, EpochMillis ts = kNow - kDay,
                          const std::string& version = "v1") {
    Event e;
    e.kind = EventKind::kPrediction;
    e.request_id = id;
    e.timestamp_ms = ts;
    e.model_name = "fraud";
    e.model_version = version;
    e.document = "{\"request_id\":\"" + id + "\",\"prediction\":{\"label\":true}}";
    return e;
  }
  // `note` makes a label document different from another with the same ground truth (a label
  // sent again on purpose, not a replay).
  static Event label(const std::string& id, const std::string& truth, EpochMillis ts = kNow,
                     const std::string& note = "") {
    Event e;
    e.kind = EventKind::kLabel;
    e.request_id = id;
    e.timestamp_ms = ts;
    e.document = "{\"request_id\":\"" + id + "\",\"ground_truth\":" + truth +
                 (note.empty() ? "" : ",\"note\":\"" + note + "\"") + "}";
    return e;
  }
  Aggregate all() {
    auto a = store_->aggregate("fraud", std::nullopt, kNow - 30 * kDay, kNow + kDay);
    EXPECT_TRUE(a.is_ok()) << a.status().to_string();
    return a.is_ok() ? *a : Aggregate();
  }
  static std::string label_key(const std::string& id, const std::string& truth,
                               const std::string& note = "") {
    return "label=" + label(id, truth, kNow, note).document;
  }

  bool wait_until_unwritable() {
    return testing::wait_until([this] { return !store_->writable(); }, std::chrono::seconds(30));
  }

  fs::path dir_;
  StoreOptions options_;
  ManualClock clock_{kNow};
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<Store> store_;
};

TEST_F(LabelJoinTest, LabelAfterItsPredictionJoinsAtOnce) {
  ASSERT_EQ(commit({prediction("a"), prediction("b")}).stored, 2u);
  ASSERT_EQ(commit({label("a", "true")}).stored, 1u);
  const Aggregate a = all();
  EXPECT_EQ(a.get("n"), 2);
  EXPECT_EQ(a.get("labelled"), 1);
  EXPECT_EQ(a.get(label_key("a", "true")), 1);
  EXPECT_EQ(a.get("lag_ms"), kDay);
  const LabelCounts c = store_->label_counts();
  EXPECT_EQ(c.joined, 1u);
  EXPECT_EQ(c.pending, 0u);
}

// Inputs pause on what queued batches hold (max_queue_bytes, a connection's in-flight bytes): a
// label of a few dozen bytes carries its join's contribution, which must be counted, or a stream
// of labels queues hundreds of megabytes (1.1 GB at 2M labels over one TCP connection).
TEST_F(LabelJoinTest, APreparedLabelCountsItsJoinContribution) {
  ASSERT_EQ(commit({prediction("a")}).stored, 1u);
  // A label whose contribution has long keys: "label=<its document>".
  Event l = label("a", std::string(2000, 'x'));
  IngestBatch b;
  b.input = "http";
  b.events = {l};
  const size_t read = b.bytes();
  const Store::Prepared ready = store_->prepare(std::move(b));
  // The document twice (the batch and its encoded record) and the contribution's key once more.
  EXPECT_GE(ready.bytes(), read + 2 * l.document.size());
  IngestBatch waiting;  // its prediction is not stored: no contribution yet
  waiting.input = "http";
  waiting.events = {label("zzz", std::string(2000, 'x'))};
  const size_t waiting_read = waiting.bytes();
  const Store::Prepared unjoined = store_->prepare(std::move(waiting));
  EXPECT_LT(unjoined.bytes(), ready.bytes());
  EXPECT_GE(unjoined.bytes(), waiting_read);
}

TEST_F(LabelJoinTest, LabelBeforeItsPredictionWaitsThenJoins) {
  ASSERT_EQ(commit({label("a", "false")}).stored, 1u);
  EXPECT_EQ(store_->label_counts().pending, 1u);
  EXPECT_EQ(all().get("labelled"), 0);  // nothing to join yet (and no model known)
  ASSERT_EQ(commit({prediction("a")}).stored, 1u);
  const Aggregate a = all();
  EXPECT_EQ(a.get("labelled"), 1);
  EXPECT_EQ(a.get(label_key("a", "false")), 1);
  const LabelCounts c = store_->label_counts();
  EXPECT_EQ(c.joined, 1u);
  EXPECT_EQ(c.pending, 0u);
  EXPECT_EQ(c.late_joins, 0u);
}

TEST_F(LabelJoinTest, LabelAndPredictionInOneGroupJoinInEitherOrder) {
  ASSERT_EQ(commit({label("a", "1"), prediction("a"), prediction("b"), label("b", "2")}).stored,
            4u);
  const Aggregate a = all();
  EXPECT_EQ(a.get("labelled"), 2);
  EXPECT_EQ(a.get(label_key("a", "1")), 1);
  EXPECT_EQ(a.get(label_key("b", "2")), 1);
  EXPECT_EQ(store_->label_counts().pending, 0u);
  open();  // nothing is left waiting in the pending family either
  EXPECT_EQ(store_->label_counts().pending, 0u);
  clock_.advance(30 * kDay);
  auto m = store_->run_maintenance();
  ASSERT_TRUE(m.is_ok());
  EXPECT_EQ(m->orphaned_labels, 0u);
}

TEST_F(LabelJoinTest, CorrectionReplacesTheOldContributionAndDuplicatesChangeNothing) {
  ASSERT_EQ(commit({prediction("a")}).stored, 1u);
  ASSERT_EQ(commit({label("a", "true")}).stored, 1u);
  EXPECT_EQ(commit({label("a", "true")}).duplicates, 1u);
  EXPECT_EQ(commit({prediction("a")}).duplicates, 1u);
  ASSERT_EQ(commit({label("a", "false")}).stored, 1u);  // a correction
  Aggregate a = all();
  EXPECT_EQ(a.get("n"), 1);
  EXPECT_EQ(a.get("labelled"), 1);
  EXPECT_EQ(a.get(label_key("a", "true")), 0);
  EXPECT_EQ(a.get(label_key("a", "false")), 1);
  LabelCounts c = store_->label_counts();
  EXPECT_EQ(c.joined, 1u);
  EXPECT_EQ(c.corrections, 1u);
  // Two corrections in one group, the second correcting the first (back to true: a new label,
  // not the first one replayed).
  ASSERT_EQ(commit({label("a", "null"), label("a", "true", kNow, "again")}).stored, 2u);
  a = all();
  EXPECT_EQ(a.get("labelled"), 1);
  EXPECT_EQ(a.get(label_key("a", "false")), 0);
  EXPECT_EQ(a.get(label_key("a", "null")), 0);
  EXPECT_EQ(a.get(label_key("a", "true", "again")), 1);
  EXPECT_EQ(store_->label_counts().corrections, 3u);
}

// Issue 13: replaying a label log that holds a wrong label and its later correction applied both
// again (+1 correction per pair per replay) and moved the mean label lag.
TEST_F(LabelJoinTest, ReplayingALabelLogInAnyOrderChangesNothing) {
  ASSERT_EQ(commit({prediction("a"), prediction("b"), prediction("c")}).stored, 3u);
  const std::vector<Event> log = {label("a", "false", kNow - 3000), label("a", "true", kNow - 2000),
                                  label("b", "true", kNow - 1000), label("c", "false", kNow),
                                  label("c", "true", kNow + 1000)};
  for (const auto& l : log) ASSERT_EQ(commit({l}).stored, 1u);
  const std::string before = all().encode();
  const LabelCounts counts = store_->label_counts();
  EXPECT_EQ(counts.joined, 3u);
  EXPECT_EQ(counts.corrections, 2u);
  // The whole log again, forwards, backwards, and each label alone: duplicates only.
  std::vector<Event> backwards(log.rbegin(), log.rend());
  EXPECT_EQ(commit(log).duplicates, log.size());
  EXPECT_EQ(commit(backwards).duplicates, log.size());
  for (const auto& l : log) EXPECT_EQ(commit({l}).duplicates, 1u);
  EXPECT_EQ(all().encode(), before);
  const LabelCounts after = store_->label_counts();
  EXPECT_EQ(after.joined, counts.joined);
  EXPECT_EQ(after.corrections, counts.corrections);
  // The label in effect is the newest by label time.
  auto a = store_->get_label("a").value();
  ASSERT_TRUE(a.has_value());
  EXPECT_NE(a->document.find("true"), std::string::npos);
}

// Labels are ordered by their own time: an older label that arrives after a newer one never
// overrides it; it is kept, and label lag is measured to the first label by label time. Applying
// a log in either order ends with the same aggregates.
TEST_F(LabelJoinTest, AnOlderLabelArrivingLateNeverOverridesTheNewerOne) {
  const std::vector<Event> log = {label("a", "false", kNow - 7200'000), label("a", "true", kNow)};
  ASSERT_EQ(commit({prediction("a")}).stored, 1u);
  for (const auto& l : log) ASSERT_EQ(commit({l}).stored, 1u);
  const std::string in_order = all().encode();
  reset();
  ASSERT_EQ(commit({prediction("a")}).stored, 1u);
  ASSERT_EQ(commit({log[1]}).stored, 1u);
  Aggregate a = all();
  EXPECT_EQ(a.get("lag_ms"), kDay);        // to the only label so far
  ASSERT_EQ(commit({log[0]}).stored, 1u);  // older: kept, not in effect
  a = all();
  EXPECT_EQ(a.get(label_key("a", "true")), 1);
  EXPECT_EQ(a.get(label_key("a", "false")), 0);
  EXPECT_EQ(a.get("lag_ms"), kDay - 7200'000);  // to the first label by label time
  EXPECT_EQ(a.encode(), in_order);
  EXPECT_NE(store_->get_label("a").value()->document.find("true"), std::string::npos);
  // A label whose prediction has not arrived yet, then an older one: the join uses the first time.
  ASSERT_EQ(commit({label("b", "true", kNow)}).stored, 1u);
  ASSERT_EQ(commit({label("b", "false", kNow - 3600'000)}).stored, 1u);
  ASSERT_EQ(commit({prediction("b")}).stored, 1u);
  a = all();
  EXPECT_EQ(a.get(label_key("b", "true")), 1);
  EXPECT_EQ(a.get(label_key("b", "false")), 0);
  EXPECT_EQ(a.get("lag_ms"), (kDay - 7200'000) + (kDay - 3600'000));
}

TEST_F(LabelJoinTest, RestartChangesNothing) {
  ASSERT_EQ(commit({prediction("a"), prediction("b"), label("c", "true")}).stored, 3u);
  ASSERT_EQ(commit({label("a", "true"), label("b", "false")}).stored, 2u);
  ASSERT_EQ(commit({label("b", "true")}).stored, 1u);
  const std::string before = all().encode();
  const LabelCounts c = store_->label_counts();
  open();
  EXPECT_EQ(all().encode(), before);
  const LabelCounts d = store_->label_counts();
  EXPECT_EQ(d.joined, c.joined);
  EXPECT_EQ(d.corrections, c.corrections);
  EXPECT_EQ(d.pending, 1u);
  // Replaying everything after the restart changes nothing either.
  EXPECT_EQ(commit({prediction("a"), prediction("b"), label("c", "true"), label("a", "true"),
                    label("b", "true")})
                .duplicates,
            5u);
  EXPECT_EQ(all().encode(), before);
}

TEST_F(LabelJoinTest, LabelsWaitingLongerThanMaxWaitAreOrphanedAndStillJoinLater) {
  ASSERT_EQ(commit({label("early", "true")}).stored, 1u);
  clock_.advance(3 * kDay);
  ASSERT_EQ(commit({label("later", "true")}).stored, 1u);
  clock_.advance(5 * kDay);  // "early" waited 8 days, "later" 5
  auto m = store_->run_maintenance();
  ASSERT_TRUE(m.is_ok()) << m.status().to_string();
  EXPECT_EQ(m->orphaned_labels, 1u);
  LabelCounts c = store_->label_counts();
  EXPECT_EQ(c.orphaned, 1u);
  EXPECT_EQ(c.pending, 1u);
  open();
  EXPECT_EQ(store_->label_counts().orphaned, 1u);
  EXPECT_EQ(store_->label_counts().pending, 1u);
  ASSERT_EQ(commit({prediction("early"), prediction("later")}).stored, 2u);
  c = store_->label_counts();
  EXPECT_EQ(c.joined, 2u);
  EXPECT_EQ(c.pending, 0u);
  EXPECT_EQ(c.late_joins, 1u);
  EXPECT_EQ(all().get("labelled"), 2);
  clock_.advance(30 * kDay);
  m = store_->run_maintenance();
  ASSERT_TRUE(m.is_ok());
  EXPECT_EQ(m->orphaned_labels, 0u);
}

TEST_F(LabelJoinTest, VersionsAreKeptApartAndListed) {
  ASSERT_EQ(commit({prediction("a", kNow - 2 * kDay, "v1"), prediction("b", kNow - kDay, "v2"),
                    prediction("c", kNow - kDay + kMinute, "v2")})
                .stored,
            3u);
  auto v2 = store_->aggregate("fraud", std::string("v2"), kNow - 30 * kDay, kNow);
  ASSERT_TRUE(v2.is_ok());
  EXPECT_EQ(v2->get("n"), 2);
  EXPECT_EQ(v2->get("model=fraud/v2"), 2);
  EXPECT_EQ(v2->get("model=fraud/v1"), 0);
  const auto versions = store_->model_versions();
  ASSERT_EQ(versions.size(), 2u);
  EXPECT_EQ(versions[1].version, "v2");
  EXPECT_EQ(versions[1].first_ms, kNow - kDay);
  EXPECT_EQ(versions[1].last_ms, kNow - kDay + kMinute);
  open();
  EXPECT_EQ(store_->model_versions().size(), 2u);
  EXPECT_EQ(store_->model_versions()[1].last_ms, kNow - kDay + kMinute);
}

// Labels are joined on the submitting threads against the store as it was (a plan) and the
// commit thread re-joins when another label got in first: however the submissions interleave, each
// request id ends with exactly the contribution of the label stored last.
TEST_F(LabelJoinTest, ConcurrentLabelsForOneRequestIdLeaveTheLastStoredOne) {
  std::vector<Event> predictions;
  for (int i = 0; i < 200; ++i) predictions.push_back(prediction("c" + std::to_string(i)));
  ASSERT_EQ(commit(std::move(predictions)).stored, 200u);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([this, t] {
      for (int round = 0; round < 5; ++round) {
        std::vector<Event> batch;
        for (int i = 0; i < 200; ++i) {
          batch.push_back(label("c" + std::to_string(i), std::to_string(t * 10 + round)));
        }
        commit(std::move(batch));
      }
    });
  }
  for (auto& th : threads) th.join();
  const Aggregate a = all();
  EXPECT_EQ(a.get("labelled"), 200);
  // Every label ever stored contributes 1 (the last one of its id) or 0 (replaced): a stale plan
  // would leave -1 on one and +1 on another.
  size_t ones = 0;
  a.for_each([&](const std::string& k, double v) {
    if (k.rfind("label=", 0) != 0) return;
    EXPECT_TRUE(v == 0 || v == 1) << k << " " << v;
    ones += v == 1;
  });
  EXPECT_EQ(ones, 200u);
  for (int i = 0; i < 200; ++i) {
    const std::string id = "c" + std::to_string(i);
    auto stored = store_->get_label(id);
    ASSERT_TRUE(stored.is_ok() && stored->has_value());
    EXPECT_EQ(a.get("label=" + (*stored)->document), 1) << id;
  }
  const LabelCounts c = store_->label_counts();
  EXPECT_EQ(c.joined, 200u);
  EXPECT_EQ(c.joined + c.corrections, 200u * 20);  // every submitted label counted once
}

// A batch's first labels are joined on the submitting thread straight into the batch's sums; one
// that is not its request id's first label by the time it commits (a duplicate, a correction or an
// older label of the same batch) is taken back out of them and joined by the commit thread.
// Generated label streams (duplicates, corrections, older labels, ids without a prediction)
// committed as one batch leave the same aggregates and counters as the same labels committed one
// per group, where no plan is ever taken back.
TEST_F(LabelJoinTest, ABatchOfLabelsSumsAsTheSameLabelsOnePerCommit) {
  const uint64_t seed = verity::testing::test_seed();
  SCOPED_TRACE(verity::testing::seed_trace(seed));
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 8; ++round) {
    const int ids = 1 + static_cast<int>(rng() % 12);
    std::vector<Event> predictions;
    for (int i = 0; i < ids; ++i) {
      predictions.push_back(prediction("r" + std::to_string(i), kNow - kDay + i * 61'000));
    }
    std::vector<Event> labels;
    const int n = 1 + static_cast<int>(rng() % 40);
    const char* truths[] = {"true", "false", "null", "1", "\"x\""};
    for (int j = 0; j < n; ++j) {
      if (!labels.empty() && rng() % 5 == 0) {
        labels.push_back(labels[rng() % labels.size()]);  // the same label again
        continue;
      }
      // Ids past the predictions wait; label times move back and forth (older labels).
      const std::string id = "r" + std::to_string(rng() % (ids + 2));
      labels.push_back(label(id, truths[rng() % std::size(truths)],
                             kNow - static_cast<EpochMillis>(rng() % 4) * 600'000,
                             rng() % 2 == 0 ? "" : std::to_string(j)));
    }
    reset();
    ASSERT_EQ(commit(predictions).stored, predictions.size());
    const CommitResult together = commit(labels);
    const Aggregate batched = all();
    const LabelCounts batched_counts = store_->label_counts();

    reset();
    ASSERT_EQ(commit(predictions).stored, predictions.size());
    size_t stored = 0, duplicates = 0;
    for (const Event& l : labels) {
      const CommitResult r = commit({l});
      stored += r.stored;
      duplicates += r.duplicates;
    }
    EXPECT_EQ(together.stored, stored) << "round " << round;
    EXPECT_EQ(together.duplicates, duplicates) << "round " << round;
    EXPECT_EQ(batched.encode(), all().encode()) << "round " << round << ", " << n << " labels";
    const LabelCounts one_by_one = store_->label_counts();
    EXPECT_EQ(batched_counts.joined, one_by_one.joined) << "round " << round;
    EXPECT_EQ(batched_counts.corrections, one_by_one.corrections) << "round " << round;
    EXPECT_EQ(batched_counts.pending, one_by_one.pending) << "round " << round;
  }
}

// The same, deterministically: two labels wait while writes fail, both planned against the label
// stored then; the first commits; the second's plan is stale (it would subtract a label that is no
// longer stored) and must be joined again.
TEST_F(LabelJoinTest, AStalePlanIsJoinedAgain) {
  ASSERT_EQ(commit({prediction("a")}).stored, 1u);
  ASSERT_EQ(commit({label("a", "1")}).stored, 1u);
  store_.reset();
  options_.sync = SyncPolicy::kAlways;  // one batch per commit group
  options_.retry_interval = Duration(10);
  options_.faults = std::make_shared<WriteFaults>();
  open();
  options_.faults->no_space = true;
  std::promise<CommitResult> first, second;
  auto submit = [this](Event e, std::promise<CommitResult>& done) {
    IngestBatch b;
    b.input = "http";
    b.events.push_back(std::move(e));
    store_->submit(std::move(b), [&done](const CommitResult& r) { done.set_value(r); });
  };
  submit(label("a", "2"), first);  // its write fails and is retried
  ASSERT_TRUE(wait_until_unwritable());
  submit(label("a", "3"), second);  // planned against label 1, still stored
  options_.faults->no_space = false;
  ASSERT_EQ(first.get_future().get().stored, 1u);
  ASSERT_EQ(second.get_future().get().stored, 1u);
  const Aggregate a = all();
  EXPECT_EQ(a.get(label_key("a", "1")), 0);
  EXPECT_EQ(a.get(label_key("a", "2")), 0);
  EXPECT_EQ(a.get(label_key("a", "3")), 1);
  EXPECT_EQ(a.get("labelled"), 1);
  EXPECT_EQ(store_->label_counts().corrections, 2u);
}

// Windows are read from minute, hour and day buckets, rounded out to whole days past a version's
// first and last prediction: every window must count exactly the predictions whose minute lies in
// it, per version and for all of them, whether it starts or ends inside a version's data or past
// it (versions over different spans: the first half, the second half, one narrow hour).
TEST_F(LabelJoinTest, AnyWindowCountsExactlyThePredictionsInIt) {
  std::mt19937_64 rng(42);
  const EpochMillis start = kNow - 3 * kDay;
  std::uniform_int_distribution<EpochMillis> when(start, kNow);
  struct Stored {
    EpochMillis time;
    std::string version;
  };
  std::vector<Stored> stored;
  std::vector<Event> batch;
  const EpochMillis narrow = kNow - kDay - 7 * kMinute;
  for (int i = 0; i < 3000; ++i) {
    EpochMillis t = when(rng);
    std::string version = t < kNow - kDay - kDay / 2 ? "v1" : "v2";
    if (i % 10 == 0) {
      t = narrow + static_cast<EpochMillis>(rng() % 3'600'000);
      version = "v3";
    }
    stored.push_back({t, version});
    batch.push_back(prediction("p" + std::to_string(i), t, version));
  }
  ASSERT_EQ(commit(std::move(batch)).stored, 3000u);
  auto floor_minute = [](EpochMillis t) { return t - t % kMinute; };
  std::uniform_int_distribution<EpochMillis> around(start - 2 * kDay, kNow + 2 * kDay);
  for (int trial = 0; trial < 300; ++trial) {
    EpochMillis from = when(rng), to = when(rng);
    if (trial % 3 == 1) from = around(rng), to = around(rng);  // past the data on either side
    if (trial % 5 == 0) from = narrow - static_cast<EpochMillis>(rng() % kDay);
    if (trial % 7 == 0) to = narrow + static_cast<EpochMillis>(rng() % (2 * 3'600'000));
    if (from > to) std::swap(from, to);
    std::map<std::string, double> expected;
    double all = 0;
    for (const auto& s : stored) {
      const bool in =
          floor_minute(s.time) >= floor_minute(from) && floor_minute(s.time) < floor_minute(to);
      expected[s.version] += in;
      all += in;
    }
    auto a = store_->aggregate("fraud", std::nullopt, from, to);
    ASSERT_TRUE(a.is_ok());
    ASSERT_EQ(a->get("n"), all) << "window [" << from << ", " << to << ")";
    for (const auto& [version, n] : expected) {
      auto v = store_->aggregate("fraud", version, from, to);
      ASSERT_TRUE(v.is_ok());
      ASSERT_EQ(v->get("n"), n) << version << " in [" << from << ", " << to << ")";
      ASSERT_EQ(a->get("model=fraud/" + version), n)
          << version << " in [" << from << ", " << to << ")";
    }
  }
}

// A live stream writes each group's minute buckets only, and rolls a version's minutes up into
// their hour and day buckets once they are kOpenMinutes behind its newest prediction (reading
// what the minute buckets hold then). Generated streams in time order over a day boundary, with
// jitter, late predictions, labels joining open and rolled-up minutes, three versions and
// restarts between groups: any window read between groups counts exactly the predictions and
// labels in it.
TEST_F(LabelJoinTest, AStreamRollsItsMinutesUpAndEveryWindowStillCountsExactly) {
  const uint64_t seed = verity::testing::test_seed();
  SCOPED_TRACE(verity::testing::seed_trace(seed));
  std::mt19937_64 rng(seed);
  // Now and then a group's WAL sync fails: the store reopens, and the group is written again
  // (what the WAL kept of it is answered as duplicates) after it was rolled up in memory.
  store_.reset();
  options_.retry_interval = Duration(10);
  options_.faults = std::make_shared<WriteFaults>();
  open();
  auto floor_minute = [](EpochMillis t) { return t - ((t % kMinute) + kMinute) % kMinute; };
  const EpochMillis day_end = kNow - kNow % kDay;  // a day boundary the stream crosses
  EpochMillis t = day_end - 90 * kMinute - static_cast<EpochMillis>(rng() % (60 * kMinute));
  const EpochMillis first = t;
  struct Stored {
    EpochMillis time;
    std::string version;
    bool labelled = false;
  };
  std::vector<Stored> stored;
  std::vector<size_t> unlabelled;
  // Version names of every shape: empty, a prefix of another, with a NUL, Unicode, long, and
  // one that reads like a bucket's granularity byte; 2 to 6 of them per stream.
  std::vector<std::string> pool = {
      "v1",   "", std::string("v1\0x", 4), "\xc3\xa9t\xc3\xa9", std::string(200, 'm'), "m",
      "v1.2", "d"};
  std::shuffle(pool.begin(), pool.end(), rng);
  const std::vector<std::string> versions(pool.begin(),
                                          pool.begin() + static_cast<long>(2 + rng() % 5));
  int groups = 0;
  while (t < day_end + 60 * kMinute) {
    std::vector<Event> group;
    const size_t n = 1 + rng() % 40;
    for (size_t i = 0; i < n; ++i) {
      t += static_cast<EpochMillis>(rng() % 20'000);
      EpochMillis when = t;
      if (rng() % 20 == 0) when -= static_cast<EpochMillis>(rng() % (40 * kMinute));  // late
      if (rng() % 10 == 0) when -= static_cast<EpochMillis>(rng() % 90'000);          // jitter
      const std::string& version = versions[rng() % versions.size()];
      const std::string id = "p" + std::to_string(stored.size());
      unlabelled.push_back(stored.size());
      stored.push_back({when, version});
      group.push_back(prediction(id, when, version));
    }
    // Labels for earlier predictions: their minutes may be open or rolled up by now.
    for (size_t i = 0; i < 5 && !unlabelled.empty() && rng() % 2 == 0; ++i) {
      const size_t pick = rng() % unlabelled.size();
      const size_t k = unlabelled[pick];
      unlabelled.erase(unlabelled.begin() + static_cast<long>(pick));
      stored[k].labelled = true;
      group.push_back(label("p" + std::to_string(k), rng() % 2 ? "true" : "false", t));
    }
    const size_t events = group.size();
    if (rng() % 30 == 0) {
      options_.faults->sync_fails = true;
      IngestBatch b;
      b.input = "http";
      b.events = std::move(group);
      std::promise<CommitResult> done;
      store_->submit(std::move(b), [&done](const CommitResult& r) { done.set_value(r); });
      ASSERT_TRUE(wait_until_unwritable());
      options_.faults->sync_fails = false;
      const CommitResult r = done.get_future().get();
      ASSERT_EQ(r.stored + r.duplicates, events);
    } else {
      ASSERT_EQ(commit(std::move(group)).stored, events);
    }
    ++groups;
    if (rng() % 40 == 0) open();  // a restart between groups
    if (groups % 4 != 0) continue;
    for (int trial = 0; trial < 6; ++trial) {
      // Windows near the newest minutes (open ones) and anywhere in the stream.
      EpochMillis from =
          first - kMinute + static_cast<EpochMillis>(rng() % (t - first + 2 * kMinute));
      EpochMillis to = t - static_cast<EpochMillis>(rng() % (10 * kMinute)) + 3 * kMinute;
      if (trial % 3 == 0) from = t - static_cast<EpochMillis>(rng() % (8 * kMinute));
      if (trial % 3 == 1) from = first - kDay;
      if (from > to) std::swap(from, to);
      std::map<std::string, std::pair<double, double>> expected;  // version -> (n, labelled)
      double n_all = 0, labelled_all = 0;
      for (const auto& s : stored) {
        const bool in =
            floor_minute(s.time) >= floor_minute(from) && floor_minute(s.time) < floor_minute(to);
        expected[s.version].first += in;
        expected[s.version].second += in && s.labelled;
        n_all += in;
        labelled_all += in && s.labelled;
      }
      auto a = store_->aggregate("fraud", std::nullopt, from, to);
      ASSERT_TRUE(a.is_ok()) << a.status().to_string();
      ASSERT_EQ(a->get("n"), n_all) << "group " << groups << " [" << from << ", " << to << ")";
      ASSERT_EQ(a->get("labelled"), labelled_all)
          << "group " << groups << " [" << from << ", " << to << ")";
      for (const auto& [version, want] : expected) {
        auto v = store_->aggregate("fraud", version, from, to);
        ASSERT_TRUE(v.is_ok());
        ASSERT_EQ(v->get("n"), want.first) << version << " [" << from << ", " << to << ")";
        ASSERT_EQ(v->get("labelled"), want.second) << version << " [" << from << ", " << to << ")";
      }
    }
  }
  // The same sums after a restart and a maintenance pass's folding.
  const std::string before = all().encode();
  open();
  EXPECT_EQ(all().encode(), before);
}

// The generation of a window changes exactly when a commit writes into one of its days (what
// a cached drift baseline relies on): predictions of other days, or of another version, leave it.
TEST_F(LabelJoinTest, AWindowsGenerationChangesWhenItsDaysAreWritten) {
  const EpochMillis day_a = kNow - 10 * kDay, day_b = kNow - 2 * kDay;
  ASSERT_EQ(commit({prediction("a1", day_a + 3'600'000)}).stored, 1u);
  const auto gen = [&](const std::optional<std::string>& version) {
    return store_->aggregate_generation("fraud", version, day_a, day_a + kDay);
  };
  const uint64_t all0 = gen(std::nullopt), v1_0 = gen("v1"), v2_0 = gen("v2");
  ASSERT_EQ(commit({prediction("b1", day_b)}).stored, 1u);  // another day
  EXPECT_EQ(gen(std::nullopt), all0);
  EXPECT_EQ(gen("v1"), v1_0);
  ASSERT_EQ(commit({prediction("a2", day_a + 7'200'000, "v2")}).stored, 1u);  // in it, as v2
  EXPECT_NE(gen(std::nullopt), all0);
  EXPECT_EQ(gen("v1"), v1_0);
  EXPECT_NE(gen("v2"), v2_0);
  const uint64_t v1_1 = gen("v1");
  ASSERT_EQ(commit({label("a1", "true")}).stored, 1u);  // a label joins into a1's buckets
  EXPECT_NE(gen("v1"), v1_1);
  auto a = store_->aggregate("fraud", std::nullopt, day_a, day_a + kDay);
  ASSERT_TRUE(a.is_ok());
  EXPECT_EQ(a->get("n"), 2);
}

TEST(AggregateTest, EncodesSumsAndDropsZeros) {
  Aggregate a;
  a.add("b", 2);
  a.add("a", 1.5);
  a.add("b", -2);
  Aggregate b;
  b.add("c", 3);
  b.add("a", 1);
  a.add(b, -1);
  auto d = Aggregate::decode(a.encode());
  ASSERT_TRUE(d.has_value());
  ASSERT_EQ(d->size(), 2u);  // "b" summed to zero
  EXPECT_EQ(d->get("a"), 0.5);
  EXPECT_EQ(d->get("c"), -3);
  EXPECT_FALSE(Aggregate::decode("\x05"
                                 "abc")
                   .has_value());
  EXPECT_FALSE(Aggregate::decode(a.encode() + "x").has_value());
}

// Sums must not depend on the order RocksDB merges operands in (nor on corrections): in doubles,
// (0.1 + 0.2) + 0.3 != 0.1 + (0.2 + 0.3).
TEST(AggregateTest, SumsDoNotDependOnTheOrderOfAddition) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(-1e6, 1e6);
  std::vector<Aggregate> parts(200);
  for (auto& p : parts) {
    p.add("x", u(rng) / 7);
    p.add("y", 1);
  }
  Aggregate forward, backward, nested;
  for (const auto& p : parts) forward.add(p);
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) backward.add(*it);
  for (size_t i = 0; i < parts.size(); i += 10) {
    Aggregate chunk;
    for (size_t j = i; j < i + 10; ++j) chunk.add(parts[j]);
    nested.add(chunk);
  }
  EXPECT_EQ(forward.encode(), backward.encode());
  EXPECT_EQ(forward.encode(), nested.encode());
  EXPECT_EQ(forward.get("y"), 200);
  Aggregate a, b, c;
  a.add("s", 0.1);
  b.add("s", 0.2);
  c.add("s", 0.3);
  Aggregate ab = a, bc = b;
  ab.add(b);
  ab.add(c);
  bc.add(c);
  bc.add(a);
  EXPECT_EQ(ab.get("s"), bc.get("s"));
  EXPECT_NEAR(ab.get("s"), 0.6, 1e-12);
}

// Reading the aggregates (the model gauges do it every few seconds) leaves the table files alone.
// It once took an explicit snapshot, and RocksDB marks every bottommost file holding sequence
// numbers for a rewrite when a snapshot is released: each hot partition file was written once
// more, ~3 us of compaction CPU per ingested event.
TEST_F(LabelJoinTest, ReadingAggregatesRewritesNoTableFile) {
  std::vector<Event> events;
  for (int i = 0; i < 200; ++i) events.push_back(prediction("r" + std::to_string(i)));
  ASSERT_EQ(commit(std::move(events)).stored, 200u);
  ASSERT_TRUE(store_->settle());
  auto table_files = [this] {
    std::set<std::string> names;
    for (const auto& f : fs::directory_iterator(dir_)) {
      if (f.path().extension() == ".sst") names.insert(f.path().filename().string());
    }
    return names;
  };
  const std::set<std::string> before = table_files();
  ASSERT_FALSE(before.empty());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(all().get("n"), 200.0);
  ASSERT_TRUE(store_->settle());
  EXPECT_EQ(table_files(), before);
}

}  // namespace
}  // namespace verity::store
