#include "submission_queue.h"

namespace verity::store {

void SubmissionQueue::register_metrics(prometheus::Registry& registry) {
  auto& depth = prometheus::BuildGauge()
                    .Name("verity_store_queue_depth")
                    .Help("Events and bytes waiting for the commit thread")
                    .Register(registry);
  depth_events_ = &depth.Add({{"unit", "events"}});
  depth_bytes_ = &depth.Add({{"unit", "bytes"}});
}

void SubmissionQueue::publish() {
  if (depth_events_ == nullptr) return;
  depth_events_->Set(static_cast<double>(events_.load()));
  depth_bytes_->Set(static_cast<double>(bytes_.load()));
}

bool SubmissionQueue::push(Pending& p) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return false;
    bytes_ += p.bytes;
    events_ += p.events();
    queue_.push_back(std::move(p));
    publish();
  }
  cv_.notify_one();
  return true;
}

bool SubmissionQueue::take(std::vector<Pending>& group, const GroupLimits& limits,
                           bool sync_in_flight, const std::function<bool()>& settled) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] {
    return !queue_.empty() || !group.empty() || (sync_in_flight ? settled() : stopping_);
  });
  if (queue_.empty() && group.empty() && !sync_in_flight) return false;  // stopped, all written
  size_t events = 0, bytes = 0;
  for (const auto& p : group) {
    events += p.events();
    bytes += p.bytes;
  }
  while (!queue_.empty()) {
    const Pending& next = queue_.front();
    if (!group.empty() && (limits.one_batch || events + next.events() > limits.max_events ||
                           bytes + next.bytes > limits.max_bytes)) {
      break;
    }
    events += next.events();
    bytes += next.bytes;
    group.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return true;
}

void SubmissionQueue::answered(const std::vector<Pending>& group) {
  size_t events = 0, bytes = 0;
  for (const auto& p : group) {
    events += p.events();
    bytes += p.bytes;
  }
  bytes_ -= bytes;
  events_ -= events;
  publish();
}

void SubmissionQueue::stop(EpochMillis drain_deadline_ms) {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    drain_deadline_ms_ = drain_deadline_ms;
  }
  cv_.notify_all();
}

void SubmissionQueue::wake() {
  { std::lock_guard lock(mu_); }  // the commit thread waits on cv_ under mu_
  cv_.notify_all();
}

bool SubmissionQueue::pause(Duration interval, EpochMillis now_ms) {
  std::unique_lock lock(mu_);
  if (stopping_ && now_ms >= drain_deadline_ms_) return false;
  cv_.wait_for(lock, interval);
  return true;
}

}  // namespace verity::store
