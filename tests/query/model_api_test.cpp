#include "verity/query/model_api.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <unistd.h>

#include <filesystem>
#include <future>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "verity/quality/contributor.h"
#include "verity/store/store.h"

namespace verity::query {
namespace {

using namespace quality;  // the contributor, its config and its key schema

namespace fs = std::filesystem;
constexpr EpochMillis kDay = 86'400'000;
constexpr EpochMillis kStart = 1794960000000;  // 2026-11-18T00:00:00Z

// Reports over a real store: the drift baseline (the model's first 7 days) is read once and then
// served from memory while nothing is written into its days, so it must follow every write that
// lands there (late predictions, backfills) and ignore the ones that do not.
class ModelsApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("verity_model_api_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    auto fields = std::make_shared<const document::FieldMappingSet>();
    config_ = std::make_shared<const QualityConfig>();
    store::StoreOptions options;
    options.data_dir = dir_.string();
    options.retention.check_interval = Duration(0);
    options.contributor = std::make_shared<ModelContributor>(fields, config_);
    auto s = store::Store::open(options, clock_, registry_);
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    store_ = std::move(s).value();
    api_ = std::make_unique<ModelsApi>(*store_, config_, clock_);
  }
  void TearDown() override {
    api_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  // `n` predictions of model m from `t` on, one a minute, input x = `x` (and a region).
  void predict(EpochMillis t, int n, double x, const std::string& region) {
    store::IngestBatch b;
    b.input = "http";
    for (int i = 0; i < n; ++i) {
      Event e;
      e.request_id = "r" + std::to_string(next_id_++);
      e.timestamp_ms = t + i * 60'000;
      e.model_name = "m";
      e.model_version = "1";
      e.document = "{\"request_id\":\"" + e.request_id +
                   "\",\"input_features\":{\"x\":" + std::to_string(x + i % 3) + ",\"region\":\"" +
                   region + "\"},\"prediction\":{\"label\":true},\"confidence\":0.9}";
      b.events.push_back(std::move(e));
    }
    std::promise<store::CommitResult> p;
    store_->submit(std::move(b), [&](const store::CommitResult& r) { p.set_value(r); });
    ASSERT_EQ(p.get_future().get().stored, static_cast<uint32_t>(n));
  }

  std::optional<double> psi_of_x() {
    auto r = api_->report("m", std::nullopt, kStart + 20 * kDay, kStart + 21 * kDay);
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    if (!r) return std::nullopt;
    for (const auto& f : r->features) {
      if (f.name == "x") return f.psi;
    }
    return std::nullopt;
  }

  fs::path dir_;
  ManualClock clock_{kStart + 21 * kDay};
  prometheus::Registry registry_;
  std::shared_ptr<const QualityConfig> config_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<ModelsApi> api_;
  int next_id_ = 0;
};

TEST_F(ModelsApiTest, TheDriftBaselineFollowsWritesIntoItsDaysOnly) {
  predict(kStart, 200, 10, "eu");                // the baseline: the first 7 days
  predict(kStart + 20 * kDay, 200, 1000, "eu");  // the window: x drifted
  const auto drifted = psi_of_x();
  ASSERT_TRUE(drifted.has_value());
  EXPECT_GT(*drifted, 1.0);
  EXPECT_EQ(psi_of_x(), drifted);  // read again: the same

  // Outside the baseline (day 12): the baseline's sums, and so the PSI, are unchanged.
  predict(kStart + 12 * kDay, 50, 5, "us");
  EXPECT_EQ(psi_of_x(), drifted);

  // A backfill into the baseline (day 3) that looks like the window: the drift shrinks at once.
  predict(kStart + 3 * kDay, 2000, 1000, "eu");
  const auto after = psi_of_x();
  ASSERT_TRUE(after.has_value());
  EXPECT_LT(*after, *drifted / 2);
}

// The store as ModelsApi sees it, counting the aggregate reads of each window.
class CountingReader final : public store::AggregateReader {
 public:
  explicit CountingReader(const store::Store& s) : store_(s) {}
  Result<store::Aggregate> aggregate(std::string_view model,
                                     const std::optional<std::string>& version, EpochMillis from_ms,
                                     EpochMillis to_ms) const override {
    ++reads[{from_ms, to_ms}];
    return store_.aggregate(model, version, from_ms, to_ms);
  }
  uint64_t aggregate_generation(std::string_view model, const std::optional<std::string>& version,
                                EpochMillis from_ms, EpochMillis to_ms) const override {
    return store_.aggregate_generation(model, version, from_ms, to_ms);
  }
  std::vector<store::ModelVersionInfo> model_versions() const override {
    return store_.model_versions();
  }
  store::LabelCounts label_counts() const override { return store_.label_counts(); }
  mutable std::map<std::pair<EpochMillis, EpochMillis>, int> reads;

 private:
  const store::Store& store_;
};

// The baseline is kept from its first read and after a backfill into it, not while writes keep
// landing in it between reads (a copy kept then would be stale at the next read and only hold
// memory), and kept again once two reads in a row find it unchanged; the reports equal the
// store's throughout.
TEST_F(ModelsApiTest, AWindowBeingWrittenIsNotKeptUntilItStandsStill) {
  CountingReader reader(*store_);
  ModelsApi api(reader, config_, clock_);
  const std::pair<EpochMillis, EpochMillis> baseline{kStart, kStart + 7 * kDay};
  auto report = [&] {
    auto r = api.report("m", std::nullopt, kStart + 20 * kDay, kStart + 21 * kDay);
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    auto want = api_->report("m", std::nullopt, kStart + 20 * kDay, kStart + 21 * kDay);
    EXPECT_TRUE(want.is_ok());
    if (!r || !want) return std::string();
    EXPECT_EQ(r->to_json(), want->to_json());
    return r->to_json();
  };
  predict(kStart, 100, 10, "eu");
  predict(kStart + 20 * kDay, 100, 1000, "eu");
  const std::string first = report();
  EXPECT_EQ(reader.reads[baseline], 1);
  EXPECT_EQ(report(), first);
  EXPECT_EQ(reader.reads[baseline], 1);  // kept from the first read

  predict(kStart + 2 * kDay, 200, 1000, "eu");  // a backfill: read again, kept at once
  const std::string after = report();
  EXPECT_NE(after, first);
  EXPECT_EQ(reader.reads[baseline], 2);
  report();
  EXPECT_EQ(reader.reads[baseline], 2);

  for (int i = 0; i < 4; ++i) {  // writes between every two reads: each read goes to the store
    predict(kStart + (i + 1) * kDay, 10, 20, "us");
    report();
    EXPECT_EQ(reader.reads[baseline], 3 + i);
  }
  report();  // the writes stopped: the last read remembered the generation, not the sums
  EXPECT_EQ(reader.reads[baseline], 7);
  for (int i = 0; i < 3; ++i) report();
  EXPECT_EQ(reader.reads[baseline], 7);  // kept since

  predict(kStart + 12 * kDay, 50, 5, "us");  // outside the baseline: its generation is unchanged
  report();
  EXPECT_EQ(reader.reads[baseline], 7);
}

// Reports over generated windows (whole days read from memory, partial days from the store)
// equal the report of the store's aggregate of the whole window, byte for byte, while writes keep
// landing in the windows' days.
TEST_F(ModelsApiTest, ReportsFromCachedDaysEqualReportsFromTheStore) {
  std::mt19937_64 rng(11);
  std::uniform_int_distribution<EpochMillis> when(kStart, kStart + 40 * kDay);
  for (int i = 0; i < 40; ++i) {
    predict(when(rng), 5, static_cast<double>(rng() % 50), i % 2 ? "eu" : "us");
  }
  for (int trial = 0; trial < 60; ++trial) {
    EpochMillis from = when(rng), to = when(rng);
    if (from > to) std::swap(from, to);
    if (trial % 4 == 0) predict(when(rng), 3, static_cast<double>(rng() % 50), "uk");
    auto r = api_->report("m", std::nullopt, from, to);
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    auto whole = store_->aggregate("m", std::nullopt, from, to);
    ASSERT_TRUE(whole.is_ok());
    const EpochMillis first = store_->model_versions().at(0).first_ms;
    const EpochMillis base_from = first - first % 60'000;
    auto base = store_->aggregate("m", std::nullopt, base_from, base_from + 7 * kDay);
    ASSERT_TRUE(base.is_ok());
    Report want = build_report(*whole, config_->for_model("m"), &*base);
    want.baseline_from_ms = base_from;
    want.baseline_to_ms = base_from + 7 * kDay;
    want.model = "m";
    want.from_ms = from;
    want.to_ms = to;
    ASSERT_EQ(r->to_json(), want.to_json()) << "window [" << from << ", " << to << ")";
  }
}

}  // namespace
}  // namespace verity::query
