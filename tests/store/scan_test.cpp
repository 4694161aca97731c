// Store::scan against a brute-force answer over the same generated events: every model/version/
// time-range combination, both orders, paged from every cursor, across restarts, a store written
// before the time index existed, erasures (tombstones) and retention drops.
#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <rocksdb/db.h>

#include <algorithm>
#include <filesystem>
#include <future>
#include <random>
#include <set>

#include "raw_rocksdb.h"
#include "time_index.h"
#include "verity/store/store.h"

namespace verity::store {
namespace {

namespace fs = std::filesystem;

constexpr EpochMillis kDay = 86'400'000;
constexpr EpochMillis kStart = 1795046400000;  // 2026-11-19T00:00:00Z

struct Row {
  std::string model, version, request_id;
  EpochMillis ts = 0;
};

class ScanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("verity_scan_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    open();
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }
  void open() {
    store_.reset();
    registry_ = std::make_shared<prometheus::Registry>();
    StoreOptions o;
    o.data_dir = dir_.string();
    o.retention.check_interval = Duration(0);
    o.retention.delete_after_days = 3;
    auto s = Store::open(o, clock_, *registry_);
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    store_ = std::move(s).value();
  }
  void commit(const std::vector<Row>& rows) {
    IngestBatch b;
    b.input = "test";
    for (const Row& r : rows) {
      Event e;
      e.kind = EventKind::kPrediction;
      e.request_id = r.request_id;
      e.timestamp_ms = r.ts;
      e.model_name = r.model;
      e.model_version = r.version;
      e.document = R"({"n":1})";
      b.events.push_back(std::move(e));
    }
    std::promise<CommitResult> p;
    store_->submit(std::move(b), [&](const CommitResult& r) { p.set_value(r); });
    const CommitResult r = p.get_future().get();
    ASSERT_TRUE(r.status.is_ok()) << r.status.to_string();
  }

  // Generated rows: 3 days (and a few minutes either side of midnight), 3 models, 3 versions,
  // timestamps that collide, request ids of any bytes (0x00, 0xff, UTF-8).
  std::vector<Row> generate(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    const std::vector<std::string> models = {"fraud", "fraud2", std::string("m\0x", 3)};
    const std::vector<std::string> versions = {"1", "2.1", ""};
    std::vector<Row> rows;
    std::set<std::string> ids;
    while (rows.size() < n) {
      Row r;
      r.model = models[rng() % models.size()];
      r.version = versions[rng() % versions.size()];
      r.ts = kStart + static_cast<EpochMillis>(rng() % 3) * kDay +
             static_cast<EpochMillis>(rng() % 2 == 0 ? rng() % 50 : rng() % kDay);
      const size_t len = 1 + rng() % 6;
      for (size_t i = 0; i < len; ++i) {
        const int pick = static_cast<int>(rng() % 4);
        r.request_id += pick == 0   ? '\0'
                        : pick == 1 ? '\xff'
                        : pick == 2 ? static_cast<char>('a' + rng() % 3)
                                    : "\xc3\xa9"[rng() % 2];
      }
      if (ids.insert(r.request_id).second) rows.push_back(std::move(r));
    }
    return rows;
  }

  static std::vector<Row> expected(std::vector<Row> rows, const ScanRange& q) {
    std::vector<Row> out;
    for (Row& r : rows) {
      if (q.model && r.model != *q.model) continue;
      if (q.version && r.version != *q.version) continue;
      if (r.ts < q.from_ms || r.ts >= q.to_ms) continue;
      out.push_back(std::move(r));
    }
    std::sort(out.begin(), out.end(), [](const Row& a, const Row& b) {
      return std::tie(a.ts, a.request_id) < std::tie(b.ts, b.request_id);
    });
    if (q.descending) std::reverse(out.begin(), out.end());
    return out;
  }

  // Reads the whole range in pages of `page` records, each page a new scan resumed after the last
  // record of the one before (as a search cursor does).
  std::vector<Row> scan_all(ScanRange q, size_t page) {
    std::vector<Row> out;
    while (true) {
      auto scan = store_->scan(q);
      EXPECT_TRUE(scan.is_ok());
      if (!scan) return out;
      size_t n = 0;
      while (n < page) {
        auto r = (*scan)->next();
        EXPECT_TRUE(r.is_ok()) << r.status().to_string();
        if (!r || !*r) return out;
        out.push_back(
            {(*r)->model_name, (*r)->model_version, (*r)->request_id, (*r)->timestamp_ms});
        ++n;
      }
      q.after = ScanRange::Position{out.back().ts, out.back().request_id};
    }
  }

  static std::vector<std::string> ids(const std::vector<Row>& rows) {
    std::vector<std::string> out;
    for (const Row& r : rows) out.push_back(r.request_id);
    return out;
  }

  void check_every_query(const std::vector<Row>& rows, uint32_t seed, int queries) {
    std::mt19937 rng(seed);
    const std::vector<std::optional<std::string>> models = {std::nullopt, "fraud", "fraud2",
                                                            std::string("m\0x", 3), "absent"};
    const std::vector<std::optional<std::string>> versions = {std::nullopt, "1", "2.1", ""};
    for (int i = 0; i < queries; ++i) {
      ScanRange q;
      q.model = models[rng() % models.size()];
      q.version = versions[rng() % versions.size()];
      if (rng() % 3 != 0) {
        q.from_ms = kStart - kDay + static_cast<EpochMillis>(rng() % (5 * kDay));
        q.to_ms = q.from_ms + static_cast<EpochMillis>(rng() % (3 * kDay));
      }
      q.descending = rng() % 2 == 0;
      const size_t page = 1 + rng() % 40;
      SCOPED_TRACE("query " + std::to_string(i) + " page " + std::to_string(page));
      EXPECT_EQ(ids(scan_all(q, page)), ids(expected(rows, q)));
    }
  }

  fs::path dir_;
  ManualClock clock_{kStart + 3 * kDay};
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<Store> store_;
};

TEST_F(ScanTest, EveryRangeInTimestampAndRequestIdOrderPagedFromEveryCursor) {
  const auto rows = generate(600, 7);
  for (size_t i = 0; i < rows.size(); i += 97) {
    commit({rows.begin() + static_cast<std::ptrdiff_t>(i),
            rows.begin() + static_cast<std::ptrdiff_t>(std::min(rows.size(), i + 97))});
  }
  check_every_query(rows, 11, 150);
  // From table files as well as memtables, after a restart.
  ASSERT_TRUE(store_->flush().is_ok());
  open();
  check_every_query(rows, 12, 80);
}

TEST_F(ScanTest, CountsWhatItRead) {
  auto rows = generate(50, 3);
  commit(rows);
  ScanRange q;
  q.model = "fraud";
  auto scan = store_->scan(q);
  ASSERT_TRUE(scan.is_ok());
  size_t n = 0;
  while (true) {
    auto r = (*scan)->next();
    ASSERT_TRUE(r.is_ok());
    if (!*r) break;
    EXPECT_EQ((*r)->model_name, "fraud");
    ++n;
  }
  const ScanStats& st = (*scan)->stats();
  EXPECT_EQ(st.records, n);
  EXPECT_EQ(st.index_entries, n);  // never an entry of another model
  EXPECT_GE(st.partitions, 1u);
  // Only fraud's versions were opened: at most its three in each slot holding one of its rows.
  std::set<std::pair<uint32_t, uint32_t>> slots;
  for (const Row& r : rows) {
    if (r.model == "fraud") slots.emplace(utc_day(r.ts), time_slot(r.ts));
  }
  EXPECT_GE(st.groups, slots.size());
  EXPECT_LE(st.groups, 3 * slots.size());
}

// A store written before the time index existed (no by_time entries, no marker) gets its index
// built at open, with the same answers.
TEST_F(ScanTest, AStoreWithoutTheIndexGetsItBuiltAtOpen) {
  const auto rows = generate(300, 5);
  commit(rows);
  store_.reset();
  {
    test::RawStore raw(dir_.string());
    ASSERT_TRUE(raw.ok());
    ASSERT_TRUE(
        raw.db()
            .DeleteRange(rocksdb::WriteOptions(), raw.family("by_time"), "", std::string(8, '\xff'))
            .ok());
    ASSERT_TRUE(
        raw.db().Delete(rocksdb::WriteOptions(), raw.family("default"), kTimeIndexBuiltKey).ok());
  }
  open();
  check_every_query(rows, 6, 60);
}

// Ascending, a scan opens the slots holding entries, not every 10 minutes of its range: three
// predictions in two slots of two days open those two and, after each, at most the one slot whose
// probe finds the next key elsewhere (4 of the range's 576). Descending scans (no skipping) and
// model-scoped ones find the same records.
TEST_F(ScanTest, ASparseRangeOpensOnlyTheSlotsHoldingEntries) {
  const std::vector<Row> rows = {{"fraud", "1", "a", kStart + 10},
                                 {"churn", "2", "b", kStart + 2 * kDay + 10},
                                 {"fraud", "1", "c", kStart + 2 * kDay + 20}};
  commit(rows);
  for (const bool descending : {false, true}) {
    for (const bool by_model : {false, true}) {
      SCOPED_TRACE(std::string(descending ? "descending" : "ascending") +
                   (by_model ? ", fraud" : ", every model"));
      ScanRange q;
      q.from_ms = kStart - kDay;
      q.to_ms = kStart + 3 * kDay;
      q.descending = descending;
      if (by_model) q.model = "fraud";
      auto scan = store_->scan(q);
      ASSERT_TRUE(scan.is_ok());
      std::vector<std::string> seen;
      while (true) {
        auto r = (*scan)->next();
        ASSERT_TRUE(r.is_ok());
        if (!*r) break;
        seen.push_back((*r)->request_id);
      }
      std::vector<std::string> want =
          by_model ? std::vector<std::string>{"a", "c"} : std::vector<std::string>{"a", "b", "c"};
      if (descending) std::reverse(want.begin(), want.end());
      EXPECT_EQ(seen, want);
      const ScanStats& st = (*scan)->stats();
      EXPECT_EQ(st.partitions, 2u);
      if (!descending) {
        EXPECT_LE(st.slots, 4u);
      } else {
        EXPECT_GE(st.slots, 2u);
      }
    }
  }
}

// An erased prediction is still scanned, as its tombstone; a dropped partition is not.
TEST_F(ScanTest, TombstonesAreScannedAndDroppedPartitionsAreNot) {
  std::vector<Row> rows = {{"fraud", "1", "a", kStart + 10},
                           {"fraud", "1", "b", kStart + 2 * kDay + 10},
                           {"fraud", "1", "c", kStart + 2 * kDay + 20}};
  IngestBatch b;
  b.input = "test";
  for (const Row& r : rows) {
    Event e;
    e.kind = EventKind::kPrediction;
    e.request_id = r.request_id;
    e.timestamp_ms = r.ts;
    e.model_name = r.model;
    e.model_version = r.version;
    e.document = R"({"user":")" + r.request_id + R"("})";
    b.events.push_back(std::move(e));
  }
  std::promise<CommitResult> p;
  store_->submit(std::move(b), [&](const CommitResult& r) { p.set_value(r); });
  ASSERT_TRUE(p.get_future().get().status.is_ok());

  EraseRequest er;
  er.needles = {"\"b\""};
  er.matches = [](std::string_view d) { return d.find("\"b\"") != std::string_view::npos; };
  er.actor = "test";
  er.subject_field = "user";
  er.subject_fingerprint = "hmac:x";
  ASSERT_TRUE(store_->erase(er).is_ok());

  std::vector<std::pair<std::string, bool>> seen;
  {
    auto scan = store_->scan(ScanRange{});  // holds the store's read lock until the scope ends
    ASSERT_TRUE(scan.is_ok());
    while (true) {
      auto r = (*scan)->next();
      ASSERT_TRUE(r.is_ok());
      if (!*r) break;
      seen.emplace_back((*r)->request_id, (*r)->erased);
    }
  }
  const std::vector<std::pair<std::string, bool>> all = {{"a", false}, {"b", true}, {"c", false}};
  EXPECT_EQ(seen, all);

  // Day 1 is past delete_after (3 days) once the clock moves on; its entries leave the index.
  clock_.set(kStart + 5 * kDay);
  ASSERT_TRUE(store_->run_maintenance().is_ok());
  EXPECT_EQ(ids(scan_all(ScanRange{}, 10)), (std::vector<std::string>{"b", "c"}));
}

}  // namespace
}  // namespace verity::store

namespace verity::store {
namespace {

// The read audit trail: entries in order, filtered by time and actor, chained (an altered,
// deleted or inserted entry is reported by verify), and trimmed by its retention with the chain
// still whole.
TEST_F(ScanTest, ReadTrailIsChainedFilteredAndTrimmed) {
  ReadRecord r;
  r.actor = "alice";
  r.endpoint = "search";
  r.query = "model=fraud";
  r.returned = 3;
  ASSERT_TRUE(store_->record_read(r).is_ok());
  r.actor = "bob";
  r.endpoint = "get";
  r.request_ids = {"req-1"};
  ASSERT_TRUE(store_->record_read(r).is_ok());
  auto all = store_->read_trail(0, std::numeric_limits<EpochMillis>::max(), "", 0, 100);
  ASSERT_TRUE(all.is_ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_NE((*all)[0].find("\"actor\":\"alice\""), std::string::npos);
  EXPECT_NE((*all)[1].find("\"request_ids\":[\"req-1\"]"), std::string::npos);
  auto bobs = store_->read_trail(0, std::numeric_limits<EpochMillis>::max(), "bob", 0, 100);
  ASSERT_TRUE(bobs.is_ok());
  ASSERT_EQ(bobs->size(), 1u);
  auto v = store_->verify();
  ASSERT_TRUE(v.is_ok());
  ASSERT_TRUE(v->read_audit.has_value());
  EXPECT_TRUE(v->read_audit->ok);
  EXPECT_EQ(v->read_audit->records, 2u);

  // Survives a restart and goes on chaining.
  open();
  ASSERT_TRUE(store_->record_read(r).is_ok());
  v = store_->verify();
  ASSERT_TRUE(v.is_ok());
  EXPECT_TRUE(v->read_audit->ok);
  EXPECT_EQ(v->read_audit->records, 3u);

  // Retention: a year later, the old entries go; the rest still verify.
  clock_.advance(400ll * kDay);
  ASSERT_TRUE(store_->record_read(r).is_ok());
  ASSERT_TRUE(store_->run_maintenance().is_ok());
  all = store_->read_trail(0, std::numeric_limits<EpochMillis>::max(), "", 0, 100);
  ASSERT_TRUE(all.is_ok());
  EXPECT_EQ(all->size(), 1u);
  v = store_->verify();
  ASSERT_TRUE(v.is_ok());
  EXPECT_TRUE(v->read_audit->ok) << v->to_json();
  EXPECT_EQ(v->read_audit->records, 1u);
}

TEST_F(ScanTest, TamperingWithTheReadTrailIsReported) {
  ReadRecord r;
  r.actor = "alice";
  r.endpoint = "search";
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(store_->record_read(r).is_ok());
  store_.reset();
  // Each tampering on a copy of the store.
  enum class How { kAlter, kDeleteMiddle, kDeleteLast };
  for (How how : {How::kAlter, How::kDeleteMiddle, How::kDeleteLast}) {
    const fs::path copy = dir_.string() + "_copy";
    fs::remove_all(copy);
    fs::copy(dir_, copy, fs::copy_options::recursive);
    {
      std::vector<std::string> names;
      ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::Options(), copy.string(), &names).ok());
      std::vector<rocksdb::ColumnFamilyHandle*> handles;
      rocksdb::DB* raw = nullptr;
      ASSERT_TRUE(rocksdb::DB::Open(rocksdb::DBOptions(), copy.string(),
                                    test::raw_descriptors(names), &handles, &raw)
                      .ok());
      for (auto* h : handles) {
        if (h->GetName() != "reads") continue;
        std::string key2(8, '\0'), key4(8, '\0');
        key2[7] = 2;
        key4[7] = 4;
        if (how == How::kAlter) {
          std::string v;
          ASSERT_TRUE(raw->Get(rocksdb::ReadOptions(), h, key2, &v).ok());
          const size_t at = v.find("alice");
          ASSERT_NE(at, std::string::npos);
          v.replace(at, 5, "mallo");
          ASSERT_TRUE(raw->Put(rocksdb::WriteOptions(), h, key2, v).ok());
        } else {
          ASSERT_TRUE(
              raw->Delete(rocksdb::WriteOptions(), h, how == How::kDeleteMiddle ? key2 : key4)
                  .ok());
        }
      }
      for (auto* h : handles) ASSERT_TRUE(raw->DestroyColumnFamilyHandle(h).ok());
      delete raw;
    }
    registry_ = std::make_shared<prometheus::Registry>();
    StoreOptions o;
    o.data_dir = copy.string();
    o.retention.check_interval = Duration(0);
    auto s = Store::open(o, clock_, *registry_);
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    auto v = (*s)->verify();
    ASSERT_TRUE(v.is_ok());
    EXPECT_FALSE(v->ok);
    ASSERT_TRUE(v->read_audit && v->read_audit->first_break);
    EXPECT_EQ(v->read_audit->first_break->sequence, how == How::kDeleteLast ? 4u : 2u)
        << v->to_json();
    s = Status::internal("closed");
    fs::remove_all(copy);
  }
  open();
}

}  // namespace
}  // namespace verity::store
