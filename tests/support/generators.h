#pragma once

// Generators for property tests: text in the shapes the PII detectors know, and ids built from
// them. Deterministic for a given std::mt19937_64 seed.

#include <random>
#include <string>

namespace verity::testing {

// A Luhn-valid card number of `digits` digits starting with `prefix`.
inline std::string luhn_card(std::mt19937_64& rng, const std::string& prefix, size_t digits) {
  std::string s = prefix;
  while (s.size() < digits - 1) s += static_cast<char>('0' + rng() % 10);
  for (char check = '0'; check <= '9'; ++check) {
    const std::string c = s + check;
    int sum = 0;
    for (size_t i = 0; i < c.size(); ++i) {
      int d = c[c.size() - 1 - i] - '0';
      if (i % 2 == 1) {
        d *= 2;
        if (d > 9) d -= 9;
      }
      sum += d;
    }
    if (sum % 10 == 0) return c;
  }
  return s + "0";
}

// Text in the shape of one of the built-in detectors (every one, with separators and without).
inline std::string detector_shape(std::mt19937_64& rng) {
  auto digits = [&](size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) s += static_cast<char>('0' + rng() % 10);
    return s;
  };
  switch (rng() % 14) {
    case 0:
      return luhn_card(rng, "4", 16);
    case 1: {
      std::string c = luhn_card(rng, "5", 16);
      return c.substr(0, 4) + "-" + c.substr(4, 4) + "-" + c.substr(8, 4) + "-" + c.substr(12);
    }
    case 2: {
      std::string c = luhn_card(rng, "37", 15);
      return c.substr(0, 4) + " " + c.substr(4, 6) + " " + c.substr(10);
    }
    case 3:
      return std::to_string(100 + rng() % 560) + "-" + std::to_string(10 + rng() % 89) + "-" +
             std::to_string(1000 + rng() % 8999);  // SSN
    case 4:
      return "+1415555" + digits(4);
    case 5:
      return "(415) 555-" + digits(4);
    case 6:
      return "DE89370400440532013000";
    case 7:
      return "GB82 WEST 1234 5698 7654 32";
    case 8:
      return "user" + digits(3) + "@example-" + digits(2) + ".org";
    case 9:
      return std::to_string(rng() % 256) + "." + std::to_string(rng() % 256) + "." +
             std::to_string(rng() % 256) + "." + std::to_string(rng() % 256);
    case 10:
      return "2001:db8:85a3::8a2e:370:" + digits(4);
    case 11:
      return "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTQyIn0.c2lnbmF0dXJlX29mX3RoZV90b2tlbg";
    case 12:
      return "AKIA" + std::string("IOSFODNN7EXAMPLE");
    default:
      return "ord-2026" + digits(4) + "-" + digits(6);
  }
}

// An id built from a detector shape with a random prefix and suffix, or a UUID whose digits may
// form a Luhn-valid card number.
inline std::string generated_id(std::mt19937_64& rng) {
  static const char* kPrefixes[] = {"", "req-", "ord_", "id:", "x"};
  static const char* kSuffixes[] = {"", "-1", "/b", ".v2", " "};
  if (rng() % 4 == 0) {
    static const char* kHex = "0123456789abcdef";
    std::string u;
    for (int i = 0; i < 32; ++i) {
      if (i == 8 || i == 12 || i == 16 || i == 20) u += '-';
      // Mostly digits: many such UUIDs hold a run a card detector would take.
      u += rng() % 3 ? static_cast<char>('0' + rng() % 10) : kHex[rng() % 16];
    }
    return u;
  }
  return std::string(kPrefixes[rng() % 5]) + detector_shape(rng) + kSuffixes[rng() % 5];
}

}  // namespace verity::testing
