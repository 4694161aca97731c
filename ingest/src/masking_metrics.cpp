#include "verity/ingest/masking_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

namespace verity::ingest {

MaskingMetrics::MaskingMetrics(prometheus::Registry& registry)
    : masked_(&prometheus::BuildCounter()
                   .Name("verity_masked_values_total")
                   .Help("Values masked before storage, by model and by rule or detector")
                   .Register(registry)),
      luhn_(&prometheus::BuildCounter()
                 .Name("verity_masking_luhn_rejected_total")
                 .Help("Card-shaped numbers left unmasked because they fail the Luhn check")
                 .Register(registry)
                 .Add({})) {}

void MaskingMetrics::add(std::string_view model,
                         const std::vector<std::pair<std::string_view, uint32_t>>& counts) {
  if (counts.empty()) return;
  std::lock_guard lock(mu_);
  for (const auto& [name, n] : counts) {
    auto key = std::make_pair(std::string(model), std::string(name));
    auto it = cache_.find(key);
    if (it == cache_.end()) {
      auto& c = masked_->Add({{"model", key.first}, {"by", key.second}});
      it = cache_.emplace(std::move(key), &c).first;
    }
    it->second->Increment(n);
  }
}

void MaskingMetrics::luhn_rejected(uint64_t n) {
  if (n > 0) luhn_->Increment(static_cast<double>(n));
}

}  // namespace verity::ingest
