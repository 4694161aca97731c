// Scans of stored predictions in (timestamp, request id) order, read through the time index
// (time_index.h): per slot of a day (10 minutes), one iterator per model version, merged.
#include <algorithm>
#include <array>
#include <compare>
#include <limits>
#include <memory>
#include <shared_mutex>
#include <unordered_map>
#include <vector>

#include "label_bundle.h"
#include "record_codec.h"
#include "search_keys.h"
#include "store_impl.h"
#include "time_index.h"
#include "verity/store/partition.h"
#include "verity/store/record_scan.h"

namespace verity::store {
namespace {

// One model version's entries of a slot, within the range. Held by pointer: the iterator reads
// its bounds from the strings and slices here.
struct Group {
  std::string block_prefix;  // the model version's time-index group (block summary keys)
  bool has_block = false;    // `block` (a block start) was looked at and may match
  EpochMillis block = 0;
  std::string lower, upper;
  rocksdb::Slice lower_bound, upper_bound;
  std::unique_ptr<rocksdb::Iterator> it;
  size_t prefix = 0;  // bytes of the group prefix in every key
  std::string_view suffix() const {
    const rocksdb::Slice k = it->key();
    return {k.data() + prefix, k.size() - prefix};
  }
  // The timestamp of the current entry (the suffix starts with it).
  EpochMillis time() const {
    return static_cast<EpochMillis>(get_be(suffix(), 8) ^ (uint64_t{1} << 63));
  }
};

// A slot of a day's time index (time_index.h): what a scan merges at a time.
struct Unit {
  uint32_t day = 0, slot = 0;
  auto operator<=>(const Unit&) const = default;
};

class TimeIndexScan final : public RecordScan {
 public:
  TimeIndexScan(const Store::Impl& impl, ScanRange range)
      : lock_(impl.db_mu), impl_(impl), range_(std::move(range)) {}
  ~TimeIndexScan() override {
    heap_.clear();
    groups_.clear();  // iterators before the snapshot
    probe_.reset();
    if (snapshot_ != nullptr && impl_.db) impl_.db->ReleaseSnapshot(snapshot_);
  }

  Status start() {
    if (!impl_.db) return Status::unavailable("the store is reopening after a write failure");
    dedupe_ = range_.terms.size() > 1;
    // The buffered summaries with the snapshot, under their locks: every record the snapshot
    // holds has its values in one of them or in the summaries the snapshot holds.
    buffered_ = impl_.summaries.view([&] { snapshot_ = impl_.db->GetSnapshot(); });
    if (range_.from_ms >= range_.to_ms) return Status::ok();
    // The slots of the range, in (day, slot) order; a page resuming after a position starts at
    // its slot (the earlier ones, or the later ones when descending, hold nothing after it).
    Unit first{utc_day(range_.from_ms), time_slot(range_.from_ms)};
    Unit last{utc_day(range_.to_ms - 1), time_slot(range_.to_ms - 1)};
    if (range_.after) {
      const Unit at{utc_day(range_.after->timestamp_ms), time_slot(range_.after->timestamp_ms)};
      if (range_.descending) {
        last = std::min(last, at);
      } else {
        first = std::max(first, at);
      }
    }
    std::shared_lock lock(impl_.partitions_mu);
    for (const auto& [day, cf] : impl_.partitions) {
      if (day < first.day || day > last.day) continue;
      const uint32_t from = day == first.day ? first.slot : 0;
      const uint32_t to = day == last.day ? last.slot : kTimeSlotsPerDay - 1;
      for (uint32_t slot = from; slot <= to; ++slot) units_.push_back({day, slot});
    }
    if (range_.descending) std::reverse(units_.begin(), units_.end());
    return Status::ok();
  }

  Result<const StoredRecord*> next() override {
    while (ready_ == filled_) {
      filled_ = 0;
      ready_ = 0;
      if (heap_.empty()) {
        if (next_unit_ >= units_.size()) return static_cast<const StoredRecord*>(nullptr);
        if (auto s = open_unit(units_[next_unit_++]); !s) return s;
        continue;
      }
      if (auto s = read_ahead(); !s) return s;
    }
    return static_cast<const StoredRecord*>(&buffer_[ready_++]);
  }

  const ScanStats& stats() const override { return stats_; }

  Result<std::optional<StoredRecord>> label(std::string_view request_id) override {
    std::string value;
    auto s = impl_.db->Get(read_options(), impl_.labels, request_id, &value);
    if (s.IsNotFound()) return std::optional<StoredRecord>();
    if (!s.ok()) return from_rocksdb(s, "reading labels");
    auto bundle = LabelBundle::decode(value);
    auto rec = bundle ? decode_record(bundle->current) : std::nullopt;
    if (!rec) return Status::internal("corrupt label record");
    rec->partition = kLabelsCf;
    return std::optional<StoredRecord>(std::move(*rec));
  }

 private:
  rocksdb::ReadOptions read_options() const {
    rocksdb::ReadOptions ro;
    ro.snapshot = snapshot_;
    return ro;
  }

  // Whether group a's current key comes after b's in scan order (the heap keeps the first on top).
  bool later(const Group* a, const Group* b) const {
    const int c = a->suffix().compare(b->suffix());
    return range_.descending ? c < 0 : c > 0;
  }
  void push(Group* g) {
    heap_.push_back(g);
    std::push_heap(heap_.begin(), heap_.end(), [this](Group* a, Group* b) { return later(a, b); });
  }
  Group* pop() {
    std::pop_heap(heap_.begin(), heap_.end(), [this](Group* a, Group* b) { return later(a, b); });
    Group* g = heap_.back();
    heap_.pop_back();
    return g;
  }

  // Takes the next entries of the day in scan order and reads their records with one MultiGet
  // (sorted block reads instead of one point read each).
  Status read_ahead() {
    // 256 records at a time, fewer when records are large: about 4 MiB of values per MultiGet,
    // judged by the records read so far (a scan of 1 MiB documents holds a few, not 256).
    constexpr size_t kAhead = 256, kAheadBytes = 4u << 20;
    const size_t average = stats_.records > 0 ? value_bytes_ / stats_.records : 0;
    const size_t ahead =
        average > 0 ? std::clamp<size_t>(kAheadBytes / std::max<size_t>(average, 1), 4, kAhead)
                    : 16;  // the first read of a scan: a few, to learn the size
    keys_.clear();
    while (keys_.size() < ahead && !heap_.empty()) {
      Group* g = pop();
      ++stats_.index_entries;
      const rocksdb::Slice value = g->it->value();
      if (value.size() < 8) return Status::internal("corrupt time-index entry");
      // Terms of one model version can lead to the same record (an array holding two of them):
      // the merge yields such entries one after the other.
      const bool repeat = dedupe_ && g->suffix() == last_suffix_;
      if (dedupe_ && !repeat) last_suffix_.assign(g->suffix());
      if (!repeat) keys_.emplace_back(value.data(), 8);  // the sequence key
      if (range_.descending) {
        g->it->Prev();
      } else {
        g->it->Next();
      }
      if (auto st = settle(*g); !st) return st;
      if (g->it->Valid()) {
        push(g);
      } else if (!g->it->status().ok()) {
        return from_rocksdb(g->it->status(), "reading the time index");
      }
    }
    std::vector<rocksdb::Slice> slices(keys_.begin(), keys_.end());
    std::vector<rocksdb::PinnableSlice> values(slices.size());
    std::vector<rocksdb::Status> statuses(slices.size());
    impl_.db->MultiGet(read_options(), day_cf_, slices.size(), slices.data(), values.data(),
                       statuses.data(), false);
    for (size_t i = 0; i < slices.size(); ++i) {
      if (statuses[i].IsNotFound()) {
        ++stats_.missing;
        continue;
      }
      if (!statuses[i].ok()) {
        return from_rocksdb(statuses[i], "reading partition " + partition_name(day_));
      }
      ++stats_.records;
      value_bytes_ += values[i].size();
      // Decoded into the records of earlier rounds: their strings' memory is reused.
      if (filled_ == buffer_.size()) buffer_.emplace_back();
      StoredRecord& rec = buffer_[filled_];
      if (!decode_record_into({values[i].data(), values[i].size()}, rec, false)) {
        return Status::internal("corrupt record at sequence " +
                                std::to_string(get_be(keys_[i], 8)));
      }
      rec.partition = day_name_;
      ++filled_;
    }
    return Status::ok();
  }

  // Finds the slot's model versions in range (skipping from one group to the next), and
  // positions one iterator per group at the start of the range.
  Status open_unit(Unit unit) {
    const uint32_t day = unit.day;
    heap_.clear();
    groups_.clear();  // the previous slot's, all exhausted
    blocks_seen_.clear();
    if (day != day_ || day_name_.empty()) {
      day_ = day;
      day_name_ = partition_name(day);
      day_cf_ = impl_.find_partition(day);
      if (day_cf_ != nullptr) ++stats_.partitions;
    }
    if (day_cf_ == nullptr) return Status::ok();  // dropped since the scan started
    ++stats_.slots;
    const std::string scope =
        range_.model
            ? (range_.version ? time_index_group(day, unit.slot, *range_.model, *range_.version)
                              : model_scope(day, unit.slot, *range_.model))
            : time_index_slot(day, unit.slot);
    const std::string scope_end = prefix_successor(scope);
    // One probe for the whole scan: a slot is mostly one or two seeks.
    if (!probe_) probe_.reset(impl_.db->NewIterator(read_options(), impl_.by_time));
    rocksdb::Iterator* probe = probe_.get();
    probe->Seek(scope);
    if (!range_.descending) skip_empty_units(*probe);
    while (probe->Valid()) {
      const rocksdb::Slice raw = probe->key();
      const std::string_view k(raw.data(), raw.size());
      if (k.compare(0, scope.size(), scope) != 0) break;
      TimeIndexKey key;
      if (!parse_time_index_key(k, key)) return Status::internal("corrupt time-index key");
      const std::string prefix(k.substr(0, key.group_size));
      if (!range_.version || key.version == *range_.version) {
        // One iterator per model version of the day (per term with the field index): a bound, as
        // names come from documents.
        const bool by_terms = use_terms(key.model);
        if (groups_.size() + (by_terms ? range_.terms.size() : 1) > kMaxGroups) {
          return Status::resource_exhausted("more than " + std::to_string(kMaxGroups) +
                                            " model versions on " + day_name_ +
                                            ": name a model (and a version) to search it");
        }
        // Counted when something of the version is in the range: `groups` are model versions,
        // `term_ranges` their (version, term) ranges.
        const size_t before = groups_.size();
        if (by_terms) {
          for (const IndexTerm& t : range_.terms) {
            std::string term_prefix = prefix;
            append_term(term_prefix, t.field, t.token);
            const size_t had = groups_.size();
            if (auto s = add_group(impl_.field_index, term_prefix, prefix); !s) return s;
            stats_.term_ranges += groups_.size() - had;
          }
          if (groups_.size() > before) ++stats_.term_groups;
        } else {
          if (auto s = add_group(impl_.by_time, prefix, prefix); !s) return s;
        }
        if (groups_.size() > before) ++stats_.groups;
      }
      const std::string past = prefix_successor(prefix);
      if (past.empty() || (!scope_end.empty() && past >= scope_end)) break;
      probe->Seek(past);
    }
    if (!probe->status().ok()) return from_rocksdb(probe->status(), "reading the time index");
    return Status::ok();
  }

  // Ascending, the probe sits on the first key at or after the slot's scope: the slots between
  // this one and the one that key is in hold no key at all, so the scan goes on from that one (and
  // with no key left, it ends). A sparse model costs a seek per slot holding something, not one
  // per 10 minutes of the range.
  void skip_empty_units(const rocksdb::Iterator& probe) {
    Unit landed{std::numeric_limits<uint32_t>::max(), kTimeSlotsPerDay};
    if (probe.Valid()) {
      const rocksdb::Slice k = probe.key();
      if (k.size() < 5) return;
      landed = {static_cast<uint32_t>(get_be({k.data(), 4}, 4)),
                static_cast<uint32_t>(static_cast<uint8_t>(k[4]))};
    } else if (!probe.status().ok()) {
      return;  // the caller reports it
    }
    while (next_unit_ < units_.size() && units_[next_unit_] < landed) ++next_unit_;
  }

  // The group prefix shared by every version of `model` in a slot: day | slot | varint-len model |
  // model.
  static std::string model_scope(uint32_t day, uint32_t slot, std::string_view model) {
    std::string k = time_index_slot(day, slot);
    put_varint(k, model.size());
    k.append(model);
    return k;
  }

  // Whether the versions of `model` are read through the field index.
  bool use_terms(std::string_view model) const {
    if (range_.terms.empty() || !impl_.options.indexer) return false;
    for (const IndexTerm& t : range_.terms) {
      if (!impl_.options.indexer->indexes(model, t.field)) return false;
    }
    return true;
  }

  // Moves `g` past the blocks whose summary rules them out (ScanRange::may_match).
  Status settle(Group& g) {
    if (!range_.may_match || !impl_.options.indexer || !impl_.options.indexer->summarizes()) {
      return Status::ok();
    }
    while (g.it->Valid()) {
      const EpochMillis b = block_start(g.time());
      if (g.has_block && g.block == b) return Status::ok();
      auto may = block_may_match(g.block_prefix, b);
      if (!may) return may.status();
      if (*may) {
        g.has_block = true;
        g.block = b;
        return Status::ok();
      }
      std::string at(g.it->key().data(), g.prefix);
      if (range_.descending) {
        put_time(at, b);
        g.it->SeekForPrev(at);  // before every key of the block (they hold a request id after)
      } else {
        put_time(at, b + BlockSummary::kBlockMillis);
        g.it->Seek(at);
      }
    }
    if (!g.it->status().ok()) return from_rocksdb(g.it->status(), "reading the search index");
    return Status::ok();
  }

  // Whether the block of a model version (its time-index group) starting at `start` may hold a
  // record the caller wants. Asked once per block and scan.
  Result<bool> block_may_match(const std::string& version_prefix, EpochMillis start) {
    std::string key = version_prefix;
    put_time(key, start);
    if (auto it = blocks_seen_.find(key); it != blocks_seen_.end()) return it->second;
    // Each record's values are wholly in one summary: the written one or a buffered one. The
    // block may match when one of them says so; with none at all it is read.
    std::string value;
    auto s = impl_.db->Get(read_options(), impl_.blocks, key, &value);
    bool may = false, any = false;
    if (s.ok()) {
      any = true;
      auto summary = BlockSummary::decode(value);
      may = !summary || range_.may_match(*summary);  // unreadable: read the block
    } else if (!s.IsNotFound()) {
      return from_rocksdb(s, "reading the block summaries");
    }
    if (!may) {
      impl_.summaries.find(buffered_, key, [&](const BlockSummary& summary) {
        any = true;
        may = range_.may_match(summary);
        return !may;
      });
    }
    if (!any) may = true;
    ++(may ? stats_.blocks_read : stats_.blocks_skipped);
    blocks_seen_.emplace(std::move(key), may);
    return may;
  }

  Status add_group(rocksdb::ColumnFamilyHandle* cf, const std::string& prefix,
                   const std::string& version_prefix) {
    auto owned = std::make_unique<Group>();
    Group& h = *owned;
    h.block_prefix = version_prefix;
    h.prefix = prefix.size();
    h.lower = prefix;
    put_time(h.lower, range_.from_ms);
    h.upper = prefix;
    if (range_.to_ms == std::numeric_limits<EpochMillis>::max()) {
      h.upper = prefix_successor(prefix);
    } else {
      put_time(h.upper, range_.to_ms);
    }
    h.lower_bound = rocksdb::Slice(h.lower);
    h.upper_bound = rocksdb::Slice(h.upper);
    auto ro = read_options();
    ro.iterate_lower_bound = &h.lower_bound;
    if (!h.upper.empty()) ro.iterate_upper_bound = &h.upper_bound;
    h.it.reset(impl_.db->NewIterator(ro, cf));
    if (range_.after) {
      std::string at = prefix;
      put_time(at, range_.after->timestamp_ms);
      at += range_.after->request_id;
      if (range_.descending) {
        h.it->SeekForPrev(at);
        if (h.it->Valid() && h.it->key() == rocksdb::Slice(at)) h.it->Prev();
      } else {
        h.it->Seek(at);
        if (h.it->Valid() && h.it->key() == rocksdb::Slice(at)) h.it->Next();
      }
    } else if (range_.descending) {
      h.it->SeekToLast();
    } else {
      h.it->SeekToFirst();
    }
    if (auto st = settle(h); !st) return st;
    if (!h.it->Valid()) {
      if (!h.it->status().ok()) return from_rocksdb(h.it->status(), "reading the time index");
      return Status::ok();
    }
    push(owned.get());
    groups_.push_back(std::move(owned));
    return Status::ok();
  }

  std::shared_lock<std::shared_mutex> lock_;
  const Store::Impl& impl_;
  ScanRange range_;
  const rocksdb::Snapshot* snapshot_ = nullptr;
  std::vector<Unit> units_;  // the slots of the range, in scan order
  size_t next_unit_ = 0;
  std::unique_ptr<rocksdb::Iterator> probe_;  // finds a slot's groups in the time index
  uint32_t day_ = 0;
  std::string day_name_;
  uint64_t value_bytes_ = 0;  // of the records read so far (sizes read-ahead)
  static constexpr size_t kMaxGroups = 4096;
  rocksdb::ColumnFamilyHandle* day_cf_ = nullptr;
  std::vector<std::unique_ptr<Group>> groups_;  // the slot's groups (owned)
  std::vector<Group*> heap_;                    // those with entries left, first on top
  std::vector<std::string> keys_;               // read_ahead's sequence keys
  std::vector<StoredRecord> buffer_;  // records read ahead, in scan order (kept: memory reused)
  size_t filled_ = 0;                 // buffer_[0, filled_) hold this round's records
  bool dedupe_ = false;               // several terms: one record may be reached twice
  std::string last_suffix_;           // the last entry taken, when dedupe_
  std::unordered_map<std::string, bool> blocks_seen_;  // this slot's block key -> may match
  // Each shard's buffered summaries (being added to, being written) as of the snapshot.
  SummaryBuffer::View buffered_;
  size_t ready_ = 0;  // buffer_[ready_] is the next to return
  ScanStats stats_;
};

}  // namespace

Result<std::unique_ptr<RecordScan>> Store::scan(const ScanRange& range) const {
  auto s = std::make_unique<TimeIndexScan>(*impl_, range);
  if (auto st = s->start(); !st) return st;
  return std::unique_ptr<RecordScan>(std::move(s));
}

}  // namespace verity::store
