#include "verity/ingest/memory_budget.h"

#include <prometheus/gauge.h>
#include <prometheus/registry.h>

namespace verity::ingest {

MemoryBudget::MemoryBudget(size_t limit, prometheus::Registry* registry) : limit_(limit) {
  if (registry == nullptr) return;
  auto& family = prometheus::BuildGauge()
                     .Name("verity_ingest_memory_bytes")
                     .Help(
                         "Memory the inputs hold for clients (decode buffers, inflated frames, "
                         "HTTP bodies and answers): used now, the peak, and server.max_memory")
                     .Register(*registry);
  used_gauge_ = &family.Add({{"kind", "used"}});
  peak_gauge_ = &family.Add({{"kind", "peak"}});
  family.Add({{"kind", "limit"}}).Set(static_cast<double>(limit));
}

bool MemoryBudget::try_reserve(size_t n) {
  size_t cur = used_.load(std::memory_order_relaxed);
  do {
    if (n > limit_ || cur > limit_ - n) return false;
  } while (!used_.compare_exchange_weak(cur, cur + n, std::memory_order_relaxed));
  size_t peak = peak_.load(std::memory_order_relaxed);
  while (cur + n > peak && !peak_.compare_exchange_weak(peak, cur + n, std::memory_order_relaxed)) {
  }
  return true;
}

void MemoryBudget::force_reserve(size_t n) {
  const size_t now = used_.fetch_add(n, std::memory_order_relaxed) + n;
  size_t peak = peak_.load(std::memory_order_relaxed);
  while (now > peak && !peak_.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
}

void MemoryBudget::release(size_t n) { used_.fetch_sub(n, std::memory_order_relaxed); }

void MemoryBudget::update_gauges() const {
  if (used_gauge_ == nullptr) return;
  used_gauge_->Set(static_cast<double>(used()));
  peak_gauge_->Set(static_cast<double>(peak()));
}

}  // namespace verity::ingest
