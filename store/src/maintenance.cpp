// Administration beside retention (retention.cpp): the partition states and audit ids loaded at
// open (partition_states.h, audit_log.h), writes outside the commit thread, the partition
// listing, the audit trail's reads, flush and settle.

#include <chrono>
#include <thread>

#include <rocksdb/convenience.h>
#include <spdlog/spdlog.h>

#include "record_codec.h"
#include "store_impl.h"
#include "verity/core/guard.h"
#include "verity/core/http.h"
#include "verity/document/json_writer.h"
#include "verity/store/partition.h"

namespace verity::store {

namespace {

constexpr EpochMillis kDayMs = 86'400'000;

std::string append_string_array(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += ',';
    document::append_json_string(out, v[i]);
  }
  return out + ']';
}

}  // namespace

const char* tier_name(Tier t) {
  switch (t) {
    case Tier::kHot:
      return "hot";
    case Tier::kWarm:
      return "warm";
    case Tier::kCold:
      return "cold";
  }
  return "hot";
}

std::string Hold::to_string() const {
  return (kind == Kind::kModel ? "model:" : "partition:") + target;
}

EpochMillis partition_day_end(uint32_t day) {
  const int64_t days = days_from_civil(day / 10000, day / 100 % 100, day % 100);
  return (days + 1) * kDayMs;
}

int64_t partition_age_days(uint32_t day, EpochMillis now) {
  const EpochMillis end = partition_day_end(day);
  if (now < end) return -1;
  return (now - end) / kDayMs;
}

std::string PartitionInfo::to_json() const {
  std::string out = "{\"partition\":";
  document::append_json_string(out, partition);
  out += ",\"tier\":\"" + std::string(tier_name(tier)) + "\"";
  out += ",\"records\":" + std::to_string(records);
  out += ",\"erased\":" + std::to_string(erased);
  out += ",\"bytes_on_disk\":" + std::to_string(bytes_on_disk);
  out += ",\"memtable_bytes\":" + std::to_string(memtable_bytes);
  out += ",\"raw_bytes\":" + std::to_string(raw_bytes);
  out += ",\"chain_bytes\":" + std::to_string(chain_bytes);
  out += ",\"compression_ratio\":";
  if (bytes_on_disk > 0 && memtable_bytes == 0) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f",
                  static_cast<double>(raw_bytes) / static_cast<double>(bytes_on_disk));
    out += buf;
  } else {
    out += "null";  // not all of it is in table files yet
  }
  out += std::string(",\"sealed\":") + (sealed ? "true" : "false");
  out += ",\"seals\":" + std::to_string(seals);
  out += ",\"head\":\"" + head + "\"";
  out += ",\"holds\":" + append_string_array(holds);
  return out + '}';
}

std::string EraseReport::to_json() const {
  std::string out = "{\"audit_id\":" + std::to_string(audit_id);
  out += ",\"predictions\":" + std::to_string(predictions);
  out += ",\"labels\":" + std::to_string(labels);
  out += ",\"dead_letters\":" + std::to_string(dead_letters);
  out += ",\"partitions\":" + append_string_array(partitions);
  return out + '}';
}

// Chain heads of a store written before 2026-12-02 are under 'H' day in the chain family: they
// move to meta (chain.h says why) in one synced batch, so a crash leaves each in one place.
Status Store::Impl::move_legacy_chain_heads() {
  rocksdb::WriteBatch wb;
  rocksdb::ReadOptions ro;
  const std::string end = "I";
  rocksdb::Slice upper(end);
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, chain));
  size_t moved = 0;
  for (it->Seek("H"); it->Valid(); it->Next()) {
    auto key = parse_chain_key(it->key().ToStringView());
    if (!key || key->kind != 'H') continue;  // not a head: left where it is
    (void)wb.Put(meta, head_key(key->day), it->value());
    (void)wb.Delete(chain, it->key());
    ++moved;
  }
  if (auto s = it->status(); !s.ok()) return from_rocksdb(s, "reading the chain heads to move");
  it.reset();
  if (wb.Count() == 0) return Status::ok();
  rocksdb::WriteOptions wo;  // while opening: the instance is new, so written directly
  wo.sync = true;
  if (auto w = db->Write(wo, &wb); !w.ok()) return from_rocksdb(w, "moving the chain heads");
  spdlog::info("store: moved {} chain heads to the meta family", moved);
  return Status::ok();
}

Status Store::Impl::load_state() {
  std::vector<uint32_t> days, orphans;  // orphans: chains of partitions dropped before their keys
  for (const auto& [day, cf] : partitions) days.push_back(day);
  if (auto s = move_legacy_chain_heads(); !s) return s;
  if (auto s = partition_states.load(*db, chain, meta, days, orphans); !s) return s;
  if (auto s = audit_log.load(); !s) return s;

  for (const auto& [day, st] : partition_states.all()) {
    if (st.tier == Tier::kHot) continue;
    auto cf = partitions.find(day);
    if (cf == partitions.end()) continue;  // chain keys of a dropped partition (cleaned below)
    if (auto applied = retention.apply_tier_options(cf->second, st.tier); !applied) {
      return applied;
    }
  }
  if (!orphans.empty()) {
    rocksdb::WriteBatch wb;
    for (uint32_t day : orphans) {
      for (char kind : {'L', 'S'}) {
        (void)wb.DeleteRange(chain, chain_prefix(kind, day), chain_prefix_end(kind, day));
      }
      (void)wb.Delete(meta, head_key(day));
      (void)wb.DeleteRange(by_time, time_index_day(day), time_index_day(day + 1));
      (void)wb.DeleteRange(field_index, time_index_day(day), time_index_day(day + 1));
      (void)wb.DeleteRange(blocks, time_index_day(day), time_index_day(day + 1));
    }
    rocksdb::WriteOptions wo;  // while opening: the instance is new, so written directly
    wo.sync = true;
    if (auto w = db->Write(wo, &wb); !w.ok()) return from_rocksdb(w, "removing dropped chains");
  }
  return Status::ok();
}

Status Store::Impl::admin_write(rocksdb::WriteBatch& wb, bool sync, std::string_view what) {
  if (db_failed.load()) {
    return Status::unavailable(std::string(what) +
                               ": the store is waiting to reopen after a "
                               "failed write");
  }
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  auto s = db->Write(wo, &wb);
  if (!s.ok()) {
    db_failed = true;  // the commit thread reopens the store once the disk takes writes
    commit.set_writable(false, s.ToString());
  }
  return from_rocksdb(s, what);
}

void Store::update_gauges() const {
  Impl& im = *impl_;
  if (im.memory_bytes == nullptr) return;
  uint64_t memtables = 0, readers = 0, cache = 0, pending = 0, running = 0;
  {
    std::shared_lock db_lock(im.db_mu);  // a reopen replaces the cache too
    if (!im.db) return;
    cache = im.cache ? im.cache->GetUsage() : 0;
    im.db->GetAggregatedIntProperty(rocksdb::DB::Properties::kSizeAllMemTables, &memtables);
    im.db->GetAggregatedIntProperty(rocksdb::DB::Properties::kEstimateTableReadersMem, &readers);
    im.db->GetAggregatedIntProperty(rocksdb::DB::Properties::kEstimatePendingCompactionBytes,
                                    &pending);
    im.db->GetIntProperty(rocksdb::DB::Properties::kNumRunningCompactions, &running);
  }
  im.memory_bytes->Add({{"kind", "memtables"}}).Set(static_cast<double>(memtables));
  im.memory_bytes->Add({{"kind", "block_cache"}}).Set(static_cast<double>(cache));
  im.memory_bytes->Add({{"kind", "table_readers"}}).Set(static_cast<double>(readers));
  im.compaction_pending_bytes->Set(static_cast<double>(pending));
  im.compactions_running->Set(static_cast<double>(running));
}

Result<MaintenanceReport> Store::run_maintenance() { return impl_->retention.pass(); }

Status Store::set_hold(const Hold& hold, bool on, std::string_view actor) {
  return impl_->retention.set_hold(hold, on, actor);
}

Result<std::vector<Hold>> Store::holds() const { return impl_->retention.holds(); }

Result<std::vector<PartitionInfo>> Store::partitions() const {
  std::shared_lock db_lock(impl_->db_mu);
  if (!impl_->db) return Status::unavailable("the store is reopening after a write failure");
  std::vector<PartitionInfo> out;
  const std::set<std::string> holds = impl_->retention.hold_names();  // one snapshot for the list
  const std::map<uint32_t, PartitionState> states = impl_->partition_states.all();
  std::shared_lock plock(impl_->partitions_mu);
  for (const auto& [day, cf] : impl_->partitions) {
    PartitionInfo info;
    info.partition = partition_name(day);
    rocksdb::ColumnFamilyMetaData m;
    impl_->db->GetColumnFamilyMetaData(cf, &m);
    info.bytes_on_disk = m.size;
    uint64_t mem = 0, active = 0, immutable = 0;
    // An empty memtable still has its arena: count bytes only when entries wait for a flush.
    if (impl_->db->GetIntProperty(cf, "rocksdb.num-entries-active-mem-table", &active) &&
        impl_->db->GetIntProperty(cf, "rocksdb.num-entries-imm-mem-tables", &immutable) &&
        active + immutable > 0 &&
        impl_->db->GetIntProperty(cf, "rocksdb.cur-size-all-mem-tables", &mem)) {
      info.memtable_bytes = mem;
    }
    {
      const std::string lo = chain_prefix('L', day), hi = chain_prefix_end('L', day);
      rocksdb::Range range(lo, hi);
      uint64_t size = 0;
      rocksdb::SizeApproximationOptions sao;
      sao.include_memtables = false;
      sao.include_files = true;
      if (impl_->db->GetApproximateSizes(sao, impl_->chain, &range, 1, &size).ok()) {
        info.chain_bytes = size;
      }
    }
    auto p = states.find(day);
    if (p != states.end()) {
      const PartitionState& st = p->second;
      info.tier = st.tier;
      info.records = st.chain.count;
      info.erased = st.chain.erased;
      info.raw_bytes = st.chain.raw_bytes;
      info.seals = st.seals;
      info.sealed = st.seals > 0 && st.sealed_count == st.chain.count;
      info.head = to_hex(st.chain.link);
    }
    static const std::set<std::string> kNoModels;
    info.holds = Retention::holds_in(holds, day, p != states.end() ? p->second.models : kNoModels);
    out.push_back(std::move(info));
  }
  return out;
}

Status Store::flush() {
  std::shared_lock db_lock(impl_->db_mu);
  if (!impl_->db) return Status::unavailable("the store is reopening after a write failure");
  return from_rocksdb(impl_->db->Flush(rocksdb::FlushOptions(), impl_->all_handles()), "flushing");
}

Status Store::settle() {
  if (auto s = flush(); !s) return s;
  // Bounded: a background error stops compactions and would leave one pending for ever.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(30);
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::shared_lock db_lock(impl_->db_mu);
      if (!impl_->db) return Status::unavailable("the store is reopening after a write failure");
      uint64_t pending = 0, running = 0;
      if (!impl_->db->GetAggregatedIntProperty("rocksdb.compaction-pending", &pending) ||
          !impl_->db->GetIntProperty("rocksdb.num-running-compactions", &running)) {
        return Status::internal("RocksDB does not report its compactions");
      }
      if (pending == 0 && running == 0) return Status::ok();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return Status::unavailable("compactions still pending after 30 minutes");
}

Result<std::vector<std::string>> Store::audit_trail(uint64_t from, size_t limit) const {
  return impl_->audit_log.read(from, limit);
}

}  // namespace verity::store
