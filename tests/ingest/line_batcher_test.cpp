#include "verity/ingest/line_batcher.h"

#include <gtest/gtest.h>

#include <cstring>

namespace verity::ingest {
namespace {

TEST(LineBatcher, GoodAndBadLinesSeparateWithLineNumbers) {
  ManualClock clock(0);
  LineBatcher b("tcp", std::make_shared<const FieldMappingSet>(), clock,
                DecoderLimits{64, 64, 256});
  NdjsonFramer f(64, 1024);
  const std::string in = std::string(R"({"id":"a","timestamp":1,"model":"m","outputs":1})") +
                         "\nnot json\n" + std::string(100, 'q') + "\n" +
                         R"({"id":"b","timestamp":1,"model":"m","outputs":1})" + "\n";
  auto area = f.write_area();
  std::memcpy(area.data(), in.data(), in.size());
  f.commit(in.size());
  f.drain([&](const FramedLine& l) { b.add(l); });
  ASSERT_EQ(b.size(), 4u);
  auto batch = b.take();
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(batch.input, "tcp");
  ASSERT_EQ(batch.events.size(), 2u);
  EXPECT_EQ(batch.events[0].request_id, "a");
  EXPECT_EQ(batch.events[1].request_id, "b");
  EXPECT_EQ(batch.events[1].line, 4u);
  ASSERT_EQ(batch.rejects.size(), 2u);
  EXPECT_EQ(batch.rejects[0].type, "invalid_json");
  EXPECT_EQ(batch.rejects[0].line, 2u);
  EXPECT_EQ(batch.rejects[1].type, "line_too_long");
  EXPECT_EQ(batch.rejects[1].reason, "line 3: 100 bytes exceed max_line of 64 bytes");
  EXPECT_EQ(batch.rejects[1].raw_length, 100u);
}

}  // namespace
}  // namespace verity::ingest
