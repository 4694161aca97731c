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

void MaskingMetrics::flush(Counts& counts, uint64_t& luhn_rejected) {
  if (luhn_rejected > 0) luhn_->Increment(static_cast<double>(luhn_rejected));
  luhn_rejected = 0;
  if (counts.empty()) return;
  std::lock_guard lock(mu_);
  for (const auto& [key, n] : counts) {
    auto cache_key = std::make_pair(key.first, std::string(key.second));
    auto it = cache_.find(cache_key);
    if (it == cache_.end()) {
      auto& c = masked_->Add({{"model", cache_key.first}, {"by", cache_key.second}});
      it = cache_.emplace(std::move(cache_key), &c).first;
    }
    it->second->Increment(static_cast<double>(n));
  }
  counts.clear();
}

}  // namespace verity::ingest
