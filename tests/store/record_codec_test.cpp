#include "record_codec.h"

#include <gtest/gtest.h>

namespace verity::store {
namespace {

TEST(RecordCodec, RoundTrips) {
  StoredRecord r;
  r.kind = EventKind::kLabel;
  r.request_id = "req-1";
  r.timestamp_ms = -12345;
  r.ingest_time_ms = 1795000000000;
  r.model_name = "fraud";
  r.model_version = "v2";
  r.input = "tcp";
  r.sequence = 1ull << 40;
  r.digest = sha256("doc");
  r.source = R"({"host.name":"web-1"})";
  r.document = R"({"request_id":"req-1"})";
  std::string bytes;
  encode_record(r, bytes);
  auto back = decode_record(bytes);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->kind, r.kind);
  EXPECT_EQ(back->request_id, r.request_id);
  EXPECT_EQ(back->timestamp_ms, r.timestamp_ms);
  EXPECT_EQ(back->ingest_time_ms, r.ingest_time_ms);
  EXPECT_EQ(back->model_name, r.model_name);
  EXPECT_EQ(back->model_version, r.model_version);
  EXPECT_EQ(back->input, r.input);
  EXPECT_EQ(back->sequence, r.sequence);
  EXPECT_EQ(back->digest, r.digest);
  EXPECT_EQ(back->source, r.source);
  EXPECT_EQ(back->document, r.document);
}

// Records written before envelope metadata existed (format 1) still decode, with no source.
TEST(RecordCodec, ReadsFormatOneRecords) {
  StoredRecord r;
  r.request_id = "old";
  r.model_name = "m";
  r.digest = sha256("{}");
  r.document = "{}";
  std::string bytes;
  encode_record(r, bytes);
  // Format 2 with an empty source is format 1 plus one zero length byte before the digest.
  const size_t source_len_at = bytes.size() - r.document.size() - r.digest.size() - 1;
  ASSERT_EQ(bytes[source_len_at], '\0');
  bytes.erase(source_len_at, 1);
  bytes[0] = 1;
  auto back = decode_record(bytes);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->request_id, "old");
  EXPECT_EQ(back->source, "");
  EXPECT_EQ(back->document, "{}");
  EXPECT_EQ(back->digest, r.digest);
}

TEST(RecordCodec, RejectsTruncatedAndUnknownFormats) {
  StoredRecord r;
  r.request_id = "x";
  r.document = "{}";
  std::string bytes;
  encode_record(r, bytes);
  for (size_t n = 0; n + 2 < bytes.size(); ++n) {
    EXPECT_FALSE(decode_record(std::string_view(bytes).substr(0, n))) << n;
  }
  bytes[0] = 9;
  EXPECT_FALSE(decode_record(bytes));
}

TEST(SequenceKey, SortsInAppendOrder) {
  EXPECT_LT(sequence_key(1), sequence_key(2));
  EXPECT_LT(sequence_key(255), sequence_key(256));
  EXPECT_LT(sequence_key(0xffffffff), sequence_key(0x100000000));
  EXPECT_EQ(parse_sequence_key(sequence_key(987654321)), 987654321u);
}

TEST(IdEntry, RoundTrips) {
  IdEntry e{20261120, 77, sha256("x")};
  auto back = decode_id_entry(encode_id_entry(e));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->day, e.day);
  EXPECT_EQ(back->sequence, e.sequence);
  EXPECT_EQ(back->digest, e.digest);
  EXPECT_FALSE(decode_id_entry("short"));
}

}  // namespace
}  // namespace verity::store
