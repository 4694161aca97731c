#pragma once

#include <atomic>
#include <chrono>

#include "verity/core/time_format.h"

namespace verity {

// Wall-clock time, injectable so tests can move it. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual EpochMillis now_ms() const = 0;
};

class SystemClock final : public Clock {
 public:
  EpochMillis now_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// A clock that only moves when told to.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(EpochMillis start) : now_(start) {}
  EpochMillis now_ms() const override { return now_.load(std::memory_order_relaxed); }
  void set(EpochMillis t) { now_.store(t, std::memory_order_relaxed); }
  void advance(EpochMillis delta) { now_.fetch_add(delta, std::memory_order_relaxed); }

 private:
  std::atomic<EpochMillis> now_;
};

}  // namespace verity
