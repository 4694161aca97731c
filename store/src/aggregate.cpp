#include "verity/store/aggregate.h"

#include <algorithm>
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
    it->second += f;
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
      merged.emplace_back(b->first, sign * b->second);
      ++b;
    } else {
      merged.emplace_back(std::move(a->first), a->second + sign * b->second);
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

// One entry of an encoded Aggregate: varint key length | key | 16-byte little-endian value.
void put_entry(std::string& out, std::string_view key, unsigned __int128 value) {
  put_varint(out, key.size());
  out += key;
  char le[16];
  for (int i = 0; i < 16; ++i) le[i] = static_cast<char>((value >> (8 * i)) & 0xff);
  out.append(le, 16);
}

// varint count | (varint key length | key | 16-byte LE value)* over entries sorted by key, the
// ones that sum to 0 left out. get(element) is the element's (key, value) pair.
template <typename Entries, typename Get>
std::string encode_sorted(const Entries& entries, Get get) {
  std::string out;
  size_t n = 0, bytes = 0;
  for (const auto& e : entries) {
    if (get(e).second == 0) continue;
    ++n;
    bytes += get(e).first.size() + 18;
  }
  out.reserve(8 + bytes);
  put_varint(out, n);
  for (const auto& e : entries) {
    const auto& [key, value] = get(e);
    if (value == 0) continue;
    put_entry(out, key, static_cast<unsigned __int128>(value));
  }
  return out;
}

}  // namespace

std::string Aggregate::encode() const {  // entries_ are sorted already
  return encode_sorted(
      entries_, [](const auto& e) -> const auto& { return e; });
}

std::string AggregateSum::encode() const {
  std::vector<const std::pair<const std::string, Aggregate::Fixed>*> sorted;
  sorted.reserve(sums_.size());
  for (const auto& e : sums_) sorted.push_back(&e);
  std::sort(sorted.begin(), sorted.end(),
            [](const auto* a, const auto* b) { return a->first < b->first; });
  return encode_sorted(
      sorted, [](const auto* e) -> const auto& { return *e; });
}

namespace {

// An encoded Aggregate being read: its unread entries and the one read last (sum_encoded reads
// many at once).
struct Cursor {
  std::string_view rest;
  uint64_t left = 0;
  std::string_view key;
  unsigned __int128 value = 0;  // times the term's sign (two's complement: sums wrap, never UB)
  int sign = 1;
  bool started = false;

  // Reads the count. False when the bytes cannot hold that many entries.
  bool open(std::string_view bytes, int term_sign) {
    rest = bytes;
    sign = term_sign;
    return get_varint(rest, left) && left <= rest.size();
  }
  // Whether every entry was read and nothing follows the last.
  bool done() const { return left == 0 && rest.empty(); }

  // Reads the next entry (left > 0). False when the bytes are malformed: a key out of order or
  // cut short.
  bool next() {
    uint64_t len = 0;
    if (!get_varint(rest, len) || len > rest.size() || rest.size() - len < 16) return false;
    const std::string_view k = rest.substr(0, len);
    if (started && !(key < k)) return false;
    unsigned __int128 bits = 0;
    for (int b = 15; b >= 0; --b) {
      bits = (bits << 8) | static_cast<uint8_t>(rest[len + static_cast<size_t>(b)]);
    }
    key = k;
    value = bits * static_cast<unsigned __int128>(static_cast<__int128>(sign));
    started = true;
    rest.remove_prefix(len + 16);
    --left;
    return true;
  }
};

// Walks an encoded Aggregate: f(key, value) per entry. False when the bytes are malformed (keys
// must be sorted and unique; nothing may follow the last entry).
template <typename F>
bool walk(std::string_view in, F&& f) {
  Cursor c;
  if (!c.open(in, 1)) return false;
  while (c.left > 0) {
    if (!c.next()) return false;
    f(c.key, static_cast<Aggregate::Fixed>(c.value));
  }
  return c.rest.empty();
}

}  // namespace

bool AggregateSum::add_encoded(std::string_view bytes, int sign) {
  // One pass: the entries before a malformation stay added (callers discard the sum then).
  return walk(bytes,
              [this, sign](std::string_view k, Aggregate::Fixed v) { add_to(slot(k), v, sign); });
}

bool sum_encoded(std::span<const EncodedTerm> terms, std::string& out) {
  std::vector<Cursor> cursors(terms.size());
  std::vector<Cursor*> active;  // the cursors with an entry read and not yet summed
  active.reserve(terms.size());
  size_t bytes = 0;
  for (size_t i = 0; i < terms.size(); ++i) {
    Cursor& c = cursors[i];
    if (!c.open(terms[i].bytes, terms[i].sign)) return false;
    bytes += c.rest.size();
    if (c.left == 0) {
      if (!c.done()) return false;
      continue;
    }
    if (!c.next()) return false;
    active.push_back(&c);
  }
  constexpr size_t kCountRoom = 10;  // the longest varint: the count is written there at the end
  out.clear();
  out.reserve(kCountRoom + bytes);
  out.resize(kCountRoom);
  uint64_t n = 0;
  auto emit = [&](std::string_view key, unsigned __int128 sum) {
    if (sum == 0) return;
    ++n;
    put_entry(out, key, sum);
  };
  // Moves a cursor past the entry just summed. False when its bytes are malformed; `done` when it
  // has no entry left (and nothing follows its last).
  auto advance = [](Cursor& c, bool& done) {
    done = c.left == 0;
    return done ? c.done() : c.next();
  };
  // Key views stay valid after their cursor moves on: they point into the terms' bytes.
  if (active.size() <= 16) {
    // Few terms, mostly the same keys (a bucket's operands): one scan finds the least key, a
    // second sums every term at it. About two comparisons per entry when the keys are shared.
    while (!active.empty()) {
      std::string_view key = active[0]->key;
      for (size_t i = 1; i < active.size(); ++i) key = std::min(key, active[i]->key);
      unsigned __int128 sum = 0;
      for (size_t i = 0; i < active.size();) {
        Cursor& c = *active[i];
        if (c.key != key) {
          ++i;
          continue;
        }
        sum += c.value;
        bool done = false;
        if (!advance(c, done)) return false;
        if (done) {
          active[i] = active.back();
          active.pop_back();
        } else {
          ++i;
        }
      }
      emit(key, sum);
    }
  } else {
    // Many terms (a key's operands at a flush: one per commit group): every entry into a flat
    // map, then its keys sorted once. One hash per entry instead of a heap's two comparisons per
    // level, and keys are views of the terms' bytes (no copy).
    boost::unordered_flat_map<std::string_view, unsigned __int128> sums;
    sums.reserve(bytes / 24);  // an entry takes at least 18 bytes; most keys are shared
    for (Cursor* c : active) {
      for (;;) {
        sums[c->key] += c->value;
        bool done = false;
        if (!advance(*c, done)) return false;
        if (done) break;
      }
    }
    std::vector<std::pair<std::string_view, unsigned __int128>> sorted(sums.begin(), sums.end());
    std::sort(sorted.begin(), sorted.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [key, sum] : sorted) emit(key, sum);
  }
  std::string count;
  put_varint(count, n);
  out.replace(0, kCountRoom, count);
  return true;
}

Aggregate AggregateSum::result() const {
  std::vector<std::pair<std::string, Aggregate::Fixed>> entries;
  entries.reserve(sums_.size());
  for (const auto& [key, value] : sums_) {
    if (value != 0) entries.emplace_back(key, value);
  }
  return Aggregate::from_entries(std::move(entries));
}

std::optional<Aggregate> Aggregate::decode(std::string_view in) {
  Aggregate a;
  if (!walk(in,
            [&a](std::string_view k, Fixed v) { a.entries_.emplace_back(std::string(k), v); })) {
    return std::nullopt;
  }
  return a;
}

}  // namespace verity::store
