#include "partition_states.h"

#include <cstring>

#include "database.h"
#include "verity/store/partition.h"

namespace verity::store {

namespace {

// Iterates the keys of `cf` in [begin, end).
template <class F>
Status scan_range(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf, const std::string& begin,
                  const std::string& end, F&& visit) {
  rocksdb::ReadOptions ro;
  rocksdb::Slice upper(end);
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(ro, cf));
  for (it->Seek(begin); it->Valid(); it->Next()) visit(it->key(), it->value());
  return from_rocksdb(it->status(), "scanning " + cf->GetName());
}

}  // namespace

std::optional<Tier> parse_tier(std::string_view s) {
  if (s == "hot") return Tier::kHot;
  if (s == "warm") return Tier::kWarm;
  if (s == "cold") return Tier::kCold;
  return std::nullopt;
}

Status PartitionStates::load(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* chain,
                             rocksdb::ColumnFamilyHandle* meta, const std::vector<uint32_t>& days,
                             std::vector<uint32_t>& orphans) {
  // Read into a map of its own, published whole: readers never see a half-loaded state.
  std::map<uint32_t, PartitionState> states;
  for (uint32_t day : days) states[day].chain = empty_chain(day);
  const std::string heads_end = std::string(kHeadPrefix, std::strlen(kHeadPrefix) - 1) + '0';
  auto s = scan_range(
      db, meta, kHeadPrefix, heads_end, [&](const rocksdb::Slice& k, const rocksdb::Slice& v) {
        auto day = parse_partition_name(k.ToStringView().substr(std::strlen(kHeadPrefix)));
        auto head = decode_head(v.ToStringView());
        if (!day || !head) return;  // verify reports it
        if (auto p = states.find(*day); p != states.end()) {
          p->second.chain = *head;
        } else {
          orphans.push_back(*day);
        }
      });
  if (!s) return s;
  s = scan_range(db, chain, "S", "T", [&](const rocksdb::Slice& k, const rocksdb::Slice& v) {
    auto key = parse_chain_key(k.ToStringView());
    auto seal = decode_seal(v.ToStringView());
    if (!key || !seal) return;
    if (auto p = states.find(key->day); p != states.end()) {
      p->second.seals = static_cast<uint32_t>(key->number) + 1;
      p->second.sealed_count = seal->count;
    }
  });
  if (!s) return s;
  s = scan_range(db, meta, kModelPrefix, "model0",
                 [&](const rocksdb::Slice& k, const rocksdb::Slice&) {
                   const std::string_view key = k.ToStringView().substr(6);  // p_YYYYMMDD/model
                   auto day = parse_partition_name(key.substr(0, 10));
                   if (day && key.size() > 11) {
                     if (auto p = states.find(*day); p != states.end())
                       p->second.models.emplace(key.substr(11));
                   }
                 });
  if (!s) return s;
  s = scan_range(db, meta, kTierPrefix, "tier0",
                 [&](const rocksdb::Slice& k, const rocksdb::Slice& v) {
                   auto day = parse_partition_name(k.ToStringView().substr(5));
                   auto tier = parse_tier(v.ToStringView());
                   if (day && tier) {
                     if (auto p = states.find(*day); p != states.end()) p->second.tier = *tier;
                   }
                 });
  if (!s) return s;
  std::lock_guard lock(mu_);
  states_ = std::move(states);
  return Status::ok();
}

void PartitionStates::clear() {
  std::lock_guard lock(mu_);
  states_.clear();
}

void PartitionStates::add(uint32_t day) {
  std::lock_guard lock(mu_);
  states_[day].chain = empty_chain(day);
}

void PartitionStates::forget(uint32_t day) {
  std::lock_guard lock(mu_);
  states_.erase(day);
}

std::optional<PartitionState> PartitionStates::get(uint32_t day) const {
  std::lock_guard lock(mu_);
  auto p = states_.find(day);
  if (p == states_.end()) return std::nullopt;
  return p->second;
}

std::map<uint32_t, PartitionState> PartitionStates::all() const {
  std::lock_guard lock(mu_);
  return states_;
}

ChainHead PartitionStates::chain(uint32_t day) const {
  std::lock_guard lock(mu_);
  auto p = states_.find(day);
  return p != states_.end() ? p->second.chain : empty_chain(day);
}

Tier PartitionStates::tier(uint32_t day) const {
  std::lock_guard lock(mu_);
  auto p = states_.find(day);
  return p != states_.end() ? p->second.tier : Tier::kHot;
}

bool PartitionStates::has_model(uint32_t day, std::string_view model) const {
  std::lock_guard lock(mu_);
  auto p = states_.find(day);
  return p != states_.end() && p->second.models.count(std::string(model)) > 0;
}

void PartitionStates::committed(const std::unordered_map<uint32_t, ChainHead>& heads,
                                const std::vector<std::pair<uint32_t, std::string>>& models) {
  std::lock_guard lock(mu_);
  for (const auto& [day, head] : heads) states_[day].chain = head;
  for (const auto& [day, model] : models) states_[day].models.insert(model);
}

void PartitionStates::erased(const std::map<uint32_t, ChainHead>& heads) {
  std::lock_guard lock(mu_);
  for (const auto& [day, head] : heads) {
    if (auto p = states_.find(day); p != states_.end()) p->second.chain = head;
  }
}

void PartitionStates::sealed(uint32_t day, uint32_t seals, uint64_t count) {
  std::lock_guard lock(mu_);
  auto& p = states_[day];
  p.seals = seals;
  p.sealed_count = count;
}

void PartitionStates::set_tier(uint32_t day, Tier tier) {
  std::lock_guard lock(mu_);
  states_[day].tier = tier;
}

}  // namespace verity::store
