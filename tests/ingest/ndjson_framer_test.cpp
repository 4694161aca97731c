#include "verity/ingest/ndjson_framer.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace verity::ingest {
namespace {

struct Seen {
  std::string text;
  uint64_t number;
  uint64_t length;
  bool too_long;
};

// Feeds `input` in pieces of `piece` bytes and collects every line.
std::vector<Seen> frame(const std::string& input, size_t piece, size_t max_line = 64,
                        size_t chunk = 16, bool finish = true) {
  NdjsonFramer f(max_line, chunk);
  std::vector<Seen> out;
  auto collect = [&](const FramedLine& l) {
    if (!l.too_long) {
      EXPECT_GE(l.readable, l.text.size() + kJsonPadding);
    }
    out.push_back({std::string(l.text), l.number, l.length, l.too_long});
  };
  size_t pos = 0;
  while (pos < input.size()) {
    auto area = f.write_area();
    const size_t n = std::min({piece, area.size(), input.size() - pos});
    std::memcpy(area.data(), input.data() + pos, n);
    f.commit(n);
    pos += n;
    f.drain(collect);
  }
  if (finish) f.finish(collect);
  return out;
}

TEST(NdjsonFramer, LinesSplitAcrossReadsAreJoined) {
  const std::string in = "{\"a\":1}\n{\"b\":22}\n{\"c\":333}\n";
  for (size_t piece : {1, 2, 3, 5, 7, 16}) {
    auto lines = frame(in, piece);
    ASSERT_EQ(lines.size(), 3u) << piece;
    EXPECT_EQ(lines[0].text, "{\"a\":1}");
    EXPECT_EQ(lines[1].text, "{\"b\":22}");
    EXPECT_EQ(lines[2].text, "{\"c\":333}");
    EXPECT_EQ(lines[2].number, 3u);
  }
}

TEST(NdjsonFramer, CrLfIsAccepted) {
  auto lines = frame("{\"a\":1}\r\n{\"b\":2}\r\n", 4);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].text, "{\"a\":1}");
  EXPECT_EQ(lines[1].text, "{\"b\":2}");
}

TEST(NdjsonFramer, BlankLinesAreSkippedButCounted) {
  auto lines = frame("\n  \n{\"a\":1}\r\n\n{\"b\":2}\n", 3);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].number, 3u);
  EXPECT_EQ(lines[1].number, 5u);
}

TEST(NdjsonFramer, FinalLineWithoutNewlineCountsAtEndOfStream) {
  auto lines = frame("{\"a\":1}\n{\"b\":2}", 5);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1].text, "{\"b\":2}");
  auto unfinished = frame("{\"a\":1}\n{\"b\":2}", 5, 64, 16, /*finish=*/false);
  EXPECT_EQ(unfinished.size(), 1u);
}

TEST(NdjsonFramer, TooLongLineIsReportedOnceAndTheStreamGoesOn) {
  const std::string longline(1000, 'x');
  const std::string in = "{\"a\":1}\n" + longline + "\n{\"b\":2}\n";
  for (size_t piece : {1, 7, 16, 100}) {
    auto lines = frame(in, piece, /*max_line=*/64, /*chunk=*/16);
    ASSERT_EQ(lines.size(), 3u) << piece;
    EXPECT_FALSE(lines[0].too_long);
    EXPECT_TRUE(lines[1].too_long);
    EXPECT_EQ(lines[1].length, 1000u);
    EXPECT_EQ(lines[1].number, 2u);
    EXPECT_EQ(lines[2].text, "{\"b\":2}");
    EXPECT_EQ(lines[2].number, 3u);
  }
}

TEST(NdjsonFramer, MemoryStaysBoundedUnderAnEndlessLine) {
  NdjsonFramer f(/*max_line=*/1024, /*chunk=*/256);
  size_t lines = 0;
  for (int i = 0; i < 10'000; ++i) {
    auto area = f.write_area();
    std::memset(area.data(), 'y', area.size());
    f.commit(area.size());
    f.drain([&](const FramedLine&) { ++lines; });
    ASSERT_LE(f.capacity(), 1024u + 256u + kJsonPadding + 256u);
  }
  EXPECT_EQ(lines, 0u);
}

TEST(NdjsonFramer, LineExactlyAtTheLimitIsKept) {
  const std::string exact(64, 'z');
  auto lines = frame(exact + "\n" + exact + "z\n", 9, 64, 16);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_FALSE(lines[0].too_long);
  EXPECT_EQ(lines[0].text.size(), 64u);
  EXPECT_TRUE(lines[1].too_long);
  EXPECT_EQ(lines[1].length, 65u);
}

}  // namespace
}  // namespace verity::ingest
