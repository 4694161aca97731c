#include "verity/store/aggregate.h"

#include <gtest/gtest.h>

#include <iterator>
#include <random>
#include <string>

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

}  // namespace
}  // namespace verity::store
