#include "verity/core/time_format.h"

#include <gtest/gtest.h>

namespace verity {
namespace {

constexpr EpochMillis kNov20_1030 = 1763634600000;  // 2025-11-20T10:30:00Z

TEST(ParseRfc3339, UtcAndOffsets) {
  EXPECT_EQ(parse_rfc3339("2025-11-20T10:30:00Z").value(), kNov20_1030);
  EXPECT_EQ(parse_rfc3339("2025-11-20T12:30:00+02:00").value(), kNov20_1030);
  EXPECT_EQ(parse_rfc3339("2025-11-20T05:00:00-05:30").value(), kNov20_1030);
  EXPECT_EQ(parse_rfc3339("2025-11-20t10:30:00z").value(), kNov20_1030);
  EXPECT_EQ(parse_rfc3339("2025-11-20 10:30:00Z").value(), kNov20_1030);
}

TEST(ParseRfc3339, FractionsTruncateToMillis) {
  EXPECT_EQ(parse_rfc3339("2025-11-20T10:30:00.1Z").value(), kNov20_1030 + 100);
  EXPECT_EQ(parse_rfc3339("2025-11-20T10:30:00.123Z").value(), kNov20_1030 + 123);
  EXPECT_EQ(parse_rfc3339("2025-11-20T10:30:00.123999999Z").value(), kNov20_1030 + 123);
}

TEST(ParseRfc3339, RejectsMalformed) {
  for (const char* bad :
       {"", "2025-11-20", "2025-11-20T10:30:00", "2025-13-01T00:00:00Z", "2025-02-29T00:00:00Z",
        "2025-11-20T24:00:00Z", "2025-11-20T10:30:00.Z", "2025-11-20T10:30:00+0200",
        "2025-11-20T10:30:00Zjunk", "20251120T103000Z", "2025-11-20T10:30:00+25:00"}) {
    EXPECT_FALSE(parse_rfc3339(bad).is_ok()) << bad;
  }
  EXPECT_TRUE(parse_rfc3339("2024-02-29T00:00:00Z").is_ok());  // leap year
}

TEST(FormatRfc3339, RoundTrips) {
  EXPECT_EQ(format_rfc3339(kNov20_1030 + 7), "2025-11-20T10:30:00.007Z");
  EXPECT_EQ(format_rfc3339(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_rfc3339(-1), "1969-12-31T23:59:59.999Z");
  for (EpochMillis t : {EpochMillis{0}, kNov20_1030, EpochMillis{253402300799999}}) {
    EXPECT_EQ(parse_rfc3339(format_rfc3339(t)).value(), t);
  }
}

TEST(UtcDay, DayBoundariesAreUtc) {
  const EpochMillis midnight = parse_rfc3339("2026-11-21T00:00:00Z").value();
  EXPECT_EQ(utc_day(midnight - 1), 20261120u);
  EXPECT_EQ(utc_day(midnight), 20261121u);
  // 23:30 at -05:00 is already the next day in UTC.
  EXPECT_EQ(utc_day(parse_rfc3339("2026-11-20T23:30:00-05:00").value()), 20261121u);
  // 00:30 at +02:00 is still the previous day in UTC.
  EXPECT_EQ(utc_day(parse_rfc3339("2026-11-21T00:30:00+02:00").value()), 20261120u);
  EXPECT_EQ(utc_day(0), 19700101u);
  EXPECT_EQ(utc_day(-1), 19691231u);
}

TEST(CivilDays, InverseOverFourCenturies) {
  for (int64_t z = -146097; z <= 146097; z += 17) {
    int64_t y;
    unsigned m, d;
    civil_from_days(z, y, m, d);
    ASSERT_EQ(days_from_civil(y, m, d), z);
  }
}

}  // namespace
}  // namespace verity
