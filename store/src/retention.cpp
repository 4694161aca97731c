// Retention (retention.h): the tier manager's pass and thread, seals, tier moves, drops past
// retention, and legal holds.

#include "retention.h"

#include <chrono>

#include <rocksdb/convenience.h>
#include <spdlog/spdlog.h>

#include "record_codec.h"
#include "store_impl.h"
#include "verity/core/guard.h"
#include "verity/core/thread_name.h"
#include "verity/document/json_writer.h"
#include "verity/store/partition.h"

namespace verity::store {

void Retention::register_metrics(prometheus::Registry& registry) {
  tier_partitions_ = &prometheus::BuildGauge()
                          .Name("verity_store_partitions")
                          .Help("Partitions (one per UTC day of prediction time) by tier")
                          .Register(registry);
  tier_disk_bytes_ = &prometheus::BuildGauge()
                          .Name("verity_store_disk_bytes")
                          .Help("Bytes of table files of the partitions of a tier")
                          .Register(registry);
  tier_raw_bytes_ = &prometheus::BuildGauge()
                         .Name("verity_store_raw_bytes")
                         .Help(
                             "Bytes of the documents stored in the partitions of a tier, "
                             "uncompressed")
                         .Register(registry);
  actions_ = &prometheus::BuildCounter()
                  .Name("verity_store_maintenance_actions_total")
                  .Help(
                      "Partitions sealed, moved to a tier, dropped, or kept by a "
                      "legal hold, by the tier manager")
                  .Register(registry);
  update_metrics();
}

Status Retention::load() {
  std::lock_guard lock(holds_mu_);
  holds_.clear();
  rocksdb::ReadOptions ro;
  const std::string end = "hold0";
  rocksdb::Slice upper(end);
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(store_.db->NewIterator(ro, store_.meta));
  for (it->Seek(kHoldPrefix); it->Valid(); it->Next()) {
    holds_.insert(std::string(it->key().ToStringView().substr(5)));
  }
  return from_rocksdb(it->status(), "reading the holds");
}

void Retention::start() {
  if (store_.options.retention.check_interval.count() <= 0) return;
  thread_ = std::thread([this] { run(); });
  set_thread_name(thread_, "verity-tiers");
}

void Retention::stop() {
  {
    std::lock_guard lock(wake_mu_);
    stopping_ = true;
  }
  wake_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Retention::wake() {
  { std::lock_guard lock(wake_mu_); }  // the manager waits on wake_cv_ under wake_mu_
  wake_cv_.notify_all();
}

void Retention::run() {
  std::unique_lock lock(wake_mu_);
  while (!stopping_) {
    lock.unlock();
    Status s = guarded("store: tier manager", [&]() -> Status { return pass().status(); });
    if (!s) spdlog::error("store: tier manager: {}", s.message());
    lock.lock();
    wake_cv_.wait_for(lock, store_.options.retention.check_interval,
                      [&] { return stopping_ || store_.dead_letters.trim_due(); });
  }
}

Result<MaintenanceReport> Retention::pass() {
  std::lock_guard pass_lock(pass_mu_);
  MaintenanceReport report;
  if (auto s = store_.dead_letters.trim(); !s) return s;
  // The read trail's retention is its own: a failure there is logged, and the pass goes on.
  if (auto s = store_.read_trail.trim(); !s)
    spdlog::warn("store: read audit trim: {}", s.message());
  if (auto s = store_.quality.orphan_pending(report); !s) return s;
  if (auto s = store_.quality.fold(); !s) return s;
  const EpochMillis now = store_.clock.now_ms();
  const RetentionOptions& r = store_.options.retention;
  std::vector<uint32_t> days;
  {
    // Under db_mu: a reopen lists the partitions before it loads their state, and a pass that
    // listed them in between would find no models (no holds) and every tier hot.
    std::shared_lock db_lock(store_.db_mu);
    if (!store_.db || store_.db_failed.load()) return report;  // the next pass does it
    std::shared_lock lock(store_.partitions_mu);
    for (const auto& [day, cf] : store_.partitions) days.push_back(day);
  }
  for (uint32_t day : days) {
    const int64_t age = partition_age_days(day, now);
    if (r.delete_after_days > 0 && age >= r.delete_after_days) {
      if (!held(day)) {
        if (auto s = drop(day, report); !s) return s;
        continue;
      }
      report.held.push_back(partition_name(day));
      actions_->Add({{"action", "held"}}).Increment();
    }
    if (now >= partition_day_end(day) + r.seal_grace.count()) {
      if (auto s = seal(day, report); !s) return s;
    }
    Tier want = Tier::kHot;
    if (age >= 0 && age >= r.cold_after_days) {
      want = Tier::kCold;
    } else if (age >= 0 && age >= r.warm_after_days) {
      want = Tier::kWarm;
    }
    const Tier have = store_.partition_states.tier(day);
    if (want > have) {
      if (auto s = move_tier(day, want, report); !s) return s;
    }
    if (store_.cancel_compactions.load()) break;
  }
  update_metrics();
  return report;
}

bool Retention::held(uint32_t day) const {
  std::set<std::string> models;
  if (auto p = store_.partition_states.get(day)) models = std::move(p->models);
  std::lock_guard lock(holds_mu_);
  return !holds_in(holds_, day, models).empty();
}

std::set<std::string> Retention::hold_names() const {
  std::lock_guard lock(holds_mu_);
  return holds_;
}

std::vector<std::string> Retention::holds_in(const std::set<std::string>& holds, uint32_t day,
                                             const std::set<std::string>& models) {
  std::vector<std::string> out;
  if (holds.count("partition:" + partition_name(day))) out.emplace_back("partition");
  for (const auto& m : models) {
    if (holds.count("model:" + m)) out.push_back("model:" + m);
  }
  return out;
}

Status Retention::seal(uint32_t day, MaintenanceReport& report) {
  Seal seal;
  uint32_t n;
  {
    const auto p = store_.partition_states.get(day);
    if (!p || p->chain.count <= p->sealed_count) return Status::ok();
    seal.count = p->chain.count;
    seal.last_sequence = p->chain.last_sequence;
    seal.link = p->chain.link;
    n = p->seals;
  }
  seal.sealed_at_ms = store_.clock.now_ms();
  rocksdb::WriteOptions wo;
  wo.sync = true;
  {
    std::shared_lock db_lock(store_.db_mu);
    if (!store_.db) return Status::unavailable("the store is reopening");
    rocksdb::WriteBatch wb;
    (void)wb.Put(store_.chain, seal_key(day, n), encode_seal(seal));
    if (auto s = store_.admin_write(wb, true, "sealing " + partition_name(day)); !s) return s;
  }
  store_.partition_states.sealed(day, n + 1, seal.count);
  actions_->Add({{"action", "seal"}}).Increment();
  report.sealed.push_back(partition_name(day));
  spdlog::info("store: sealed {} at {} records, head {}", partition_name(day), seal.count,
               to_hex(seal.link));
  return Status::ok();
}

Status Retention::move_tier(uint32_t day, Tier to, MaintenanceReport& report) {
  const std::string name = partition_name(day);
  {
    std::shared_lock db_lock(store_.db_mu);
    if (!store_.db) return Status::unavailable("the store is reopening");
    auto* cf = store_.find_partition(day);
    if (cf == nullptr) return Status::ok();
    // As loaded (a reopen may have come between).
    if (auto p = store_.partition_states.get(day); !p || p->tier >= to) return Status::ok();
    if (auto s = apply_tier_options(cf, to); !s) return s;
    rocksdb::CompactRangeOptions cro;
    cro.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    cro.canceled = &store_.cancel_compactions;
    const auto start = std::chrono::steady_clock::now();
    auto s = store_.db->CompactRange(cro, cf, nullptr, nullptr);
    if (!s.ok()) return from_rocksdb(s, "recompacting " + name);
    rocksdb::WriteBatch wb;
    (void)wb.Put(store_.meta, kTierPrefix + name, tier_name(to));
    if (auto w = store_.admin_write(wb, true, "recording the tier of " + name); !w) return w;
    spdlog::info("store: moved {} to {} in {:.1f} s", name, tier_name(to),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  store_.partition_states.set_tier(day, to);
  actions_->Add({{"action", tier_name(to)}}).Increment();
  report.moved.emplace_back(name, to);
  return Status::ok();
}

Status Retention::drop(uint32_t day, MaintenanceReport& report) {
  const std::string name = partition_name(day);
  // Request ids of the partition leave the index (and their labels with them). Most are removed
  // before ingestion is paused; only records that arrive meanwhile are handled under write_mu.
  uint64_t scanned_to = 0;
  auto remove_ids = [&](uint64_t from) -> Status {
    auto* cf = store_.find_partition(day);
    if (cf == nullptr) return Status::ok();
    rocksdb::WriteBatch wb;
    auto flush = [&]() -> Status {
      if (wb.Count() == 0) return Status::ok();
      auto s = store_.admin_write(wb, false, "removing request ids of " + name);
      wb.Clear();
      return s;
    };
    std::unique_ptr<rocksdb::Iterator> it(store_.db->NewIterator(rocksdb::ReadOptions(), cf));
    for (it->Seek(sequence_key(from)); it->Valid(); it->Next()) {
      if (auto rec = decode_record(it->value().ToStringView())) {
        (void)wb.Delete(store_.ids, rec->request_id);
        (void)wb.Delete(store_.labels, rec->request_id);
      }
      scanned_to = parse_sequence_key(it->key().ToStringView()).value_or(scanned_to) + 1;
      if (wb.Count() >= 20000) {
        if (auto s = flush(); !s) return s;
      }
    }
    if (!it->status().ok()) return from_rocksdb(it->status(), "scanning " + name);
    return flush();
  };
  {
    std::shared_lock db_lock(store_.db_mu);
    if (!store_.db) return Status::unavailable("the store is reopening");
    if (auto s = remove_ids(0); !s) return s;
  }

  std::lock_guard write_lock(store_.write_mu);
  std::unique_lock db_lock(store_.db_mu);
  if (!store_.db) return Status::unavailable("the store is reopening");
  // Holds cannot change now (set_hold takes the pass lock), but a reopen since the pass looked
  // may have reloaded the partition's models: the decision is made again on what is loaded.
  if (held(day)) {
    report.held.push_back(name);
    actions_->Add({{"action", "held"}}).Increment();
    return Status::ok();
  }
  if (auto s = remove_ids(scanned_to); !s) return s;
  const ChainHead head = store_.partition_states.chain(day);
  rocksdb::WriteBatch wb;
  auto s = store_.audit_log.append(wb, "retention_drop",
                                   ",\"partition\":\"" + name +
                                       "\",\"records\":" + std::to_string(head.count) +
                                       ",\"head\":\"" + to_hex(head.link) + "\"");
  if (!s) return s;
  rocksdb::WriteOptions wo;
  wo.sync = true;
  if (auto w = store_.admin_write(wb, true, "auditing the drop of " + name); !w) return w;

  if (auto d = store_.drop_partition(day); !d) return d;
  // The chain and metadata of the dropped partition (redone at the next open after a crash here).
  wb.Clear();
  for (char kind : {'L', 'S'}) {
    (void)wb.DeleteRange(store_.chain, chain_prefix(kind, day), chain_prefix_end(kind, day));
  }
  (void)wb.Delete(store_.meta, head_key(day));
  (void)wb.DeleteRange(store_.by_time, time_index_day(day), time_index_day(day + 1));
  (void)wb.DeleteRange(store_.field_index, time_index_day(day), time_index_day(day + 1));
  (void)wb.DeleteRange(store_.blocks, time_index_day(day), time_index_day(day + 1));
  (void)wb.Delete(store_.meta, kTierPrefix + name);
  (void)wb.DeleteRange(store_.meta, kModelPrefix + name + "/", kModelPrefix + name + "0");
  if (auto w = store_.admin_write(wb, true, "forgetting the chain of " + name); !w) return w;
  store_.partition_states.forget(day);
  actions_->Add({{"action", "drop"}}).Increment();
  report.dropped.push_back(name);
  spdlog::info("store: dropped {} ({} records) past retention", name, head.count);
  return Status::ok();
}

Status Retention::apply_tier_options(rocksdb::ColumnFamilyHandle* cf, Tier tier) {
  std::unordered_map<std::string, std::string> o;
  if (tier == Tier::kHot) {
    o["compression"] = store_.options.retention.hot_compression == HotCompression::kNone
                           ? "kNoCompression"
                           : "kLZ4Compression";
    o["block_based_table_factory"] = "{block_size=16384}";
  } else {
    const TierCompression& c =
        tier == Tier::kWarm ? store_.options.retention.warm : store_.options.retention.cold;
    o["compression"] = "kZSTD";
    o["compression_opts"] =
        "{level=" + std::to_string(c.zstd_level) +
        ";max_dict_bytes=" + std::to_string(c.dictionary_bytes) +
        ";zstd_max_train_bytes=" + std::to_string(uint64_t{c.dictionary_bytes} * 100) + "}";
    o["block_based_table_factory"] = "{block_size=" + std::to_string(c.block_size) + "}";
  }
  auto s = store_.db->SetOptions(cf, o);
  return from_rocksdb(s, "setting the options of " + cf->GetName());
}

void Retention::update_metrics() {
  struct Sums {
    double partitions = 0, disk = 0, raw = 0;
  } sums[3];
  {
    std::shared_lock db_lock(store_.db_mu);
    if (!store_.db) return;
    const std::map<uint32_t, PartitionState> states = store_.partition_states.all();
    std::shared_lock plock(store_.partitions_mu);
    for (const auto& [day, cf] : store_.partitions) {
      auto p = states.find(day);
      if (p == states.end()) continue;
      rocksdb::ColumnFamilyMetaData m;
      store_.db->GetColumnFamilyMetaData(cf, &m);
      Sums& s = sums[static_cast<int>(p->second.tier)];
      s.partitions += 1;
      s.disk += static_cast<double>(m.size);
      s.raw += static_cast<double>(p->second.chain.raw_bytes);
    }
  }
  for (Tier t : {Tier::kHot, Tier::kWarm, Tier::kCold}) {
    const Sums& s = sums[static_cast<int>(t)];
    tier_partitions_->Add({{"tier", tier_name(t)}}).Set(s.partitions);
    tier_disk_bytes_->Add({{"tier", tier_name(t)}}).Set(s.disk);
    tier_raw_bytes_->Add({{"tier", tier_name(t)}}).Set(s.raw);
  }
}

Status Retention::set_hold(const Hold& hold, bool on, std::string_view actor) {
  if (hold.target.empty() || hold.target.size() > 256) {
    return Status::invalid_argument("a hold needs a partition or model name of 1 to 256 bytes");
  }
  if (hold.kind == Hold::Kind::kPartition && !parse_partition_name(hold.target)) {
    return Status::invalid_argument("a partition hold needs a name like p_20261120");
  }
  std::lock_guard pass_lock(pass_mu_);
  std::shared_lock db_lock(store_.db_mu);
  if (!store_.db) return Status::unavailable("the store is reopening after a write failure");
  const std::string name = hold.to_string();
  rocksdb::WriteBatch wb;
  if (on) {
    (void)wb.Put(store_.meta, kHoldPrefix + name, "");
  } else {
    (void)wb.Delete(store_.meta, kHoldPrefix + name);
  }
  std::string fields = ",\"hold\":";
  document::append_json_string(fields, name);
  fields += ",\"actor\":";
  document::append_json_string(fields, actor);
  if (auto s = store_.audit_log.append(wb, on ? "hold_set" : "hold_cleared", fields); !s) {
    return s;
  }
  if (auto s = store_.admin_write(wb, true, "writing a hold"); !s) return s;
  std::lock_guard lock(holds_mu_);
  if (on) {
    holds_.insert(name);
  } else {
    holds_.erase(name);
  }
  return Status::ok();
}

std::vector<Hold> Retention::holds() const {
  std::vector<Hold> out;
  std::lock_guard lock(holds_mu_);
  for (const auto& h : holds_) {
    Hold hold;
    const bool model = h.rfind("model:", 0) == 0;
    hold.kind = model ? Hold::Kind::kModel : Hold::Kind::kPartition;
    hold.target = h.substr(model ? 6 : 10);
    out.push_back(std::move(hold));
  }
  return out;
}

}  // namespace verity::store
