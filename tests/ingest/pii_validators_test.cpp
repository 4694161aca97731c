#include "verity/ingest/pii_validators.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace verity::ingest {
namespace {

// Appends the Luhn check digit to `payload`.
std::string with_check_digit(const std::string& payload) {
  for (char d = '0'; d <= '9'; ++d) {
    if (luhn_valid(payload + d)) return payload + d;
  }
  ADD_FAILURE() << "no check digit for " << payload;
  return payload;
}

TEST(Luhn, PropertyEveryPayloadHasExactlyOneCheckDigitAndSingleDigitErrorsAreCaught) {
  std::mt19937_64 rng(12345);
  for (int trial = 0; trial < 2000; ++trial) {
    std::string payload;
    const int len = 12 + static_cast<int>(rng() % 7);
    for (int i = 0; i < len; ++i) payload += static_cast<char>('0' + rng() % 10);
    int valid_digits = 0;
    for (char d = '0'; d <= '9'; ++d) valid_digits += luhn_valid(payload + d);
    ASSERT_EQ(valid_digits, 1) << payload;
    const std::string number = with_check_digit(payload);
    // Changing any one digit to any other value breaks the checksum.
    for (size_t pos = 0; pos < number.size(); ++pos) {
      for (char d = '0'; d <= '9'; ++d) {
        if (d == number[pos]) continue;
        std::string broken = number;
        broken[pos] = d;
        ASSERT_FALSE(luhn_valid(broken)) << number << " -> " << broken;
      }
    }
  }
}

TEST(Luhn, KnownNumbersAndSeparators) {
  EXPECT_TRUE(luhn_valid("4111111111111111"));
  EXPECT_TRUE(luhn_valid("4111 1111 1111 1111"));
  EXPECT_TRUE(luhn_valid("4111-1111-1111-1111"));
  EXPECT_FALSE(luhn_valid("4111111111111112"));
  EXPECT_FALSE(luhn_valid("4111x111111111111"));
  EXPECT_FALSE(luhn_valid(""));
  EXPECT_TRUE(card_number_valid("5500 0000 0000 0004"));
  EXPECT_TRUE(card_number_valid("378282246310005"));    // Amex, 15 digits
  EXPECT_FALSE(card_number_valid("0000000000000000"));  // Luhn-valid, but no network starts with 0
  EXPECT_FALSE(card_number_valid("4111111111"));        // too short
}

TEST(Iban, KnownValidAndEveryOneCharacterChangeInvalid) {
  for (const char* good :
       {"GB82WEST12345698765432", "DE89370400440532013000", "FR1420041010050500013M02606",
        "NL91ABNA0417164300", "GB82 WEST 1234 5698 7654 32"}) {
    EXPECT_TRUE(iban_valid(good)) << good;
  }
  const std::string iban = "DE89370400440532013000";
  for (size_t pos = 4; pos < iban.size(); ++pos) {
    for (char d = '0'; d <= '9'; ++d) {
      if (d == iban[pos]) continue;
      std::string broken = iban;
      broken[pos] = d;
      ASSERT_FALSE(iban_valid(broken)) << broken;  // mod 97 catches every single substitution
    }
  }
  EXPECT_FALSE(iban_valid("DE8937040044"));
  EXPECT_FALSE(iban_valid("1234567890123456"));
}

TEST(Iban, PropertyRandomStringsAreAlmostNeverValid) {
  std::mt19937_64 rng(7);
  int valid = 0;
  for (int i = 0; i < 10000; ++i) {
    std::string s = "DE";
    for (int k = 0; k < 20; ++k) s += static_cast<char>('0' + rng() % 10);
    valid += iban_valid(s);
  }
  // Exactly one check-digit pair in 97 is right for random digits.
  EXPECT_GT(valid, 10000 / 97 / 2);
  EXPECT_LT(valid, 10000 / 97 * 2);
}

TEST(Ssn, Rules) {
  EXPECT_TRUE(ssn_valid("123-45-6789"));
  EXPECT_FALSE(ssn_valid("000-45-6789"));
  EXPECT_FALSE(ssn_valid("666-45-6789"));
  EXPECT_FALSE(ssn_valid("912-45-6789"));
  EXPECT_FALSE(ssn_valid("123-00-6789"));
  EXPECT_FALSE(ssn_valid("123-45-0000"));
  EXPECT_FALSE(ssn_valid("123456789"));
}

TEST(Ip, V4AndV6) {
  EXPECT_TRUE(ipv4_valid("192.168.1.10"));
  EXPECT_TRUE(ipv4_valid("0.0.0.0"));
  EXPECT_FALSE(ipv4_valid("256.1.1.1"));
  EXPECT_FALSE(ipv4_valid("1.2.3"));
  EXPECT_FALSE(ipv4_valid("01.2.3.4"));
  EXPECT_FALSE(ipv4_valid("1.2.3.4.5"));
  EXPECT_TRUE(ipv6_valid("2001:db8::1"));
  EXPECT_TRUE(ipv6_valid("::1"));
  EXPECT_TRUE(ipv6_valid("fe80:0:0:0:200:f8ff:fe21:67cf"));
  EXPECT_FALSE(ipv6_valid("10:30:00"));  // a time of day, not an address
  EXPECT_FALSE(ipv6_valid("2001:db8"));
}

}  // namespace
}  // namespace verity::ingest
