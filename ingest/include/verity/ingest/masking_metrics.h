#pragma once

#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace prometheus {
class Counter;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace verity::ingest {

// verity_masked_values_total{model, by} (by = "rule:<path>" or "detector:<name>") and
// verity_masking_luhn_rejected_total. Thread-safe.
class MaskingMetrics {
 public:
  explicit MaskingMetrics(prometheus::Registry& registry);
  // Counts gathered by one thread, keyed by (model, "rule:<path>" | "detector:<name>"). The names
  // point into the Masker's policies, which outlive the counts.
  using Counts = std::map<std::pair<std::string, std::string_view>, uint64_t>;
  // Adds and clears `counts` and `luhn_rejected`: one lock per call, so callers batch.
  void flush(Counts& counts, uint64_t& luhn_rejected);

 private:
  prometheus::Family<prometheus::Counter>* masked_;
  prometheus::Counter* luhn_;
  std::mutex mu_;
  std::map<std::pair<std::string, std::string>, prometheus::Counter*, std::less<>> cache_;  // mu_
};

}  // namespace verity::ingest
