#include "verity/ingest/line_batcher.h"

#include <gtest/gtest.h>

#include <cstring>

namespace verity::ingest {
namespace {

TEST(LineBatcher, GoodAndBadLinesSeparateWithLineNumbers) {
  ManualClock clock(0);
  LineBatcher b("tcp", std::make_shared<const document::FieldMappingSet>(), clock,
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

// Feeds `text` (complete lines) through a framer into the batcher.
void feed(LineBatcher& b, const std::string& text) {
  NdjsonFramer f(1 << 16, 1 << 16);
  auto area = f.write_area();
  std::memcpy(area.data(), text.data(), text.size());
  f.commit(text.size());
  f.drain([&](const FramedLine& l) { b.add(l); });
}

TEST(LineBatcher, OpensFilebeatEnvelopesAndKeepsTheirMetadataApart) {
  ManualClock clock(0);
  LineBatcher b("beats", std::make_shared<const document::FieldMappingSet>(), clock,
                DecoderLimits{});
  const std::string inner = R"({\"id\":\"r1\",\"timestamp\":5,\"model\":\"m\",\"outputs\":1})";
  feed(b,
       R"({"@timestamp":"2026-11-24T00:00:00Z","@metadata":{"beat":"filebeat","version":"8.15.0"},)"
       R"("host":{"name":"web-1","ip":["10.0.0.1"]},"agent":{"type":"filebeat"},)"
       R"("log":{"file":{"path":"/var/log/model.log"},"offset":42},"message":")" +
           inner + "\"}\n");
  auto batch = b.take();
  ASSERT_EQ(batch.events.size(), 1u) << (batch.rejects.empty() ? "" : batch.rejects[0].reason);
  const Event& e = batch.events[0];
  EXPECT_EQ(e.request_id, "r1");
  EXPECT_EQ(e.document, R"({"id":"r1","timestamp":5,"model":"m","outputs":1})");
  EXPECT_EQ(e.source,
            R"({"@metadata.beat":"filebeat","@metadata.version":"8.15.0","agent.type":"filebeat",)"
            R"("host.name":"web-1","log.file.path":"/var/log/model.log","log.offset":42})");
}

TEST(LineBatcher, EnvelopeErrorsNameTheMessageAndPlainDocumentsAreNotUnwrapped) {
  ManualClock clock(0);
  LineBatcher b("beats", std::make_shared<const document::FieldMappingSet>(), clock,
                DecoderLimits{});
  feed(b,
       // The message is JSON but lacks a timestamp.
       R"({"message":"{\"id\":\"r1\",\"model\":\"m\",\"outputs\":1}"})"
       "\n"
       // Plain text messages are not envelopes: the document itself is reported.
       R"({"message":"hello world"})"
       "\n"
       // A document with its own request id is never unwrapped.
       R"({"id":"r2","timestamp":1,"model":"m","outputs":1,"message":"{\"id\":\"x\"}"})"
       "\n");
  auto batch = b.take();
  ASSERT_EQ(batch.events.size(), 1u);
  EXPECT_EQ(batch.events[0].request_id, "r2");
  EXPECT_EQ(batch.events[0].source, "");
  ASSERT_EQ(batch.rejects.size(), 2u);
  EXPECT_EQ(batch.rejects[0].type, "missing_field");
  EXPECT_EQ(
      batch.rejects[0].reason.rfind("line 1: in message: missing required field timestamp", 0), 0u)
      << batch.rejects[0].reason;
  EXPECT_EQ(batch.rejects[1].reason.rfind("line 2: missing required field request_id", 0), 0u)
      << batch.rejects[1].reason;
}

TEST(LineBatcher, EnvelopesCanBeTurnedOff) {
  ManualClock clock(0);
  auto mappings = std::make_shared<document::FieldMappingSet>();
  mappings->envelope.enabled = false;
  LineBatcher b("beats", mappings, clock, DecoderLimits{});
  feed(b, R"({"message":"{\"id\":\"r1\",\"timestamp\":1,\"model\":\"m\",\"outputs\":1}"})"
          "\n");
  auto batch = b.take();
  EXPECT_TRUE(batch.events.empty());
  ASSERT_EQ(batch.rejects.size(), 1u);
  EXPECT_EQ(batch.rejects[0].type, "missing_field");
}

TEST(LineBatcher, RejectLastEventKeepsTheDocument) {
  ManualClock clock(0);
  LineBatcher b("http", std::make_shared<const document::FieldMappingSet>(), clock,
                DecoderLimits{});
  feed(b, R"({"id":"a","timestamp":1,"model":"m","outputs":1})"
          "\n");
  b.reject_last_event("not_a_label", "line 1: not a label");
  auto batch = b.take();
  EXPECT_TRUE(batch.events.empty());
  ASSERT_EQ(batch.rejects.size(), 1u);
  EXPECT_EQ(batch.rejects[0].type, "not_a_label");
  EXPECT_EQ(batch.rejects[0].line, 1u);
  EXPECT_EQ(batch.rejects[0].document, R"({"id":"a","timestamp":1,"model":"m","outputs":1})");
}

}  // namespace
}  // namespace verity::ingest
