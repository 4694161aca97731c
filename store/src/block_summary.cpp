// Block summaries (search_index.h) and the merge operator of the "blocks" family.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include <rocksdb/merge_operator.h>

#include "record_codec.h"
#include "search_keys.h"
#include "verity/store/search_index.h"

namespace verity::store {

uint64_t BlockSummary::string_hash(std::string_view s) {
  uint64_t h = 14695981039346656037ull;
  for (const unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

BlockSummary::Field* BlockSummary::slot(std::string_view path) {
  if (!complete_) return nullptr;
  if (path.size() > kMaxPathBytes) {
    overflow();
    return nullptr;
  }
  const size_t at = memo_.at;
  if (at < memo_.entries.size() && memo_.entries[at]->first == path) {
    ++memo_.at;
    return &memo_.entries[at]->second;
  }
  auto it = fields_.find(path);
  if (it == fields_.end()) {
    if (fields_.size() >= kMaxPaths) {
      overflow();
      return nullptr;
    }
    // An insertion may move every entry (a rehash): the memo starts again from this leaf.
    it = fields_.emplace(std::string(path), Field{}).first;
    memo_.clear();
  }
  // Remembered at this position (after a clear, positions count from here: the next record
  // realigns them). memo_.at never passes the entries' size.
  if (memo_.at < memo_.entries.size()) {
    memo_.entries[memo_.at++] = &*it;
  } else if (memo_.entries.size() < kMaxPaths) {
    memo_.entries.push_back(&*it);
    ++memo_.at;
  }
  return &it->second;
}

void BlockSummary::overflow() {
  complete_ = false;
  fields_.clear();  // a summary that knows nothing needs no paths
  memo_.clear();
}

void BlockSummary::give_up() { overflow(); }

void BlockSummary::add_string(std::string_view path, std::string_view s) {
  Field* f = slot(path);
  if (f == nullptr) return;
  f->kinds |= kString;
  if (f->many_strings) return;
  const uint64_t h = string_hash(s);
  auto at = std::lower_bound(f->strings.begin(), f->strings.end(), h);
  if (at != f->strings.end() && *at == h) return;
  if (f->strings.size() >= kMaxStrings) {
    f->many_strings = true;
    f->strings.clear();
    return;
  }
  f->strings.insert(at, h);
}

void BlockSummary::add_number(std::string_view path, double x) {
  // A NaN is no number: it leaves no path behind (a path without kinds would not decode).
  if (std::isnan(x)) return;
  Field* f = slot(path);
  if (f == nullptr) return;
  if (!(f->kinds & kNumber)) {
    f->min = f->max = x;
  } else {
    f->min = std::min(f->min, x);
    f->max = std::max(f->max, x);
  }
  f->kinds |= kNumber;
}

void BlockSummary::add_bool(std::string_view path, bool b) {
  if (Field* f = slot(path)) f->kinds |= b ? kTrue : kFalse;
}

void BlockSummary::add_null(std::string_view path) {
  if (Field* f = slot(path)) f->kinds |= kNull;
}

void BlockSummary::merge(const BlockSummary& other) {
  records_ += other.records_;
  if (!complete_) return;
  if (!other.complete_) {
    overflow();
    return;
  }
  for (const auto& [path, o] : other.fields_) {
    Field* f = slot(path);
    if (f == nullptr) return;  // past kMaxPaths: the summary knows nothing now
    if (o.kinds & kNumber) {
      if (!(f->kinds & kNumber)) {
        f->min = o.min;
        f->max = o.max;
      } else {
        f->min = std::min(f->min, o.min);
        f->max = std::max(f->max, o.max);
      }
    }
    f->kinds |= o.kinds;
    if (f->many_strings) continue;
    if (o.many_strings) {
      f->many_strings = true;
      f->strings.clear();
      continue;
    }
    std::vector<uint64_t> both;
    both.reserve(f->strings.size() + o.strings.size());
    std::set_union(f->strings.begin(), f->strings.end(), o.strings.begin(), o.strings.end(),
                   std::back_inserter(both));
    if (both.size() > kMaxStrings) {
      f->many_strings = true;
      f->strings.clear();
    } else {
      f->strings = std::move(both);
    }
  }
}

namespace {

constexpr uint8_t kFormat = 1;
constexpr uint8_t kManyStrings = 0x80;  // in a field's kinds byte, stored only

void put_double(std::string& out, double x) { put_be(out, std::bit_cast<uint64_t>(x), 8); }

bool get_u8(std::string_view& in, uint8_t& v) {
  if (in.empty()) return false;
  v = static_cast<uint8_t>(in[0]);
  in.remove_prefix(1);
  return true;
}

bool get_u64(std::string_view& in, uint64_t& v) {
  if (in.size() < 8) return false;
  v = get_be(in, 8);
  in.remove_prefix(8);
  return true;
}

}  // namespace

// format | flags (1: complete) | varint records | varint paths, then per path (in order):
// varint-len path | kinds (| 0x80: many strings) | [min, max: f64 BE bits] | [varint n, n x u64 BE]
std::string BlockSummary::encode() const {
  std::string out;
  out += static_cast<char>(kFormat);
  out += static_cast<char>(complete_ ? 1 : 0);
  put_varint(out, records_);
  put_varint(out, fields_.size());
  std::vector<const Fields::value_type*> sorted;
  sorted.reserve(fields_.size());
  for (const auto& entry : fields_) sorted.push_back(&entry);
  std::sort(sorted.begin(), sorted.end(),
            [](const auto* a, const auto* b) { return a->first < b->first; });
  for (const auto* entry : sorted) {
    const std::string& path = entry->first;
    const Field& f = entry->second;
    put_varint(out, path.size());
    out += path;
    out += static_cast<char>(f.kinds | (f.many_strings ? kManyStrings : 0));
    if (f.kinds & kNumber) {
      put_double(out, f.min);
      put_double(out, f.max);
    }
    if ((f.kinds & kString) && !f.many_strings) {
      put_varint(out, f.strings.size());
      for (const uint64_t h : f.strings) put_be(out, h, 8);
    }
  }
  return out;
}

std::optional<BlockSummary> BlockSummary::decode(std::string_view in) {
  BlockSummary s;
  uint8_t format = 0, flags = 0;
  uint64_t paths = 0;
  if (!get_u8(in, format) || format != kFormat || !get_u8(in, flags) || flags > 1 ||
      !get_varint(in, s.records_) || !get_varint(in, paths) || paths > kMaxPaths) {
    return std::nullopt;
  }
  s.complete_ = flags == 1;
  if (!s.complete_ && paths != 0) return std::nullopt;
  std::string_view previous;
  for (uint64_t i = 0; i < paths; ++i) {
    uint64_t len = 0;
    if (!get_varint(in, len) || len > kMaxPathBytes || len > in.size()) return std::nullopt;
    const std::string_view path = in.substr(0, len);
    in.remove_prefix(len);
    if (i > 0 && path <= previous) return std::nullopt;  // sorted, distinct
    previous = path;
    uint8_t kinds = 0;
    if (!get_u8(in, kinds)) return std::nullopt;
    Field f;
    f.many_strings = (kinds & kManyStrings) != 0;
    f.kinds = kinds & ~kManyStrings;
    if (f.kinds == 0 || f.kinds > 31 || (f.many_strings && !(f.kinds & kString))) {
      return std::nullopt;
    }
    if (f.kinds & kNumber) {
      uint64_t lo = 0, hi = 0;
      if (!get_u64(in, lo) || !get_u64(in, hi)) return std::nullopt;
      f.min = std::bit_cast<double>(lo);
      f.max = std::bit_cast<double>(hi);
      if (std::isnan(f.min) || std::isnan(f.max) || f.min > f.max) return std::nullopt;
    }
    if ((f.kinds & kString) && !f.many_strings) {
      uint64_t n = 0;
      if (!get_varint(in, n) || n > kMaxStrings || n * 8 > in.size()) return std::nullopt;
      for (uint64_t j = 0; j < n; ++j) {
        uint64_t h = 0;
        (void)get_u64(in, h);
        if (!f.strings.empty() && h <= f.strings.back()) return std::nullopt;
        f.strings.push_back(h);
      }
    }
    s.fields_.emplace(std::string(path), std::move(f));
  }
  if (!in.empty()) return std::nullopt;
  return s;
}

const BlockSummary::Field* BlockSummary::field(std::string_view path) const {
  auto it = fields_.find(path);
  return it == fields_.end() ? nullptr : &it->second;
}

bool BlockSummary::has_value_below(std::string_view path) const {
  for (const auto& [p, f] : fields_) {
    if (p.size() > path.size() && p[path.size()] == '.' && p.compare(0, path.size(), path) == 0 &&
        (f.kinds & ~kNull)) {
      return true;
    }
  }
  return false;
}

bool BlockSummary::may_hold_string(const Field& f, std::string_view s) {
  if (!(f.kinds & kString)) return false;
  if (f.many_strings) return true;
  return std::binary_search(f.strings.begin(), f.strings.end(), string_hash(s));
}

namespace {

// Merges block summaries. A corrupt operand or value makes the result a summary that knows
// nothing (every query reads the block): never an error that would stop reads or compactions.
class BlockSummaryMerge final : public rocksdb::MergeOperator {
 public:
  bool FullMergeV2(const MergeOperationInput& in, MergeOperationOutput* out) const override {
    BlockSummary sum;
    bool first = true;
    auto add = [&](const rocksdb::Slice& s) {
      auto b = BlockSummary::decode({s.data(), s.size()});
      if (!b) {
        BlockSummary unknown;
        unknown.give_up();
        b = std::move(unknown);
      }
      if (first) {
        sum = std::move(*b);
        first = false;
      } else {
        sum.merge(*b);
      }
    };
    if (in.existing_value != nullptr) add(*in.existing_value);
    for (const auto& op : in.operand_list) add(op);
    out->new_value = sum.encode();
    return true;
  }
  bool PartialMergeMulti(const rocksdb::Slice& key, const std::deque<rocksdb::Slice>& operands,
                         std::string* new_value, rocksdb::Logger* logger) const override {
    const std::vector<rocksdb::Slice> list(operands.begin(), operands.end());
    const MergeOperationInput all(key, nullptr, list, logger);
    rocksdb::Slice unused;
    MergeOperationOutput out(*new_value, unused);
    return FullMergeV2(all, &out);
  }
  const char* Name() const override { return "verity.BlockSummaryMerge"; }
};

}  // namespace

std::shared_ptr<rocksdb::MergeOperator> block_summary_merge_operator() {
  return std::make_shared<BlockSummaryMerge>();
}

}  // namespace verity::store
