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
  r.source = R"({"host.name":"web-1"})";
  r.document = R"({"request_id":"req-1"})";
  r.digest = sha256(r.document);  // not stored: recomputed when read
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
  // Read for its fields only: everything but the digest, which is left unknown.
  auto fields = decode_record_fields(bytes);
  ASSERT_TRUE(fields);
  EXPECT_EQ(fields->kind, r.kind);
  EXPECT_EQ(fields->request_id, r.request_id);
  EXPECT_EQ(fields->timestamp_ms, r.timestamp_ms);
  EXPECT_EQ(fields->model_name, r.model_name);
  EXPECT_EQ(fields->model_version, r.model_version);
  EXPECT_EQ(fields->sequence, r.sequence);
  EXPECT_EQ(fields->source, r.source);
  EXPECT_EQ(fields->document, r.document);
  EXPECT_FALSE(fields->digest_known);
  EXPECT_TRUE(back->digest_known);
}

// Records written before the digest was dropped (format 2) and before envelope metadata existed
// (format 1) still decode, with their stored digest.
TEST(RecordCodec, ReadsFormatOneAndTwoRecords) {
  StoredRecord r;
  r.request_id = "old";
  r.model_name = "m";
  r.document = "{}";
  std::string bytes;
  encode_record(r, bytes);
  // Format 4 with an empty source ends in a zero length byte and the document.
  const size_t source_len_at = bytes.size() - r.document.size() - 1;
  ASSERT_EQ(bytes[source_len_at], '\0');
  const Sha256Digest stored = sha256("a digest as format 2 kept it");
  std::string two = bytes;
  two.insert(source_len_at + 1, reinterpret_cast<const char*>(stored.data()), stored.size());
  two[0] = 2;
  std::string one = two;
  one.erase(source_len_at, 1);
  one[0] = 1;
  for (const std::string& old : {one, two}) {
    auto back = decode_record(old);
    ASSERT_TRUE(back);
    EXPECT_EQ(back->request_id, "old");
    EXPECT_EQ(back->source, "");
    EXPECT_EQ(back->document, "{}");
    EXPECT_EQ(back->digest, stored);
    auto fields = decode_record_fields(old);  // a stored digest is read, not worked out
    ASSERT_TRUE(fields);
    EXPECT_TRUE(fields->digest_known);
    EXPECT_EQ(fields->digest, stored);
  }
}

// A tombstone keeps the metadata, the document digest and the chain entry digest of the record
// it replaces; the chain entry digest of a record does not depend on its sequence.
TEST(RecordCodec, TombstonesKeepTheChainEntryDigest) {
  StoredRecord r;
  r.request_id = "gone";
  r.model_name = "m";
  r.model_version = "v3";
  r.input = "beats";
  r.timestamp_ms = 1795000000000;
  r.ingest_time_ms = 1795000000500;
  r.document = R"({"user_id":"u-1"})";
  std::string bytes;
  encode_record(r, bytes);
  const auto entry = chain_entry_digest(bytes);
  ASSERT_TRUE(entry);
  EXPECT_EQ(*entry, sha256(bytes));
  patch_sequence(bytes, 77);
  EXPECT_EQ(chain_entry_digest(bytes), entry);

  auto rec = decode_record(bytes);
  ASSERT_TRUE(rec);
  rec->erased_at_ms = 1795000009000;
  rec->erasure_audit_id = 12;
  std::string tomb;
  encode_tombstone(*rec, *entry, tomb);
  EXPECT_EQ(tomb.find("u-1"), std::string::npos);
  EXPECT_EQ(chain_entry_digest(tomb), entry);
  auto back = decode_record(tomb);
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->erased);
  EXPECT_EQ(back->sequence, 77u);
  EXPECT_EQ(back->request_id, "gone");
  EXPECT_EQ(back->model_version, "v3");
  EXPECT_EQ(back->input, "beats");
  EXPECT_EQ(back->ingest_time_ms, r.ingest_time_ms);
  EXPECT_EQ(back->erased_at_ms, 1795000009000);
  EXPECT_EQ(back->erasure_audit_id, 12u);
  EXPECT_EQ(back->digest, sha256(r.document));
  EXPECT_TRUE(back->document.empty());
  for (size_t n = 0; n < tomb.size(); ++n) {
    EXPECT_FALSE(decode_record(std::string_view(tomb).substr(0, n))) << n;
  }
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
