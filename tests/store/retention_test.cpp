// Tiers, seals, hash-chain verification, legal holds, erasure and the audit trail, with the clock
// moved by hand.

#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <rocksdb/db.h>

#include <filesystem>
#include <fstream>
#include <future>

#include "record_codec.h"
#include "store_impl.h"
#include "verity/store/partition.h"
#include "verity/store/store.h"

namespace verity::store {
namespace {

namespace fs = std::filesystem;

constexpr EpochMillis kDayMs = 86'400'000;
constexpr EpochMillis kNow = 1795000000000;  // 2026-11-18T11:06:40Z
constexpr EpochMillis kToday = kNow - 3'600'000;

class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("verity_retention_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    options_.data_dir = dir_.string();
    options_.retention.check_interval = Duration(0);
    options_.retention.warm_after_days = 7;
    options_.retention.cold_after_days = 30;
    options_.retention.delete_after_days = 365;
    open();
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
    fs::remove_all(dir_.string() + "_copy");
  }
  void open() {
    store_.reset();
    registry_ = std::make_shared<prometheus::Registry>();
    auto s = Store::open(options_, clock_, *registry_);
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    store_ = std::move(s).value();
  }
  CommitResult commit(std::vector<Event> events, std::string input = "tcp") {
    IngestBatch b;
    b.input = std::move(input);
    b.events = std::move(events);
    std::promise<CommitResult> p;
    store_->submit(std::move(b), [&](const CommitResult& r) { p.set_value(r); });
    return p.get_future().get();
  }
  // `n` predictions of `model` on the day of `ts`, with a user id and some varied content.
  void ingest(const std::string& prefix, EpochMillis ts, int n, const std::string& model = "fraud",
              const std::string& user = "u-1") {
    auto r = commit(events(prefix, ts, n, model, user));
    ASSERT_TRUE(r.status.is_ok()) << r.status.to_string();
    ASSERT_EQ(r.stored, static_cast<uint32_t>(n));
  }
  static std::vector<Event> events(const std::string& prefix, EpochMillis ts, int n,
                                   const std::string& model, const std::string& user) {
    std::vector<Event> events;
    for (int i = 0; i < n; ++i) {
      Event e;
      e.request_id = prefix + std::to_string(i);
      e.timestamp_ms = ts + i;
      e.model_name = model;
      e.model_version = "v1";
      e.document = R"({"request_id":")" + e.request_id + R"(","user_id":")" + user +
                   R"(","inputs":{"amount":)" + std::to_string(i * 37 % 1000) +
                   R"(,"channel":"web","country":"PL"},"prediction":{"label":"legit","score":0.)" +
                   std::to_string(1000 + i % 9000) + "}}";
      e.line = static_cast<uint64_t>(i + 1);
      events.push_back(std::move(e));
    }
    return events;
  }
  PartitionInfo info(const std::string& name) {
    auto parts = store_->partitions();
    EXPECT_TRUE(parts.is_ok());
    for (const auto& p : *parts) {
      if (p.partition == name) return p;
    }
    ADD_FAILURE() << "no partition " << name;
    return {};
  }
  VerifyReport verify(const std::string& partition = "") {
    auto r = store_->verify(partition);
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    return r.is_ok() ? *r : VerifyReport{};
  }
  // Opens the closed store's RocksDB directly, as someone going behind Verity's back would.
  template <class F>
  void tamper(const std::string& partition, F&& edit) {
    store_.reset();
    std::vector<std::string> names;
    rocksdb::Options o;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(o, dir_.string(), &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> d;
    for (const auto& n : names) {
      rocksdb::ColumnFamilyOptions cf;
      if (n == "metrics") cf.merge_operator = aggregate_merge_operator();
      d.emplace_back(n, cf);
    }
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir_.string(), d, &handles, &raw).ok());
    for (auto* h : handles) {
      if (h->GetName() == partition) edit(*raw, h);
    }
    for (auto* h : handles) (void)raw->DestroyColumnFamilyHandle(h);
    delete raw;
    open();
  }

  fs::path dir_;
  ManualClock clock_{kNow};
  StoreOptions options_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<Store> store_;
};

TEST_F(RetentionTest, ChainsVerifyAcrossRestartsAndLateArrivalsExtendSealedPartitions) {
  ingest("a", kToday - 2 * kDayMs, 500);
  ingest("b", kToday, 300);
  auto v = verify();
  ASSERT_TRUE(v.ok) << v.to_json();
  ASSERT_EQ(v.partitions.size(), 2u);
  EXPECT_EQ(v.partitions[0].records, 500u);
  EXPECT_EQ(v.partitions[1].records, 300u);

  // The day before yesterday has ended more than the grace ago: sealed. Today is open.
  auto report = store_->run_maintenance();
  ASSERT_TRUE(report.is_ok()) << report.status().to_string();
  EXPECT_EQ(report->sealed, std::vector<std::string>{"p_20261116"});
  EXPECT_TRUE(info("p_20261116").sealed);
  EXPECT_FALSE(info("p_20261118").sealed);
  const std::string sealed_head = info("p_20261116").head;

  open();  // restart: chains continue from the stored heads
  ingest("late", kToday - 2 * kDayMs, 10);
  PartitionInfo p = info("p_20261116");
  EXPECT_EQ(p.records, 510u);
  EXPECT_FALSE(p.sealed) << "late arrivals are not covered by the first seal";
  EXPECT_NE(p.head, sealed_head);
  ASSERT_TRUE(store_->run_maintenance().is_ok());
  p = info("p_20261116");
  EXPECT_TRUE(p.sealed);
  EXPECT_EQ(p.seals, 2u);
  v = verify("p_20261116");
  EXPECT_TRUE(v.ok) << v.to_json();
  EXPECT_EQ(v.partitions.at(0).records, 510u);
  EXPECT_EQ(store_->verify("p_20200101").status().code(), StatusCode::kNotFound);
}

TEST_F(RetentionTest, VerifyReportsAnAlteredRecord) {
  ingest("a", kToday, 100);
  tamper("p_20261118", [](rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf) {
    std::string v;
    ASSERT_TRUE(db.Get({}, cf, sequence_key(42), &v).ok());
    auto rec = decode_record(v);
    ASSERT_TRUE(rec);
    rec->document.replace(rec->document.find("legit"), 5, "fraud");
    std::string edited;
    encode_record(*rec, edited);
    ASSERT_TRUE(db.Put({}, cf, sequence_key(42), edited).ok());
  });
  auto v = verify();
  EXPECT_FALSE(v.ok);
  ASSERT_TRUE(v.partitions.at(0).first_break);
  EXPECT_EQ(v.partitions[0].first_break->sequence, 42u);
  EXPECT_NE(v.partitions[0].first_break->reason.find("altered"), std::string::npos);
  EXPECT_EQ(v.partitions[0].records, 42u);
}

TEST_F(RetentionTest, VerifyReportsAnInsertedRecord) {
  ingest("a", kToday, 10);
  tamper("p_20261118", [](rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf) {
    std::string v;
    ASSERT_TRUE(db.Get({}, cf, sequence_key(5), &v).ok());
    patch_sequence(v, 1000);
    ASSERT_TRUE(db.Put({}, cf, sequence_key(1000), v).ok());
  });
  auto v = verify();
  EXPECT_FALSE(v.ok);
  ASSERT_TRUE(v.partitions.at(0).first_break);
  EXPECT_EQ(v.partitions[0].first_break->sequence, 1000u);
  EXPECT_NE(v.partitions[0].first_break->reason.find("inserted"), std::string::npos);
}

// A byte flipped in a copy of a partition's table file: the copy fails verification, with the
// break named, and the original still verifies.
TEST_F(RetentionTest, VerifyReportsAByteFlippedInACopiedTableFile) {
  ingest("a", kToday - 10 * kDayMs, 3000);
  ASSERT_TRUE(store_->run_maintenance().is_ok());  // warm: the partition is in table files
  std::vector<std::string> files;
  tamper("p_20261108", [&](rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf) {
    rocksdb::ColumnFamilyMetaData m;
    db.GetColumnFamilyMetaData(cf, &m);
    for (const auto& level : m.levels) {
      for (const auto& f : level.files) files.push_back(f.name);
    }
  });
  ASSERT_FALSE(files.empty());
  store_.reset();
  const fs::path copy = dir_.string() + "_copy";
  fs::copy(dir_, copy, fs::copy_options::recursive);
  {
    std::fstream f(copy / fs::path(files[0]).relative_path().filename(),
                   std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f);
    const auto size = fs::file_size(copy / fs::path(files[0]).filename());
    f.seekg(static_cast<std::streamoff>(size / 3));
    char c = 0;
    f.read(&c, 1);
    f.seekp(static_cast<std::streamoff>(size / 3));
    c = static_cast<char>(c ^ 0x20);
    f.write(&c, 1);
  }
  StoreOptions o = options_;
  o.data_dir = copy.string();
  auto registry = std::make_shared<prometheus::Registry>();
  {
    auto copied = Store::open(o, clock_, *registry);
    ASSERT_TRUE(copied.is_ok()) << copied.status().to_string();
    auto v = (*copied)->verify();
    ASSERT_TRUE(v.is_ok());
    EXPECT_FALSE(v->ok) << v->to_json();
    ASSERT_TRUE(v->partitions.at(0).first_break);
    EXPECT_LT(v->partitions[0].records, 3000u);
    EXPECT_NE(v->partitions[0].first_break->reason.find("Corruption"), std::string::npos)
        << v->to_json();
  }
  open();
  EXPECT_TRUE(verify().ok);
}

TEST_F(RetentionTest, TiersRecompressAndKeepEveryRecordReadable) {
  ingest("cold", kToday - 40 * kDayMs, 3000);
  ingest("warm", kToday - 10 * kDayMs, 3000);
  ingest("hot", kToday, 3000);
  auto report = store_->run_maintenance();
  ASSERT_TRUE(report.is_ok()) << report.status().to_string();
  ASSERT_EQ(report->moved.size(), 2u);
  EXPECT_EQ(info("p_20261009").tier, Tier::kCold);
  EXPECT_EQ(info("p_20261108").tier, Tier::kWarm);
  EXPECT_EQ(info("p_20261118").tier, Tier::kHot);
  for (const char* name : {"p_20261009", "p_20261108"}) {
    PartitionInfo p = info(name);
    EXPECT_GT(p.bytes_on_disk, 0u);
    EXPECT_EQ(p.memtable_bytes, 0u);
    EXPECT_GT(p.raw_bytes, 2 * p.bytes_on_disk) << name << ": " << p.to_json();
  }
  for (const char* id : {"cold17", "warm2999", "hot0"}) {
    auto got = store_->get_prediction(id);
    ASSERT_TRUE(got.is_ok() && got->has_value()) << id;
  }
  // A second pass changes nothing; the tiers survive a restart.
  report = store_->run_maintenance();
  ASSERT_TRUE(report.is_ok());
  EXPECT_TRUE(report->moved.empty());
  open();
  EXPECT_EQ(info("p_20261009").tier, Tier::kCold);
  EXPECT_TRUE(verify().ok);
  ingest("cold-late", kToday - 40 * kDayMs, 5);  // late arrivals into a cold partition
  EXPECT_TRUE(verify().ok);
}

TEST_F(RetentionTest, ExpiredPartitionsAreDroppedUnlessHeld) {
  ingest("old", kToday - 400 * kDayMs, 20, "fraud");
  ingest("older", kToday - 401 * kDayMs, 20, "churn");
  ingest("new", kToday, 20, "fraud");
  ASSERT_TRUE(store_->set_hold({Hold::Kind::kModel, "fraud"}, true, "auditor").is_ok());
  auto report = store_->run_maintenance();
  ASSERT_TRUE(report.is_ok()) << report.status().to_string();
  EXPECT_EQ(report->dropped, std::vector<std::string>{"p_20251013"});  // churn only
  EXPECT_EQ(report->held, std::vector<std::string>{"p_20251014"});     // holds fraud
  EXPECT_EQ(info("p_20251014").holds, std::vector<std::string>{"model:fraud"});
  EXPECT_FALSE(store_->get_prediction("older0")->has_value());
  EXPECT_TRUE(store_->get_prediction("old0")->has_value());

  ASSERT_TRUE(store_->set_hold({Hold::Kind::kModel, "fraud"}, false, "auditor").is_ok());
  ASSERT_TRUE(store_->set_hold({Hold::Kind::kPartition, "p_20251014"}, true, "auditor").is_ok());
  report = store_->run_maintenance();
  ASSERT_TRUE(report.is_ok());
  EXPECT_TRUE(report->dropped.empty());
  EXPECT_EQ(info("p_20251014").holds, std::vector<std::string>{"partition"});
  open();  // a hold survives a restart: it still keeps its partition
  EXPECT_EQ(store_->holds()->size(), 1u);
  report = store_->run_maintenance();
  ASSERT_TRUE(report.is_ok());
  EXPECT_TRUE(report->dropped.empty());
  EXPECT_EQ(report->held, std::vector<std::string>{"p_20251014"});
  ASSERT_TRUE(store_->set_hold({Hold::Kind::kPartition, "p_20251014"}, false, "auditor").is_ok());
  open();  // holds and their absence survive a restart
  report = store_->run_maintenance();
  ASSERT_TRUE(report.is_ok());
  EXPECT_EQ(report->dropped, std::vector<std::string>{"p_20251014"});
  EXPECT_FALSE(store_->get_prediction("old0")->has_value());
  EXPECT_TRUE(store_->get_prediction("new0")->has_value());
  EXPECT_TRUE(verify().ok);

  auto audit = store_->audit_trail(0, 100);
  ASSERT_TRUE(audit.is_ok());
  std::string actions;
  for (const auto& a : *audit) {
    const size_t at = a.find("\"action\":\"");
    actions += a.substr(at + 10, a.find('"', at + 10) - at - 10) + " ";
  }
  EXPECT_EQ(actions, "hold_set retention_drop hold_cleared hold_set hold_cleared retention_drop ");

  // A replay of a dropped prediction is stored again (its partition is recreated and will be
  // dropped at the next pass), rather than wrongly reported as a duplicate.
  ingest("older", kToday - 401 * kDayMs, 1, "churn");
  EXPECT_TRUE(store_->get_prediction("older0")->has_value());
}

TEST_F(RetentionTest, ErasureLeavesTombstonesTheChainStillVerifiesAndTheBytesLeaveTheDisk) {
  const std::string subject = "subject-7f3a9c";  // a marker no other byte sequence contains
  ingest("keep", kToday - 10 * kDayMs, 200, "fraud", "someone-else");
  ingest("gone", kToday - 10 * kDayMs, 5, "fraud", subject);
  ingest("gone-today", kToday, 3, "fraud", subject);
  ASSERT_TRUE(store_->run_maintenance().is_ok());  // warm (zstd with a dictionary) and sealed
  // A label of an erased prediction, and a conflicting replay in the dead-letter store.
  Event label;
  label.kind = EventKind::kLabel;
  label.request_id = "gone0";
  label.timestamp_ms = kToday;
  label.document = R"({"request_id":"gone0","ground_truth":"fraud"})";
  ASSERT_EQ(commit({label}).stored, 1u);
  Event conflict;
  conflict.request_id = "gone1";
  conflict.timestamp_ms = kToday - 10 * kDayMs;
  conflict.model_name = "fraud";
  conflict.document = R"({"request_id":"gone1","user_id":")" + subject + R"(","x":1})";
  ASSERT_EQ(commit({conflict}).dead_lettered, 1u);

  EraseRequest req;
  req.needles = {subject};
  req.matches = [&](std::string_view doc) {
    return doc.find("\"user_id\":\"" + subject + "\"") != std::string_view::npos;
  };
  req.actor = "dpo";
  req.subject_field = "/user_id";
  req.subject_fingerprint = "hmac:0123";
  auto erased = store_->erase(req);
  ASSERT_TRUE(erased.is_ok()) << erased.status().to_string();
  EXPECT_EQ(erased->predictions, 8u);
  EXPECT_EQ(erased->labels, 1u);
  EXPECT_EQ(erased->dead_letters, 1u);
  EXPECT_EQ(erased->partitions, (std::vector<std::string>{"p_20261108", "p_20261118"}));

  auto got = store_->get_prediction("gone3");
  ASSERT_TRUE(got.is_ok() && got->has_value());
  EXPECT_TRUE((*got)->erased);
  EXPECT_TRUE((*got)->document.empty());
  EXPECT_NE((*got)->to_json().find("\"erased\":true"), std::string::npos);
  EXPECT_FALSE(store_->get_label("gone0")->has_value());
  EXPECT_TRUE(store_->get_prediction("keep3")->has_value());
  EXPECT_FALSE(store_->get_prediction("keep3").value()->erased);
  EXPECT_EQ(info("p_20261108").erased, 5u);

  auto v = verify();
  EXPECT_TRUE(v.ok) << v.to_json();
  auto audit = store_->audit_trail(0, 10);
  ASSERT_TRUE(audit.is_ok());
  ASSERT_EQ(audit->size(), 1u);
  EXPECT_NE(audit->at(0).find(R"("action":"erase","actor":"dpo","subject_field":"/user_id")"),
            std::string::npos)
      << audit->at(0);
  EXPECT_EQ(audit->at(0).find(subject), std::string::npos);
  auto dl = store_->dead_letters(0, 10);
  ASSERT_TRUE(dl.is_ok());
  ASSERT_EQ(dl->size(), 1u);
  EXPECT_NE(dl->at(0).find("\"erased\":true"), std::string::npos);

  // A replay of an erased prediction is a duplicate: it does not come back.
  auto replay = commit(events("gone", kToday - 10 * kDayMs, 5, "fraud", subject));
  EXPECT_EQ(replay.duplicates, 5u);
  EXPECT_TRUE(store_->get_prediction("gone3").value()->erased);
  store_.reset();
  // No file of the store holds the subject any more (table files, WAL, manifest, logs).
  for (const auto& entry : fs::recursive_directory_iterator(dir_)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), {});
    EXPECT_EQ(bytes.find(subject), std::string::npos) << entry.path();
  }
  open();
  EXPECT_TRUE(verify().ok);
}

}  // namespace
}  // namespace verity::store
