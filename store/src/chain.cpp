#include "chain.h"

#include "record_codec.h"

#include <cstring>

#include <openssl/evp.h>

#include "verity/store/partition.h"

namespace verity::store {
Sha256Digest chain_genesis(uint32_t day) {
  return sha256("verity-chain-v1 " + partition_name(day));
}

Sha256Digest chain_step(const Sha256Digest& previous, uint64_t sequence,
                        const Sha256Digest& entry_digest) {
  uint8_t buf[72];
  std::memcpy(buf, previous.data(), 32);
  for (int i = 0; i < 8; ++i) buf[32 + i] = static_cast<uint8_t>(sequence >> (8 * (7 - i)));
  std::memcpy(buf + 40, entry_digest.data(), 32);
  return sha256(std::string_view(reinterpret_cast<const char*>(buf), sizeof buf));
}

ChainHead empty_chain(uint32_t day) {
  ChainHead h;
  h.link = chain_genesis(day);
  return h;
}

std::string chain_prefix(char kind, uint32_t day) {
  std::string k(1, kind);
  put_be(k, day, 4);
  return k;
}

std::string chain_prefix_end(char kind, uint32_t day) {
  std::string k(1, kind);
  put_be(k, static_cast<uint64_t>(day) + 1, 4);
  return k;
}

std::string link_key(uint32_t day, uint64_t sequence) {
  std::string k = chain_prefix('L', day);
  put_be(k, sequence, 8);
  return k;
}

std::string head_key(uint32_t day) { return kHeadPrefix + partition_name(day); }

std::string legacy_head_key(uint32_t day) { return chain_prefix('H', day); }

std::string seal_key(uint32_t day, uint32_t n) {
  std::string k = chain_prefix('S', day);
  put_be(k, n, 4);
  return k;
}

std::optional<ChainKey> parse_chain_key(std::string_view key) {
  if (key.size() < 5) return std::nullopt;
  ChainKey k;
  k.kind = key[0];
  k.day = static_cast<uint32_t>(get_be(key.substr(1), 4));
  const std::string_view rest = key.substr(5);
  if (k.kind == 'L' && rest.size() == 8) {
    k.number = get_be(rest, 8);
  } else if (k.kind == 'S' && rest.size() == 4) {
    k.number = get_be(rest, 4);
  } else if (k.kind != 'H' || !rest.empty()) {
    return std::nullopt;
  }
  return k;
}

std::string encode_head(const ChainHead& h) {
  std::string out;
  put_be(out, h.count, 8);
  put_be(out, h.last_sequence, 8);
  put_be(out, h.raw_bytes, 8);
  put_be(out, h.erased, 8);
  out.append(reinterpret_cast<const char*>(h.link.data()), h.link.size());
  return out;
}

std::optional<ChainHead> decode_head(std::string_view v) {
  if (v.size() != 64) return std::nullopt;
  ChainHead h;
  h.count = get_be(v, 8);
  h.last_sequence = get_be(v.substr(8), 8);
  h.raw_bytes = get_be(v.substr(16), 8);
  h.erased = get_be(v.substr(24), 8);
  std::memcpy(h.link.data(), v.data() + 32, 32);
  return h;
}

std::string encode_seal(const Seal& s) {
  std::string out;
  put_be(out, s.count, 8);
  put_be(out, s.last_sequence, 8);
  out.append(reinterpret_cast<const char*>(s.link.data()), s.link.size());
  put_be(out, static_cast<uint64_t>(s.sealed_at_ms), 8);
  return out;
}

std::optional<Seal> decode_seal(std::string_view v) {
  if (v.size() != 56) return std::nullopt;
  Seal s;
  s.count = get_be(v, 8);
  s.last_sequence = get_be(v.substr(8), 8);
  std::memcpy(s.link.data(), v.data() + 16, 32);
  s.sealed_at_ms = static_cast<EpochMillis>(get_be(v.substr(48), 8));
  return s;
}

}  // namespace verity::store
