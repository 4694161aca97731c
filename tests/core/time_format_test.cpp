#include "verity/core/time_format.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <ctime>
#include <limits>
#include <random>

#include "seed.h"

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

// Property: any instant in years 0000-9999 is written as the C library's gmtime_r reads it, with
// its milliseconds, and reads back; instants past either end are written as the end.
TEST(FormatRfc3339, MatchesGmtimeAndRoundTripsOverTheWholeRange) {
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  std::mt19937_64 rng(seed);
  constexpr EpochMillis kMin = -62167219200000, kMax = 253402300799999;
  for (int i = 0; i < 20000; ++i) {
    EpochMillis t = kMin + static_cast<EpochMillis>(rng() % static_cast<uint64_t>(kMax - kMin + 1));
    if (i % 4 == 0) t = static_cast<EpochMillis>(rng() % 4'000'000'000'000ull);  // near today
    const std::string got = format_rfc3339(t);
    const time_t secs = static_cast<time_t>(t >= 0 ? t / 1000 : (t - 999) / 1000);
    std::tm tm{};
    ASSERT_NE(gmtime_r(&secs, &tm), nullptr);
    char want[96];
    std::snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(t - static_cast<EpochMillis>(secs) * 1000));
    ASSERT_EQ(got, want) << t;
    const auto back = parse_rfc3339(got);
    ASSERT_TRUE(back.is_ok()) << got << ": " << back.status().to_string();
    ASSERT_EQ(back.value(), t) << got;
  }
  EXPECT_EQ(format_rfc3339(kMin - 1), "0000-01-01T00:00:00.000Z");
  EXPECT_EQ(parse_rfc3339("0000-02-29T00:00:00Z").value(), kMin + 59 * 86400000LL);  // a leap year
  EXPECT_EQ(format_rfc3339(kMax + 1), "9999-12-31T23:59:59.999Z");
  EXPECT_EQ(format_rfc3339(std::numeric_limits<EpochMillis>::max()), "9999-12-31T23:59:59.999Z");
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
