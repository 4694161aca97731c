// The time index's keys (time_index.h) over generated models, versions, request ids and times:
// they parse back to what made them, a block summary's key lies in its records' slot, and their
// order is what scans and compactions rely on: slot before group within a day, (timestamp,
// request id) within a group.

#include "time_index.h"

#include <gtest/gtest.h>

#include <limits>
#include <random>
#include <string>
#include <vector>

#include "search_keys.h"
#include "seed.h"
#include "verity/store/search_index.h"

namespace verity::store {
namespace {

constexpr EpochMillis kDayMs = 86'400'000;

std::string odd_string(std::mt19937_64& rng) {
  switch (rng() % 6) {
    case 0:
      return "";
    case 1:
      return std::string(1, '\0');
    case 2:
      return std::string(128 + rng() % 300, static_cast<char>(rng()));  // a 2-byte varint length
    case 3:
      return "\xff\xff";
    case 4:
      return "v\xc3\xa9" + std::to_string(rng() % 1000);
    default: {
      std::string s(rng() % 12, '\0');
      for (char& c : s) c = static_cast<char>(rng());
      return s;
    }
  }
}

EpochMillis odd_time(std::mt19937_64& rng) {
  const EpochMillis day = (static_cast<EpochMillis>(rng() % 200'000) - 100'000) * kDayMs;
  switch (rng() % 5) {
    case 0:
      return day;  // midnight
    case 1:
      return day - 1;  // the last millisecond of the day before
    case 2:
      return day + static_cast<EpochMillis>(rng() % kTimeSlotsPerDay) * kTimeSlotMillis +
             (rng() % 2 == 0 ? 0 : kTimeSlotMillis - 1);  // a slot's first or last millisecond
    case 3:
      return static_cast<EpochMillis>(rng() % 3) - 1;  // around the epoch
    default:
      return day + static_cast<EpochMillis>(rng() % static_cast<uint64_t>(kDayMs));
  }
}

struct Entry {
  uint32_t day;
  std::string model, version, id;
  EpochMillis ts;
  std::string key;
};

TEST(TimeIndexKeys, ParseBackOrderBySlotThenGroupThenTimeAndHoldTheirBlocks) {
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  std::mt19937_64 rng(seed);
  std::vector<Entry> entries;
  for (int i = 0; i < 4000; ++i) {
    Entry e;
    e.ts = odd_time(rng);
    e.day = utc_day(e.ts);
    e.model = odd_string(rng);
    e.version = odd_string(rng);
    e.id = odd_string(rng);
    e.key = time_index_key(e.day, e.model, e.version, e.ts, e.id);

    const uint32_t slot = time_slot(e.ts);
    ASSERT_LT(slot, kTimeSlotsPerDay);
    const EpochMillis midnight = e.ts - (((e.ts % kDayMs) + kDayMs) % kDayMs);
    EXPECT_EQ(utc_day(midnight), e.day) << e.ts;
    EXPECT_GE(e.ts - midnight, static_cast<EpochMillis>(slot) * kTimeSlotMillis) << e.ts;
    EXPECT_LT(e.ts - midnight, static_cast<EpochMillis>(slot + 1) * kTimeSlotMillis) << e.ts;

    TimeIndexKey k;
    ASSERT_TRUE(parse_time_index_key(e.key, k)) << e.ts;
    EXPECT_EQ(k.day, e.day);
    EXPECT_EQ(k.slot, slot);
    EXPECT_EQ(k.model, e.model);
    EXPECT_EQ(k.version, e.version);
    EXPECT_EQ(k.ts, e.ts);
    EXPECT_EQ(k.request_id, e.id);
    EXPECT_EQ(e.key.substr(0, k.group_size), time_index_group(e.day, slot, e.model, e.version));
    EXPECT_EQ(e.key.rfind(time_index_slot(e.day, slot), 0), 0u);
    EXPECT_EQ(e.key.rfind(time_index_day(e.day), 0), 0u);

    // The block summary of the record's block is keyed under the record's own group: the scan
    // and summarize_block() read the block's records under the summary key's group prefix.
    std::string block;
    append_block_key(block, e.day, e.model, e.version, block_start(e.ts));
    EXPECT_EQ(block.rfind(e.key.substr(0, k.group_size), 0), 0u) << e.ts;
    EXPECT_EQ(time_slot(block_start(e.ts)), slot);
    // A field-index term sits under the same group.
    std::string term;
    append_field_index_group(term, e.day, e.ts, e.model, e.version, "f", "t");
    EXPECT_EQ(term.rfind(e.key.substr(0, k.group_size), 0), 0u) << e.ts;
    entries.push_back(std::move(e));
  }
  // A cut key is not a key.
  TimeIndexKey k;
  for (const Entry& e : entries) {
    ASSERT_TRUE(parse_time_index_key(e.key, k));
    EXPECT_FALSE(parse_time_index_key(e.key.substr(0, k.group_size + 7), k));
  }
  // Order: by day, then slot, then group, then (timestamp, request id).
  for (size_t n = 0; n < 20'000; ++n) {
    const Entry& a = entries[rng() % entries.size()];
    const Entry& b = entries[rng() % entries.size()];
    const int by_key = a.key.compare(b.key);
    if (a.day != b.day) {
      EXPECT_EQ(by_key < 0, a.day < b.day);
    } else if (time_slot(a.ts) != time_slot(b.ts)) {
      EXPECT_EQ(by_key < 0, time_slot(a.ts) < time_slot(b.ts)) << a.ts << " " << b.ts;
    } else if (a.model == b.model && a.version == b.version) {
      const auto ta = std::pair(a.ts, a.id), tb = std::pair(b.ts, b.id);
      EXPECT_EQ(by_key < 0, ta < tb) << a.ts << " " << b.ts;
      EXPECT_EQ(by_key == 0, ta == tb);
    }
  }
}

}  // namespace
}  // namespace verity::store
