// The shipper over a fake outbox source (store::OutboxSource, no RocksDB): the store's failures
// that a real store cannot be made to produce on demand (a read, a checkpoint move or a dead-letter
// write failing) never lose an entry nor move the checkpoint past one that was not delivered or
// dead-lettered. The shipper over the real store is es_shipper_test.cpp.

#include <prometheus/registry.h>
#include <simdjson.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "seed.h"
#include "verity/core/clock.h"

#include "verity/shippers/es_service.h"
#include "verity/shippers/es_shipper.h"
#include "verity/store/outbox_source.h"

namespace verity::shippers {
namespace {

// An outbox in memory. Each fail_* counter makes that many calls fail (kUnavailable), then the
// calls succeed again.
class FakeOutbox final : public store::OutboxSource {
 public:
  void add_prediction(const std::string& id, std::string document) {
    store::OutboxEntry e;
    e.sequence = next_sequence_++;
    e.record.request_id = id;
    e.record.model_name = "m";
    e.record.timestamp_ms = 1795170600000;
    e.record.ingest_time_ms = 1795170600000;
    e.record.partition = "p_20261121";
    e.record.sequence = e.sequence;
    e.record.document = std::move(document);
    entries_.push_back(std::move(e));
  }

  Result<store::OutboxRead> read_outbox(uint64_t from, size_t max_events,
                                        size_t /*max_bytes*/) const override {
    ++reads;
    if (fail_reads > 0) {
      --fail_reads;
      return Status::unavailable("the store is reopening");
    }
    store::OutboxRead r;
    r.next = from;
    for (const auto& e : entries_) {
      if (e.sequence < from || r.entries.size() == max_events) continue;
      r.entries.push_back(e);
      r.next = e.sequence + 1;
    }
    return r;
  }
  Status ack_outbox(uint64_t next) override {
    if (fail_acks > 0) {
      --fail_acks;
      return Status::unavailable("disk full");
    }
    if (next < checkpoint_) return Status::invalid_argument("the checkpoint moved back");
    checkpoint_ = next;
    return Status::ok();
  }
  uint64_t outbox_checkpoint() const override { return checkpoint_; }
  store::OutboxBacklog outbox_backlog() const override {
    store::OutboxBacklog b;
    for (const auto& e : entries_) {
      if (e.sequence < checkpoint_) continue;
      ++b.events;
      b.bytes += e.record.document.size();
    }
    return b;
  }
  Result<std::optional<EpochMillis>> outbox_oldest_ingest_ms() const override {
    for (const auto& e : entries_) {
      if (e.sequence >= checkpoint_) return std::optional<EpochMillis>(e.record.ingest_time_ms);
    }
    return std::optional<EpochMillis>();
  }

  Result<store::DeadLetterRead> read_dead_letters(uint64_t from, size_t, size_t) const override {
    store::DeadLetterRead r;
    r.next = from;
    return r;
  }
  Status ack_dead_letters(uint64_t) override { return Status::ok(); }
  uint64_t dead_letter_checkpoint() const override { return 1; }
  uint64_t dead_letter_backlog() const override { return 0; }
  uint64_t take_dead_letters_trimmed() override { return 0; }

  void write_dead_letters(store::IngestBatch batch, store::CommitCallback done) override {
    store::CommitResult r;
    if (fail_dead_letter_writes > 0) {
      --fail_dead_letter_writes;
      r.status = Status::unavailable("disk full");
      r.failed = static_cast<uint32_t>(batch.rejects.size());
    } else {
      for (auto& rj : batch.rejects) dead_letters.push_back(std::move(rj));
      r.rejects_written = static_cast<uint32_t>(batch.rejects.size());
      // As the store does: the checkpoint moves in the same write (when it is ahead).
      checkpoint_ = std::max(checkpoint_, batch.outbox_checkpoint);
    }
    done(r);
  }

  mutable int fail_reads = 0;
  int fail_acks = 0;
  int fail_dead_letter_writes = 0;
  mutable int reads = 0;
  std::vector<Reject> dead_letters;

 private:
  std::vector<store::OutboxEntry> entries_;
  uint64_t next_sequence_ = 1;
  uint64_t checkpoint_ = 1;
};

// Answers every _bulk item with the status `of` gives its _id (201 by default), remembering
// every _id it has created: a second create of one is answered 409, as Elasticsearch does.
class ItemAnswers final : public HttpClient {
 public:
  explicit ItemAnswers(std::function<int(const std::string&)> of) : of_(std::move(of)) {}
  Result<HttpAnswer> send(const HttpCall& call) override {
    HttpAnswer a;
    a.status = 200;
    std::string items;
    simdjson::dom::parser p;
    size_t start = 0;
    bool action = true;
    while (start < call.body.size()) {
      const size_t end = call.body.find('\n', start);
      const std::string line = call.body.substr(start, end - start);
      start = end + 1;
      if (!(action = !action)) {
        const std::string id{std::string_view(p.parse(line)["create"]["_id"])};
        sent.push_back(id);
        int s = of_(id);
        if (s < 300 && !created.insert(id).second) s = 409;
        if (!items.empty()) items += ',';
        items += R"({"create":{"_id":")" + id + R"(","status":)" + std::to_string(s);
        if (s >= 400) items += R"(,"error":{"type":"mapper_parsing_exception","reason":"no"})";
        items += "}}";
      }
    }
    a.body = R"({"took":1,"errors":false,"items":[)" + items + "]}";
    return a;
  }
  std::vector<std::string> sent;
  std::set<std::string> created;

 private:
  std::function<int(const std::string&)> of_;
};

class NoSleep final : public Sleeper {
 public:
  bool sleep_for(Duration) override { return false; }
  void stop() override {}
};

class OutboxSourceTest : public ::testing::Test {
 protected:
  void make_shipper(std::function<int(const std::string&)> of = [](const std::string&) {
    return 201;
  }) {
    auto es = std::make_unique<ItemAnswers>(std::move(of));
    es_ = es.get();
    EsShipperOptions o;
    o.hosts = {"http://es:9200"};
    o.gzip = false;
    o.flush_interval = Duration(0);
    shipper_ = std::make_unique<EsShipper>(outbox_, o, clock_, registry_, nullptr, std::move(es),
                                           std::make_unique<NoSleep>());
  }

  FakeOutbox outbox_;
  ManualClock clock_{1795170600000};
  prometheus::Registry registry_;
  ItemAnswers* es_ = nullptr;
  std::unique_ptr<EsShipper> shipper_;
};

TEST_F(OutboxSourceTest, AFailedReadSendsNothingAndTheNextOneShipsEverything) {
  for (int i = 0; i < 5; ++i) outbox_.add_prediction("r" + std::to_string(i), R"({"x":1})");
  make_shipper();
  outbox_.fail_reads = 2;
  EXPECT_FALSE(shipper_->ship_once());
  EXPECT_FALSE(shipper_->ship_once());
  EXPECT_TRUE(es_->sent.empty());
  EXPECT_EQ(outbox_.outbox_checkpoint(), 1u);
  EXPECT_TRUE(shipper_->ship_once());
  EXPECT_EQ(es_->created, (std::set<std::string>{"r0", "r1", "r2", "r3", "r4"}));
  EXPECT_EQ(outbox_.outbox_checkpoint(), 6u);
  EXPECT_EQ(outbox_.outbox_backlog().events, 0u);
}

TEST_F(OutboxSourceTest, ACheckpointThatCannotMoveResendsTheBatchWhichElasticsearchKeepsOnce) {
  for (int i = 0; i < 3; ++i) outbox_.add_prediction("r" + std::to_string(i), R"({"x":1})");
  make_shipper();
  outbox_.fail_acks = 1;
  EXPECT_FALSE(shipper_->ship_once());  // delivered, but the checkpoint stayed
  EXPECT_EQ(outbox_.outbox_checkpoint(), 1u);
  EXPECT_TRUE(shipper_->ship_once());  // the same batch again: 409s, delivered in effect
  EXPECT_EQ(es_->sent, (std::vector<std::string>{"r0", "r1", "r2", "r0", "r1", "r2"}));
  EXPECT_EQ(es_->created.size(), 3u);
  EXPECT_EQ(outbox_.outbox_checkpoint(), 4u);
  EXPECT_TRUE(outbox_.dead_letters.empty());  // a 409 on our own _id is not a refusal
}

TEST_F(OutboxSourceTest, ARefusedRecordIsNeverPassedOverUntilItsDeadLetterIsWritten) {
  outbox_.add_prediction("good-1", R"({"x":1})");
  outbox_.add_prediction("bad", R"({"x":"not a number"})");
  outbox_.add_prediction("good-2", R"({"x":2})");
  make_shipper([](const std::string& id) { return id == "bad" ? 400 : 201; });
  outbox_.fail_dead_letter_writes = 2;
  EXPECT_FALSE(shipper_->ship_once());
  EXPECT_FALSE(shipper_->ship_once());
  EXPECT_EQ(outbox_.outbox_checkpoint(), 1u);  // "bad" is neither delivered nor dead-lettered
  EXPECT_TRUE(outbox_.dead_letters.empty());
  EXPECT_TRUE(shipper_->ship_once());
  EXPECT_EQ(outbox_.outbox_checkpoint(), 4u);
  ASSERT_EQ(outbox_.dead_letters.size(), 1u);   // once, though it was refused three times
  EXPECT_EQ(outbox_.dead_letters[0].line, 2u);  // its outbox sequence
  EXPECT_EQ(es_->created, (std::set<std::string>{"good-1", "good-2"}));
}

// The dead letter's commit moves the checkpoint past the batch: an acknowledgment that fails
// after it does not ship the batch again, so the refused record is not dead-lettered twice.
TEST_F(OutboxSourceTest, ADeadLetterIsWrittenOnceThoughTheAcknowledgmentAfterItFails) {
  outbox_.add_prediction("good-1", R"({"x":1})");
  outbox_.add_prediction("bad", R"({"x":"not a number"})");
  make_shipper([](const std::string& id) { return id == "bad" ? 400 : 201; });
  outbox_.fail_acks = 1;
  EXPECT_FALSE(shipper_->ship_once());  // shipped and dead-lettered; the acknowledgment failed
  EXPECT_EQ(outbox_.outbox_checkpoint(), 3u);  // moved by the dead letters' own write
  shipper_->ship_once();
  outbox_.add_prediction("good-2", R"({"x":2})");
  EXPECT_TRUE(shipper_->ship_once());
  ASSERT_EQ(outbox_.dead_letters.size(), 1u);
  EXPECT_EQ(outbox_.dead_letters[0].line, 2u);
  EXPECT_EQ(es_->sent, (std::vector<std::string>{"good-1", "bad", "good-2"}));
  EXPECT_EQ(outbox_.outbox_checkpoint(), 4u);
}

TEST_F(OutboxSourceTest, GeneratedFailureSchedulesLoseNothingAndDeliverEveryGoodRecord) {
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 50; ++round) {
    outbox_ = FakeOutbox();
    const int n = 1 + static_cast<int>(rng() % 40);
    std::set<std::string> good;
    std::set<std::string> bad;
    for (int i = 0; i < n; ++i) {
      const std::string id = "r" + std::to_string(round) + "-" + std::to_string(i);
      (rng() % 5 == 0 ? bad : good).insert(id);
      outbox_.add_prediction(id, R"({"i":)" + std::to_string(i) + "}");
    }
    make_shipper([&](const std::string& id) { return bad.count(id) ? 400 : 201; });
    for (int step = 0; step < 200 && outbox_.outbox_backlog().events > 0; ++step) {
      outbox_.fail_reads = rng() % 4 == 0 ? 1 : 0;
      outbox_.fail_acks = rng() % 4 == 0 ? 1 : 0;
      outbox_.fail_dead_letter_writes = rng() % 4 == 0 ? 1 : 0;
      shipper_->ship_once();
    }
    ASSERT_EQ(outbox_.outbox_backlog().events, 0u);
    EXPECT_EQ(es_->created, good);
    // Every refused record is in the dead-letter store exactly once (its dead letter moves the
    // checkpoint: an acknowledgment that fails after it does not ship the batch again), and
    // nothing else is.
    std::multiset<uint64_t> dead, refused;
    for (const auto& d : outbox_.dead_letters) dead.insert(d.line);
    for (int i = 0; i < n; ++i) {
      if (bad.count("r" + std::to_string(round) + "-" + std::to_string(i))) {
        refused.insert(static_cast<uint64_t>(i + 1));
      }
    }
    EXPECT_EQ(dead, refused);
    shipper_.reset();  // it holds `bad` (this round's) by reference
  }
}

}  // namespace
}  // namespace verity::shippers
