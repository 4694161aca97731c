#include "record_codec.h"

#include <cassert>
#include <cstring>

namespace verity::store {
namespace {

constexpr uint8_t kFormat = 4;               // written
constexpr uint8_t kFormatWithDigest = 2;     // read: format 4 plus the stored document digest
constexpr uint8_t kFormatWithoutSource = 1;  // read: format 2 without the source
constexpr uint8_t kFormatTombstone = 3;

uint64_t zigzag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
int64_t unzigzag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

void put_bytes(std::string& out, std::string_view s) {
  put_varint(out, s.size());
  out.append(s);
}

bool get_bytes(std::string_view& in, std::string& out) {
  uint64_t n;
  if (!get_varint(in, n) || n > in.size()) return false;
  out.assign(in.substr(0, n));
  in.remove_prefix(n);
  return true;
}

}  // namespace

void put_be(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

uint64_t get_be(std::string_view in, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

bool get_long_varint(std::string_view& in, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
    const auto b = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

void encode_record(const StoredRecord& r, std::string& out) {
  out.clear();
  out.reserve(r.document.size() + r.request_id.size() + r.model_name.size() + r.source.size() + 80);
  out += static_cast<char>(kFormat);
  out += static_cast<char>(r.kind);
  out.append(8, '\0');
  patch_sequence(out, r.sequence);
  put_varint(out, zigzag(r.timestamp_ms));
  put_varint(out, zigzag(r.ingest_time_ms));
  put_bytes(out, r.request_id);
  put_bytes(out, r.model_name);
  put_bytes(out, r.model_version);
  put_bytes(out, r.input);
  put_bytes(out, r.masking_version);
  put_bytes(out, r.source);
  out.append(r.document);
}

void patch_sequence(std::string& encoded, uint64_t sequence) {
  assert(encoded.size() >= 10);
  for (int i = 0; i < 8; ++i) encoded[2 + i] = static_cast<char>((sequence >> (8 * i)) & 0xff);
}

void encode_tombstone(const StoredRecord& r, const Sha256Digest& entry_digest, std::string& out) {
  out.clear();
  out += static_cast<char>(kFormatTombstone);
  out += static_cast<char>(r.kind);
  out.append(8, '\0');
  patch_sequence(out, r.sequence);
  put_varint(out, zigzag(r.timestamp_ms));
  put_varint(out, zigzag(r.ingest_time_ms));
  put_varint(out, zigzag(r.erased_at_ms));
  put_varint(out, r.erasure_audit_id);
  put_bytes(out, r.request_id);
  put_bytes(out, r.model_name);
  put_bytes(out, r.model_version);
  put_bytes(out, r.input);
  put_bytes(out, r.masking_version);
  out.append(reinterpret_cast<const char*>(r.digest.data()), r.digest.size());
  out.append(reinterpret_cast<const char*>(entry_digest.data()), entry_digest.size());
}

namespace {

std::optional<StoredRecord> decode_tombstone(std::string_view in, Sha256Digest* entry_digest) {
  StoredRecord r;
  r.erased = true;
  if (static_cast<uint8_t>(in[1]) != static_cast<uint8_t>(EventKind::kPrediction)) {
    return std::nullopt;  // only predictions are chained, so only they become tombstones
  }
  r.kind = EventKind::kPrediction;
  for (int i = 7; i >= 0; --i) r.sequence = (r.sequence << 8) | static_cast<uint8_t>(in[2 + i]);
  in.remove_prefix(10);
  uint64_t ts, ingest, erased_at;
  if (!get_varint(in, ts) || !get_varint(in, ingest) || !get_varint(in, erased_at) ||
      !get_varint(in, r.erasure_audit_id)) {
    return std::nullopt;
  }
  r.timestamp_ms = unzigzag(ts);
  r.ingest_time_ms = unzigzag(ingest);
  r.erased_at_ms = unzigzag(erased_at);
  if (!get_bytes(in, r.request_id) || !get_bytes(in, r.model_name) ||
      !get_bytes(in, r.model_version) || !get_bytes(in, r.input) ||
      !get_bytes(in, r.masking_version) || in.size() != 64) {
    return std::nullopt;
  }
  std::memcpy(r.digest.data(), in.data(), 32);
  if (entry_digest != nullptr) std::memcpy(entry_digest->data(), in.data() + 32, 32);
  return r;
}

}  // namespace

std::optional<Sha256Digest> chain_entry_digest(std::string_view bytes) {
  if (bytes.size() < 10) return std::nullopt;
  const auto format = static_cast<uint8_t>(bytes[0]);
  if (format == kFormatTombstone) {
    Sha256Digest d;
    if (!decode_tombstone(bytes, &d)) return std::nullopt;
    return d;
  }
  if (format != kFormat && format != kFormatWithDigest && format != kFormatWithoutSource) {
    return std::nullopt;
  }
  std::string copy(bytes);
  patch_sequence(copy, 0);
  return sha256(copy);
}

bool decode_record_into(std::string_view in, StoredRecord& r, bool with_digest) {
  if (in.size() < 2) return false;
  const auto format = static_cast<uint8_t>(in[0]);
  if (format == kFormatTombstone) {
    if (in.size() < 10) return false;
    auto t = decode_tombstone(in, nullptr);
    if (!t) return false;
    r = std::move(*t);
    return true;
  }
  if (format != kFormat && format != kFormatWithDigest && format != kFormatWithoutSource) {
    return false;
  }
  const auto kind = static_cast<uint8_t>(in[1]);
  if (kind != static_cast<uint8_t>(EventKind::kPrediction) &&
      kind != static_cast<uint8_t>(EventKind::kLabel)) {
    return false;
  }
  r.kind = static_cast<EventKind>(kind);
  if (in.size() < 10) return false;
  r.erased = false;
  r.erased_at_ms = 0;
  r.erasure_audit_id = 0;
  r.digest_known = true;
  r.sequence = 0;
  for (int i = 7; i >= 0; --i) r.sequence = (r.sequence << 8) | static_cast<uint8_t>(in[2 + i]);
  in.remove_prefix(10);
  uint64_t ts, ingest;
  if (!get_varint(in, ts) || !get_varint(in, ingest)) return false;
  r.timestamp_ms = unzigzag(ts);
  r.ingest_time_ms = unzigzag(ingest);
  r.source.clear();
  if (!get_bytes(in, r.request_id) || !get_bytes(in, r.model_name) ||
      !get_bytes(in, r.model_version) || !get_bytes(in, r.input) ||
      !get_bytes(in, r.masking_version) ||
      (format != kFormatWithoutSource && !get_bytes(in, r.source))) {
    return false;
  }
  if (format == kFormat) {
    // The digest is not stored: 32 random bytes per record would be the least compressible part
    // of every tier. It is recomputed (about 1 us for a 700-byte document), here or, for a scan
    // that filters most records away, when the record is shown (StoredRecord::digest_known).
    r.document.assign(in);
    if (with_digest) {
      r.digest = sha256(r.document);
    } else {
      r.digest_known = false;
    }
    return true;
  }
  if (in.size() < r.digest.size()) return false;
  std::memcpy(r.digest.data(), in.data(), r.digest.size());
  in.remove_prefix(r.digest.size());
  r.document.assign(in);
  return true;
}

std::optional<StoredRecord> decode_record(std::string_view in) {
  StoredRecord r;
  if (!decode_record_into(in, r, true)) return std::nullopt;
  return r;
}

std::optional<StoredRecord> decode_record_fields(std::string_view in) {
  StoredRecord r;
  if (!decode_record_into(in, r, false)) return std::nullopt;
  return r;
}

std::string sequence_key(uint64_t seq) {
  std::string k;
  put_be(k, seq, 8);
  return k;
}

std::optional<uint64_t> parse_sequence_key(std::string_view key) {
  if (key.size() != 8) return std::nullopt;
  return get_be(key, 8);
}

std::string encode_id_entry(const IdEntry& e) {
  std::string out;
  out.reserve(44);
  append_id_entry(out, e);
  return out;
}

void append_id_entry(std::string& out, const IdEntry& e) {
  put_be(out, e.day, 4);
  put_be(out, e.sequence, 8);
  out.append(reinterpret_cast<const char*>(e.digest.data()), e.digest.size());
}

std::optional<IdEntry> decode_id_entry(std::string_view in) {
  if (in.size() != 44) return std::nullopt;
  IdEntry e;
  e.day = static_cast<uint32_t>(get_be(in, 4));
  e.sequence = get_be(in.substr(4), 8);
  std::memcpy(e.digest.data(), in.data() + 12, 32);
  return e;
}

}  // namespace verity::store
