#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include <boost/unordered/unordered_flat_map.hpp>
#include <utility>
#include <vector>

#include "verity/core/event.h"
#include "verity/core/time_format.h"

namespace verity::store {

constexpr uint32_t kMaxAggregateBin = 999'999'999;  // the largest bin of a packed item: nine digits

// Keys a contributor adds together: "<name>\x1f<suffix>" for each of a few fixed names, with a
// suffix known only when adding (the class pair of a score, say). A sum numbers a family's keys
// once per suffix (AggregateKeys::family), not once per key and addition. Families are made once
// (static): each gets a process-unique id.
class KeyFamily {
 public:
  explicit KeyFamily(std::vector<std::string> names);
  KeyFamily(const KeyFamily&) = delete;
  KeyFamily& operator=(const KeyFamily&) = delete;
  uint32_t id() const { return id_; }
  size_t size() const { return names_.size(); }
  std::string_view name(size_t i) const { return names_[i]; }
  // "<name(i)>\x1f<suffix>", into `out`.
  void key(size_t i, std::string_view suffix, std::string& out) const;

 private:
  uint32_t id_;
  std::vector<std::string> names_;
};

// One value added to a family's key: to key `name` (an index of the family's names) as a
// scalar, or to bin `bin` of it as add_bin does.
struct FamilyValue {
  uint32_t name = 0;
  bool is_bin = false;
  uint32_t bin = 0;
  double value = 0;
};

// Where contributions are added: a key and a value (rounded to the fixed point Aggregate uses).
class AggregateSink {
 public:
  virtual void add(std::string_view key, double value) = 0;
  // Adds to bin `bin` of the histogram `stem`: the entry "<stem>\x1f<bin>", which the packed
  // encoding keeps with the stem's other bins (up to kMaxAggregateBin; a larger one is a key of its
  // own). A sum adds it without writing the key.
  virtual void add_bin(std::string_view stem, uint32_t bin, double value);
  // Adds each value to its key of `family` with `suffix`: the same entries as add() (a scalar)
  // or add_bin() (a bin) of the whole key, "<name>\x1f<suffix>". A sum numbers the family's keys
  // once per suffix.
  virtual void add_family(const KeyFamily& family, std::string_view suffix,
                          std::span<const FamilyValue> values);

 protected:
  ~AggregateSink() = default;
};

// A sum map: named counters and sums, kept sorted by name. Model-quality aggregates are sum
// maps, so adding two buckets, a correction (a contribution added with sign -1), or a RocksDB
// merge operand is one operation: add(). Values are kept in 128-bit fixed point with 2^-40 units
// (each added value is rounded to a multiple of about 9.1e-13): integer arithmetic is associative,
// so neither the order RocksDB merges operands in, nor a restart, nor a correction changes a sum by
// a single bit. Counts are exact.
class Aggregate final : public AggregateSink {
 public:
  using Fixed = __int128;
  static Fixed to_fixed(double v);
  static double to_double(Fixed f);

  void add(std::string_view key, double value) override;
  void add(const Aggregate& other, int sign = 1);
  double get(std::string_view key) const;
  bool empty() const { return entries_.empty(); }
  size_t size() const { return entries_.size(); }
  // The heap it holds, roughly (entries and keys too long for the small-string buffer).
  size_t memory_bytes() const {
    size_t n = entries_.capacity() * sizeof(entries_[0]);
    for (const auto& e : entries_) n += e.first.size() > 15 ? e.first.capacity() + 1 : 0;
    return n;
  }
  template <typename F>  // f(const std::string& key, double value)
  void for_each(F&& f) const {
    for (const auto& [k, v] : entries_) f(k, to_double(v));
  }
  template <typename F>  // f(const std::string& key, Fixed value)
  void for_each_fixed(F&& f) const {
    for (const auto& [k, v] : entries_) f(k, v);
  }
  // From unsorted, unique keys.
  static Aggregate from_entries(std::vector<std::pair<std::string, Fixed>> entries);

  // The second encoding ("v2"; entries that sum to exactly 0 are dropped, and an empty aggregate
  // is one zero byte):
  //   "\0\2" | varint item count | item*, items sorted by (stem, scalar before packed)
  //   item:   varint stem length | stem | tag byte | ...
  //     tag 0 | zigzag varint of the fixed-point value            (a scalar: the key is the stem)
  //     tag 1 | zigzag varint of the value / 2^40 (a whole number: counts)
  //     tag 2 | varint bin count | (varint (bin - previous bin) << 1 | whole | zigzag varint)*
  // A key "<stem>\x1f<decimal>" (0, or no leading zero, at most 9 digits) is bin <decimal> of its
  // stem's packed item (tag 2), any other key a scalar: a score histogram of a class pair is one
  // item of ~2 bytes per bin, not one entry of ~40. The first encoding (varint count | (varint key
  // length | key | 16-byte little-endian two's-complement value)*, sorted by key; written before
  // 2026-12-04) is still read: "\0\2..." cannot be one (a count of 0 is followed by nothing).
  std::string encode() const;
  static std::optional<Aggregate> decode(std::string_view bytes);

 private:
  std::vector<std::pair<std::string, Fixed>> entries_;  // sorted by key, unique
};

// One encoded Aggregate to sum, times its sign (+1 or -1).
struct EncodedTerm {
  std::string_view bytes;
  int sign = 1;
};

// Sums encoded Aggregates into the encoding of their sum: the same bytes as adding each to an
// AggregateSum and encoding that, in one merge pass over their sorted items and bins (no hashing,
// no copy of a stem but into the output; terms in the first encoding are encoded again first, and
// more than 16 terms are summed 16 at a time). The merge operator's and the rollups' way to sum
// stored operands. False, with `out` unspecified, when a term is not an Aggregate.
bool sum_encoded(std::span<const EncodedTerm> terms, std::string& out);

// Whether `key` is a bin of a packed item ("<stem>\x1f<decimal>", the decimal 0 or without a
// leading zero, at most 9 digits), and which.
bool split_bin(std::string_view key, std::string_view& stem, uint32_t& bin);

// A numbering of the keys and histogram stems of aggregates, which sums can share
// (AggregateSum): a key met once is hashed and copied once, however many sums hold it (a batch's
// sums per model, version and minute share one; a label's join adds ~40 entries, nearly all of
// them to a minute no other label of its batch touches). Numbers are dense, from 0, in order of
// first use. One thread at a time.
class AggregateKeys {
 public:
  AggregateKeys() = default;
  AggregateKeys(const AggregateKeys&) = delete;
  AggregateKeys& operator=(const AggregateKeys&) = delete;

  uint32_t number(std::string_view key) {
    auto it = numbers_.find(key);
    if (it != numbers_.end()) return it->second;
    const auto n = static_cast<uint32_t>(texts_.size());
    texts_.emplace_back(key);
    numbers_.emplace(texts_.back(), n);
    return n;
  }
  std::string_view text(uint32_t n) const { return texts_[n]; }
  size_t size() const { return texts_.size(); }
  // The entries of `family`'s keys with `suffix`, two per name: at 2i, name i's key as a scalar
  // (AggregateSum's entry: a key that has a bin's shape is that bin of its stem); at 2i + 1, the
  // key's number << 32, to which a bin + 1 is added. Worked out once per family and suffix; the
  // pointer is valid until the next call.
  const uint64_t* family(const KeyFamily& family, std::string_view suffix);
  // The key numbered n has rank ranks()[n] in the keys' byte order, and by_rank()[r] is the
  // number of rank r. Worked out again when keys were numbered since the last call.
  const std::vector<uint32_t>& ranks() const {
    rank();
    return ranks_;
  }
  const std::vector<uint32_t>& by_rank() const {
    rank();
    return by_rank_;
  }

 private:
  void rank() const;
  struct Hash {
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  boost::unordered_flat_map<std::string_view, uint32_t, Hash> numbers_;  // views of texts_
  std::deque<std::string> texts_;  // by number (a deque: the views stay valid as it grows)
  // family(): (family id, 4 bytes | suffix) -> the offset of its entries in family_entries_.
  boost::unordered_flat_map<std::string, uint32_t, Hash> families_;
  std::vector<uint64_t> family_entries_;
  std::string family_key_;  // reused
  mutable std::vector<uint32_t> ranks_, by_rank_;
};

// Adds many aggregates (one flat hash map of integers: no re-sorting per addition), then yields
// their sum. As a sink, contributions are added in place: a key already present costs a hash
// lookup of its number and no allocation; a histogram bin is kept as (stem number, bin), so its
// key is neither written nor parsed again when the sum is encoded. Keys are numbered in its own
// AggregateKeys, or in one it shares with other sums. Moved between threads as a batch's sums (no
// sorting until it is encoded).
class AggregateSum final : public AggregateSink {
 public:
  AggregateSum() = default;
  // A sum numbering its keys in `keys`, which must outlive it (and be used by one thread).
  explicit AggregateSum(AggregateKeys& keys) : keys_(&keys) {}

  void add(std::string_view key, double value) override {
    add_fixed(key, Aggregate::to_fixed(value), 1);
  }
  void add_bin(std::string_view stem, uint32_t bin, double value) override {
    if (bin > kMaxAggregateBin) return AggregateSink::add_bin(stem, bin, value);  // a scalar's key
    add_to(entries_[entry(keys().number(stem), bin + 1)], Aggregate::to_fixed(value), 1);
  }
  void add_family(const KeyFamily& family, std::string_view suffix,
                  std::span<const FamilyValue> values) override;
  void add(const Aggregate& a, int sign = 1) {
    a.for_each_fixed([&](const std::string& k, Aggregate::Fixed v) { add_fixed(k, v, sign); });
  }
  void add(const AggregateSum& other, int sign = 1);
  // Adds an encoded Aggregate without decoding it into one (no allocation per known key).
  // False when the bytes are not an Aggregate: the entries before the malformation have been
  // added then, so a caller discards the sum (a merge fails, a read reports the corruption).
  bool add_encoded(std::string_view bytes, int sign = 1);
  bool empty() const { return entries_.empty(); }
  size_t size() const { return entries_.size(); }
  // The sum; entries that summed to exactly 0 are left out (as encode() does).
  Aggregate result() const;
  // The same bytes as result().encode(), without copying the keys.
  std::string encode() const;

 private:
  // sum += sign * v in two's complement: a corrupt stored value sums to garbage, never to UB.
  static void add_to(Aggregate::Fixed& sum, Aggregate::Fixed v, int sign) {
    using U = unsigned __int128;
    sum = static_cast<Aggregate::Fixed>(static_cast<U>(sum) +
                                        static_cast<U>(v) * static_cast<U>(Aggregate::Fixed{sign}));
  }
  // An entry's slot: its key's number << 32 | 0 for a scalar, or its stem's number << 32 | bin + 1
  // for a bin (so that in a stem's rank order a scalar comes first and bins ascend, as encoded).
  static uint64_t entry(uint32_t number, uint32_t low) { return uint64_t{number} << 32 | low; }
  // A key's entry: a bin's among its stem's bins, any other key's as a scalar.
  void add_fixed(std::string_view key, Aggregate::Fixed v, int sign) {
    std::string_view stem;
    uint32_t bin = 0;
    const bool is_bin = split_bin(key, stem, bin);
    add_to(entries_[is_bin ? entry(keys().number(stem), bin + 1) : entry(keys().number(key), 0)], v,
           sign);
  }
  AggregateKeys& keys() {
    if (keys_ == nullptr) {
      own_ = std::make_unique<AggregateKeys>();
      keys_ = own_.get();
    }
    return *keys_;
  }
  boost::unordered_flat_map<uint64_t, Aggregate::Fixed> entries_;  // by entry()
  std::unique_ptr<AggregateKeys> own_;  // the numbering when none is shared (made on first use)
  AggregateKeys* keys_ = nullptr;
};

// A prediction or a label as the join sees it: the record's metadata and document, and what the
// decoder read of the document's fields (ObservedFields: its `mapping` is null, or the pointer
// is, when there is nothing to read there, such as for a record read back from the store).
struct JoinSide {
  std::string_view model;
  std::string_view version;
  EpochMillis time_ms = 0;  // prediction time, or label time
  std::string_view document;
  const ObservedFields* observed = nullptr;
};

// What predictions and joined labels contribute to a model's aggregates. Implemented outside the
// store (quality/contributor.h knows the field mapping and per-model config). The store calls it
// where a batch is prepared (the submitting thread) and on its commit thread, and writes what it
// returns inside the commit group that stores the prediction or label, so a contribution is
// written exactly when its record is: a replay, a restart or a crash never counts anything twice.
// Implementations must be deterministic (a correction subtracts what the same call returns later
// for the old pair, so the rule may not change for pairs already joined) and thread-safe.
class Contributor {
 public:
  virtual ~Contributor() = default;
  // What a newly stored prediction contributes on its own (counts, confidence, data quality),
  // added to `out` (the batch's sum for the prediction's minute, or one Aggregate).
  virtual void prediction(const JoinSide& prediction, AggregateSink& out) const = 0;
  // What a (prediction, label) pair contributes, added to `out` (the batch's sum for the
  // prediction's minute, or one Aggregate); the store adds it with sign +1 when the label joins
  // and -1 when a correction replaces it (or a planned join turns out not to happen). Reads the
  // documents, never `observed`: the store may compute a pair again on another thread.
  virtual void join(const JoinSide& prediction, const JoinSide& label,
                    AggregateSink& out) const = 0;
};

// Label-join counters, persisted with the aggregates (a restart changes none of them).
struct LabelCounts {
  uint64_t joined = 0;       // labels joined to their prediction (first label of a request id)
  uint64_t corrections = 0;  // a different label replaced a joined one
  uint64_t pending = 0;      // labels waiting for their prediction now
  uint64_t orphaned = 0;     // labels that waited labels.max_wait without their prediction
  uint64_t late_joins = 0;   // orphaned labels whose prediction arrived after all
};

// A model version as the aggregates know it.
struct ModelVersionInfo {
  std::string model;
  std::string version;
  EpochMillis first_ms = 0;  // earliest and latest prediction time seen
  EpochMillis last_ms = 0;
};

}  // namespace verity::store
