// The submission queue on its own (no database): commit groups within their limits and in
// submission order, the counts inputs pause on, and stopping.

#include "submission_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <random>
#include <thread>

#include "seed.h"

namespace verity::store {
namespace {

Pending batch(size_t events, size_t rejects, size_t bytes, int tag) {
  Pending p;
  p.batch.events.resize(events);
  p.batch.rejects.resize(rejects);
  p.bytes = bytes;
  p.done = [tag](const CommitResult&) { (void)tag; };
  // The first event's timestamp carries the tag, to check the order.
  if (events > 0) p.batch.events[0].timestamp_ms = tag;
  return p;
}

const std::function<bool()> kNoSync = [] { return false; };

TEST(SubmissionQueueTest, GroupsStayWithinTheirLimitsInSubmissionOrder) {
  const uint64_t seed = verity::testing::test_seed();
  SCOPED_TRACE(verity::testing::seed_trace(seed));
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 200; ++round) {
    SubmissionQueue q;
    SubmissionQueue::GroupLimits limits;
    limits.max_events = 1 + rng() % 50;
    limits.max_bytes = 1 + rng() % 5000;
    limits.one_batch = rng() % 5 == 0;
    const int n = 1 + static_cast<int>(rng() % 40);
    std::vector<std::pair<size_t, size_t>> sizes;  // events + rejects, bytes
    uint64_t total_events = 0, total_bytes = 0;
    for (int i = 0; i < n; ++i) {
      const size_t events = 1 + rng() % 30, rejects = rng() % 3, bytes = 1 + rng() % 2000;
      Pending p = batch(events, rejects, bytes, i);
      ASSERT_TRUE(q.push(p));
      sizes.emplace_back(events + rejects, bytes);
      total_events += events + rejects;
      total_bytes += bytes;
    }
    EXPECT_EQ(q.events(), total_events);
    EXPECT_EQ(q.bytes(), total_bytes);
    int next = 0;
    while (next < n) {
      std::vector<Pending> group;
      ASSERT_TRUE(q.take(group, limits, false, kNoSync));
      ASSERT_FALSE(group.empty());
      size_t events = 0, bytes = 0;
      for (const Pending& p : group) {
        EXPECT_EQ(p.batch.events[0].timestamp_ms, next) << "out of submission order";
        events += p.events();
        bytes += p.bytes;
        ++next;
      }
      // A group holds one batch however large, and more only within every limit.
      if (group.size() > 1) {
        EXPECT_FALSE(limits.one_batch);
        EXPECT_LE(events, limits.max_events);
        EXPECT_LE(bytes, limits.max_bytes);
      }
      // It stops only where the next batch would not have fitted.
      if (next < n && !limits.one_batch) {
        EXPECT_TRUE(events + sizes[next].first > limits.max_events ||
                    bytes + sizes[next].second > limits.max_bytes);
      }
      q.answered(group);
    }
    EXPECT_EQ(q.events(), 0u);
    EXPECT_EQ(q.bytes(), 0u);
  }
}

TEST(SubmissionQueueTest, BatchesOfAFailedSyncAreWrittenFirst) {
  SubmissionQueue q;
  SubmissionQueue::GroupLimits limits{100, 1 << 20, false};
  Pending queued = batch(2, 0, 10, 7);
  ASSERT_TRUE(q.push(queued));
  std::vector<Pending> group;
  group.push_back(batch(3, 0, 10, 3));  // back from a failed sync
  ASSERT_TRUE(q.take(group, limits, false, kNoSync));
  ASSERT_EQ(group.size(), 2u);
  EXPECT_EQ(group[0].batch.events[0].timestamp_ms, 3);
  EXPECT_EQ(group[1].batch.events[0].timestamp_ms, 7);
}

TEST(SubmissionQueueTest, StoppingDrainsWhatIsQueuedThenRefuses) {
  SubmissionQueue q;
  SubmissionQueue::GroupLimits limits{100, 1 << 20, false};
  Pending a = batch(1, 0, 10, 1);
  ASSERT_TRUE(q.push(a));
  q.stop(/*drain_deadline_ms=*/1000);
  Pending b = batch(1, 0, 10, 2);
  EXPECT_FALSE(q.push(b));
  EXPECT_TRUE(b.done) << "a refused batch stays with its caller";
  EXPECT_EQ(q.events(), 1u);
  std::vector<Pending> group;
  ASSERT_TRUE(q.take(group, limits, false, kNoSync)) << "what was queued before stop is written";
  ASSERT_EQ(group.size(), 1u);
  q.answered(group);
  group.clear();
  // A sync in flight keeps the loop going until it settles.
  ASSERT_TRUE(q.take(group, limits, true, [] { return true; }));
  EXPECT_TRUE(group.empty());
  EXPECT_FALSE(q.take(group, limits, false, kNoSync));
  // Retries go on until the drain deadline, not after.
  EXPECT_TRUE(q.pause(std::chrono::milliseconds(1), 999));
  EXPECT_FALSE(q.pause(std::chrono::milliseconds(1), 1000));
}

// A commit thread waiting for work is woken by a push (and not before).
TEST(SubmissionQueueTest, APushWakesAWaitingCommitThread) {
  SubmissionQueue q;
  SubmissionQueue::GroupLimits limits{100, 1 << 20, false};
  std::vector<Pending> group;
  auto taken =
      std::async(std::launch::async, [&] { return q.take(group, limits, false, kNoSync); });
  ASSERT_EQ(taken.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout)
      << "take returned with nothing queued";
  Pending p = batch(1, 0, 10, 5);
  ASSERT_TRUE(q.push(p));
  const bool woken = taken.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
  EXPECT_TRUE(woken) << "the push did not wake the commit thread";
  if (!woken) q.wake();  // so that the test ends
  EXPECT_TRUE(taken.get());
  ASSERT_EQ(group.size(), 1u);
  EXPECT_EQ(group[0].batch.events[0].timestamp_ms, 5);
}

// With a sync in flight, the commit thread waits (stopping or not) until the sync settles and
// wake() is called, then returns to answer the synced group.
TEST(SubmissionQueueTest, ASettledSyncWakesAnIdleCommitThread) {
  SubmissionQueue q;
  SubmissionQueue::GroupLimits limits{100, 1 << 20, false};
  q.stop(/*drain_deadline_ms=*/1000);
  std::atomic<bool> settled{false};
  std::vector<Pending> group;
  auto taken = std::async(std::launch::async, [&] {
    return q.take(group, limits, true, [&] { return settled.load(); });
  });
  ASSERT_EQ(taken.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout)
      << "take returned while the sync was still running";
  settled = true;
  q.wake();
  const bool woken = taken.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
  EXPECT_TRUE(woken) << "wake() did not wake the commit thread";
  if (!woken) q.stop(1000);  // notifies too: so that the test ends
  EXPECT_TRUE(taken.get()) << "a sync in flight keeps the loop going after stop";
}

}  // namespace
}  // namespace verity::store
