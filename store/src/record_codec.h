#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "verity/store/stored_record.h"

namespace verity::store {

// Binary value format of a record (format 4):
//   u8 format | u8 kind | u64 little-endian sequence | zigzag-varint timestamp_ms |
//   zigzag-varint ingest_time_ms | varint-len request_id | varint-len model | varint-len version |
//   varint-len input | varint-len masking version | varint-len source | document (the rest)
// The document digest is not stored (it is recomputed when read); formats 2 (format 4 with a
// 32-byte digest before the document) and 1 (format 2 without the source) are still read.
// The sequence has a fixed width so a record can be encoded before its sequence is known (on the
// submitting thread) and patched by the commit thread. The partition is not stored: it is the
// column family the record lives in.
void encode_record(const StoredRecord& r, std::string& out);
// Sets the sequence of an encoded record. REQUIRES: `encoded` came from encode_record().
void patch_sequence(std::string& encoded, uint64_t sequence);
// A tombstone (format 3) replaces an erased prediction in its partition:
//   u8 3 | u8 kind | u64 little-endian sequence | zigzag-varint timestamp_ms |
//   zigzag-varint ingest_time_ms | zigzag-varint erased_at_ms | varint audit id |
//   varint-len request_id | varint-len model | varint-len version | varint-len input |
//   varint-len masking version | 32-byte document digest | 32-byte chain entry digest
// The chain entry digest is that of the record it replaced, so the partition's chain still
// verifies.
void encode_tombstone(const StoredRecord& r, const Sha256Digest& entry_digest, std::string& out);
// The digest a record contributes to its partition's hash chain: SHA-256 of the encoded record with
// its sequence bytes zeroed (as encoded before the commit thread patched it), or, for a tombstone,
// the digest it kept. nullopt when the bytes are not a record.
std::optional<Sha256Digest> chain_entry_digest(std::string_view bytes);
// Fills everything but `partition`. nullopt when the bytes are not a record of a known format.
std::optional<StoredRecord> decode_record(std::string_view bytes);
// As decode_record, but the digest of a record that does not store it is not worked out (a
// SHA-256 of the document; digest_known is false then): for readers of the fields and document.
std::optional<StoredRecord> decode_record_fields(std::string_view bytes);
// The same into `out`, reusing its strings' memory (a scan decodes into the same records again).
// Without `with_digest`, a digest the record does not store is left to StoredRecord::to_json.
// False (and `out` unspecified) when the bytes are not a record.
bool decode_record_into(std::string_view bytes, StoredRecord& out, bool with_digest);

// Keys: 8-byte big-endian sequence numbers sort in append order.
std::string sequence_key(uint64_t seq);
std::optional<uint64_t> parse_sequence_key(std::string_view key);

// Value of the request-id index: where a prediction lives and its digest.
struct IdEntry {
  uint32_t day = 0;  // YYYYMMDD of the partition
  uint64_t sequence = 0;
  Sha256Digest digest{};
};
std::string encode_id_entry(const IdEntry& e);
void append_id_entry(std::string& out, const IdEntry& e);
std::optional<IdEntry> decode_id_entry(std::string_view bytes);

// LEB128: 7 bits a byte, least significant first.
inline void put_varint(std::string& out, uint64_t v) {
  if (v < 0x80) {
    out += static_cast<char>(v);
    return;
  }
  char buf[10];
  size_t n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  out.append(buf, n);
}
// `bytes` big-endian bytes of `v` (keys sort numerically); get_be reads them back.
// REQUIRES for get_be: in.size() >= bytes.
void put_be(std::string& out, uint64_t v, int bytes);
uint64_t get_be(std::string_view in, int bytes);
// Reads a varint of at most 10 bytes (bits past the 64th are dropped). False when `in` ends first.
bool get_long_varint(std::string_view& in, uint64_t& v);
inline bool get_varint(std::string_view& in, uint64_t& v) {
  if (!in.empty() && static_cast<uint8_t>(in.front()) < 0x80) {  // one byte: most of them
    v = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    return true;
  }
  return get_long_varint(in, v);
}

}  // namespace verity::store
