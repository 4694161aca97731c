#pragma once

// The Elasticsearch shipper's config keys (verity/core/config_schema.h): outputs.elasticsearch.*.

#include "verity/core/config_schema.h"
#include "verity/shippers/es_config.h"

namespace verity::shippers {

void declare_keys(config::Section& s, EsShipperOptions& o);

}  // namespace verity::shippers
