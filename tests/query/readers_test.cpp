// The read handlers over fake store readers (store::RecordReader and store::AggregateReader, no
// RocksDB): what a client sees when the store fails a lookup, a scan part-way (at generated
// positions) or a model report's aggregates. The handlers over the real store are
// read_api_test.cpp, model_api_test.cpp and tests/integration/search_test.cpp.

#include <gtest/gtest.h>

#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "seed.h"
#include "verity/core/clock.h"
#include "verity/query/model_api.h"
#include "verity/query/read_api.h"
#include "verity/query/search.h"
#include "verity/store/readers.h"

namespace verity::query {
namespace {

// Predictions in scan order; `fail` is what a lookup returns, and a scan fails with `fail` once
// it has returned `fail_after` records (never when fail_after is negative).
class FakeRecords final : public store::RecordReader {
 public:
  std::vector<store::StoredRecord> records;
  Status fail = Status::ok();
  int fail_after = -1;

  Result<std::optional<store::StoredRecord>> get_prediction(std::string_view id) const override {
    if (!fail) return fail;
    for (const auto& r : records) {
      if (r.request_id == id) return std::optional<store::StoredRecord>(r);
    }
    return std::optional<store::StoredRecord>();
  }
  Result<std::optional<store::StoredRecord>> get_label(std::string_view) const override {
    return std::optional<store::StoredRecord>();
  }
  Result<std::vector<store::StoredRecord>> get_label_history(std::string_view) const override {
    return std::vector<store::StoredRecord>();
  }
  Result<std::optional<std::string>> get_chain_link(std::string_view, uint64_t) const override {
    return std::optional<std::string>();
  }
  Result<std::unique_ptr<store::RecordScan>> scan(const store::ScanRange&) const override {
    return std::unique_ptr<store::RecordScan>(std::make_unique<Scan>(*this));
  }

 private:
  class Scan final : public store::RecordScan {
   public:
    explicit Scan(const FakeRecords& f) : f_(f) {}
    Result<const store::StoredRecord*> next() override {
      if (f_.fail_after >= 0 && at_ == static_cast<size_t>(f_.fail_after)) return f_.fail;
      if (at_ == f_.records.size()) return static_cast<const store::StoredRecord*>(nullptr);
      ++stats_.records;
      return &f_.records[at_++];
    }
    const store::ScanStats& stats() const override { return stats_; }
    Result<std::optional<store::StoredRecord>> label(std::string_view) override {
      return std::optional<store::StoredRecord>();
    }

   private:
    const FakeRecords& f_;
    size_t at_ = 0;
    store::ScanStats stats_;
  };
};

// One model version's aggregates: `fail` is what every read returns when set.
class FakeAggregates final : public store::AggregateReader {
 public:
  Status fail = Status::ok();
  store::Aggregate sums;
  mutable int reads = 0;

  Result<store::Aggregate> aggregate(std::string_view model, const std::optional<std::string>&,
                                     EpochMillis, EpochMillis) const override {
    ++reads;
    if (!fail) return fail;
    return model == "m" ? sums : store::Aggregate();
  }
  uint64_t aggregate_generation(std::string_view, const std::optional<std::string>&, EpochMillis,
                                EpochMillis) const override {
    return 1;
  }
  std::vector<store::ModelVersionInfo> model_versions() const override {
    return {{"m", "v1", 1795170600000, 1795170600000 + 3'600'000}};
  }
  store::LabelCounts label_counts() const override { return {}; }
};

store::StoredRecord prediction(const std::string& id, EpochMillis t) {
  store::StoredRecord r;
  r.request_id = id;
  r.model_name = "m";
  r.timestamp_ms = t;
  r.ingest_time_ms = t;
  r.partition = "p_20261121";
  r.document = R"({"request_id":")" + id + R"(","x":1})";
  return r;
}

HttpRequest get(const std::string& path,
                std::vector<std::pair<std::string, std::string>> query = {}) {
  HttpRequest req;
  req.method = "GET";
  req.path = path;
  req.query = std::move(query);
  return req;
}

TEST(Readers, ALookupTheStoreCannotServeIsRetryableAndNotAudited) {
  FakeRecords records;
  records.records.push_back(prediction("r1", 1795170600000));
  int audited = 0;
  const ReadApi api(records, nullptr, [&](const HttpRequest&, const ReadAccess&) {
    ++audited;
    return Status::ok();
  });
  records.fail = Status::unavailable("the store is reopening after a write failure");
  HttpResponse r = api.get_prediction(get("/v1/predictions/r1"));
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("\"store_unavailable\""), std::string::npos) << r.body;
  records.fail = Status::internal("a corrupt record");
  r = api.get_prediction(get("/v1/predictions/r1"));
  EXPECT_EQ(r.status, 500);
  EXPECT_NE(r.body.find("\"store_error\""), std::string::npos) << r.body;
  EXPECT_EQ(audited, 0);  // nothing was read
  records.fail = Status::ok();
  r = api.get_prediction(get("/v1/predictions/r1"));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(audited, 1);
}

TEST(Readers, AScanFailingPartWayAnswersAnErrorNeverAPartialPage) {
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  std::mt19937_64 rng(seed);
  ManualClock clock(1795170600000 + 3'600'000);
  for (int round = 0; round < 100; ++round) {
    FakeRecords records;
    const int n = 1 + static_cast<int>(rng() % 300);
    for (int i = 0; i < n; ++i) {
      records.records.push_back(prediction("r" + std::to_string(i), 1795170600000 + i));
    }
    records.fail_after = static_cast<int>(rng() % static_cast<uint64_t>(n));
    const bool unavailable = rng() % 2;
    records.fail = unavailable ? Status::unavailable("a read error") : Status::internal("corrupt");
    int audited = 0;
    SearchOptions o;
    const SearchApi api(records, clock, o, nullptr, [&](const HttpRequest&, const ReadAccess&) {
      ++audited;
      return Status::ok();
    });
    const std::string limit = std::to_string(1 + rng() % 400);
    const HttpResponse r = api.search(get(
        "/v1/predictions",
        {{"model", "m"}, {"from", "2026-11-20T00:00:00Z"}, {"where", "x:1"}, {"limit", limit}}));
    // The scan fails before the page is full (or the page ends first: then it is whole).
    if (static_cast<size_t>(records.fail_after) < std::stoul(limit)) {
      EXPECT_EQ(r.status, unavailable ? 503 : 500) << r.body;
      EXPECT_EQ(r.body.find("\"request_id\":\"r0\""), std::string::npos);
      EXPECT_EQ(audited, 0);
    } else {
      EXPECT_EQ(r.status, 200) << r.body;
      EXPECT_EQ(audited, 1);
    }
  }
}

TEST(Readers, AModelReportTheStoreCannotServeIsAnErrorNeverAnEmptyReport) {
  FakeAggregates aggregates;
  aggregates.sums.add("n", 5);
  aggregates.sums.add("pc", 5);
  ManualClock clock(1795170600000 + 7'200'000);
  const ModelsApi api(aggregates, std::make_shared<const quality::QualityConfig>(), clock);
  HttpResponse r = api.metrics(get("/v1/models/m/metrics"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"predictions\":5"), std::string::npos) << r.body;
  for (const auto& [fail, status, type] : std::vector<std::tuple<Status, int, std::string>>{
           {Status::unavailable("the store is reopening"), 503, "store_unavailable"},
           {Status::internal("a corrupt aggregate"), 500, "store_error"}}) {
    aggregates.fail = fail;
    const ModelsApi cold(aggregates, std::make_shared<const quality::QualityConfig>(), clock);
    r = cold.metrics(get("/v1/models/m/metrics", {{"window", "30d"}}));
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_NE(r.body.find("\"" + type + "\""), std::string::npos) << r.body;
    r = cold.models(get("/v1/models"));
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.body.find("\"predictions\""), std::string::npos) << r.body;
  }
}

}  // namespace
}  // namespace verity::query
