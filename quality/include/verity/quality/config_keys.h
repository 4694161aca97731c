#pragma once

// Model quality's config keys (verity/core/config_schema.h): metrics.quality.* (the defaults) and
// models.<name>.quality.*.

#include "verity/core/config_schema.h"
#include "verity/quality/quality_config.h"

namespace verity::quality {

void declare_keys(config::Section& s, ModelQualityConfig& q);

}  // namespace verity::quality
