#pragma once

#include <atomic>
#include <cstddef>

namespace prometheus {
class Gauge;
class Registry;
}  // namespace prometheus

namespace verity::ingest {

// The memory every input together may hold for what clients send and are answered
// (server.max_memory): decode buffers of Beats and TCP connections, inflated frames, HTTP bodies
// and answers. A connection that cannot reserve more stops reading until memory is given back
// (Beats, TCP) or is answered 429 (HTTP): the sum of many small clients cannot grow the process.
// Thread-safe. On /metrics: verity_ingest_memory_bytes{kind="used|peak|limit"}.
class MemoryBudget {
 public:
  explicit MemoryBudget(size_t limit, prometheus::Registry* registry = nullptr);
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  // Reserves `n` bytes; false (nothing reserved) when that would pass the limit.
  bool try_reserve(size_t n);
  // Counts `n` bytes that are held already, past the limit if need be (what cannot be refused).
  void force_reserve(size_t n);
  void release(size_t n);
  size_t used() const { return used_.load(std::memory_order_relaxed); }
  size_t peak() const { return peak_.load(std::memory_order_relaxed); }
  size_t limit() const { return limit_; }
  // Sets the gauges (called before a scrape).
  void update_gauges() const;

 private:
  const size_t limit_;
  std::atomic<size_t> used_{0};
  std::atomic<size_t> peak_{0};
  prometheus::Gauge* used_gauge_ = nullptr;
  prometheus::Gauge* peak_gauge_ = nullptr;
};

// What one buffer holds of a budget: resize() reserves or gives back the difference. Move-only;
// gives everything back when destroyed. Not thread-safe (one owner). A null budget always grants.
class MemoryLease {
 public:
  MemoryLease() = default;
  explicit MemoryLease(MemoryBudget* budget) : budget_(budget) {}
  ~MemoryLease() { resize(0); }
  MemoryLease(MemoryLease&& o) noexcept : budget_(o.budget_), held_(o.held_) { o.held_ = 0; }
  MemoryLease& operator=(MemoryLease&& o) noexcept {
    if (this != &o) {
      resize(0);
      budget_ = o.budget_;
      held_ = o.held_;
      o.held_ = 0;
    }
    return *this;
  }

  // Holds exactly `n` bytes; false (holding what it held) when the budget cannot grant more.
  bool resize(size_t n) {
    if (budget_ == nullptr) {
      held_ = n;
      return true;
    }
    if (n > held_) {
      if (!budget_->try_reserve(n - held_)) return false;
    } else if (n < held_) {
      budget_->release(held_ - n);
    }
    held_ = n;
    return true;
  }
  // Holds `n` bytes whatever the budget says (memory that exists already).
  void force(size_t n) {
    if (budget_ != nullptr && n > held_) budget_->force_reserve(n - held_);
    if (budget_ != nullptr && n < held_) budget_->release(held_ - n);
    held_ = n;
  }
  size_t held() const { return held_; }

 private:
  MemoryBudget* budget_ = nullptr;
  size_t held_ = 0;
};

}  // namespace verity::ingest
