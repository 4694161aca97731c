// The store's side of search narrowing (search_index.h): block summaries as data (encoding,
// merging, limits), and scans through the field index and past ruled-out blocks against a
// brute-force answer over generated rows, paged from every cursor, across a rebuild at open.
// The query side (KQL over summaries, the indexer) is tested through the server in
// tests/integration/search_test.cpp.
#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <future>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "raw_rocksdb.h"
#include "seed.h"
#include "time_index.h"
#include "verity/store/store.h"

namespace verity::store {
namespace {

namespace fs = std::filesystem;

constexpr EpochMillis kDay = 86'400'000;
constexpr EpochMillis kStart = 1795046400000;  // 2026-11-19T00:00:00Z

// ---------------------------------------------------------------------------------------------
// BlockSummary as data

BlockSummary random_summary(std::mt19937& rng, size_t paths) {
  BlockSummary s;
  const size_t n = 1 + rng() % 40;
  for (size_t i = 0; i < n; ++i) {
    s.count_record();
    for (size_t j = 0; j < 1 + rng() % 6; ++j) {
      std::string path = "p" + std::to_string(rng() % paths);
      if (rng() % 5 == 0) path += std::string("\0.\xff\xc3\xa9", 5);
      switch (rng() % 5) {
        case 0:
          s.add_string(path, std::to_string(rng() % 30));
          break;
        case 1:
          s.add_number(path, static_cast<double>(static_cast<int>(rng() % 2001) - 1000) / 7.0);
          break;
        case 2:
          s.add_bool(path, rng() % 2 == 0);
          break;
        case 3:
          s.add_null(path);
          break;
        default:
          s.add_number(path, rng() % 2 ? 1e308 : -0.0);
      }
    }
  }
  return s;
}

TEST(BlockSummary, EncodesDecodesAndMergesOrderFree) {
  std::mt19937 rng(7);
  for (int i = 0; i < 300; ++i) {
    const size_t paths = 1 + rng() % (i % 10 == 0 ? 900 : 30);
    BlockSummary a = random_summary(rng, paths), b = random_summary(rng, paths);
    for (const BlockSummary* s : {&a, &b}) {
      auto back = BlockSummary::decode(s->encode());
      ASSERT_TRUE(back.has_value());
      EXPECT_EQ(back->encode(), s->encode());
    }
    BlockSummary ab = a, ba = b;
    ab.merge(b);
    ba.merge(a);
    EXPECT_EQ(ab.encode(), ba.encode()) << i;
    EXPECT_EQ(ab.records(), a.records() + b.records());
    // A merged summary admits everything either part admits.
    if (ab.complete()) {
      for (const BlockSummary* part : {&a, &b}) {
        ASSERT_TRUE(part->complete());
        for (const auto& [path, f] : part->fields()) {
          const BlockSummary::Field* m = ab.field(path);
          ASSERT_NE(m, nullptr) << path;
          EXPECT_EQ(m->kinds & f.kinds, f.kinds);
          if (f.kinds & BlockSummary::kNumber) {
            EXPECT_LE(m->min, f.min);
            EXPECT_GE(m->max, f.max);
          }
          if ((f.kinds & BlockSummary::kString) && !m->many_strings) {
            for (const uint64_t h : f.strings) {
              EXPECT_TRUE(std::binary_search(m->strings.begin(), m->strings.end(), h));
            }
          }
        }
      }
    }
  }
}

// What a summary must hold, kept the plain way (an ordered map looked up at every leaf): the
// oracle for BlockSummary's leaf-order memo.
struct ReferenceSummary {
  struct Field {
    uint8_t kinds = 0;
    double min = 0, max = 0;
    bool many = false;
    std::set<uint64_t> strings;
  };
  bool complete = true;
  uint64_t records = 0;
  std::map<std::string, Field> fields;

  Field* slot(const std::string& path) {
    if (!complete) return nullptr;
    if (path.size() > BlockSummary::kMaxPathBytes ||
        (fields.count(path) == 0 && fields.size() >= BlockSummary::kMaxPaths)) {
      complete = false;
      fields.clear();
      return nullptr;
    }
    return &fields[path];
  }
};

// One leaf of a generated record: a path and a value of one of five kinds.
struct Leaf {
  std::string path;
  int kind;  // 0 string, 1 number, 2 bool, 3 null, 4 NaN
  std::string text;
  double number;
};

void add_leaf(BlockSummary& s, ReferenceSummary& r, const Leaf& l) {
  // A NaN is no number: not even its path is kept.
  ReferenceSummary::Field* f = l.kind == 4 ? nullptr : r.slot(l.path);
  switch (l.kind) {
    case 0:
      s.add_string(l.path, l.text);
      if (f != nullptr) {
        f->kinds |= BlockSummary::kString;
        if (f->many) break;
        f->strings.insert(BlockSummary::string_hash(l.text));
        if (f->strings.size() > BlockSummary::kMaxStrings) {
          f->many = true;
          f->strings.clear();
        }
      }
      break;
    case 1:
    case 4: {
      const double x = l.kind == 4 ? std::nan("") : l.number;
      s.add_number(l.path, x);
      if (f != nullptr && !std::isnan(x)) {
        f->min = (f->kinds & BlockSummary::kNumber) ? std::min(f->min, x) : x;
        f->max = (f->kinds & BlockSummary::kNumber) ? std::max(f->max, x) : x;
        f->kinds |= BlockSummary::kNumber;
      }
      break;
    }
    case 2:
      s.add_bool(l.path, l.number > 0);
      if (f != nullptr) f->kinds |= l.number > 0 ? BlockSummary::kTrue : BlockSummary::kFalse;
      break;
    default:
      s.add_null(l.path);
      if (f != nullptr) f->kinds |= BlockSummary::kNull;
  }
}

void expect_same(const BlockSummary& s, const ReferenceSummary& r, const std::string& where) {
  auto back = BlockSummary::decode(s.encode());
  ASSERT_TRUE(back.has_value()) << where << ": its encoding does not decode";
  EXPECT_EQ(back->encode(), s.encode()) << where;
  ASSERT_EQ(s.complete(), r.complete) << where;
  ASSERT_EQ(s.records(), r.records) << where;
  ASSERT_EQ(s.fields().size(), r.fields.size()) << where;
  for (const auto& [path, want] : r.fields) {
    const BlockSummary::Field* got = s.field(path);
    ASSERT_NE(got, nullptr) << where << " " << path;
    EXPECT_EQ(got->kinds, want.kinds) << where << " " << path;
    EXPECT_EQ(got->many_strings, want.many) << where << " " << path;
    EXPECT_EQ(std::vector<uint64_t>(want.strings.begin(), want.strings.end()), got->strings)
        << where << " " << path;
    if (want.kinds & BlockSummary::kNumber) {
      EXPECT_EQ(got->min, want.min) << where << " " << path;
      EXPECT_EQ(got->max, want.max) << where << " " << path;
    }
  }
}

// Records of a block mostly share a shape, and a summary finds each leaf's entry by the leaf's
// position in the record before: generated streams whose shapes drift (leaves dropped, added,
// reordered, repeated as arrays do, paths past the limits, hundreds of new paths that make the
// table grow), summaries copied and moved mid-stream and then added to apart, must hold exactly
// what a plain map looked up at every leaf holds.
TEST(BlockSummary, ALeafFindsItsEntryWhateverTheShapesOfTheRecordsBefore) {
  const uint64_t seed = verity::testing::test_seed();
  SCOPED_TRACE(verity::testing::seed_trace(seed));
  std::mt19937_64 rng(seed);
  const std::vector<std::string> odd = {"",
                                        ".",
                                        "a..b",
                                        std::string("\0x", 2),
                                        "\xc3\xa9t\xc3\xa9",
                                        "\xff\xfe",
                                        std::string(BlockSummary::kMaxPathBytes, 'p'),
                                        std::string(BlockSummary::kMaxPathBytes + 1, 'q')};
  auto random_path = [&](size_t pool) -> std::string {
    if (rng() % 50 == 0) return odd[rng() % odd.size()];
    return "inputs.f" + std::to_string(rng() % pool);
  };
  for (int run = 0; run < 200; ++run) {
    const size_t pool = run % 10 == 0 ? 700 : 5 + rng() % 60;
    std::vector<std::string> shape;
    for (size_t i = 0; i < 1 + rng() % 30; ++i) shape.push_back(random_path(pool));
    BlockSummary s;
    ReferenceSummary r;
    std::optional<std::pair<BlockSummary, ReferenceSummary>> fork;
    const size_t records = 1 + rng() % 80;
    for (size_t n = 0; n < records; ++n) {
      // The shape drifts now and then.
      switch (rng() % 8) {
        case 0:
          if (!shape.empty()) shape.erase(shape.begin() + static_cast<long>(rng() % shape.size()));
          break;
        case 1:
          shape.insert(shape.begin() + static_cast<long>(rng() % (shape.size() + 1)),
                       random_path(pool));
          break;
        case 2:
          if (shape.size() > 1) std::swap(shape[rng() % shape.size()], shape[rng() % shape.size()]);
          break;
        default:
          break;
      }
      std::vector<Leaf> leaves;
      for (const auto& path : shape) {
        // An array: the same path several times in a row.
        const size_t times = rng() % 10 == 0 ? 1 + rng() % 5 : 1;
        for (size_t t = 0; t < times; ++t) {
          Leaf l{path, static_cast<int>(rng() % 5), std::to_string(rng() % 40),
                 static_cast<double>(static_cast<int>(rng() % 2001) - 1000) / 3.0};
          if (l.kind == 4 && rng() % 2) l.kind = 1;
          leaves.push_back(std::move(l));
        }
      }
      s.count_record();
      ++r.records;
      for (const auto& l : leaves) add_leaf(s, r, l);
      if (fork) {
        fork->first.count_record();
        ++fork->second.records;
        // The fork sees the same leaves in another order: its memo is its own.
        std::vector<Leaf> shuffled = leaves;
        std::shuffle(shuffled.begin(), shuffled.end(), rng);
        for (const auto& l : shuffled) add_leaf(fork->first, fork->second, l);
      }
      if (rng() % 20 == 0) {
        // A copy, then a move: neither may keep pointing into the summary it came from.
        BlockSummary copy = s;
        fork.emplace(std::move(copy), r);
      }
    }
    expect_same(s, r, "run " + std::to_string(run));
    if (fork) expect_same(fork->first, fork->second, "fork of run " + std::to_string(run));
    // Merging goes through the same lookups.
    if (fork && s.complete() && fork->first.complete()) {
      BlockSummary merged = s;
      merged.merge(fork->first);
      auto decoded = BlockSummary::decode(s.encode());
      auto decoded_fork = BlockSummary::decode(fork->first.encode());
      ASSERT_TRUE(decoded.has_value()) << run;
      ASSERT_TRUE(decoded_fork.has_value()) << run;
      BlockSummary merged_fresh = std::move(*decoded);
      merged_fresh.merge(*decoded_fork);
      EXPECT_EQ(merged.encode(), merged_fresh.encode()) << run;
    }
  }
}

TEST(BlockSummary, LimitsTurnIntoLessKnowledgeNotErrors) {
  BlockSummary s;
  for (size_t i = 0; i < BlockSummary::kMaxStrings; ++i) s.add_string("f", std::to_string(i));
  EXPECT_FALSE(s.field("f")->many_strings);
  EXPECT_TRUE(BlockSummary::may_hold_string(*s.field("f"), "3"));
  EXPECT_FALSE(BlockSummary::may_hold_string(*s.field("f"), "x"));
  s.add_string("f", "one more");
  EXPECT_TRUE(s.field("f")->many_strings);
  EXPECT_TRUE(BlockSummary::may_hold_string(*s.field("f"), "x"));

  EXPECT_TRUE(s.has_value_below("") == false);
  s.add_null("a.b");
  EXPECT_FALSE(s.has_value_below("a")) << "null only";
  s.add_bool("a.c", true);
  EXPECT_TRUE(s.has_value_below("a"));

  BlockSummary wide;
  for (size_t i = 0; i <= BlockSummary::kMaxPaths; ++i) wide.add_null("p" + std::to_string(i));
  EXPECT_FALSE(wide.complete());
  EXPECT_TRUE(wide.fields().empty());
  BlockSummary narrow;
  narrow.add_null("x");
  narrow.merge(wide);
  EXPECT_FALSE(narrow.complete());
  BlockSummary long_path;
  long_path.add_null(std::string(BlockSummary::kMaxPathBytes + 1, 'x'));
  EXPECT_FALSE(long_path.complete());
}

TEST(BlockSummary, DecodeRefusesWhatItDidNotWrite) {
  std::mt19937 rng(11);
  for (int i = 0; i < 200; ++i) {
    const std::string good = random_summary(rng, 20).encode();
    // Every strict prefix is refused; flipped bytes never crash (they may decode).
    for (size_t n = 0; n < good.size(); ++n) {
      EXPECT_FALSE(BlockSummary::decode(good.substr(0, n)).has_value()) << n;
    }
    std::string bad = good;
    bad[rng() % bad.size()] ^= static_cast<char>(1 + rng() % 255);
    if (auto d = BlockSummary::decode(bad)) (void)d->encode();
    EXPECT_FALSE(BlockSummary::decode(good + "x").has_value());
  }
}

// ---------------------------------------------------------------------------------------------
// Scans through the field index and block summaries

// Documents of the form {"tags":["a","c"],"n":5}, read without a JSON library: the test's own
// indexer (the real one is query/'s SearchIndexer).
struct Row {
  std::string model, version, request_id;
  EpochMillis ts = 0;
  std::vector<std::string> tags;
  int n = 0;
};

std::string document_of(const Row& r) {
  std::string d = "{\"tags\":[";
  for (size_t i = 0; i < r.tags.size(); ++i) d += (i ? ",\"" : "\"") + r.tags[i] + "\"";
  return d + "],\"n\":" + std::to_string(r.n) + "}";
}

class TagIndexer final : public Indexer {
 public:
  explicit TagIndexer(std::string spec = "tags-v1") : spec_(std::move(spec)) {}
  std::string spec() const override { return spec_; }
  bool summarizes() const override { return true; }
  // Model "plain" is not indexed: its versions are read whole.
  bool indexes(std::string_view model, std::string_view field) const override {
    return model != "plain" && field == "tags";
  }
  void index(std::string_view model, std::string_view, std::string_view document,
             std::vector<IndexTerm>& terms, BlockSummary& summary) const override {
    ++calls;
    const size_t open = document.find('[') + 1, close = document.find(']');
    for (size_t at = open; at < close;) {
      const size_t q1 = document.find('"', at), q2 = document.find('"', q1 + 1);
      if (q1 >= close) break;
      const std::string tag(document.substr(q1 + 1, q2 - q1 - 1));
      summary.add_string("tags", tag);
      if (model != "plain") terms.push_back({"tags", "s" + tag});
      at = q2 + 1;
    }
    summary.add_number("n", std::stod(std::string(document.substr(document.find("\"n\":") + 4))));
  }
  mutable std::atomic<uint64_t> calls{0};

 private:
  std::string spec_;
};

class SearchIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("verity_search_index_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }
  void open(std::shared_ptr<const Indexer> indexer, std::shared_ptr<WriteFaults> faults = nullptr,
            Duration flush_interval = Duration(1000)) {
    store_.reset();
    registry_ = std::make_shared<prometheus::Registry>();
    StoreOptions o;
    o.data_dir = dir_.string();
    o.retention.check_interval = Duration(0);
    o.retry_interval = Duration(20);
    o.indexer = std::move(indexer);
    o.faults = std::move(faults);
    o.summary_flush_interval = flush_interval;
    auto s = Store::open(o, clock_, *registry_);
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    store_ = std::move(s).value();
  }
  static IngestBatch batch_of(const std::vector<Row>& rows, size_t from, size_t to) {
    IngestBatch b;
    b.input = "test";
    for (size_t i = from; i < std::min(rows.size(), to); ++i) {
      Event e;
      e.kind = EventKind::kPrediction;
      e.request_id = rows[i].request_id;
      e.timestamp_ms = rows[i].ts;
      e.model_name = rows[i].model;
      e.model_version = rows[i].version;
      e.document = document_of(rows[i]);
      b.events.push_back(std::move(e));
    }
    return b;
  }
  void commit(const std::vector<Row>& rows) {
    for (size_t from = 0; from < rows.size(); from += 97) {
      std::promise<CommitResult> p;
      store_->submit(batch_of(rows, from, from + 97),
                     [&](const CommitResult& r) { p.set_value(r); });
      const CommitResult r = p.get_future().get();
      ASSERT_TRUE(r.status.is_ok()) << r.status.to_string();
    }
  }

  // 2 days; "rare" only in one hour of the first day, "b" in about a third of the rows (some
  // with "a" too), "plain" a model that indexes nothing.
  static std::vector<Row> generate(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<Row> rows;
    for (size_t i = 0; i < n; ++i) {
      Row r;
      r.model = std::vector<std::string>{"m", "m", "plain"}[rng() % 3];
      r.version = std::to_string(rng() % 2);
      r.ts = kStart + static_cast<EpochMillis>(rng() % 2) * kDay +
             static_cast<EpochMillis>(rng() % kDay);
      r.request_id = "r" + std::to_string(i);
      if (rng() % 3 == 0) r.tags.push_back("b");
      if (rng() % 2 == 0) r.tags.push_back("a");
      if (r.ts >= kStart + 5 * 3'600'000 && r.ts < kStart + 6 * 3'600'000 && rng() % 4 == 0) {
        r.tags.push_back("rare");
      }
      r.n = static_cast<int>(rng() % 100);
      rows.push_back(std::move(r));
    }
    return rows;
  }

  // Pages of `page` records, each a new scan resumed after the last one (as a cursor does).
  std::vector<const Row*> scan_all(ScanRange q, size_t page, const std::vector<Row>& rows,
                                   ScanStats* total = nullptr) {
    std::map<std::string, const Row*> by_id;
    for (const Row& r : rows) by_id[r.request_id] = &r;
    std::vector<const Row*> out;
    while (true) {
      auto scan = store_->scan(q);
      EXPECT_TRUE(scan.is_ok());
      if (!scan) return out;
      size_t n = 0;
      bool end = false;
      while (n < page) {
        auto r = (*scan)->next();
        EXPECT_TRUE(r.is_ok()) << r.status().to_string();
        if (!r || !*r) {
          end = true;
          break;
        }
        out.push_back(by_id.at((*r)->request_id));
        ++n;
      }
      if (total) {
        total->records += (*scan)->stats().records;
        total->blocks_skipped += (*scan)->stats().blocks_skipped;
        total->blocks_read += (*scan)->stats().blocks_read;
        total->term_groups += (*scan)->stats().term_groups;
      }
      if (end || out.empty()) return out;
      q.after = ScanRange::Position{out.back()->ts, out.back()->request_id};
    }
  }

  static bool has(const Row& r, const std::string& tag) {
    return std::find(r.tags.begin(), r.tags.end(), tag) != r.tags.end();
  }
  static std::vector<const Row*> in_order(std::vector<const Row*> v, bool descending) {
    std::sort(v.begin(), v.end(), [](const Row* a, const Row* b) {
      return std::tie(a->ts, a->request_id) < std::tie(b->ts, b->request_id);
    });
    if (descending) std::reverse(v.begin(), v.end());
    return v;
  }

  // Every combination of terms, models, windows and orders, paged: through the field index, the
  // rows of indexed models holding one of the terms; of "plain", every row of the window.
  void check_skipping(const std::vector<Row>& rows);

  void check_terms(const std::vector<Row>& rows, uint32_t seed, int queries) {
    std::mt19937 rng(seed);
    for (int i = 0; i < queries; ++i) {
      ScanRange q;
      const std::vector<std::vector<std::string>> term_sets = {
          {"a"}, {"b"}, {"a", "b"}, {"rare"}, {"none"}};
      const auto& tags = term_sets[rng() % term_sets.size()];
      for (const auto& t : tags) q.terms.push_back({"tags", "s" + t});
      const std::vector<std::optional<std::string>> models = {std::nullopt, "m", "plain"};
      q.model = models[rng() % models.size()];
      if (rng() % 2) q.version = std::to_string(rng() % 2);
      if (rng() % 2) {
        q.from_ms = kStart + static_cast<EpochMillis>(rng() % (2 * kDay));
        q.to_ms = q.from_ms + static_cast<EpochMillis>(rng() % kDay);
      }
      q.descending = rng() % 2 == 0;
      std::vector<const Row*> want;
      for (const Row& r : rows) {
        if (q.model && r.model != *q.model) continue;
        if (q.version && r.version != *q.version) continue;
        if (r.ts < q.from_ms || r.ts >= q.to_ms) continue;
        bool holds = r.model == "plain";
        for (const auto& t : tags) holds = holds || has(r, t);
        if (holds) want.push_back(&r);
      }
      const size_t page = 1 + rng() % 50;
      SCOPED_TRACE("query " + std::to_string(i) + " page " + std::to_string(page));
      EXPECT_EQ(scan_all(q, page, rows), in_order(want, q.descending));
    }
  }

  fs::path dir_;
  ManualClock clock_{kStart + 2 * kDay};
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<Store> store_;
};

TEST_F(SearchIndexTest, TermsFindExactlyTheRowsHoldingThemPagedFromEveryCursor) {
  open(std::make_shared<TagIndexer>());
  const auto rows = generate(3000, 1);
  commit(rows);
  check_terms(rows, 2, 60);
  // Restarted: the same, with nothing rebuilt (the spec is the one written).
  auto same = std::make_shared<TagIndexer>();
  open(same);
  EXPECT_EQ(same->calls.load(), 0u);
  check_terms(rows, 3, 20);
}

// Summaries written with every group (as a slow machine does when each group takes a second): the
// last group's write carries its own records' summaries, and the watermark written with them
// covers those records, so a clean stop leaves nothing to make again (it once lagged by the last
// group, seen as a flaky failure of the test above under ASan).
TEST_F(SearchIndexTest, SummariesWrittenWithEachGroupLeaveNothingToMakeAgain) {
  open(std::make_shared<TagIndexer>(), nullptr, Duration(0));
  const auto rows = generate(500, 4);
  commit(rows);
  auto same = std::make_shared<TagIndexer>();
  open(same);
  EXPECT_EQ(same->calls.load(), 0u);
  check_terms(rows, 5, 10);
}

TEST_F(SearchIndexTest, AStoreWrittenWithoutTheIndexOrWithAnotherGetsItRebuiltAtOpen) {
  open(nullptr);
  auto rows = generate(2000, 4);
  const std::vector<Row> first(rows.begin(), rows.begin() + 1000);
  commit(first);
  auto indexer = std::make_shared<TagIndexer>();
  open(indexer);
  EXPECT_EQ(indexer->calls.load(), 1000u) << "every stored prediction indexed at open";
  const std::vector<Row> second(rows.begin() + 1000, rows.end());
  commit(second);
  check_terms(rows, 5, 30);
  // Written without an indexer for a while, then indexed again: rebuilt, nothing missed.
  open(nullptr);
  auto more = generate(2500, 6);
  std::vector<Row> third;
  for (size_t i = 2000; i < 2500; ++i) {
    more[i].request_id = "late" + std::to_string(i);
    third.push_back(more[i]);
  }
  commit(third);
  rows.insert(rows.end(), third.begin(), third.end());
  auto again = std::make_shared<TagIndexer>();
  open(again);
  EXPECT_EQ(again->calls.load(), 2500u);
  check_terms(rows, 7, 30);
  auto other = std::make_shared<TagIndexer>("tags-v2");
  open(other);
  EXPECT_EQ(other->calls.load(), 2500u) << "another spec: rebuilt";
  check_terms(rows, 8, 20);
}

TEST_F(SearchIndexTest, BlocksTheirSummaryRulesOutAreSkippedAndNothingElse) {
  open(std::make_shared<TagIndexer>());
  const auto rows = generate(4000, 9);
  commit(rows);
  // Twice: with the summaries still buffered in memory (written about once a second), then
  // written (at the orderly stop before a reopen).
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round == 0 ? "buffered" : "written");
    if (round == 1) open(std::make_shared<TagIndexer>());
    check_skipping(rows);
  }
}

// A store written before the time index had slots (day | model | version | ..., without the slot
// byte after the day; its marker "time_index_built") gets its time index, field index and block
// summaries built again at open: none of the older keys is left for a scan to trip on, and every
// answer and every skip is right.
TEST_F(SearchIndexTest, AStoreOfTheUnslottedLayoutGetsEveryIndexBuiltAgainAtOpen) {
  open(std::make_shared<TagIndexer>());
  const auto rows = generate(3000, 14);
  commit(rows);
  store_.reset();
  {
    test::RawStore raw(dir_.string());
    ASSERT_TRUE(raw.ok());
    rocksdb::DB* db = &raw.db();
    size_t rewritten = 0;
    for (const char* name_c : {"by_time", "by_field", "blocks", "default"}) {
      const std::string name = name_c;
      auto* h = raw.family(name);
      ASSERT_NE(h, nullptr) << name;
      if (name == "by_time" || name == "by_field") {
        // The older layout is the same key without its fifth byte (the slot).
        rocksdb::WriteBatch wb;
        std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), h));
        for (it->SeekToFirst(); it->Valid(); it->Next()) {
          const std::string k = it->key().ToString();
          ASSERT_GT(k.size(), 5u);
          ASSERT_TRUE(wb.Delete(h, k).ok());
          ASSERT_TRUE(wb.Put(h, k.substr(0, 4) + k.substr(5), it->value()).ok());
          ++rewritten;
        }
        ASSERT_TRUE(it->status().ok());
        it.reset();
        ASSERT_TRUE(db->Write(rocksdb::WriteOptions(), &wb).ok());
      }
      if (name == "blocks") {  // merge operands: the raw open cannot rewrite them, so gone
        ASSERT_TRUE(db->DeleteRange(rocksdb::WriteOptions(), h, std::string(4, '\0'),
                                    std::string(4, '\xff'))
                        .ok());
      }
      if (name == "default") {
        ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), h, kTimeIndexBuiltKey).ok());
        ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), h, kTimeIndexUnslottedKey, "1").ok());
      }
    }
    EXPECT_GE(rewritten, rows.size());
  }
  auto indexer = std::make_shared<TagIndexer>();
  open(indexer);
  EXPECT_EQ(indexer->calls.load(), rows.size()) << "every stored prediction indexed again";
  check_terms(rows, 15, 30);
  check_skipping(rows);
  auto again = std::make_shared<TagIndexer>();
  open(again);
  EXPECT_EQ(again->calls.load(), 0u) << "built once";
}

TEST_F(SearchIndexTest, SummariesLostInACrashAreMadeAgainFromTheRecords) {
  open(std::make_shared<TagIndexer>());
  const auto rows = generate(3000, 12);
  commit(rows);
  store_.reset();
  {
    // What a crash before the buffer was written leaves: no summaries, no watermark.
    test::RawStore raw(dir_.string());
    ASSERT_TRUE(raw.ok());
    ASSERT_TRUE(raw.db()
                    .DeleteRange(rocksdb::WriteOptions(), raw.family("blocks"),
                                 std::string(4, '\0'), std::string(4, '\xff'))
                    .ok());
    ASSERT_TRUE(
        raw.db().Delete(rocksdb::WriteOptions(), raw.family("default"), "summary_watermark").ok());
  }
  auto indexer = std::make_shared<TagIndexer>();
  open(indexer);
  EXPECT_EQ(indexer->calls.load(), rows.size()) << "every block made again from its records";
  check_skipping(rows);
  // Made again once: the next open has nothing to do.
  auto again = std::make_shared<TagIndexer>();
  open(again);
  EXPECT_EQ(again->calls.load(), 0u);
}

// Under sync: group, summaries written with a group whose WAL sync fails (every group writes
// them here) go back into the buffer: once syncs work and the batches are written again, no block
// holding their values is skipped, before and after a reopen.
TEST_F(SearchIndexTest, SummariesOfAFailedWalSyncAreKept) {
  auto faults = std::make_shared<WriteFaults>();
  open(std::make_shared<TagIndexer>(), faults, Duration(0));
  auto rows = generate(3000, 13);
  const std::vector<Row> before(rows.begin(), rows.begin() + 1500);
  commit(before);
  faults->sync_fails = true;
  std::vector<std::future<CommitResult>> pending;
  for (size_t from = 1500; from < rows.size(); from += 250) {
    auto p = std::make_shared<std::promise<CommitResult>>();
    pending.push_back(p->get_future());
    store_->submit(batch_of(rows, from, from + 250),
                   [p](const CommitResult& r) { p->set_value(r); });
  }
  // The store stops taking writes once a sync failed (a deadline poll), then syncs work again.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (store_->writable() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  EXPECT_FALSE(store_->writable()) << "no sync failed";
  faults->sync_fails = false;
  for (auto& f : pending) {
    ASSERT_EQ(f.wait_for(std::chrono::seconds(60)), std::future_status::ready);
    EXPECT_TRUE(f.get().status.is_ok());
  }
  check_skipping(rows);
  open(std::make_shared<TagIndexer>());
  check_skipping(rows);
}

void SearchIndexTest::check_skipping(const std::vector<Row>& rows) {
  // Blocks whose summary holds "rare" (one hour of the first day: 6 blocks a model version).
  auto block_of = [](const Row& r) {
    return r.model + "/" + r.version + "/" + std::to_string(r.ts / BlockSummary::kBlockMillis);
  };
  std::set<std::string> rare_blocks;
  for (const Row& r : rows) {
    if (has(r, "rare")) rare_blocks.insert(block_of(r));
  }
  ASSERT_GT(rare_blocks.size(), 4u);
  for (const bool descending : {false, true}) {
    for (const size_t page : {size_t{1}, size_t{7}, size_t{1000}}) {
      ScanRange q;
      q.descending = descending;
      q.may_match = [](const BlockSummary& s) {
        const BlockSummary::Field* f = s.field("tags");
        return f != nullptr && BlockSummary::may_hold_string(*f, "rare");
      };
      ScanStats stats;
      const auto got = scan_all(q, page, rows, &stats);
      std::vector<const Row*> want;
      for (const Row& r : rows) {
        if (rare_blocks.count(block_of(r))) want.push_back(&r);
      }
      EXPECT_EQ(got, in_order(want, descending)) << page;
      if (page == 1000) {  // one scan (smaller pages read ahead what the next page reads again)
        EXPECT_EQ(stats.records, got.size());
        EXPECT_EQ(stats.blocks_read, rare_blocks.size());
        EXPECT_GT(stats.blocks_skipped, 500u);
      }
    }
  }
  // A range on numbers: no block holds n >= 100.
  ScanRange none;
  none.may_match = [](const BlockSummary& s) {
    const BlockSummary::Field* f = s.field("n");
    return f != nullptr && f->max >= 100;
  };
  ScanStats stats;
  EXPECT_TRUE(scan_all(none, 100, rows, &stats).empty());
  EXPECT_EQ(stats.records, 0u);
  // Terms and summaries together: "a" rows in "rare" blocks (and every "plain" row there).
  ScanRange both;
  both.terms = {{"tags", "sa"}};
  both.may_match = [](const BlockSummary& s) {
    const BlockSummary::Field* f = s.field("tags");
    return f != nullptr && BlockSummary::may_hold_string(*f, "rare");
  };
  std::vector<const Row*> want;
  for (const Row& r : rows) {
    if (rare_blocks.count(block_of(r)) && (r.model == "plain" || has(r, "a"))) want.push_back(&r);
  }
  EXPECT_EQ(scan_all(both, 13, rows), in_order(want, false));
}

}  // namespace
}  // namespace verity::store
