#include "sorted_puts.h"

#include <gtest/gtest.h>
#include <rocksdb/write_batch.h>

#include <map>
#include <random>
#include <string>
#include <vector>

namespace verity::store {
namespace {

// What a WriteBatch holds, in its order.
struct Collect : rocksdb::WriteBatch::Handler {
  std::vector<std::pair<std::string, std::string>> puts;
  rocksdb::Status PutCF(uint32_t, const rocksdb::Slice& k, const rocksdb::Slice& v) override {
    puts.emplace_back(k.ToString(), v.ToString());
    return rocksdb::Status::OK();
  }
};

std::vector<std::pair<std::string, std::string>> flushed(SortedPuts& p) {
  rocksdb::WriteBatch wb;
  EXPECT_TRUE(p.flush_into(wb, nullptr).ok());
  Collect c;
  EXPECT_TRUE(wb.Iterate(&c).ok());
  return c.puts;
}

TEST(SortedPuts, AddsInKeyOrderAndTheLastOfEqualKeysLast) {
  SortedPuts p;
  p.put("b", "1");
  p.put("a", "2");
  p.put(std::string("a\0", 2), "3");  // binary keys compare as bytes
  p.put("b", "4");
  p.begin().append("c");
  p.key_done();
  p.begin_value().append("5");
  p.end();
  const auto got = flushed(p);
  const std::vector<std::pair<std::string, std::string>> want = {
      {"a", "2"}, {std::string("a\0", 2), "3"}, {"b", "1"}, {"b", "4"}, {"c", "5"}};
  EXPECT_EQ(got, want);
  EXPECT_TRUE(p.empty());
  EXPECT_TRUE(flushed(p).empty());
}

// Generated keys of any bytes and length (empty ones too), many equal: the batch applied in
// order gives what the puts applied in the order they were made give.
TEST(SortedPuts, SameFinalStateAsPutsInTheirOwnOrder) {
  std::mt19937 rng(7);
  for (int round = 0; round < 50; ++round) {
    SortedPuts p;
    std::map<std::string, std::string> want;
    const int n = static_cast<int>(rng() % 300);
    for (int i = 0; i < n; ++i) {
      std::string key(rng() % 6, '\0');
      for (char& ch : key) ch = static_cast<char>(rng() % 4 == 0 ? 0xff : rng() % 3);
      const std::string value = std::to_string(i);
      p.put(key, value);
      want[key] = value;
    }
    const auto got = flushed(p);
    ASSERT_EQ(got.size(), static_cast<size_t>(n));
    std::map<std::string, std::string> applied;
    for (size_t i = 0; i < got.size(); ++i) {
      if (i > 0) {
        ASSERT_LE(got[i - 1].first, got[i].first) << "round " << round;
      }
      applied[got[i].first] = got[i].second;
    }
    EXPECT_EQ(applied, want) << "round " << round;
  }
}

}  // namespace
}  // namespace verity::store
