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
  void add(std::string_view model,
           const std::vector<std::pair<std::string_view, uint32_t>>& counts);
  void luhn_rejected(uint64_t n);

 private:
  prometheus::Family<prometheus::Counter>* masked_;
  prometheus::Counter* luhn_;
  std::mutex mu_;
  std::map<std::pair<std::string, std::string>, prometheus::Counter*, std::less<>> cache_;  // mu_
};

}  // namespace verity::ingest
