#pragma once

#include <memory>

#include "verity/document/field_mapping.h"
#include "verity/quality/quality_config.h"
#include "verity/store/aggregate.h"

namespace verity::quality {

// Turns documents into aggregate contributions (the keys are listed in aggregate_keys.h). The
// store calls it on its commit path (store::Contributor): deterministic and thread-safe.
class ModelContributor final : public store::Contributor {
 public:
  ModelContributor(std::shared_ptr<const document::FieldMappingSet> fields,
                   std::shared_ptr<const QualityConfig> config);
  void prediction(const store::JoinSide& prediction, store::AggregateSink& out) const override;
  void join(const store::JoinSide& prediction, const store::JoinSide& label,
            store::AggregateSink& out) const override;

 private:
  std::shared_ptr<const document::FieldMappingSet> fields_;
  std::shared_ptr<const QualityConfig> config_;
};

}  // namespace verity::quality
