#pragma once

// query/'s config keys (verity/core/config_schema.h): search.* and metrics.models.*.

#include "verity/core/config_schema.h"
#include "verity/query/model_exporter.h"
#include "verity/query/search.h"
#include "verity/query/search_indexer.h"

namespace verity::query {

// search.{max_limit,scan_budget,default_window}.
void declare_keys(config::Section& s, SearchOptions& o);
// search.indexed_fields.
void declare_indexed_fields(config::Section& s, IndexedFields& fields);
// metrics.models.*.
void declare_keys(config::Section& s, ModelExportOptions& o);

}  // namespace verity::query
