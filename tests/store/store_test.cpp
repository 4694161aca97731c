#include "verity/store/store.h"

#include "chain.h"
#include "outbox.h"
#include "raw_rocksdb.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <optional>
#include <random>
#include <set>

namespace verity::store {
namespace {

namespace fs = std::filesystem;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("verity_store_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    open();
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }
  void open(SyncPolicy sync = SyncPolicy::kGroup, std::shared_ptr<WriteFaults> faults = nullptr) {
    store_.reset();
    registry_ = std::make_shared<prometheus::Registry>();
    StoreOptions o;
    o.data_dir = dir_.string();
    o.sync = sync;
    o.faults = std::move(faults);
    o.outbox = outbox_;
    o.retry_interval = Duration(50);
    o.retention.check_interval = Duration(0);  // tests run maintenance passes themselves
    auto s = Store::open(o, clock_, *registry_);
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    store_ = std::move(s).value();
  }
  CommitResult commit(IngestBatch batch) {
    std::promise<CommitResult> p;
    store_->submit(std::move(batch), [&](const CommitResult& r) { p.set_value(r); });
    return p.get_future().get();
  }
  static Event prediction(std::string id, EpochMillis ts, std::string doc_extra = "") {
    Event e;
    e.kind = EventKind::kPrediction;
    e.request_id = id;
    e.timestamp_ms = ts;
    e.model_name = "fraud";
    e.model_version = "v1";
    e.document = R"({"request_id":")" + id + R"(","x":")" + doc_extra + R"("})";
    e.line = 1;
    return e;
  }
  static Event label(std::string id, std::string truth) {
    Event e;
    e.kind = EventKind::kLabel;
    e.request_id = id;
    e.timestamp_ms = 5;
    e.document = R"({"request_id":")" + id + R"(","ground_truth":")" + truth + R"("})";
    return e;
  }

  fs::path dir_;
  bool outbox_ = false;
  ManualClock clock_{1795000000000};
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<Store> store_;
};

constexpr EpochMillis kDay1 = 1763634600000;  // 2025-11-20T10:30:00Z

// A full disk: the commit is not acknowledged while writes fail, the store says why, reads go on,
// and once space returns the same batch commits (nothing acknowledged early, nothing lost).
TEST_F(StoreTest, DiskFullStopsAcknowledgmentsUntilSpaceReturns) {
  auto faults = std::make_shared<WriteFaults>();
  open(SyncPolicy::kGroup, faults);
  IngestBatch first;
  first.input = "tcp";
  first.events.push_back(prediction("before", kDay1));
  ASSERT_TRUE(commit(std::move(first)).status.is_ok());

  faults->no_space = true;
  std::promise<CommitResult> done;
  IngestBatch b;
  b.input = "tcp";
  b.events.push_back(prediction("during", kDay1));
  store_->submit(std::move(b), [&](const CommitResult& r) { done.set_value(r); });
  auto result = done.get_future();
  EXPECT_EQ(result.wait_for(std::chrono::milliseconds(600)), std::future_status::timeout)
      << "acknowledged while the disk was full";
  EXPECT_FALSE(store_->writable());
  EXPECT_NE(store_->unavailable_reason().find("space"), std::string::npos)
      << store_->unavailable_reason();
  auto before = store_->get_prediction("before");
  ASSERT_TRUE(before.is_ok());
  EXPECT_TRUE(before->has_value()) << "reads go on while writes fail";

  faults->no_space = false;
  ASSERT_EQ(result.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  const CommitResult r = result.get();
  EXPECT_TRUE(r.status.is_ok()) << r.status.to_string();
  EXPECT_EQ(r.stored, 1u);
  EXPECT_TRUE(store_->writable());
  auto during = store_->get_prediction("during");
  ASSERT_TRUE(during.is_ok());
  EXPECT_TRUE(during->has_value());
  // And it survives a reopen.
  open();
  EXPECT_TRUE(store_->get_prediction("during")->has_value());
  EXPECT_TRUE(store_->get_prediction("before")->has_value());
}

// Under sync: group a group is written without a sync and its WAL is synced on another thread
// while the next group is written. When that sync fails, nothing of the group is acknowledged or
// forwarded (the outbox only reads what is durable); once syncs work again the store reopens and
// the same batches are answered, every event accounted for, and they survive a reopen.
TEST_F(StoreTest, FailedWalSyncAcknowledgesAndForwardsNothingUntilSyncsWork) {
  auto faults = std::make_shared<WriteFaults>();
  outbox_ = true;
  open(SyncPolicy::kGroup, faults);
  IngestBatch first;
  first.input = "tcp";
  first.events.push_back(prediction("before", kDay1));
  ASSERT_TRUE(commit(std::move(first)).status.is_ok());
  auto outbox = store_->read_outbox(1, 100, 1 << 20);
  ASSERT_TRUE(outbox.is_ok()) << outbox.status().to_string();
  EXPECT_EQ(outbox->entries.size(), 1u);

  faults->sync_fails = true;
  std::promise<CommitResult> done;
  IngestBatch b;
  b.input = "tcp";
  b.events.push_back(prediction("during1", kDay1 + 1));
  b.events.push_back(prediction("during2", kDay1 + 2));
  store_->submit(std::move(b), [&](const CommitResult& r) { done.set_value(r); });
  auto result = done.get_future();
  EXPECT_EQ(result.wait_for(std::chrono::milliseconds(600)), std::future_status::timeout)
      << "acknowledged although its WAL sync failed";
  EXPECT_FALSE(store_->writable());
  outbox = store_->read_outbox(1, 100, 1 << 20);
  if (outbox.is_ok()) {  // or unavailable while the store reopens
    EXPECT_EQ(outbox->entries.size(), 1u) << "forwarded what is not durable";
  }

  faults->sync_fails = false;
  ASSERT_EQ(result.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  const CommitResult r = result.get();
  EXPECT_TRUE(r.status.is_ok()) << r.status.to_string();
  EXPECT_EQ(r.stored + r.duplicates, 2u);
  EXPECT_EQ(r.failed, 0u);
  EXPECT_TRUE(store_->writable());
  for (const char* id : {"before", "during1", "during2"}) {
    auto got = store_->get_prediction(id);
    ASSERT_TRUE(got.is_ok());
    EXPECT_TRUE(got->has_value()) << id;
  }
  outbox = store_->read_outbox(1, 100, 1 << 20);
  ASSERT_TRUE(outbox.is_ok()) << outbox.status().to_string();
  EXPECT_EQ(outbox->entries.size(), 3u);
  open();
  for (const char* id : {"before", "during1", "during2"}) {
    EXPECT_TRUE(store_->get_prediction(id)->has_value()) << id;
  }
}

// Many groups in flight under sync: group (each one's sync overlapping the next one's write):
// every batch is answered once, in submission order per submitter, and everything is stored.
TEST_F(StoreTest, PipelinedSyncAnswersEveryBatchOnceAndStoresEverything) {
  constexpr int kBatches = 200, kPerBatch = 50;
  std::mutex mu;
  std::vector<int> answered;
  std::promise<void> all;
  uint64_t stored = 0;
  for (int b = 0; b < kBatches; ++b) {
    IngestBatch batch;
    batch.input = "tcp";
    for (int i = 0; i < kPerBatch; ++i) {
      batch.events.push_back(
          prediction("p" + std::to_string(b) + "-" + std::to_string(i), kDay1 + b * kPerBatch + i));
    }
    store_->submit(std::move(batch), [&, b](const CommitResult& r) {
      std::lock_guard lock(mu);
      EXPECT_TRUE(r.status.is_ok()) << r.status.to_string();
      stored += r.stored;
      answered.push_back(b);
      if (answered.size() == kBatches) all.set_value();
    });
  }
  ASSERT_EQ(all.get_future().wait_for(std::chrono::seconds(60)), std::future_status::ready);
  std::lock_guard lock(mu);
  EXPECT_EQ(stored, uint64_t{kBatches} * kPerBatch);
  for (int b = 0; b < kBatches; ++b) EXPECT_EQ(answered[b], b) << "answered out of order";
  open();
  for (int b = 0; b < kBatches; b += 17) {
    EXPECT_TRUE(store_->get_prediction("p" + std::to_string(b) + "-49")->has_value());
  }
}

TEST_F(StoreTest, StoresAndReadsBackWithMetadata) {
  IngestBatch b;
  b.input = "tcp";
  b.events.push_back(prediction("r1", kDay1));
  auto r = commit(std::move(b));
  ASSERT_TRUE(r.status.is_ok()) << r.status.to_string();
  EXPECT_EQ(r.stored, 1u);
  ASSERT_EQ(r.outcomes.size(), 1u);
  EXPECT_EQ(r.outcomes[0], EventOutcome::kStored);

  auto got = store_->get_prediction("r1");
  ASSERT_TRUE(got.is_ok());
  ASSERT_TRUE(got->has_value());
  const StoredRecord& rec = **got;
  EXPECT_EQ(rec.partition, "p_20251120");
  EXPECT_EQ(rec.sequence, 1u);
  EXPECT_EQ(rec.input, "tcp");
  EXPECT_EQ(rec.ingest_time_ms, clock_.now_ms());
  EXPECT_EQ(rec.model_name, "fraud");
  EXPECT_EQ(rec.document, prediction("r1", kDay1).document);
  EXPECT_EQ(rec.digest, sha256(rec.document));
  const std::string json = rec.to_json();
  EXPECT_NE(json.find(R"("partition":"p_20251120")"), std::string::npos);
  EXPECT_NE(json.find(R"("ingest_time":"2026-11-18T11:06:40.000Z")"), std::string::npos) << json;
  EXPECT_FALSE(store_->get_prediction("absent")->has_value());
}

// A prediction's chain link, as stored, is the first 8 bytes of the chain's head right after it
// was appended (the head keeps the whole last link); other partitions and sequences have none.
TEST_F(StoreTest, ChainLinksAreTheHeadAsEachRecordWasAppended) {
  std::vector<std::string> heads;
  for (const char* id : {"r1", "r2", "r3"}) {
    IngestBatch b;
    b.events.push_back(prediction(id, kDay1));
    ASSERT_TRUE(commit(std::move(b)).status.is_ok());
    auto parts = store_->partitions();
    ASSERT_TRUE(parts.is_ok());
    ASSERT_EQ(parts->size(), 1u);
    heads.push_back(parts->front().head);
  }
  std::set<std::string> links;
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    auto link = store_->get_chain_link("p_20251120", seq);
    ASSERT_TRUE(link.is_ok());
    ASSERT_TRUE(link->has_value());
    EXPECT_EQ(**link, heads[seq - 1].substr(0, 16)) << seq;
    links.insert(**link);
  }
  EXPECT_EQ(links.size(), 3u);
  EXPECT_FALSE(store_->get_chain_link("p_20251120", 4)->has_value());
  EXPECT_FALSE(store_->get_chain_link("p_20251121", 1)->has_value());
  EXPECT_FALSE(store_->get_chain_link("labels", 1)->has_value());
  EXPECT_FALSE(store_->get_chain_link("p_garbage", 1)->has_value());
  // Reopened, the links are the same.
  open();
  EXPECT_EQ(**store_->get_chain_link("p_20251120", 2), heads[1].substr(0, 16));
}

// Stores written before 2026-12-02 keep each partition's chain head in the chain family under
// 'H' day (chain.h says why it moved). Such a store opens with its heads moved to meta, verifies,
// and its chains go on from them; a key of the 'H' range that is not a head is left alone.
TEST_F(StoreTest, ChainHeadsOfAnOlderStoreMoveToMetaAndTheChainsGoOn) {
  constexpr EpochMillis kDay2 = kDay1 + 86'400'000;
  for (auto [id, ts] : {std::pair{"r1", kDay1}, {"r2", kDay1}, {"r3", kDay2}}) {
    IngestBatch b;
    b.events.push_back(prediction(id, ts));
    ASSERT_TRUE(commit(std::move(b)).status.is_ok());
  }
  auto before = store_->partitions();
  ASSERT_TRUE(before.is_ok());
  ASSERT_EQ(before->size(), 2u);
  ASSERT_TRUE(store_->flush());  // nothing left in the WAL for the raw open to replay
  store_.reset();

  // Behind Verity's back: the heads as an older Verity wrote them.
  const std::string stray = "Hx";  // in the 'H' range, but no head
  auto with_raw = [&](auto&& edit) {
    test::RawStore raw(dir_.string());
    ASSERT_TRUE(raw.ok());
    auto *chain = raw.family("chain"), *meta = raw.family("default");
    ASSERT_TRUE(chain && meta);
    edit(raw.db(), chain, meta);
  };
  with_raw(
      [&](rocksdb::DB& db, rocksdb::ColumnFamilyHandle* chain, rocksdb::ColumnFamilyHandle* meta) {
        for (uint32_t day : {20251120u, 20251121u}) {
          std::string head;
          ASSERT_TRUE(db.Get({}, meta, head_key(day), &head).ok()) << day;
          ASSERT_TRUE(db.Put({}, chain, legacy_head_key(day), head).ok());
          ASSERT_TRUE(db.Delete({}, meta, head_key(day)).ok());
        }
        ASSERT_TRUE(db.Put({}, chain, stray, "not a head").ok());
      });

  open();
  auto after = store_->partitions();
  ASSERT_TRUE(after.is_ok());
  ASSERT_EQ(after->size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ((*after)[i].head, (*before)[i].head) << (*after)[i].partition;
    EXPECT_EQ((*after)[i].records, (*before)[i].records) << (*after)[i].partition;
  }
  auto v = store_->verify();
  ASSERT_TRUE(v.is_ok());
  EXPECT_TRUE(v->ok) << v->to_json();
  IngestBatch b;
  b.events.push_back(prediction("r4", kDay1));
  ASSERT_TRUE(commit(std::move(b)).status.is_ok());
  v = store_->verify();
  ASSERT_TRUE(v.is_ok());
  EXPECT_TRUE(v->ok) << v->to_json();
  EXPECT_EQ(store_->partitions()->front().records, 3u);
  ASSERT_TRUE(store_->flush());
  store_.reset();

  with_raw(
      [&](rocksdb::DB& db, rocksdb::ColumnFamilyHandle* chain, rocksdb::ColumnFamilyHandle* meta) {
        std::string value;
        for (uint32_t day : {20251120u, 20251121u}) {
          EXPECT_TRUE(db.Get({}, chain, legacy_head_key(day), &value).IsNotFound()) << day;
          ASSERT_TRUE(db.Get({}, meta, head_key(day), &value).ok()) << day;
          auto head = decode_head(value);
          ASSERT_TRUE(head);
          EXPECT_EQ(head->count, day == 20251120u ? 3u : 1u);
        }
        ASSERT_TRUE(db.Get({}, chain, stray, &value).ok());
        EXPECT_EQ(value, "not a head");
      });
  open();
}

TEST_F(StoreTest, OnePartitionPerUtcDay) {
  IngestBatch b;
  b.input = "tcp";
  b.events.push_back(prediction("a", parse_rfc3339("2026-11-20T23:59:59.999Z").value()));
  b.events.push_back(prediction("b", parse_rfc3339("2026-11-21T00:00:00Z").value()));
  b.events.push_back(prediction("c", parse_rfc3339("2026-11-21T01:00:00+02:00").value()));
  ASSERT_EQ(commit(std::move(b)).stored, 3u);
  EXPECT_EQ(store_->stats().partitions, (std::vector<std::string>{"p_20261120", "p_20261121"}));
  EXPECT_EQ((*store_->get_prediction("c"))->partition, "p_20261120");
  EXPECT_EQ((*store_->get_prediction("b"))->partition, "p_20261121");
}

TEST_F(StoreTest, IdenticalReplayIsANoOpAndAConflictIsDeadLettered) {
  IngestBatch b;
  b.input = "tcp";
  b.events.push_back(prediction("r1", kDay1, "one"));
  ASSERT_EQ(commit(b).stored, 1u);

  auto again = commit(b);
  EXPECT_EQ(again.stored, 0u);
  EXPECT_EQ(again.duplicates, 1u);
  EXPECT_EQ(again.outcomes[0], EventOutcome::kDuplicate);

  IngestBatch conflict;
  conflict.input = "tcp";
  conflict.events.push_back(prediction("r1", kDay1, "two"));
  auto c = commit(std::move(conflict));
  EXPECT_EQ(c.dead_lettered, 1u);
  EXPECT_EQ(c.outcomes[0], EventOutcome::kDuplicateConflict);
  // The original is untouched.
  EXPECT_EQ((*store_->get_prediction("r1"))->document, prediction("r1", kDay1, "one").document);
  auto dl = store_->dead_letters(0, 10);
  ASSERT_TRUE(dl.is_ok());
  ASSERT_EQ(dl->size(), 1u);
  EXPECT_NE((*dl)[0].find(R"("type":"duplicate_conflict")"), std::string::npos) << (*dl)[0];
  EXPECT_NE((*dl)[0].find(R"("request_id":"r1")"), std::string::npos);
  EXPECT_NE((*dl)[0].find("a different document is already stored under this request id"),
            std::string::npos)
      << (*dl)[0];
}

TEST_F(StoreTest, DuplicatesWithinOneGroupAreCaught) {
  IngestBatch b;
  b.input = "tcp";
  b.events.push_back(prediction("r1", kDay1, "one"));
  b.events.push_back(prediction("r1", kDay1, "one"));
  b.events.push_back(prediction("r1", kDay1, "two"));
  auto r = commit(std::move(b));
  EXPECT_EQ(r.stored, 1u);
  EXPECT_EQ(r.duplicates, 1u);
  EXPECT_EQ(r.dead_lettered, 1u);
}

TEST_F(StoreTest, RejectsPastTheBatchCapAreCountedInOneEntry) {
  IngestBatch b;
  b.input = "http";
  b.omitted_rejects = {{"invalid_json", 5}, {"missing_field", 2}};
  commit(std::move(b));
  auto dl = store_->dead_letters(0, 10).value();
  ASSERT_EQ(dl.size(), 1u);
  EXPECT_NE(dl[0].find(R"("type":"rejects_omitted")"), std::string::npos) << dl[0];
  EXPECT_NE(dl[0].find("7 more rejects of this batch were counted, not kept "
                       "(dead_letters.max_per_batch): invalid_json 5, missing_field 2"),
            std::string::npos)
      << dl[0];
}

TEST_F(StoreTest, RejectsGoToTheDeadLetterStore) {
  IngestBatch b;
  b.input = "tcp";
  Reject rj;
  rj.type = "invalid_json";
  rj.reason = "line 3: invalid JSON (TAPE_ERROR)";
  rj.line = 3;
  rj.raw_length = 17;
  rj.raw_sha256_hex = std::string(64, 'a');
  b.rejects.push_back(rj);
  auto r = commit(std::move(b));
  EXPECT_EQ(r.rejects_written, 1u);
  auto dl = store_->dead_letters(0, 10).value();
  ASSERT_EQ(dl.size(), 1u);
  EXPECT_NE(dl[0].find(R"("type":"invalid_json")"), std::string::npos);
  EXPECT_NE(dl[0].find(R"("line":3)"), std::string::npos);
  EXPECT_NE(dl[0].find(R"("raw_length":17)"), std::string::npos);
  EXPECT_EQ(dl[0].find("document"), std::string::npos);
}

TEST_F(StoreTest, LabelsAreKeptPerRequestIdAndSameLabelIsNoOp) {
  IngestBatch b;
  b.input = "tcp";
  b.events.push_back(label("r1", "fraud"));
  ASSERT_EQ(commit(b).stored, 1u);
  EXPECT_EQ(commit(b).duplicates, 1u);
  IngestBatch corrected;
  corrected.input = "tcp";
  corrected.events.push_back(label("r1", "legit"));
  EXPECT_EQ(commit(std::move(corrected)).stored, 1u);
  auto l = store_->get_label("r1");
  ASSERT_TRUE(l->has_value());
  EXPECT_NE((*l)->document.find("legit"), std::string::npos);
  EXPECT_FALSE(store_->get_prediction("r1")->has_value());
}

TEST_F(StoreTest, EverythingSurvivesReopenAndSequencesContinue) {
  for (SyncPolicy sync : {SyncPolicy::kAlways, SyncPolicy::kGroup, SyncPolicy::kNone}) {
    open(sync);
    const uint64_t before = store_->stats().next_sequence;
    IngestBatch b;
    b.input = "tcp";
    for (int i = 0; i < 50; ++i) {
      b.events.push_back(
          prediction("s" + std::to_string(static_cast<int>(sync)) + "-" + std::to_string(i),
                     kDay1 + i * 3'600'000));
    }
    ASSERT_EQ(commit(std::move(b)).stored, 50u);
    EXPECT_EQ(store_->stats().next_sequence, before + 50);
  }
  open();
  for (int s = 0; s < 3; ++s) {
    for (int i = 0; i < 50; ++i) {
      auto got = store_->get_prediction("s" + std::to_string(s) + "-" + std::to_string(i));
      ASSERT_TRUE(got.is_ok() && got->has_value()) << s << "/" << i;
    }
  }
  EXPECT_EQ(store_->stats().next_sequence, 151u);
}

TEST_F(StoreTest, ConcurrentSubmittersAreAllCommittedExactlyOnce) {
  constexpr int kThreads = 4, kBatches = 50, kPerBatch = 20;
  std::atomic<int> stored{0}, dups{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::future<void>> done;
      for (int b = 0; b < kBatches; ++b) {
        IngestBatch batch;
        batch.input = "tcp";
        for (int i = 0; i < kPerBatch; ++i) {
          // Threads 0 and 1 send the same ids: one stores, the other sees duplicates.
          batch.events.push_back(prediction(
              "c" + std::to_string(t / 2) + "-" + std::to_string(b * kPerBatch + i), kDay1));
        }
        auto p = std::make_shared<std::promise<void>>();
        done.push_back(p->get_future());
        store_->submit(std::move(batch), [&, p](const CommitResult& r) {
          stored += static_cast<int>(r.stored);
          dups += static_cast<int>(r.duplicates);
          p->set_value();
        });
      }
      for (auto& f : done) f.wait();
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(stored.load(), 2 * kBatches * kPerBatch);
  EXPECT_EQ(dups.load(), 2 * kBatches * kPerBatch);
}

TEST_F(StoreTest, SubmitAfterStopFailsWithoutLosingTrack) {
  store_->stop();
  IngestBatch b;
  b.input = "tcp";
  b.events.push_back(prediction("late", kDay1));
  auto r = commit(std::move(b));
  EXPECT_FALSE(r.status.is_ok());
  EXPECT_EQ(r.failed, 1u);
  EXPECT_EQ(r.outcomes[0], EventOutcome::kFailed);
}

// The LSM's backlog is on /metrics: after several flushes (a compaction's worth of table files in
// each family) and a settle, both compaction gauges are registered and read zero.
TEST_F(StoreTest, CompactionBacklogGaugesReadZeroOnceSettled) {
  auto gauge = [&](const std::string& name) -> std::optional<double> {
    for (const auto& family : registry_->Collect()) {
      if (family.name == name && family.metric.size() == 1) return family.metric[0].gauge.value;
    }
    return std::nullopt;
  };
  for (int round = 0; round < 6; ++round) {
    IngestBatch b;
    for (int i = 0; i < 50; ++i) {
      b.events.push_back(prediction("r" + std::to_string(round * 50 + i), kDay1 + i));
    }
    ASSERT_TRUE(commit(std::move(b)).status.is_ok());
    ASSERT_TRUE(store_->flush().is_ok());
  }
  ASSERT_TRUE(store_->settle().is_ok());
  store_->update_gauges();
  EXPECT_EQ(gauge("verity_store_compaction_pending_bytes"), 0.0);
  EXPECT_EQ(gauge("verity_store_compactions_running"), 0.0);
  EXPECT_FALSE(gauge("verity_store_no_such_gauge").has_value());
}

// RocksDB's background work is on /metrics per column family, the partitions' families (one per
// day) counted as one: two days' flushes land under family="partitions", each compaction of the
// index families under its own name, with the bytes it read and wrote.
TEST_F(StoreTest, FlushesAndCompactionsAreCountedPerFamilyWithThePartitionsAsOne) {
  auto counter = [&](const std::string& name, const std::string& family) {
    for (const auto& f : registry_->Collect()) {
      if (f.name != name) continue;
      for (const auto& m : f.metric) {
        if (m.label.size() == 1 && m.label[0].name == "family" && m.label[0].value == family) {
          return m.counter.value;
        }
      }
    }
    return -1.0;
  };
  for (int round = 0; round < 6; ++round) {
    IngestBatch b;
    for (int i = 0; i < 50; ++i) {
      const std::string id = "f" + std::to_string(round * 50 + i);
      b.events.push_back(prediction(id, (i % 2 == 0 ? kDay1 : kDay1 + 86'400'000) + i));
    }
    ASSERT_TRUE(commit(std::move(b)).status.is_ok());
    ASSERT_TRUE(store_->flush().is_ok());
  }
  ASSERT_TRUE(store_->settle().is_ok());
  EXPECT_GE(counter("verity_store_flushes_total", "partitions"), 12);  // two days, six flushes
  EXPECT_GT(counter("verity_store_flush_bytes_total", "partitions"), 0);
  EXPECT_GE(counter("verity_store_flushes_total", "ids"), 6);
  EXPECT_GE(counter("verity_store_compactions_total", "ids"), 1);
  EXPECT_GT(counter("verity_store_compaction_read_bytes_total", "ids"), 0);
  EXPECT_GT(counter("verity_store_compaction_written_bytes_total", "ids"), 0);
  EXPECT_GE(counter("verity_store_compaction_cpu_seconds_total", "ids"), 0);
  for (const auto& f : registry_->Collect()) {
    if (f.name.rfind("verity_store_flush", 0) != 0 &&
        f.name.rfind("verity_store_compaction", 0) != 0)
      continue;
    for (const auto& m : f.metric) {
      for (const auto& l : m.label)
        EXPECT_NE(l.value.rfind("p_", 0), 0u) << f.name << " " << l.value;
    }
  }
}

// A shipper's reads start at the checkpoint and see every entry once, across a restart, while
// what was acknowledged is deleted in stretches (outbox.cpp: one range tombstone per stretch, not
// one per acknowledgment); what is left in the outbox's family past the last stretch is less than
// one stretch.
TEST_F(StoreTest, OutboxAcknowledgmentsReadOnceAcrossARestartAndAreDeletedInStretches) {
  outbox_ = true;
  open();
  constexpr size_t kEvents = 40'000;
  for (size_t i = 0; i < kEvents; i += 2000) {
    IngestBatch b;
    b.input = "tcp";
    for (size_t k = i; k < i + 2000; ++k)
      b.events.push_back(prediction("o" + std::to_string(k), kDay1));
    ASSERT_EQ(commit(std::move(b)).stored, 2000u);
  }
  ASSERT_EQ(store_->outbox_backlog().events, kEvents);
  std::set<std::string> seen;
  uint64_t from = store_->outbox_checkpoint();
  bool restarted = false;
  while (seen.size() < kEvents) {
    auto read = store_->read_outbox(from, 700, 1u << 30);
    ASSERT_TRUE(read.is_ok()) << read.status().to_string();
    ASSERT_FALSE(read->entries.empty()) << "stopped after " << seen.size();
    for (const auto& e : read->entries) {
      ASSERT_EQ(e.kind, OutboxEntry::Kind::kPrediction);
      EXPECT_TRUE(seen.insert(e.record.request_id).second) << e.record.request_id << " twice";
    }
    ASSERT_TRUE(store_->ack_outbox(read->next).is_ok());
    from = read->next;
    EXPECT_EQ(store_->outbox_checkpoint(), from);
    EXPECT_EQ(store_->outbox_backlog().events, kEvents - seen.size());
    if (!restarted && seen.size() >= kEvents / 2) {
      restarted = true;
      open();
      EXPECT_EQ(store_->outbox_checkpoint(), from);
      EXPECT_EQ(store_->outbox_backlog().events, kEvents - seen.size());
    }
  }
  auto rest = store_->read_outbox(from, 700, 1u << 30);
  ASSERT_TRUE(rest.is_ok());
  EXPECT_TRUE(rest->entries.empty());
  EXPECT_EQ(store_->outbox_backlog().events, 0u);

  store_.reset();
  std::vector<std::string> names;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::Options(), dir_.string(), &names).ok());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), dir_.string(),
                                           test::raw_descriptors(names), &handles, &raw)
                  .ok());
  size_t left = 0;
  for (auto* h : handles) {
    if (h->GetName() != "outbox") continue;
    std::unique_ptr<rocksdb::Iterator> it(raw->NewIterator(rocksdb::ReadOptions(), h));
    for (it->SeekToFirst(); it->Valid(); it->Next()) ++left;
  }
  for (auto* h : handles) ASSERT_TRUE(raw->DestroyColumnFamilyHandle(h).ok());
  delete raw;
  EXPECT_LT(left, Outbox::kDeleteStretch) << "acknowledged entries were not deleted";
}

// Operators tell the store's threads apart (top -H, perf --sort comm): the commit thread and the
// WAL sync thread carry names.
// The shipper's dead letters carry the outbox checkpoint past the entries they stand for, in the
// same write: after a crash before the shipper's own acknowledgment (here: a reopen without one),
// the shipper resumes past them and cannot dead-letter them twice. A checkpoint behind the stored
// one is not written back.
TEST_F(StoreTest, DeadLettersMoveTheOutboxCheckpointInTheSameWrite) {
  outbox_ = true;
  open();
  IngestBatch b;
  b.input = "tcp";
  for (int i = 0; i < 10; ++i) b.events.push_back(prediction("dl" + std::to_string(i), kDay1));
  ASSERT_EQ(commit(std::move(b)).stored, 10u);
  const uint64_t from = store_->outbox_checkpoint();
  auto read = store_->read_outbox(from, 6, 1u << 30);
  ASSERT_TRUE(read.is_ok());
  ASSERT_EQ(read->entries.size(), 6u);

  auto dead_letter = [](uint64_t checkpoint) {
    IngestBatch d;
    d.input = "es_shipper";
    d.outbox_checkpoint = checkpoint;
    Reject rj;
    rj.type = "mapper_parsing_exception";
    rj.reason = "sequence 3: refused";
    rj.line = 3;
    d.rejects.push_back(rj);
    return d;
  };
  ASSERT_EQ(commit(dead_letter(read->next)).rejects_written, 1u);
  open();  // no ack_outbox: as after a kill -9 right after the dead letters' commit
  EXPECT_EQ(store_->outbox_checkpoint(), read->next);
  EXPECT_EQ(store_->outbox_backlog().events, 4u);
  auto again = store_->read_outbox(store_->outbox_checkpoint(), 100, 1u << 30);
  ASSERT_TRUE(again.is_ok());
  EXPECT_EQ(again->entries.size(), 4u);

  // An older checkpoint (a stale batch) does not move it back.
  ASSERT_EQ(commit(dead_letter(from)).rejects_written, 1u);
  open();
  EXPECT_EQ(store_->outbox_checkpoint(), read->next);
  EXPECT_EQ(store_->dead_letters(0, 10).value().size(), 2u);
}

TEST_F(StoreTest, ItsThreadsAreNamed) {
  auto names = [] {
    std::multiset<std::string> out;
    for (const auto& task : fs::directory_iterator("/proc/self/task")) {
      std::ifstream in(task.path() / "comm");
      std::string name;
      if (std::getline(in, name)) out.insert(name);
    }
    return out;
  };
  EXPECT_EQ(names().count("verity-commit"), 1u);
  EXPECT_EQ(names().count("verity-walsync"), 1u);
  store_.reset();  // both end with the store
  EXPECT_EQ(names().count("verity-commit"), 0u);
  EXPECT_EQ(names().count("verity-walsync"), 0u);
}

}  // namespace
}  // namespace verity::store
