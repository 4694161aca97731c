// Dead-letter forwarding in the store: reads in append order from a durable checkpoint that only
// moves forward, a backlog count that survives reopening, and a trim that moves the checkpoint
// past what it removes and counts the entries that were never acknowledged.

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <filesystem>
#include <future>

#include "verity/store/store.h"

namespace verity::store {
namespace {

namespace fs = std::filesystem;

class DeadLetterForwardingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("verity_dl_forwarding_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    open();
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }
  void open(bool forward = true) {
    store_.reset();
    registry_ = std::make_shared<prometheus::Registry>();
    StoreOptions o;
    o.data_dir = dir_.string();
    o.forward_dead_letters = forward;
    o.retention.check_interval = Duration(0);
    o.dead_letter_retention = Duration(86'400'000);  // a day
    auto s = Store::open(o, clock_, *registry_);
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    store_ = std::move(s).value();
  }
  // Commits `rejects` rejects and one prediction after each; the rejects' sequences.
  std::vector<uint64_t> commit_rejects(int rejects, const std::string& prefix) {
    IngestBatch b;
    b.input = "tcp";
    for (int i = 0; i < rejects; ++i) {
      Event e;
      e.request_id = prefix + std::to_string(i);
      e.timestamp_ms = clock_.now_ms();
      e.model_name = "m";
      e.document = R"({"a":1})";
      b.events.push_back(std::move(e));
      Reject rj;
      rj.type = "missing_field";
      rj.reason = "line " + std::to_string(i) + ": no model";
      rj.line = static_cast<uint64_t>(i);
      rj.document = R"({"b":2})";
      b.rejects.push_back(std::move(rj));
    }
    const uint64_t first = store_->stats().next_sequence;
    std::promise<CommitResult> p;
    store_->submit(std::move(b), [&](const CommitResult& r) { p.set_value(r); });
    EXPECT_EQ(p.get_future().get().rejects_written, static_cast<uint32_t>(rejects));
    // The batch's events take their sequences first, then its rejects.
    std::vector<uint64_t> seqs;
    for (int i = 0; i < rejects; ++i) seqs.push_back(first + static_cast<uint64_t>(rejects + i));
    return seqs;
  }

  fs::path dir_;
  ManualClock clock_{1795000000000};
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<Store> store_;
};

TEST_F(DeadLetterForwardingTest, ReadsFromACheckpointThatSurvivesReopenAndNeverMovesBack) {
  const auto seqs = commit_rejects(5, "a");
  EXPECT_EQ(store_->dead_letter_checkpoint(), 1u);
  EXPECT_EQ(store_->dead_letter_backlog(), 5u);
  auto first = store_->read_dead_letters(store_->dead_letter_checkpoint(), 3, 1 << 20).value();
  ASSERT_EQ(first.entries.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(first.entries[i].sequence, seqs[i]);
    EXPECT_EQ(first.entries[i].ingest_time_ms, 1795000000000);
    EXPECT_NE(first.entries[i].json.find("\"sequence\":" + std::to_string(seqs[i])),
              std::string::npos);
  }
  EXPECT_EQ(first.next, seqs[2] + 1);
  ASSERT_TRUE(store_->ack_dead_letters(first.next).is_ok());
  EXPECT_EQ(store_->dead_letter_backlog(), 2u);
  // Forwarded entries stay in the dead-letter store.
  EXPECT_EQ(store_->dead_letters(0, 100).value().size(), 5u);
  ASSERT_TRUE(store_->ack_dead_letters(1).is_ok());  // never back
  EXPECT_EQ(store_->dead_letter_checkpoint(), seqs[2] + 1);

  open();
  EXPECT_EQ(store_->dead_letter_checkpoint(), seqs[2] + 1);
  EXPECT_EQ(store_->dead_letter_backlog(), 2u) << "counted again at open";
  auto rest = store_->read_dead_letters(store_->dead_letter_checkpoint(), 100, 1 << 20).value();
  ASSERT_EQ(rest.entries.size(), 2u);
  EXPECT_EQ(rest.entries[0].sequence, seqs[3]);
  commit_rejects(1, "b");
  EXPECT_EQ(store_->dead_letter_backlog(), 3u);
  // A byte bound still returns one entry.
  EXPECT_EQ(store_->read_dead_letters(rest.next, 100, 1).value().entries.size(), 1u);
  // Nothing past the end: the read says where it stopped.
  auto none = store_->read_dead_letters(store_->stats().next_sequence, 100, 1 << 20).value();
  EXPECT_TRUE(none.entries.empty());
  EXPECT_EQ(none.next, store_->stats().next_sequence);
  open(false);
  EXPECT_EQ(store_->dead_letter_backlog(), 0u) << "not counted when nothing forwards them";
}

TEST_F(DeadLetterForwardingTest, TheTrimMovesTheCheckpointPastWhatItRemovesAndCountsTheUnsent) {
  const auto old = commit_rejects(4, "old");
  ASSERT_TRUE(store_->ack_dead_letters(old[1] + 1).is_ok());  // two forwarded, two not
  clock_.advance(2 * 86'400'000);
  const auto fresh = commit_rejects(2, "new");
  EXPECT_EQ(store_->dead_letter_backlog(), 4u);
  ASSERT_TRUE(store_->run_maintenance().is_ok());
  EXPECT_EQ(store_->dead_letters(0, 100).value().size(), 2u) << "the old four are past retention";
  EXPECT_EQ(store_->take_dead_letters_trimmed(), 2u) << "the two never forwarded";
  EXPECT_EQ(store_->take_dead_letters_trimmed(), 0u);
  EXPECT_EQ(store_->dead_letter_checkpoint(), old[3] + 1);
  EXPECT_EQ(store_->dead_letter_backlog(), 2u);
  auto read = store_->read_dead_letters(old[2], 100, 1 << 20).value();
  ASSERT_EQ(read.entries.size(), 2u);
  EXPECT_EQ(read.entries[0].sequence, fresh[0]);
  ASSERT_TRUE(store_->ack_dead_letters(read.next).is_ok());
  EXPECT_EQ(store_->dead_letter_backlog(), 0u);
  open();
  EXPECT_EQ(store_->dead_letter_checkpoint(), read.next);
  EXPECT_EQ(store_->dead_letter_backlog(), 0u);
}

}  // namespace
}  // namespace verity::store
