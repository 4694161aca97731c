#include "verity/store/aggregate.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <cmath>
#include <cstring>

#include "record_codec.h"

namespace verity::store {
namespace {

constexpr double kScale = 1099511627776.0;  // 2^40
constexpr double kLimit = 1e36;             // |value| * 2^40 stays far inside 2^127

auto find(auto& entries, std::string_view key) {
  return std::lower_bound(entries.begin(), entries.end(), key,
                          [](const auto& e, std::string_view k) { return e.first < k; });
}

using U128 = unsigned __int128;

// The v2 encoding (aggregate.h). A logical key "<stem>\x1f<bin>" whose bin is a decimal written
// the one way (0, or no leading zero; at most 9 digits) is a bin of its stem's packed item.
constexpr char kBinSeparator = '\x1f';
constexpr std::string_view kPackedMarker("\0\2", 2);
constexpr int kFractionBits = 40;  // Aggregate's fixed point: 2^-40 units
constexpr U128 kFractionMask = (U128{1} << kFractionBits) - 1;
enum Tag : uint8_t { kFraction = 0, kWhole = 1, kPacked = 2 };

// Appends a bin as its decimal.
void append_bin(std::string& key, uint32_t bin) {
  char digits[10];
  const auto end = std::to_chars(digits, digits + sizeof digits, bin).ptr;
  key.append(digits, end);
}

}  // namespace

bool split_bin(std::string_view key, std::string_view& stem, uint32_t& bin) {
  const size_t at = key.rfind(kBinSeparator);
  if (at == std::string_view::npos) return false;
  const std::string_view digits = key.substr(at + 1);
  if (digits.empty() || digits.size() > 9 || (digits.size() > 1 && digits[0] == '0')) return false;
  uint32_t v = 0;
  for (const char ch : digits) {
    if (ch < '0' || ch > '9') return false;
    v = v * 10 + static_cast<uint32_t>(ch - '0');
  }
  stem = key.substr(0, at);
  bin = v;
  return true;
}

void AggregateSink::add_bin(std::string_view stem, uint32_t bin, double value) {
  std::string key(stem);
  key += kBinSeparator;
  append_bin(key, bin);
  add(key, value);
}

KeyFamily::KeyFamily(std::vector<std::string> names) : names_(std::move(names)) {
  static std::atomic<uint32_t> next{0};
  id_ = next.fetch_add(1, std::memory_order_relaxed);
}

void KeyFamily::key(size_t i, std::string_view suffix, std::string& out) const {
  out.assign(names_[i]);
  out += kBinSeparator;
  out += suffix;
}

void AggregateSink::add_family(const KeyFamily& family, std::string_view suffix,
                               std::span<const FamilyValue> values) {
  std::string key;
  for (const FamilyValue& v : values) {
    family.key(v.name, suffix, key);
    if (v.is_bin) {
      add_bin(key, v.bin, v.value);
    } else {
      add(key, v.value);
    }
  }
}

namespace {
// a + sign * b in two's complement: a corrupt stored value sums to garbage, never to UB.
Aggregate::Fixed wrapping_add(Aggregate::Fixed a, Aggregate::Fixed b, int sign = 1) {
  using U = unsigned __int128;
  return static_cast<Aggregate::Fixed>(static_cast<U>(a) +
                                       static_cast<U>(b) * static_cast<U>(Aggregate::Fixed{sign}));
}
}  // namespace

Aggregate::Fixed Aggregate::to_fixed(double v) {
  if (!std::isfinite(v)) return 0;
  const double x = std::nearbyint(std::clamp(v * kScale, -kLimit, kLimit));
  return static_cast<Fixed>(x);
}

double Aggregate::to_double(Fixed f) { return static_cast<double>(f) / kScale; }

void Aggregate::add(std::string_view key, double value) {
  const Fixed f = to_fixed(value);
  auto it = find(entries_, key);
  if (it != entries_.end() && it->first == key) {
    it->second = wrapping_add(it->second, f);
  } else {
    entries_.emplace(it, std::string(key), f);
  }
}

void Aggregate::add(const Aggregate& other, int sign) {
  if (other.entries_.empty()) return;
  std::vector<std::pair<std::string, Fixed>> merged;
  merged.reserve(entries_.size() + other.entries_.size());
  auto a = entries_.begin();
  auto b = other.entries_.begin();
  while (a != entries_.end() || b != other.entries_.end()) {
    if (b == other.entries_.end() || (a != entries_.end() && a->first < b->first)) {
      merged.push_back(std::move(*a++));
    } else if (a == entries_.end() || b->first < a->first) {
      merged.emplace_back(b->first, wrapping_add(0, b->second, sign));
      ++b;
    } else {
      merged.emplace_back(std::move(a->first), wrapping_add(a->second, b->second, sign));
      ++a;
      ++b;
    }
  }
  entries_ = std::move(merged);
}

Aggregate Aggregate::from_entries(std::vector<std::pair<std::string, Fixed>> entries) {
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  Aggregate a;
  a.entries_ = std::move(entries);
  return a;
}

double Aggregate::get(std::string_view key) const {
  auto it = find(entries_, key);
  return it != entries_.end() && it->first == key ? to_double(it->second) : 0.0;
}

namespace {

bool is_packed(std::string_view bytes) { return bytes.starts_with(kPackedMarker); }

void put_varint128(std::string& out, U128 v) {
  if (v < 0x80) {
    out += static_cast<char>(v);
    return;
  }
  char buf[19];  // 19 * 7 bits hold 128
  size_t n = 0;
  auto low = static_cast<uint64_t>(v);
  if ((v >> 64) == 0) {  // nearly every value: 64-bit steps
    while (low >= 0x80) {
      buf[n++] = static_cast<char>((low & 0x7f) | 0x80);
      low >>= 7;
    }
    buf[n++] = static_cast<char>(low);
  } else {
    while (v >= 0x80) {
      buf[n++] = static_cast<char>((static_cast<uint8_t>(v) & 0x7f) | 0x80);
      v >>= 7;
    }
    buf[n++] = static_cast<char>(v);
  }
  out.append(buf, n);
}

bool get_varint128(std::string_view& in, U128& v) {
  const size_t n = std::min<size_t>(in.size(), 19);  // 19 * 7 bits hold 128
  uint64_t low = 0;
  size_t i = 0;
  for (; i < n && i < 9; ++i) {  // the first 63 bits in 64-bit steps
    const auto b = static_cast<uint8_t>(in[i]);
    low |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) {
      v = low;
      in.remove_prefix(i + 1);
      return true;
    }
  }
  U128 wide = low;
  for (; i < n; ++i) {
    const auto b = static_cast<uint8_t>(in[i]);
    if (i == 18 && b > 0x03) return false;  // bits past the 128th
    wide |= static_cast<U128>(b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) {
      v = wide;
      in.remove_prefix(i + 1);
      return true;
    }
  }
  return false;
}

U128 zigzag(U128 v) { return (v << 1) ^ static_cast<U128>(static_cast<__int128>(v) >> 127); }
U128 unzigzag(U128 u) { return (u >> 1) ^ (U128{0} - (u & 1)); }

bool is_whole(U128 v) { return (v & kFractionMask) == 0; }

// A value: whole ones (counts) as their integer part, the others as they are; zigzag varints.
void put_value(std::string& out, U128 v) {
  put_varint128(
      out, zigzag(is_whole(v) ? static_cast<U128>(static_cast<__int128>(v) >> kFractionBits) : v));
}
bool get_value(std::string_view& in, bool whole, U128& v) {
  U128 u = 0;
  if (!get_varint128(in, u)) return false;
  v = whole ? unzigzag(u) << kFractionBits : unzigzag(u);
  return true;
}

// An entry on its way into the v2 encoding: a scalar (the key is its stem), or a bin of a
// packed item. Views point into the entries being encoded.
struct Piece {
  std::string_view stem;
  uint32_t bin = 0;
  bool packed = false;
  U128 value = 0;
};

Piece piece(std::string_view key, U128 value) {
  Piece p{key, 0, false, value};
  p.packed = split_bin(key, p.stem, p.bin);
  return p;
}

// Items in (stem, scalar before packed) order, bins ascending.
bool piece_less(const Piece& a, const Piece& b) {
  if (const int c = a.stem.compare(b.stem); c != 0) return c < 0;
  if (a.packed != b.packed) return b.packed;
  return a.bin < b.bin;
}

void put_item_head(std::string& out, std::string_view stem, uint8_t tag) {
  put_varint(out, stem.size());
  out += stem;
  out += static_cast<char>(tag);
}

// One bin of a packed item: varint (delta from the previous bin << 1 | whole) | value.
void put_bin(std::string& out, uint32_t delta, U128 value) {
  put_varint(out, (uint64_t{delta} << 1) | (is_whole(value) ? 1 : 0));
  put_value(out, value);
}

// The v2 encoding of nonzero pieces (sorted here unless `sorted`). An empty aggregate is one
// zero byte (as in the first encoding).
std::string encode_pieces(std::vector<Piece>& pieces, bool sorted = false) {
  if (pieces.empty()) return std::string(1, '\0');
  if (!sorted) std::sort(pieces.begin(), pieces.end(), piece_less);
  size_t items = 0, bytes = 0;
  for (size_t i = 0; i < pieces.size(); ++i) {
    const bool new_item =
        i == 0 || pieces[i].stem != pieces[i - 1].stem || pieces[i].packed != pieces[i - 1].packed;
    if (new_item) {
      ++items;
      bytes += pieces[i].stem.size() + 4;
    }
    bytes += pieces[i].packed ? 8 : 6;
  }
  std::string out;
  out.reserve(kPackedMarker.size() + 10 + bytes);
  out += kPackedMarker;
  put_varint(out, items);
  for (size_t i = 0; i < pieces.size();) {
    const Piece& first = pieces[i];
    if (!first.packed) {
      put_item_head(out, first.stem, is_whole(first.value) ? kWhole : kFraction);
      put_value(out, first.value);
      ++i;
      continue;
    }
    size_t end = i + 1;
    while (end < pieces.size() && pieces[end].packed && pieces[end].stem == first.stem) ++end;
    put_item_head(out, first.stem, kPacked);
    put_varint(out, end - i);
    uint32_t previous = 0;
    for (; i < end; ++i) {
      put_bin(out, pieces[i].bin - previous, pieces[i].value);
      previous = pieces[i].bin;
    }
  }
  return out;
}

// A v1 aggregate being read: its unread entries and the one read last.
struct Cursor {
  std::string_view rest;
  uint64_t left = 0;
  std::string_view key;
  U128 value = 0;
  bool started = false;

  // Reads the count. False when the bytes cannot hold that many entries.
  bool open(std::string_view bytes) {
    rest = bytes;
    return get_varint(rest, left) && left <= rest.size();
  }

  // Reads the next entry (left > 0). False when the bytes are malformed: a key out of order or
  // cut short.
  bool next() {
    uint64_t len = 0;
    if (!get_varint(rest, len) || len > rest.size() || rest.size() - len < 16) return false;
    const std::string_view k = rest.substr(0, len);
    if (started && !(key < k)) return false;
    U128 bits = 0;
    for (int b = 15; b >= 0; --b) {
      bits = (bits << 8) | static_cast<uint8_t>(rest[len + static_cast<size_t>(b)]);
    }
    key = k;
    value = bits;
    started = true;
    rest.remove_prefix(len + 16);
    --left;
    return true;
  }
};

// Walks a v1 aggregate: f(key, value) per entry. False when the bytes are malformed (keys must be
// sorted and unique; nothing may follow the last entry).
template <typename F>
bool walk_v1(std::string_view in, F&& f) {
  Cursor c;
  if (!c.open(in)) return false;
  while (c.left > 0) {
    if (!c.next()) return false;
    f(c.key, c.value);
  }
  return c.rest.empty();
}

// A v2 aggregate being read, item by item and a packed item's bins one by one. Values are read
// times the term's sign (two's complement: sums wrap, never UB).
struct PackedCursor {
  std::string_view rest;
  uint64_t items_left = 0;
  U128 sign = 1;
  bool started = false;
  // The item read last.
  std::string_view stem;
  bool packed = false;
  U128 value = 0;          // a scalar's
  uint64_t bins_left = 0;  // a packed item's bins not yet read
  uint32_t bin = 0;        // and the one read last
  U128 bin_value = 0;

  // Reads the count. False when the bytes cannot hold that many items.
  bool open(std::string_view bytes, int term_sign) {
    rest = bytes.substr(kPackedMarker.size());
    sign = static_cast<U128>(static_cast<__int128>(term_sign));
    return get_varint(rest, items_left) && items_left <= rest.size();
  }
  bool done() const { return items_left == 0 && bins_left == 0 && rest.empty(); }

  // Reads the next item (items_left > 0, and the last item's bins all read). False when the bytes
  // are malformed: items out of order, a scalar whose key is a bin, a packed item without bins,
  // bytes cut short.
  bool next_item() {
    uint64_t len = 0;
    if (!get_varint(rest, len) || len >= rest.size()) return false;
    const std::string_view s = rest.substr(0, len);
    const auto tag = static_cast<uint8_t>(rest[len]);
    if (tag > kPacked) return false;
    const bool p = tag == kPacked;
    if (started) {
      const int c = stem.compare(s);
      if (c > 0 || (c == 0 && (packed || !p))) return false;
    }
    rest.remove_prefix(len + 1);
    stem = s;
    packed = p;
    started = true;
    --items_left;
    if (!p) {
      std::string_view unused;
      uint32_t b = 0;
      if (split_bin(s, unused, b) || !get_value(rest, tag == kWhole, value)) return false;
      value *= sign;
      return true;
    }
    bin = 0;
    return get_varint(rest, bins_left) && bins_left > 0 && bins_left <= rest.size();
  }

  // Reads the next bin of the packed item (bins_left > 0). False when the bytes are malformed:
  // bins not ascending, past kMaxAggregateBin, or cut short.
  bool next_bin(bool first) {
    uint64_t d = 0;
    if (!get_varint(rest, d)) return false;
    const uint64_t delta = d >> 1;
    if ((!first && delta == 0) || delta > kMaxAggregateBin - bin) return false;
    bin += static_cast<uint32_t>(delta);
    if (!get_value(rest, (d & 1) != 0, bin_value)) return false;
    bin_value *= sign;
    --bins_left;
    return true;
  }
};

// Walks a v2 aggregate: f(key, value) per logical entry (a packed item's bins as
// "<stem>\x1f<bin>"; the view lives for the call). False when the bytes are malformed.
template <typename F>
bool walk_v2(std::string_view in, F&& f) {
  PackedCursor c;
  if (!c.open(in, 1)) return false;
  std::string key;
  while (c.items_left > 0) {
    if (!c.next_item()) return false;
    if (!c.packed) {
      f(c.stem, c.value);
      continue;
    }
    key.assign(c.stem);
    key += kBinSeparator;
    const size_t base = key.size();
    for (bool first = true; c.bins_left > 0; first = false) {
      if (!c.next_bin(first)) return false;
      key.resize(base);
      append_bin(key, c.bin);
      f(std::string_view(key), c.bin_value);
    }
  }
  return c.rest.empty();
}

template <typename F>
bool walk(std::string_view in, F&& f) {
  return is_packed(in) ? walk_v2(in, f) : walk_v1(in, f);
}

// Sums at most kMaxMergeTerms v2 terms in one pass over their items (and bins).
constexpr size_t kMaxMergeTerms = 16;

bool merge_packed(std::span<const EncodedTerm> terms, std::string& out) {
  std::array<PackedCursor, kMaxMergeTerms> cursors;
  std::vector<PackedCursor*> active, at, live;
  active.reserve(terms.size());
  size_t bytes = 0;
  for (size_t i = 0; i < terms.size(); ++i) {
    PackedCursor& c = cursors[i];
    if (!c.open(terms[i].bytes, terms[i].sign)) return false;
    bytes += c.rest.size();
    if (c.items_left == 0) {
      if (!c.done()) return false;
      continue;
    }
    if (!c.next_item()) return false;
    active.push_back(&c);
  }
  constexpr size_t kCountRoom = 10;  // the longest varint: the count is written there at the end
  out.clear();
  out.reserve(kPackedMarker.size() + kCountRoom + bytes);
  out += kPackedMarker;
  out.resize(kPackedMarker.size() + kCountRoom);
  thread_local std::string bins;
  uint64_t items = 0;
  while (!active.empty()) {
    // The least item, and the cursors at it. Few terms, mostly the same stems: a scan is cheaper
    // than a heap.
    const PackedCursor* least = active[0];
    for (size_t i = 1; i < active.size(); ++i) {
      const int c = active[i]->stem.compare(least->stem);
      if (c < 0 || (c == 0 && !active[i]->packed && least->packed)) least = active[i];
    }
    const std::string_view stem = least->stem;
    const bool packed = least->packed;
    at.clear();
    for (PackedCursor* c : active) {
      if (c->packed == packed && c->stem == stem) at.push_back(c);
    }
    if (!packed) {
      U128 sum = 0;
      for (const PackedCursor* c : at) sum += c->value;
      if (sum != 0) {
        ++items;
        put_item_head(out, stem, is_whole(sum) ? kWhole : kFraction);
        put_value(out, sum);
      }
    } else {
      live.assign(at.begin(), at.end());
      for (PackedCursor* c : live) {
        if (!c->next_bin(true)) return false;
      }
      bins.clear();
      uint64_t n = 0;
      uint32_t previous = 0;
      while (!live.empty()) {
        uint32_t b = live[0]->bin;
        for (size_t i = 1; i < live.size(); ++i) b = std::min(b, live[i]->bin);
        U128 sum = 0;
        for (size_t i = 0; i < live.size();) {
          PackedCursor& c = *live[i];
          if (c.bin != b) {
            ++i;
            continue;
          }
          sum += c.bin_value;
          if (c.bins_left == 0) {
            live[i] = live.back();
            live.pop_back();
          } else if (!c.next_bin(false)) {
            return false;
          } else {
            ++i;
          }
        }
        if (sum != 0) {
          put_bin(bins, b - previous, sum);
          previous = b;
          ++n;
        }
      }
      if (n > 0) {
        ++items;
        put_item_head(out, stem, kPacked);
        put_varint(out, n);
        out += bins;
      }
    }
    // Key views stay valid after their cursor moves on: they point into the terms' bytes.
    for (PackedCursor* c : at) {
      if (c->items_left > 0) {
        if (!c->next_item()) return false;
      } else {
        if (!c->rest.empty()) return false;
        active.erase(std::find(active.begin(), active.end(), c));
      }
    }
  }
  if (items == 0) {
    out.assign(1, '\0');
    return true;
  }
  std::string count;
  put_varint(count, items);
  out.replace(kPackedMarker.size(), kCountRoom, count);
  return true;
}

}  // namespace

std::string Aggregate::encode() const {
  std::vector<Piece> pieces;
  pieces.reserve(entries_.size());
  for (const auto& [key, value] : entries_) {
    if (value != 0) pieces.push_back(piece(key, static_cast<U128>(value)));
  }
  return encode_pieces(pieces);
}

const uint64_t* AggregateKeys::family(const KeyFamily& family, std::string_view suffix) {
  family_key_.resize(4);
  const uint32_t id = family.id();
  std::memcpy(family_key_.data(), &id, 4);
  family_key_ += suffix;
  if (auto it = families_.find(family_key_); it != families_.end()) {
    return family_entries_.data() + it->second;
  }
  const auto offset = static_cast<uint32_t>(family_entries_.size());
  std::string key;
  for (size_t i = 0; i < family.size(); ++i) {
    family.key(i, suffix, key);
    // Its entry as a scalar (as AggregateSum::add finds it: a key with a bin's shape is that bin
    // of its stem), then as the stem of bins (as add_bin numbers it; the bin is added per value).
    std::string_view stem;
    uint32_t bin = 0;
    const uint64_t whole = uint64_t{number(key)} << 32;
    family_entries_.push_back(split_bin(key, stem, bin) ? (uint64_t{number(stem)} << 32 | (bin + 1))
                                                        : whole);
    family_entries_.push_back(whole);
  }
  families_.emplace(family_key_, offset);
  return family_entries_.data() + offset;
}

void AggregateKeys::rank() const {
  if (ranks_.size() == texts_.size()) return;
  by_rank_.resize(texts_.size());
  for (uint32_t i = 0; i < by_rank_.size(); ++i) by_rank_[i] = i;
  std::sort(by_rank_.begin(), by_rank_.end(),
            [this](uint32_t a, uint32_t b) { return texts_[a] < texts_[b]; });
  ranks_.resize(texts_.size());
  for (uint32_t r = 0; r < by_rank_.size(); ++r) ranks_[by_rank_[r]] = r;
}

void AggregateSum::add(const AggregateSum& other, int sign) {
  if (other.keys_ == nullptr) return;  // nothing added to it
  const bool shared = other.keys_ == keys_;
  for (const auto& [k, v] : other.entries_) {
    const auto number = static_cast<uint32_t>(k >> 32);
    add_to(entries_[shared ? k
                           : entry(keys().number(other.keys_->text(number)),
                                   static_cast<uint32_t>(k))],
           v, sign);
  }
}

void AggregateSum::add_family(const KeyFamily& family, std::string_view suffix,
                              std::span<const FamilyValue> values) {
  const uint64_t* entries = keys().family(family, suffix);
  for (const FamilyValue& v : values) {
    const Aggregate::Fixed f = Aggregate::to_fixed(v.value);
    if (!v.is_bin) {
      add_to(entries_[entries[2 * v.name]], f, 1);
    } else if (v.bin <= kMaxAggregateBin) {
      add_to(entries_[entries[2 * v.name + 1] | (v.bin + 1)], f, 1);
    } else {  // a scalar's key (as add_bin does)
      std::string stem;
      family.key(v.name, suffix, stem);
      AggregateSink::add_bin(stem, v.bin, v.value);
    }
  }
}

std::string AggregateSum::encode() const {
  // Entries by (the key's or stem's rank, scalar then bins ascending): integers.
  std::vector<std::pair<uint64_t, U128>> sorted;
  sorted.reserve(entries_.size());
  if (keys_ != nullptr) {
    const std::vector<uint32_t>& rank = keys_->ranks();
    for (const auto& [k, value] : entries_) {
      if (value != 0) {
        sorted.emplace_back(entry(rank[k >> 32], static_cast<uint32_t>(k)),
                            static_cast<U128>(value));
      }
    }
  }
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<Piece> pieces;
  pieces.reserve(sorted.size());
  for (const auto& [k, value] : sorted) {
    const auto low = static_cast<uint32_t>(k);
    pieces.push_back(
        {keys_->text(keys_->by_rank()[k >> 32]), low == 0 ? 0 : low - 1, low != 0, value});
  }
  return encode_pieces(pieces, true);
}

bool AggregateSum::add_encoded(std::string_view bytes, int sign) {
  // One pass: the entries before a malformation stay added (callers discard the sum then).
  if (!is_packed(bytes)) {
    return walk_v1(bytes, [this, sign](std::string_view k, U128 v) {
      add_fixed(k, static_cast<Aggregate::Fixed>(v), sign);
    });
  }
  PackedCursor c;  // reads values times the sign
  if (!c.open(bytes, sign)) return false;
  while (c.items_left > 0) {
    if (!c.next_item()) return false;
    const uint32_t number = keys().number(c.stem);
    if (!c.packed) {
      add_to(entries_[entry(number, 0)], static_cast<Aggregate::Fixed>(c.value), 1);
      continue;
    }
    for (bool first = true; c.bins_left > 0; first = false) {
      if (!c.next_bin(first)) return false;
      add_to(entries_[entry(number, c.bin + 1)], static_cast<Aggregate::Fixed>(c.bin_value), 1);
    }
  }
  return c.rest.empty();
}

bool sum_encoded(std::span<const EncodedTerm> terms, std::string& out) {
  // Terms in the first encoding (written by earlier versions) are encoded again first.
  std::vector<std::string> converted;
  converted.reserve(terms.size());  // no reallocation: views of its strings stay valid
  std::vector<EncodedTerm> packed;
  packed.reserve(terms.size());
  for (const EncodedTerm& t : terms) {
    if (is_packed(t.bytes)) {
      packed.push_back(t);
      continue;
    }
    std::vector<Piece> pieces;
    if (!walk_v1(t.bytes, [&](std::string_view k, U128 v) {
          if (v != 0) pieces.push_back(piece(k, v));
        })) {
      return false;
    }
    if (pieces.empty()) continue;
    converted.push_back(encode_pieces(pieces));
    packed.push_back({converted.back(), t.sign});
  }
  if (packed.size() <= kMaxMergeTerms) return merge_packed(packed, out);
  // Many terms (a key's operands at a flush: one per commit group): summed 16 at a time, then
  // the partial sums (integer sums: the grouping changes no bit).
  std::vector<std::string> partial((packed.size() + kMaxMergeTerms - 1) / kMaxMergeTerms);
  std::vector<EncodedTerm> next;
  next.reserve(partial.size());
  for (size_t i = 0; i < partial.size(); ++i) {
    const size_t from = i * kMaxMergeTerms;
    const size_t n = std::min(kMaxMergeTerms, packed.size() - from);
    if (!merge_packed(std::span(packed).subspan(from, n), partial[i])) return false;
    next.push_back({partial[i], 1});
  }
  return sum_encoded(next, out);
}

Aggregate AggregateSum::result() const {
  std::vector<std::pair<std::string, Aggregate::Fixed>> entries;
  entries.reserve(entries_.size());
  for (const auto& [k, value] : entries_) {
    if (value == 0) continue;
    std::string key(keys_->text(static_cast<uint32_t>(k >> 32)));
    if (const auto low = static_cast<uint32_t>(k); low != 0) {
      key += kBinSeparator;
      append_bin(key, low - 1);
    }
    entries.emplace_back(std::move(key), value);
  }
  return Aggregate::from_entries(std::move(entries));
}

std::optional<Aggregate> Aggregate::decode(std::string_view in) {
  std::vector<std::pair<std::string, Fixed>> entries;
  if (!walk(in, [&entries](std::string_view k, U128 v) {
        entries.emplace_back(std::string(k), static_cast<Fixed>(v));
      })) {
    return std::nullopt;
  }
  if (!is_packed(in)) {  // sorted already
    Aggregate a;
    a.entries_ = std::move(entries);
    return a;
  }
  return from_entries(std::move(entries));
}

}  // namespace verity::store
