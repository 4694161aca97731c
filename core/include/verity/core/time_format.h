#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "verity/core/status.h"

namespace verity {

// Milliseconds since 1970-01-01T00:00:00Z. All Verity timestamps are UTC epoch millis.
using EpochMillis = int64_t;

// Parses RFC 3339 ("2026-11-20T10:30:00Z", "2026-11-20T10:30:00.123+02:00", lowercase t/z, or a
// space instead of T). Fractions finer than a millisecond are truncated. Years 0001..9999.
Result<EpochMillis> parse_rfc3339(std::string_view text);

// Formats as "2026-11-20T10:30:00.000Z". Times outside years 0000..9999 are clamped to them.
std::string format_rfc3339(EpochMillis ms);

// The UTC calendar day of a timestamp as YYYYMMDD (e.g. 20261120). Negative times round down.
uint32_t utc_day(EpochMillis ms);

// Days since the epoch for a proleptic Gregorian date, and back (Howard Hinnant's algorithms).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d);
void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d);

}  // namespace verity
