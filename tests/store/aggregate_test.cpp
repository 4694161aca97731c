#include "verity/store/aggregate.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <iterator>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "record_codec.h"

namespace verity::store {
namespace {

// The first encoding (aggregate.h), as versions before 2026-12-04 wrote it: stores still hold it.
std::string encode_v1(const Aggregate& a) {
  size_t n = 0;
  a.for_each_fixed([&n](const std::string&, Aggregate::Fixed value) { n += value != 0; });
  std::string out;
  put_varint(out, n);
  a.for_each_fixed([&out](const std::string& key, Aggregate::Fixed value) {
    if (value == 0) return;  // entries that sum to 0 were never written
    put_varint(out, key.size());
    out += key;
    const auto bits = static_cast<unsigned __int128>(value);
    for (int i = 0; i < 16; ++i) out += static_cast<char>((bits >> (8 * i)) & 0xff);
  });
  return out;
}

// "<stem>\x1f<bin>": the key of a histogram bin.
std::string bin_key(std::string_view stem, std::string_view bin) {
  return std::string(stem) + '\x1f' + std::string(bin);
}

// A generated key: any bytes; bins of histograms ("<stem>\x1f<decimal>", stems empty, holding
// the separator, or equal to another key); decimals written another way (leading zeros, signs,
// ten digits), which are keys of their own.
std::string generated_key(std::mt19937& rng) {
  static const std::string stems[] = {"",
                                      "sh\x1f\"1\"\x1f\"0\"",
                                      "ph\x1f"
                                      "1\x1f"
                                      "0\x1f\"1\"",
                                      "conf",
                                      "a",
                                      bin_key("a", "7"),
                                      std::string("\0\2", 2)};
  static const std::string odd_bins[] = {"01",         "00", "-1",         "+3", "1e3", "",
                                         "1000000000", "9a", "4294967296", " 5", "0x1"};
  switch (rng() % 4) {
    case 0: {
      std::string key(rng() % 12, '\0');
      for (char& ch : key) ch = static_cast<char>(rng() % 5 == 0 ? rng() : 'a' + rng() % 3);
      return key;
    }
    case 1: {
      const uint32_t bins[] = {0,  1,    9,         10,
                               99, 2979, 999999999, static_cast<uint32_t>(rng() % 3000)};
      return stems[rng() % std::size(stems)] + "\x1f" +
             std::to_string(bins[rng() % std::size(bins)]);
    }
    case 2:
      return stems[rng() % std::size(stems)] + "\x1f" + odd_bins[rng() % std::size(odd_bins)];
    default:
      return stems[rng() % std::size(stems)];
  }
}

// Generated keys (any bytes, empty ones, shared prefixes, histogram bins added by key or as (stem,
// bin)) and values (tiny, huge, negative, summing to exactly zero): a flat-map sum encodes to the
// same bytes as the sorted Aggregate of the same additions, merged sums equal one sum of
// everything, and the bytes decode back.
TEST(AggregateSum, EncodesLikeTheSortedAggregateForGeneratedSums) {
  std::mt19937 rng(23);
  const double values[] = {0, 1, -1, 1e-12, -3.5e9, 0.1, 123456.789, 1e30, -1e30, 0.5};
  for (int round = 0; round < 60; ++round) {
    Aggregate sorted;
    AggregateSum a, b, all;
    const int n = static_cast<int>(rng() % 400);
    for (int i = 0; i < n; ++i) {
      const std::string key = generated_key(rng);
      const double v = values[rng() % std::size(values)];
      // A bin's key is added whole or as (stem, bin), to either sink: the same entry.
      std::string_view stem;
      uint32_t bin = 0;
      const bool as_bin = split_bin(key, stem, bin) && rng() % 2 == 0;
      auto add = [&](AggregateSink& sink, double value) {
        if (as_bin) {
          sink.add_bin(stem, bin, value);
        } else {
          sink.add(key, value);
        }
      };
      add(sorted, v);
      add(all, v);
      add(i % 2 == 0 ? a : b, v);
      if (rng() % 7 == 0) {  // taken back out: an entry that sums to 0 is not encoded
        sorted.add(key, -v);
        add(all, -v);
        (i % 2 == 0 ? a : b).add(key, -v);
      }
    }
    const std::string want = sorted.encode();
    EXPECT_EQ(all.encode(), want) << "round " << round;
    EXPECT_EQ(all.result().encode(), want) << "round " << round;
    AggregateSum merged;
    merged.add(a);
    merged.add(b);
    EXPECT_EQ(merged.encode(), want) << "round " << round;
    auto decoded = Aggregate::decode(want);
    ASSERT_TRUE(decoded.has_value()) << "round " << round;
    EXPECT_EQ(decoded->encode(), want) << "round " << round;
    // Every logical entry comes back, with its value, whichever encoding holds it.
    for (const std::string& bytes : {want, encode_v1(sorted)}) {
      auto back = Aggregate::decode(bytes);
      ASSERT_TRUE(back.has_value()) << "round " << round;
      size_t nonzero = 0;
      sorted.for_each_fixed([&](const std::string&, Aggregate::Fixed v) { nonzero += v != 0; });
      ASSERT_EQ(back->size(), nonzero) << "round " << round;
      sorted.for_each_fixed([&](const std::string& key, Aggregate::Fixed value) {
        Aggregate::Fixed got = 0;
        back->for_each_fixed([&](const std::string& k, Aggregate::Fixed v) {
          if (k == key) got = v;
        });
        EXPECT_TRUE(got == value) << "round " << round << ", key of " << key.size() << " bytes";
      });
      AggregateSum via_sum;
      ASSERT_TRUE(via_sum.add_encoded(bytes)) << "round " << round;
      EXPECT_EQ(via_sum.encode(), want) << "round " << round;
    }
  }
}

// Sums sharing one AggregateKeys (a batch's sums per minute) give the same bytes as sums
// numbering their keys alone, for generated keys added to generated buckets in any order; a sum
// adds another across numberings (shared or not), and keys numbered after a sum was encoded
// (its ranks worked out again) change nothing of what it encodes.
TEST(AggregateSum, SharedKeyNumberingEncodesLikeOwnNumbering) {
  std::mt19937 rng(31);
  const double values[] = {0, 1, -1, 1e-12, -3.5e9, 0.1, 1e30, 0.5};
  for (int round = 0; round < 40; ++round) {
    AggregateKeys keys;
    const size_t buckets = 1 + rng() % 9;
    std::vector<AggregateSum> shared, own(buckets);
    for (size_t b = 0; b < buckets; ++b) shared.emplace_back(keys);
    const int n = static_cast<int>(rng() % 500);
    for (int i = 0; i < n; ++i) {
      const std::string key = generated_key(rng);
      const double v = values[rng() % std::size(values)];
      const size_t b = rng() % buckets;
      std::string_view stem;
      uint32_t bin = 0;
      if (split_bin(key, stem, bin) && rng() % 2 == 0) {
        shared[b].add_bin(stem, bin, v);
        own[b].add_bin(stem, bin, v);
      } else {
        shared[b].add(key, v);
        own[b].add(key, v);
      }
      if (i == n / 2) {  // encoded halfway: ranks are worked out again after more keys
        EXPECT_EQ(shared[b].encode(), own[b].encode()) << "round " << round;
      }
    }
    AggregateSum all_own, all_shared(keys);
    for (size_t b = 0; b < buckets; ++b) {
      ASSERT_EQ(shared[b].encode(), own[b].encode()) << "round " << round << ", bucket " << b;
      EXPECT_EQ(shared[b].result().encode(), own[b].encode()) << "round " << round;
      all_own.add(shared[b]);     // across numberings
      all_shared.add(shared[b]);  // within one
      all_shared.add(own[b], -1);
      all_shared.add(own[b]);
    }
    Aggregate want;
    for (const auto& s : own) want.add(s.result());
    EXPECT_EQ(all_own.encode(), want.encode()) << "round " << round;
    EXPECT_EQ(all_shared.encode(), want.encode()) << "round " << round;
  }
}

// A family of keys added with a suffix (the contributor's scores: names fixed, a class pair
// known per label) makes the same entries as adding each whole key, for generated names and
// suffixes: suffixes that end like a bin ("1\x1f0": numeric classes make scalar keys with a
// bin's shape), hold the separator, are empty or any bytes; bins past nine digits; sums sharing
// one numbering or numbering alone, with the family's keys also added by key in between.
TEST(AggregateSum, KeyFamiliesAddWhatTheirWholeKeysAdd) {
  std::mt19937 rng(47);
  const KeyFamily families[] = {
      KeyFamily({"sh", "su", "sl1", "sc1s"}),
      KeyFamily({"", "a", std::string("b\x1f") + "7", "0", "a"}),  // empty, bin-shaped, twice
      KeyFamily({"x\x1fy"})};
  const double values[] = {0, 1, -1, 1e-12, 0.5, 1e30, -3.5e9, 0.1};
  const uint32_t bins[] = {0, 1, 9, 10, 2979, kMaxAggregateBin, kMaxAggregateBin + 1, 4294967295u};
  auto suffix = [&] {
    switch (rng() % 6) {
      case 0:
        return std::string("\"fraud\"\x1f\"legit\"");
      case 1:
        return std::to_string(rng() % 3) + "\x1f" + std::to_string(rng() % 3);  // numeric classes
      case 2:
        return std::string(
            "1\x1f"
            "0\x1f\"1\"");
      case 3:
        return std::string();
      case 4:
        return generated_key(rng);
      default:
        return std::to_string(rng() % 1000) + (rng() % 2 ? "" : "0000000000");
    }
  };
  {  // numeric classes: the scalar key "su\x1f" "1\x1f" "2" has a bin's shape (bin 2 of "su\x1f"
     // "1")
    const FamilyValue v{1, false, 0, 1.0};
    AggregateSum family, whole;
    family.add_family(families[0],
                      "1\x1f"
                      "2",
                      std::span(&v, 1));
    whole.add_bin(
        "su\x1f"
        "1",
        2, 1.0);
    EXPECT_EQ(family.encode(), whole.encode());
  }
  for (int round = 0; round < 60; ++round) {
    AggregateKeys keys;
    AggregateSum by_family_shared(keys), by_family_own, by_key;
    Aggregate sorted;
    const int n = static_cast<int>(rng() % 200);
    for (int i = 0; i < n; ++i) {
      const KeyFamily& f = families[rng() % std::size(families)];
      const std::string sfx = suffix();
      std::vector<FamilyValue> add(rng() % 8);
      for (auto& v : add) {
        v.name = static_cast<uint32_t>(rng() % f.size());
        v.is_bin = rng() % 2 == 0;
        v.bin = bins[rng() % std::size(bins)];
        v.value = values[rng() % std::size(values)];
      }
      by_family_shared.add_family(f, sfx, add);
      by_family_own.add_family(f, sfx, add);
      sorted.add_family(f, sfx, add);  // the sink's own way: each whole key
      std::string key;
      for (const auto& v : add) {
        f.key(v.name, sfx, key);
        if (v.is_bin) {
          by_key.add_bin(key, v.bin, v.value);
        } else {
          by_key.add(key, v.value);
        }
      }
      if (rng() % 5 == 0) {  // the same keys added by key to the family's sum: one entry each
        const std::string k = generated_key(rng);
        by_family_shared.add(k, 1);
        by_family_own.add(k, 1);
        sorted.add(k, 1);
        by_key.add(k, 1);
      }
    }
    const std::string want = by_key.encode();
    EXPECT_EQ(sorted.encode(), want) << "round " << round;
    EXPECT_EQ(by_family_shared.encode(), want) << "round " << round;
    EXPECT_EQ(by_family_own.encode(), want) << "round " << round;
  }
}

// Values of every bit width (around 2^k for k up to 126, either sign, whole and not, as scalars
// and as bins) come back exactly from the encoding and from a merge: the varints' one-byte,
// 64-bit and 128-bit paths and the borders between them.
TEST(Aggregate, ValuesOfEveryBitWidthRoundTrip) {
  using Fixed = Aggregate::Fixed;
  std::vector<std::pair<std::string, Fixed>> entries;
  for (int k = 0; k < 127; ++k) {
    const auto p = static_cast<Fixed>(static_cast<unsigned __int128>(1) << k);
    const Fixed around[] = {p, p - 1, p + 1, -p, -p + 1, -p - 1};
    for (size_t j = 0; j < std::size(around); ++j) {
      const std::string name = "v" + std::to_string(k) + "_" + std::to_string(j);
      if (around[j] == 0) continue;
      entries.emplace_back(name, around[j]);
      entries.emplace_back(bin_key("b" + name, std::to_string(k * 6 + j)), around[j]);
    }
  }
  const Aggregate a = Aggregate::from_entries(entries);
  const std::string bytes = a.encode();
  auto back = Aggregate::decode(bytes);
  ASSERT_TRUE(back.has_value());
  std::vector<std::pair<std::string, Fixed>> got;
  back->for_each_fixed([&](const std::string& k, Fixed v) { got.emplace_back(k, v); });
  auto want = entries;
  std::sort(want.begin(), want.end());
  std::sort(got.begin(), got.end());
  EXPECT_TRUE(got == want) << got.size() << " of " << want.size() << " entries";
  // Merged with itself, then with its negation: twice every value, then nothing.
  std::string twice, none;
  const EncodedTerm same[] = {{bytes}, {bytes}};
  ASSERT_TRUE(sum_encoded(same, twice));
  Aggregate doubled;
  doubled.add(a);
  doubled.add(a);
  EXPECT_EQ(twice, doubled.encode());
  const EncodedTerm opposite[] = {{bytes}, {bytes, -1}};
  ASSERT_TRUE(sum_encoded(opposite, none));
  EXPECT_EQ(none, std::string(1, '\0'));
}

// A score histogram of one class pair (bins "sh\x1f<g>\x1f<b>", as the contributor writes them)
// is one packed item: ~2 bytes per bin of counts instead of ~40 (key, separator, 16-byte value).
TEST(Aggregate, PacksTheBinsOfAHistogramIntoOneItem) {
  Aggregate a;
  for (int b = 0; b < 2980; b += 3)
    a.add("sh\x1f\"1\"\x1f\"1\"\x1f" + std::to_string(b), 1 + b % 5);
  a.add("n", 1000);
  a.add("lag_sum", 12.375);
  const std::string v2 = a.encode();
  const std::string v1 = encode_v1(a);
  EXPECT_LT(v2.size() * 10, v1.size()) << v2.size() << " vs " << v1.size();
  EXPECT_LT(v2.size(), 2500u);
  auto back = Aggregate::decode(v2);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->get(bin_key("sh\x1f\"1\"\x1f\"1\"", "2979")), 1 + 2979 % 5);
  EXPECT_EQ(back->get(bin_key("sh\x1f\"1\"\x1f\"1\"", "1")), 0);
  EXPECT_EQ(back->get("lag_sum"), 12.375);
  EXPECT_EQ(back->encode(), v2);

  // A bin past nine digits is a key of its own, however it is added.
  AggregateSum big;
  big.add_bin("x", 1000000000u, 1);
  big.add(bin_key("x", "1000000000"), 1);
  big.add_bin("x", 4294967295u, 1);
  big.add_bin("x", kMaxAggregateBin, 1);
  auto sum = Aggregate::decode(big.encode());
  ASSERT_TRUE(sum.has_value());
  EXPECT_EQ(sum->size(), 3u);
  EXPECT_EQ(sum->get(bin_key("x", "1000000000")), 2);
  EXPECT_EQ(sum->get(bin_key("x", "4294967295")), 1);
  EXPECT_EQ(sum->get(bin_key("x", "999999999")), 1);
}

// The reference for sum_encoded: each term added to a flat-map sum, then encoded.
std::optional<std::string> reference_sum(const std::vector<EncodedTerm>& terms) {
  AggregateSum sum;
  for (const auto& t : terms) {
    if (!sum.add_encoded(t.bytes, t.sign)) return std::nullopt;
  }
  return sum.encode();
}

std::optional<std::string> merged_sum(const std::vector<EncodedTerm>& terms) {
  std::string out = "left over";
  if (!sum_encoded(terms, out)) return std::nullopt;
  return out;
}

// Generated terms (0 to 60 of them: both the scan for a few and the flat map for many; keys shared,
// disjoint or any bytes; values that cancel across terms, huge ones, signs +1 and -1): the merge
// gives the same bytes as the flat-map sum, and fails exactly when the sum does, on bytes cut,
// flipped, reordered or followed by more.
TEST(SumEncoded, GivesTheFlatMapSumsBytesForGeneratedTerms) {
  std::mt19937 rng(29);
  const double values[] = {1, -1, 1e-12, -3.5e9, 0.1, 123456.789, 1e30, -1e30, 0.5, 7};
  const std::string shared[] = {"n",
                                "conf_sum",
                                std::string("sh\x1f") + "0.9",
                                std::string("cm\x1f\"a\"") + "\x1f\"b\"",
                                "",
                                "zz",
                                bin_key("sh\x1f\"1\"\x1f\"1\"", "17"),
                                bin_key("sh\x1f\"1\"\x1f\"1\"", "170"),
                                "sh\x1f\"1\"\x1f\"1\"",
                                bin_key("c1", "0")};
  for (int round = 0; round < 400; ++round) {
    const size_t k = round < 200 ? rng() % 20 : rng() % 61;
    std::vector<std::string> bytes;
    std::vector<EncodedTerm> terms;
    for (size_t t = 0; t < k; ++t) {
      Aggregate a;
      const int n = static_cast<int>(rng() % 40);
      for (int i = 0; i < n; ++i) {
        std::string key;
        switch (rng() % 4) {
          case 0:
            key = shared[rng() % std::size(shared)];
            break;
          case 1:
            key = "t" + std::to_string(t) + "." + std::to_string(rng() % 50);
            break;
          case 2:
            key = generated_key(rng);
            break;
          default:
            key.assign(rng() % 10, '\0');
            for (char& ch : key) ch = static_cast<char>(rng());
        }
        a.add(key, values[rng() % std::size(values)]);
      }
      // A fifth of the terms in the first encoding: stored values written by earlier versions
      // meet new operands.
      bytes.push_back(rng() % 5 == 0 ? encode_v1(a) : a.encode());
    }
    for (size_t t = 0; t < k; ++t) terms.push_back({bytes[t], rng() % 4 == 0 ? -1 : 1});
    // A term taken back out: its entries cancel exactly.
    if (k > 0 && rng() % 3 == 0) terms.push_back({bytes[0], -terms[0].sign});
    const auto want = reference_sum(terms);
    ASSERT_TRUE(want.has_value()) << "round " << round;
    EXPECT_EQ(merged_sum(terms), want) << "round " << round << ", " << terms.size() << " terms";

    if (k == 0) continue;
    // Damaged bytes in one term: whatever the flat-map sum says (some damage still parses), the
    // merge says the same.
    const size_t victim = rng() % k;
    std::string damaged = bytes[victim];
    switch (rng() % 4) {
      case 0:
        damaged.resize(damaged.empty() ? 0 : rng() % damaged.size());
        break;
      case 1:
        if (!damaged.empty()) damaged[rng() % damaged.size()] ^= static_cast<char>(1 + rng() % 255);
        break;
      case 2:
        damaged += static_cast<char>(rng());
        break;
      default:
        damaged = bytes[(victim + 1) % k] + damaged;
    }
    terms[victim].bytes = damaged;
    EXPECT_EQ(merged_sum(terms), reference_sum(terms)) << "round " << round << ", damaged";
  }
}

TEST(SumEncoded, RefusesKeysOutOfOrderAndCountsPastTheBytes) {
  Aggregate a;
  a.add("a", 1);
  a.add("b", 2);
  const std::string good = encode_v1(a);
  // The same entries, "b" first.
  const size_t entry = (good.size() - 1) / 2;
  const std::string swapped = good.substr(0, 1) + good.substr(1 + entry) + good.substr(1, entry);
  std::string out;
  EXPECT_TRUE(sum_encoded(std::vector<EncodedTerm>{{good}}, out));
  EXPECT_EQ(out, a.encode());
  EXPECT_FALSE(sum_encoded(std::vector<EncodedTerm>{{good}, {swapped}}, out));
  EXPECT_FALSE(sum_encoded(std::vector<EncodedTerm>{{std::string_view("\x05", 1)}}, out));
  EXPECT_TRUE(sum_encoded(std::vector<EncodedTerm>{{std::string_view("\x00", 1)}}, out));
  EXPECT_EQ(out, std::string(1, '\0'));
  EXPECT_TRUE(sum_encoded(std::vector<EncodedTerm>{}, out));
  EXPECT_EQ(out, std::string(1, '\0'));
  // A term and its negation: nothing.
  EXPECT_TRUE(sum_encoded(std::vector<EncodedTerm>{{a.encode(), 1}, {good, -1}}, out));
  EXPECT_EQ(out, std::string(1, '\0'));
}

// Hand-written v2 bytes: what is refused is refused by the merge and by the flat-map sum alike.
TEST(SumEncoded, RefusesMalformedPackedItems) {
  auto item = [](std::string_view stem, char tag, std::string_view rest) {
    std::string out;
    out += static_cast<char>(stem.size());
    out += stem;
    out += tag;
    out += rest;
    return out;
  };
  const std::string head("\0\2", 2);
  // One whole count of 3 (zigzag 6) under "n"; bins 4 and 6 of "h" (deltas 4 and 2, whole), 1 each.
  const std::string n3 = item("n", 1, "\x06");
  const std::string h46 = item("h", 2, std::string("\x02") + "\x09\x02" + "\x05\x02");
  const struct {
    const char* what;
    std::string bytes;
    bool valid;
  } cases[] = {
      {"two items in order", head + "\x02" + h46 + n3, true},
      {"zero items", head + std::string(1, '\0'), true},
      {"items out of order", head + "\x02" + n3 + h46, false},
      {"a stem twice as scalars", head + "\x02" + n3 + n3, false},
      {"a scalar and a packed item of one stem", head + "\x02" + item("h", 1, "\x02") + h46, true},
      {"a packed item before the scalar of its stem", head + "\x02" + h46 + item("h", 1, "\x02"),
       false},
      {"a scalar whose key is a bin", head + "\x01" + item(bin_key("h", "3"), 1, "\x02"), false},
      {"a scalar whose key looks like a bin but is not one",
       head + "\x01" + item(bin_key("h", "03"), 1, "\x02"), true},
      {"an unknown tag", head + "\x01" + item("n", 3, "\x02"), false},
      {"a packed item without bins", head + "\x01" + item("h", 2, std::string(1, '\0')), false},
      {"bins not ascending",
       head + "\x01" + item("h", 2, std::string("\x02") + "\x09\x02" + "\x01\x02"), false},
      {"a bin past 999999999", head + "\x01" + item("h", 2, "\x01\x81\xa8\xd6\xb9\x07\x02"), false},
      {"the last bin allowed", head + "\x01" + item("h", 2, "\x01\xff\xa7\xd6\xb9\x07\x02"), true},
      {"cut short", (head + "\x02" + h46 + n3).substr(0, 12), false},
      {"bytes after the last item", head + "\x01" + n3 + "x", false},
      {"a value of 20 varint bytes", head + "\x01" + item("n", 0, std::string(19, '\x80') + "\x01"),
       false},
      {"the largest value", head + "\x01" + item("n", 0, std::string(18, '\xff') + "\x03"), true},
  };
  for (const auto& c : cases) {
    std::string out;
    AggregateSum reference;
    EXPECT_EQ(reference.add_encoded(c.bytes), c.valid) << c.what;
    EXPECT_EQ(sum_encoded(std::vector<EncodedTerm>{{c.bytes}}, out), c.valid) << c.what;
    EXPECT_EQ(Aggregate::decode(c.bytes).has_value(), c.valid) << c.what;
    if (c.valid) {
      EXPECT_EQ(out, reference.encode()) << c.what;
    }
  }
  std::string out;
  ASSERT_TRUE(sum_encoded(std::vector<EncodedTerm>{{head + "\x02" + h46 + n3}}, out));
  auto a = Aggregate::decode(out);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->get("n"), 3);
  EXPECT_EQ(a->get(bin_key("h", "4")), 1);
  EXPECT_EQ(a->get(bin_key("h", "6")), 1);
  EXPECT_EQ(a->size(), 3u);
}

}  // namespace
}  // namespace verity::store
