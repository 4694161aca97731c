#pragma once

// The store's config keys (verity/core/config_schema.h), by the section of the file they live in.

#include "verity/core/config_schema.h"
#include "verity/store/store.h"

namespace verity::store {

// store.*: commit groups, RocksDB memory, tiers and retention.
void declare_keys(config::Section& s, StoreOptions& o);
// store.tiers.*, store.delete_after, store.seal_grace, store.maintenance_interval.
void declare_keys(config::Section& s, RetentionOptions& r);
// dead_letters.{max_bytes,retention}.
void declare_dead_letter_keys(config::Section& s, StoreOptions& o);
// labels.max_wait.
void declare_label_keys(config::Section& s, StoreOptions& o);
// audit.reads_retention.
void declare_audit_keys(config::Section& s, StoreOptions& o);

}  // namespace verity::store
