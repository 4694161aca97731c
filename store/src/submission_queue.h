#pragma once

// The submission queue (submission_queue.cpp): prepared batches wait here, in submission order,
// for the commit thread, which takes them as commit groups. It counts what it holds (inputs pause
// on its bytes: StoreOptions::max_queue_bytes) and holds the stop flag and drain deadline.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <vector>

#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "pending.h"
#include "verity/core/clock.h"
#include "verity/core/units.h"

namespace verity::store {

class SubmissionQueue {
 public:
  // How large a commit group may grow.
  struct GroupLimits {
    size_t max_events = 0;
    uint64_t max_bytes = 0;
    bool one_batch = false;  // sync: always (each batch is synced alone)
  };

  void register_metrics(prometheus::Registry& registry);

  // Queues `p` (its batch's events and rejects count as events). False when stopping: `p` stays
  // with the caller.
  bool push(Pending& p);

  // Commit thread: waits until a batch is queued, `group` holds batches (of a failed sync, written
  // again first), or `settled()` says the sync in flight ended (with `sync_in_flight`), or the
  // queue stops. Then moves queued batches into `group` within `limits`. False once the queue
  // stopped with nothing queued, nothing in `group` and no sync in flight: the loop ends.
  bool take(std::vector<Pending>& group, const GroupLimits& limits, bool sync_in_flight,
            const std::function<bool()>& settled);

  // Commit thread: `group` was answered; what it held leaves the counts.
  void answered(const std::vector<Pending>& group);

  // Stops taking batches; the commit thread drains what is queued until `drain_deadline_ms`.
  void stop(EpochMillis drain_deadline_ms);
  // Wakes the commit thread (a sync ended).
  void wake();
  // Commit thread, after a failed write: waits up to `interval` (or until stopped). False when the
  // queue is stopping and its drain deadline (by `now_ms`) has passed: give up.
  bool pause(Duration interval, EpochMillis now_ms);

  uint64_t bytes() const { return bytes_.load(); }
  uint64_t events() const { return events_.load(); }

 private:
  void publish();  // the depth gauges

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;          // guarded by mu_
  bool stopping_ = false;              // guarded by mu_
  EpochMillis drain_deadline_ms_ = 0;  // guarded by mu_
  std::atomic<uint64_t> bytes_{0};
  std::atomic<uint64_t> events_{0};
  prometheus::Gauge* depth_events_ = nullptr;
  prometheus::Gauge* depth_bytes_ = nullptr;
};

}  // namespace verity::store
