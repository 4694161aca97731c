#include "verity/core/sha256.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "seed.h"

namespace verity {
namespace {

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // 1,000,000 'a' (FIPS 180-2): longer than any buffer a fast path might keep.
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// A random JSON document (valid: no raw control characters in strings), written twice: `spaced`
// with random insignificant whitespace between every token, `compact` with none. Strings hold
// escapes (quotes, runs of backslashes, \u), whitespace, braces and raw UTF-8; numbers are huge,
// tiny and negative; nesting goes deep.
class JsonGen {
 public:
  explicit JsonGen(uint64_t seed) : rng_(seed) {}

  void document(std::string& spaced, std::string& compact) {
    spaced.clear();
    compact.clear();
    value(spaced, compact, 0);
    ws(spaced);
  }

 private:
  void ws(std::string& out) {
    static const char kWs[] = {' ', '\t', '\n', '\r'};
    const size_t n = rng_() % 4 == 0 ? rng_() % 70 : 0;  // sometimes a long run (> a SIMD block)
    for (size_t i = 0; i < n; ++i) out += kWs[rng_() % 4];
  }
  void both(std::string& s, std::string& c, const std::string& token) {
    ws(s);
    s += token;
    c += token;
  }
  std::string string_token() {
    static const char* kPieces[] = {"a",
                                    " ",
                                    "\\\"",
                                    "\\\\",
                                    "\\\\\\\"",
                                    "\\\\\\\\",
                                    "\\n",
                                    "\\t",
                                    "\\/",
                                    "\\u00e9",
                                    "\\ud83d\\ude00",
                                    "{",
                                    "}",
                                    "[",
                                    ":",
                                    ",",
                                    "é",
                                    "日本",
                                    "  x  ",
                                    "user@example.org",
                                    "4111 1111"};
    std::string s = "\"";
    const size_t n = rng_() % 5 == 0 ? rng_() % 200 : rng_() % 12;
    for (size_t i = 0; i < n; ++i) s += kPieces[rng_() % (sizeof kPieces / sizeof *kPieces)];
    return s + "\"";
  }
  std::string number_token() {
    static const char* kNumbers[] = {"0",           "-0",
                                     "1e308",       "-1.7976931348623157e308",
                                     "5e-324",      "123456789012345678901234567890",
                                     "0.1",         "-42",
                                     "3.14159E+10", "1E-7"};
    return kNumbers[rng_() % (sizeof kNumbers / sizeof *kNumbers)];
  }
  void value(std::string& s, std::string& c, int depth) {
    const int pick = static_cast<int>(rng_() % (depth > 40 ? 4 : 7));
    switch (pick) {
      case 0:
        return both(s, c, string_token());
      case 1:
        return both(s, c, number_token());
      case 2:
        return both(s, c, rng_() % 2 ? "true" : "null");
      case 3:
        return both(s, c, "false");
      case 4:
      case 5: {
        both(s, c, "{");
        const size_t n = rng_() % 6;
        for (size_t i = 0; i < n; ++i) {
          if (i > 0) both(s, c, ",");
          both(s, c, string_token());
          both(s, c, ":");
          value(s, c, depth + 1);
        }
        return both(s, c, "}");
      }
      default: {
        both(s, c, "[");
        const size_t n = rng_() % 5;
        for (size_t i = 0; i < n; ++i) {
          if (i > 0) both(s, c, ",");
          value(s, c, depth + 1);
        }
        return both(s, c, "]");
      }
    }
  }

  std::mt19937_64 rng_;
};

// The idempotency digest (SIMD minify, then one hash) equals the plain walk on every document,
// and whitespace outside strings never changes it: a stored digest from any earlier version
// still matches its replay.
TEST(CanonicalDigest, EqualsThePlainWalkAndIgnoresOnlyInsignificantWhitespace) {
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  JsonGen gen(seed);
  std::string spaced, compact;
  for (int i = 0; i < 3000; ++i) {
    gen.document(spaced, compact);
    const auto fast = sha256_json_canonical(spaced);
    ASSERT_EQ(fast, sha256_json_canonical_reference(spaced)) << spaced;
    ASSERT_EQ(fast, sha256(compact)) << spaced << "\n" << compact;
    ASSERT_EQ(sha256_json_canonical(compact), sha256(compact)) << compact;
  }
}

TEST(CanonicalDigest, WhitespaceInsideStringsCounts) {
  EXPECT_NE(sha256_json_canonical(R"({"a":"x y"})"), sha256_json_canonical(R"({"a":"xy"})"));
  EXPECT_NE(sha256_json_canonical(R"({"a":"\" y"})"), sha256_json_canonical(R"({"a":"\"y"})"));
  // An escaped backslash ends before the quote: the quote closes the string, the space is outside.
  EXPECT_EQ(sha256_json_canonical(R"({"a":"x\\" ,"b":1})"), sha256(R"({"a":"x\\","b":1})"));
  // Past 256 KiB the walk runs instead of the minifier: the same digest.
  const std::string big(300 * 1024, 'x');
  EXPECT_EQ(sha256_json_canonical("{\"a\" : \"" + big + "\" ,\n \"b\": 1}"),
            sha256("{\"a\":\"" + big + "\",\"b\":1}"));
  // An unterminated string (not JSON: the decoder refuses it first) still gets the walk's digest.
  EXPECT_EQ(sha256_json_canonical(R"({"a": "x )"), sha256_json_canonical_reference(R"({"a": "x )"));
}

}  // namespace
}  // namespace verity
