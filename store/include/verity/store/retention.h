#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "verity/core/sha256.h"
#include "verity/core/units.h"

namespace verity::store {

// Storage tiers by partition age (days since the end of the partition's UTC day, by the store's
// clock). Each tier has its own compression; a partition moves tier by recompaction.
enum class Tier { kHot, kWarm, kCold };
const char* tier_name(Tier t);

enum class HotCompression { kLz4, kNone };

struct TierCompression {
  int zstd_level = 3;
  // Most bytes of the zstd dictionary RocksDB trains for each table file of the partition, from
  // up to 100x as many sampled bytes. 0 turns dictionaries off.
  uint32_t dictionary_bytes = 64 * 1024;
  uint32_t block_size = 16 * 1024;
};

struct RetentionOptions {
  HotCompression hot_compression = HotCompression::kLz4;
  uint32_t warm_after_days = 7;
  TierCompression warm{3, 64 * 1024, 16 * 1024};
  uint32_t cold_after_days = 30;
  TierCompression cold{15, 64 * 1024, 256 * 1024};
  // Partitions older than this are dropped whole unless under a legal hold. 0: never.
  uint32_t delete_after_days = 0;
  // A partition is sealed once its day has ended this long ago.
  Duration seal_grace{3'600'000};
  // How often the background manager seals, moves and drops partitions. 0: only when
  // Store::run_maintenance() is called.
  Duration check_interval{60'000};
};

// What `verity partitions` and GET /v1/partitions show.
struct PartitionInfo {
  std::string partition;  // p_YYYYMMDD
  Tier tier = Tier::kHot;
  uint64_t records = 0;         // records in the chain (tombstones included)
  uint64_t erased = 0;          // tombstones among them
  uint64_t bytes_on_disk = 0;   // table files (flushed data)
  uint64_t memtable_bytes = 0;  // not yet flushed
  uint64_t raw_bytes = 0;       // documents as stored (masked JSON), before compression
  uint64_t chain_bytes = 0;     // the partition's share of the chain family (links), approximate
  bool sealed = false;          // every record is covered by a seal
  uint64_t seals = 0;
  std::string head;                // chain head, hex
  std::vector<std::string> holds;  // "partition", "model:<name>"
  std::string to_json() const;
};

struct ChainBreak {
  uint64_t sequence = 0;
  std::string reason;
};

struct PartitionVerification {
  std::string partition;
  uint64_t records = 0;  // records walked
  bool ok = true;
  std::optional<ChainBreak> first_break;
};

struct VerifyReport {
  bool ok = true;
  std::vector<PartitionVerification> partitions;
  // The read audit trail's chain ("records": entries, a break's "sequence": the entry id); checked
  // when every partition is verified.
  std::optional<PartitionVerification> read_audit;
  // {"ok":..,"partitions":[{"partition","records","ok","first_break":{"sequence","reason"}|null}]
  //  [,"read_audit":{the same members}]}
  std::string to_json() const;
};

// A legal hold: stops retention from dropping a partition.
struct Hold {
  enum class Kind { kPartition, kModel } kind = Kind::kPartition;
  std::string target;             // partition name or model name
  std::string to_string() const;  // "partition:p_20261120" or "model:fraud"
};

// What one pass of the tier manager did.
struct MaintenanceReport {
  std::vector<std::string> sealed;
  std::vector<std::pair<std::string, Tier>> moved;
  std::vector<std::string> dropped;
  std::vector<std::string> held;  // expired but kept by a hold
  uint64_t orphaned_labels = 0;   // labels that waited labels.max_wait for their prediction
};

struct EraseReport {
  uint64_t audit_id = 0;
  uint64_t predictions = 0;   // replaced by tombstones
  uint64_t labels = 0;        // deleted
  uint64_t dead_letters = 0;  // documents removed from dead-letter entries
  std::vector<std::string> partitions;
  std::string to_json() const;
};

}  // namespace verity::store
