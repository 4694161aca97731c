#pragma once

// The read audit trail (read_trail.cpp): who read which prediction data, chained. It owns its
// head (the next id and the last link) and the lock that orders its entries; it reads and writes
// through the store's database (taking db_mu before its own lock).

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "verity/core/sha256.h"
#include "verity/core/status.h"
#include "verity/store/store.h"

namespace verity::store {

class ReadTrail {
 public:
  explicit ReadTrail(Store::Impl& store) : store_(store) {}
  Status load();  // after the database opened: the head
  Status record(const ReadRecord& r);
  Result<std::vector<std::string>> list(EpochMillis from_ms, EpochMillis to_ms,
                                        std::string_view actor, uint64_t after_id,
                                        size_t limit) const;
  Status trim();  // maintenance: entries past audit.reads_retention
  // The caller holds db_mu (shared) and the database is open.
  PartitionVerification verify() const;

 private:
  Store::Impl& store_;
  std::mutex mu_;  // guards next_id_ and link_; taken after db_mu
  uint64_t next_id_ = 1;
  Sha256Digest link_{};
};

}  // namespace verity::store
