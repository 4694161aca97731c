#include "verity/core/time_format.h"

#include <algorithm>

namespace verity {
namespace {

bool digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    const char c = s[i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  return true;
}

bool is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned days_in_month(int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[m - 1];
}

}  // namespace

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

Result<EpochMillis> parse_rfc3339(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.fff...](Z|+HH:MM|-HH:MM)
  int year, month, day, hour, minute, second;
  if (!digits(s, 0, 4, year) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2, month) ||
      s[7] != '-' || !digits(s, 8, 2, day) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !digits(s, 11, 2, hour) || s[13] != ':' || !digits(s, 14, 2, minute) || s[16] != ':' ||
      !digits(s, 17, 2, second)) {
    return Status::invalid_argument("not an RFC 3339 timestamp (YYYY-MM-DDTHH:MM:SSZ)");
  }
  // Year 0000 is RFC 3339's too (and what format_rfc3339 writes for the earliest instants).
  if (month < 1 || month > 12 || day < 1 ||
      static_cast<unsigned>(day) > days_in_month(year, static_cast<unsigned>(month)) || hour > 23 ||
      minute > 59 || second > 60) {
    return Status::invalid_argument("RFC 3339 timestamp has an out-of-range date or time field");
  }
  size_t pos = 19;
  int64_t millis = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    const size_t start = pos;
    int scale = 100;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      millis += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return Status::invalid_argument("RFC 3339 fraction has no digits");
  }
  int64_t offset_minutes = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !digits(s, pos + 4, 2, om) || oh > 23 || om > 59) {
      return Status::invalid_argument("RFC 3339 offset must be +HH:MM or -HH:MM");
    }
    offset_minutes = (s[pos] == '-' ? -1 : 1) * (oh * 60 + om);
    pos += 6;
  } else {
    return Status::invalid_argument("RFC 3339 timestamp needs a zone: Z or +HH:MM");
  }
  if (pos != s.size())
    return Status::invalid_argument("RFC 3339 timestamp has trailing characters");
  if (second == 60) second = 59;  // a leap second is folded onto the second before it
  const int64_t days =
      days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  const int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
  return secs * 1000 + millis;
}

namespace {
// Years 0000..9999: beyond them the calendar arithmetic would overflow, and RFC 3339 has no
// spelling. Times outside are clamped (stored times are always inside: the decoder refuses others).
constexpr EpochMillis kMinMillis = -62167219200000;  // 0000-01-01T00:00:00Z
constexpr EpochMillis kMaxMillis = 253402300799999;  // 9999-12-31T23:59:59.999Z
}  // namespace

std::string format_rfc3339(EpochMillis ms) {
  ms = std::clamp(ms, kMinMillis, kMaxMillis);
  int64_t secs = ms / 1000;
  int64_t rem = ms % 1000;
  if (rem < 0) {
    rem += 1000;
    secs -= 1;
  }
  int64_t days = secs / 86400;
  int64_t sod = secs % 86400;
  if (sod < 0) {
    sod += 86400;
    days -= 1;
  }
  int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  // YYYY-MM-DDTHH:MM:SS.mmmZ, digit by digit (the clamp keeps the year within 0000-9999): this
  // runs twice for every document forwarded to Elasticsearch, where snprintf cost ~5% of it.
  char buf[24];
  auto put = [&buf](size_t at, int64_t v, size_t width) {
    for (size_t i = width; i > 0; --i, v /= 10) buf[at + i - 1] = static_cast<char>('0' + v % 10);
  };
  put(0, y, 4);
  buf[4] = '-';
  put(5, m, 2);
  buf[7] = '-';
  put(8, d, 2);
  buf[10] = 'T';
  put(11, sod / 3600, 2);
  buf[13] = ':';
  put(14, sod / 60 % 60, 2);
  buf[16] = ':';
  put(17, sod % 60, 2);
  buf[19] = '.';
  put(20, rem, 3);
  buf[23] = 'Z';
  return std::string(buf, sizeof buf);
}

uint32_t utc_day(EpochMillis ms) {
  ms = std::clamp(ms, kMinMillis, kMaxMillis);
  int64_t days = ms / 86'400'000;
  if (ms % 86'400'000 < 0) days -= 1;
  int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  return static_cast<uint32_t>(y * 10000 + m * 100 + d);
}

}  // namespace verity
