#include "verity/store/aggregate.h"

#include <gtest/gtest.h>

#include <iterator>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace verity::store {
namespace {

// Generated keys (any bytes, empty ones, shared prefixes) and values (tiny, huge, negative, summing
// to exactly zero): a flat-map sum encodes to the same bytes as the sorted Aggregate of the same
// additions, merged sums equal one sum of everything, and the bytes decode back.
TEST(AggregateSum, EncodesLikeTheSortedAggregateForGeneratedSums) {
  std::mt19937 rng(23);
  const double values[] = {0, 1, -1, 1e-12, -3.5e9, 0.1, 123456.789, 1e30, -1e30, 0.5};
  for (int round = 0; round < 60; ++round) {
    Aggregate sorted;
    AggregateSum a, b, all;
    const int n = static_cast<int>(rng() % 400);
    for (int i = 0; i < n; ++i) {
      std::string key(rng() % 12, '\0');
      for (char& ch : key) ch = static_cast<char>(rng() % 5 == 0 ? rng() : 'a' + rng() % 3);
      const double v = values[rng() % std::size(values)];
      sorted.add(key, v);
      all.add(key, v);
      (i % 2 == 0 ? a : b).add(key, v);
      if (rng() % 7 == 0) {  // taken back out: an entry that sums to 0 is not encoded
        sorted.add(key, -v);
        all.add(key, -v);
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
  }
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
  const std::string shared[] = {
      "n", "conf_sum", std::string("sh\x1f") + "0.9", std::string("cm\x1f\"a\"") + "\x1f\"b\"",
      "",  "zz"};
  for (int round = 0; round < 400; ++round) {
    const size_t k = round < 200 ? rng() % 20 : rng() % 61;
    std::vector<std::string> bytes;
    std::vector<EncodedTerm> terms;
    for (size_t t = 0; t < k; ++t) {
      Aggregate a;
      const int n = static_cast<int>(rng() % 40);
      for (int i = 0; i < n; ++i) {
        std::string key;
        switch (rng() % 3) {
          case 0:
            key = shared[rng() % std::size(shared)];
            break;
          case 1:
            key = "t" + std::to_string(t) + "." + std::to_string(rng() % 50);
            break;
          default:
            key.assign(rng() % 10, '\0');
            for (char& ch : key) ch = static_cast<char>(rng());
        }
        a.add(key, values[rng() % std::size(values)]);
      }
      bytes.push_back(a.encode());
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
  const std::string good = a.encode();
  // The same entries, "b" first.
  const size_t entry = (good.size() - 1) / 2;
  const std::string swapped = good.substr(0, 1) + good.substr(1 + entry) + good.substr(1, entry);
  std::string out;
  EXPECT_TRUE(sum_encoded(std::vector<EncodedTerm>{{good}}, out));
  EXPECT_EQ(out, good);
  EXPECT_FALSE(sum_encoded(std::vector<EncodedTerm>{{good}, {swapped}}, out));
  EXPECT_FALSE(sum_encoded(std::vector<EncodedTerm>{{std::string_view("\x05", 1)}}, out));
  EXPECT_TRUE(sum_encoded(std::vector<EncodedTerm>{{std::string_view("\x00", 1)}}, out));
  EXPECT_EQ(out, std::string(1, '\0'));
  EXPECT_TRUE(sum_encoded(std::vector<EncodedTerm>{}, out));
  EXPECT_EQ(out, std::string(1, '\0'));
  // A term and its negation: nothing.
  EXPECT_TRUE(sum_encoded(std::vector<EncodedTerm>{{good, 1}, {good, -1}}, out));
  EXPECT_EQ(out, std::string(1, '\0'));
}

}  // namespace
}  // namespace verity::store
