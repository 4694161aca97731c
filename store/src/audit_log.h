#pragma once

// The administration audit trail (the audit family, audit_log.cpp): one JSON entry per erasure,
// partition drop and legal hold change, numbered in order across restarts. An entry is written in
// the same WriteBatch as the change it records, so the trail holds exactly what happened.

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <rocksdb/write_batch.h>

#include "verity/core/clock.h"
#include "verity/core/status.h"

namespace verity::store {

class Database;

class AuditLog {
 public:
  AuditLog(Database& db, const Clock& clock) : db_(db), clock_(clock) {}

  // After the database opened: the next id follows the last entry stored.
  Status load();
  // An id for an entry written later (an erasure names it in the records it rewrites).
  uint64_t allocate();
  // Adds an entry to `wb`: {"id":N,"time":...,"action":...<fields_json>}. `fields_json` is empty
  // or starts with a comma. `id` is allocated when 0.
  Status append(rocksdb::WriteBatch& wb, std::string_view action, std::string_view fields_json,
                uint64_t id = 0);
  // Up to `limit` entries from id `from`; an entry that is not JSON is described by its id, size
  // and digest. Takes db_mu (shared).
  Result<std::vector<std::string>> read(uint64_t from, size_t limit) const;

 private:
  Database& db_;
  const Clock& clock_;
  std::mutex mu_;
  uint64_t next_id_ = 1;  // guarded by mu_
};

}  // namespace verity::store
