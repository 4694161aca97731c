#pragma once

// What the store knows about each partition beyond its column family (partition_states.cpp): its
// chain head (records, erasures, raw bytes, last link), its seals, its tier and the models seen in
// it. Loaded at open from the chain and meta families; then written by the chain writer after each
// commit group (committed state only), by retention (seals, tiers, drops) and by erasure (heads);
// read by them and by the listings. It has one lock of its own, taken after write_mu, db_mu and
// partitions_mu, and never held while it calls out.

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <rocksdb/db.h>

#include "chain.h"
#include "verity/core/status.h"
#include "verity/store/retention.h"

namespace verity::store {

// Metadata keys in "default": the tier of a partition, the models seen in a partition (and its
// chain head under kHeadPrefix, chain.h).
inline constexpr const char* kTierPrefix = "tier/";    // tier/p_YYYYMMDD -> hot|warm|cold
inline constexpr const char* kModelPrefix = "model/";  // model/p_YYYYMMDD/<model> -> ""

struct PartitionState {
  ChainHead chain;
  uint32_t seals = 0;
  uint64_t sealed_count = 0;  // records covered by the last seal
  Tier tier = Tier::kHot;
  std::set<std::string> models;
};

class PartitionStates {
 public:
  // Replaces the state with that of the open partitions `days`, read from the chain family (seals)
  // and the meta family (heads under head/, models under model/, tiers under tier/). `orphans`:
  // days whose chain heads are stored without a partition (dropped before they were deleted).
  Status load(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* chain,
              rocksdb::ColumnFamilyHandle* meta, const std::vector<uint32_t>& days,
              std::vector<uint32_t>& orphans);
  void clear();

  // A new partition: an empty chain (its other state, if any was left, is kept).
  void add(uint32_t day);
  // A dropped partition.
  void forget(uint32_t day);

  // A copy of one partition's state, or of all of them.
  std::optional<PartitionState> get(uint32_t day) const;
  std::map<uint32_t, PartitionState> all() const;
  // The committed chain head of `day` (an empty chain when the partition is unknown).
  ChainHead chain(uint32_t day) const;
  Tier tier(uint32_t day) const;  // kHot when unknown
  bool has_model(uint32_t day, std::string_view model) const;

  // A commit group was written: its partitions' heads and the models it recorded first.
  void committed(const std::unordered_map<uint32_t, ChainHead>& heads,
                 const std::vector<std::pair<uint32_t, std::string>>& models);
  // An erasure was written: the heads of the partitions it rewrote (those still known).
  void erased(const std::map<uint32_t, ChainHead>& heads);
  // A seal was written: `seals` seals now, the last covering `count` records.
  void sealed(uint32_t day, uint32_t seals, uint64_t count);
  void set_tier(uint32_t day, Tier tier);

 private:
  mutable std::mutex mu_;
  std::map<uint32_t, PartitionState> states_;  // guarded by mu_
};

std::optional<Tier> parse_tier(std::string_view s);

}  // namespace verity::store
