#include "verity/store/partition.h"

#include <gtest/gtest.h>

namespace verity::store {
namespace {

TEST(Partition, NamesFollowUtcDayOfPredictionTime) {
  EXPECT_EQ(partition_for(parse_rfc3339("2026-11-20T10:30:00Z").value()), "p_20261120");
  EXPECT_EQ(partition_for(parse_rfc3339("2026-11-20T23:59:59.999Z").value()), "p_20261120");
  EXPECT_EQ(partition_for(parse_rfc3339("2026-11-21T00:00:00Z").value()), "p_20261121");
  // Offsets are converted to UTC before choosing the day.
  EXPECT_EQ(partition_for(parse_rfc3339("2026-11-20T22:00:00-03:00").value()), "p_20261121");
  EXPECT_EQ(partition_for(parse_rfc3339("2026-11-21T01:00:00+02:00").value()), "p_20261120");
  // Epoch millis and RFC 3339 agree.
  EXPECT_EQ(partition_for(1763634600000), "p_20251120");
  EXPECT_EQ(partition_for(parse_rfc3339("2025-11-20T10:30:00Z").value()), "p_20251120");
  EXPECT_EQ(partition_for(parse_rfc3339("2024-12-31T23:59:59Z").value()), "p_20241231");
  EXPECT_EQ(partition_for(parse_rfc3339("2025-01-01T00:00:00Z").value()), "p_20250101");
}

TEST(Partition, ParseNames) {
  EXPECT_EQ(parse_partition_name("p_20261120"), 20261120u);
  EXPECT_FALSE(parse_partition_name("p_2026112"));
  EXPECT_FALSE(parse_partition_name("ids"));
  EXPECT_FALSE(parse_partition_name("p_20261320"));
  EXPECT_FALSE(parse_partition_name("p_2026112x"));
}

}  // namespace
}  // namespace verity::store
