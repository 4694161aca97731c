#pragma once

// Retention (retention.cpp): the tier manager and legal holds. A pass (on the manager's thread
// every retention.check_interval, or when asked) trims the dead-letter store and the read trail,
// orphans labels that waited too long, folds the aggregates, then for each partition: drops it
// past retention unless a hold keeps it, seals it once its day is over, and recompresses it into
// the warm and cold tiers as it ages. Retention owns the holds (with their lock), the pass lock
// (erasure takes it too: one pass or erasure at a time), its thread, and the tier metrics.
// Lock order: the pass lock, write_mu, db_mu, partitions_mu, then the partition states' lock or
// the holds' lock (one at a time: held() copies a partition's models before it takes the holds').

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <rocksdb/db.h>

#include "verity/core/status.h"
#include "verity/store/store.h"

namespace verity::store {

class Retention {
 public:
  explicit Retention(Store::Impl& store) : store_(store) {}
  ~Retention() { stop(); }
  Retention(const Retention&) = delete;
  Retention& operator=(const Retention&) = delete;

  void register_metrics(prometheus::Registry& registry);
  Status load();  // after the database opened: the holds
  void start();   // the manager's thread, when retention.check_interval is set
  void stop();    // wakes and joins it (Store::stop cancels long recompactions first)
  void wake();    // a pass now (the dead-letter store went over its cap)

  Result<MaintenanceReport> pass();
  // Held by a pass, and by an erasure for its whole run.
  std::mutex& pass_mutex() { return pass_mu_; }

  Status set_hold(const Hold& hold, bool on, std::string_view actor);
  std::vector<Hold> holds() const;
  std::set<std::string> hold_names() const;  // Hold::to_string() of each
  // The holds of `holds` (hold_names()) on partition `day` ("partition", "model:<m>"), given its
  // models.
  static std::vector<std::string> holds_in(const std::set<std::string>& holds, uint32_t day,
                                           const std::set<std::string>& models);

  // A partition's table options for its tier (at open, for partitions not hot).
  Status apply_tier_options(rocksdb::ColumnFamilyHandle* cf, Tier tier);
  void update_metrics();  // partitions, disk and raw bytes by tier

 private:
  bool held(uint32_t day) const;
  Status seal(uint32_t day, MaintenanceReport& report);
  Status move_tier(uint32_t day, Tier to, MaintenanceReport& report);
  Status drop(uint32_t day, MaintenanceReport& report);
  void run();

  Store::Impl& store_;
  std::mutex pass_mu_;
  mutable std::mutex holds_mu_;
  std::set<std::string> holds_;  // guarded by holds_mu_: Hold::to_string()
  std::thread thread_;
  std::mutex wake_mu_;  // guards stopping_
  std::condition_variable wake_cv_;
  bool stopping_ = false;

  prometheus::Family<prometheus::Gauge>* tier_partitions_ = nullptr;
  prometheus::Family<prometheus::Gauge>* tier_disk_bytes_ = nullptr;
  prometheus::Family<prometheus::Gauge>* tier_raw_bytes_ = nullptr;
  prometheus::Family<prometheus::Counter>* actions_ = nullptr;
};

}  // namespace verity::store
