// The detectors' scan against one database of every pattern: the Masker compiles patterns that need
// an '@' or 13 digits apart and scans them only over the segments that have one; whatever text it
// is given, it must find exactly what one database scanned over the whole text finds.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "generators.h"
#include "masker_reference.h"
#include "seed.h"
#include "verity/ingest/masker.h"

namespace verity::ingest {
namespace {

const std::string kKey = "0123456789abcdef0123456789abcdef";

// A segment nobody designed for: detector shapes and ids, alone or inside other text; digit runs
// with and without separators around 13 digits; '@' in odd places; Unicode; bytes of every kind.
std::string generated_segment(std::mt19937_64& rng) {
  static const char* kWords[] = {"user",  "at",    "@",     "x@y",  "a.b@c.de", "::",  "-",
                                 " ",     ".",     "+",     "é",    "日本",     "\t",  "_",
                                 "EMP-",  "(415)", "AKIA",  "eyJ",  "sk_live_", "DE",  "\xff",
                                 "card:", "1.2.3", "fe80:", "mail", ".org",     "..@", "@@"};
  std::string s;
  const int parts = static_cast<int>(rng() % 5);
  for (int p = 0; p < parts; ++p) {
    switch (rng() % 6) {
      case 0:
        s += testing::detector_shape(rng);
        break;
      case 1:
        s += testing::generated_id(rng);
        break;
      case 2: {  // a digit run near the card gate's 13, with separators sometimes
        const size_t n = 8 + rng() % 12;
        s += static_cast<char>('2' + rng() % 5);
        for (size_t i = 1; i < n; ++i) {
          if (rng() % 6 == 0) s += rng() % 2 ? ' ' : '-';
          s += static_cast<char>('0' + rng() % 10);
        }
        break;
      }
      case 3:
        s += kWords[rng() % std::size(kWords)];
        break;
      case 4: {
        const size_t n = rng() % 12;
        for (size_t i = 0; i < n; ++i) s += static_cast<char>(1 + rng() % 255);
        break;
      }
      default:
        s += std::to_string(rng());
        break;
    }
  }
  return s;
}

std::string generated_text(std::mt19937_64& rng) {
  std::string text;
  const int segments = static_cast<int>(rng() % 8);
  for (int i = 0; i < segments; ++i) {
    text += generated_segment(rng);
    if (rng() % 8 != 0) text += '\n';  // the decoder ends each candidate with one; not always here
  }
  return text;
}

void expect_same_as_one_database(const MaskingConfig& config, uint64_t seed, int rounds) {
  auto masker = Masker::create(config, kKey);
  ASSERT_TRUE(masker.is_ok()) << masker.status().message();
  const Masker::Impl& impl = (*masker)->impl();
  ASSERT_GT(impl.databases.size(), 1u) << "the patterns were not split by gate";
  testing::OneDatabase reference(impl);
  ASSERT_TRUE(reference.ok());
  auto scratch = (*masker)->make_scratch();
  SCOPED_TRACE(testing::seed_trace(seed));
  std::mt19937_64 rng(seed);
  size_t matched = 0;
  for (int round = 0; round < rounds; ++round) {
    const std::string text = generated_text(rng);
    ASSERT_TRUE(impl.scan(text, *scratch));
    const testing::Found expected = reference.scan(text);
    ASSERT_EQ(testing::sorted(scratch->text_candidates), expected) << "text: " << text;
    // The scan's own order: by start, then specificity (the reference order is by start first).
    const auto& c = scratch->text_candidates;
    for (size_t i = 1; i < c.size(); ++i) ASSERT_LE(c[i - 1].from, c[i].from);
    matched += !expected.empty();
  }
  EXPECT_GT(matched, static_cast<size_t>(rounds) / 4) << "too few texts held a match";
}

TEST(MaskerScan, GatedDatabasesFindWhatOneDatabaseFinds) {
  const uint64_t seed = testing::test_seed();
  expect_same_as_one_database(MaskingConfig{}, seed, 3000);
}

TEST(MaskerScan, CustomDetectorsStayInTheWholeTextScan) {
  // A custom pattern may match '\n' and anything else: it is scanned over the whole text, and
  // still reported under its own detector.
  MaskingConfig config;
  CustomDetector across;
  across.name = "across_lines";
  across.pattern = R"(x@y\n\d{2})";
  CustomDetector employee;
  employee.name = "employee";
  employee.pattern = "EMP-[0-9]{4}";
  config.policy.custom = {across, employee};
  expect_same_as_one_database(config, testing::test_seed() + 1, 2000);

  auto masker = Masker::create(config, kKey);
  ASSERT_TRUE(masker.is_ok());
  auto scratch = (*masker)->make_scratch();
  ASSERT_TRUE((*masker)->impl().scan("a x@y\n42 b\nEMP-1234\n", *scratch));
  bool across_found = false;
  for (const Candidate& c : scratch->text_candidates) {
    across_found |= c.detector == kBuiltinDetectorCount && c.from == 2 && c.to == 8;
  }
  EXPECT_TRUE(across_found);
}

TEST(MaskerScan, NoScratchSpaceIsAFailureNotAnEmptyScan) {
  auto masker = Masker::create(MaskingConfig{}, kKey);
  ASSERT_TRUE(masker.is_ok());
  Masker::Scratch without_space;  // hs == nullptr, as when vectorscan could not allocate one
  EXPECT_FALSE((*masker)->impl().scan("someone@example.com\n", without_space));
  auto scratch = (*masker)->make_scratch();
  EXPECT_TRUE((*masker)->impl().scan("someone@example.com\n", *scratch));
  EXPECT_FALSE(scratch->text_candidates.empty());
}

}  // namespace
}  // namespace verity::ingest
