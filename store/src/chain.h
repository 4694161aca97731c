#pragma once

// The per-partition hash chain and the keys of the `chain` column family:
//   'L' day(u32 BE) sequence(u64 BE) -> the first kStoredLinkBytes of the link
//                                       SHA-256(previous link | sequence BE | entry digest)
//   'S' day(u32 BE) n(u32 BE)        -> seal n: count, last sequence, link, sealed_at
// and, in the meta ("default") family,
//   head/p_YYYYMMDD                  -> head: count, last sequence, raw bytes, erased, link
// The head is rewritten by every commit group. Kept in `chain` (as 'H' day, before 2026-12-02), it
// was in every table file flushed from there, so each such file overlapped all the links below it
// and every compaction rewrote the day's links again: the family's compaction cost grew with what
// was stored. With only links (sequence order) and seals, a flushed file holds a run of new keys
// and moves down untouched. A store's 'H' heads are moved to meta when it opens.
// The first link of a partition chains from SHA-256("verity-chain-v1 p_YYYYMMDD").
// Links, the head and the records they cover are written in the same WriteBatch.
// Per-record links only locate a break, so they are stored truncated (8 random bytes a record
// instead of 32: hashes do not compress); the head and the seals keep whole links, so the
// chain's strength is that of SHA-256 whatever the truncation.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "verity/core/sha256.h"
#include "verity/core/time_format.h"

namespace verity::store {

inline constexpr size_t kStoredLinkBytes = 8;

struct ChainHead {
  uint64_t count = 0;  // records in the chain
  uint64_t last_sequence = 0;
  uint64_t raw_bytes = 0;  // sum of the stored documents' sizes
  uint64_t erased = 0;     // tombstones among the records
  Sha256Digest link{};     // the last link (the genesis while count == 0)
};

struct Seal {
  uint64_t count = 0;
  uint64_t last_sequence = 0;
  Sha256Digest link{};
  EpochMillis sealed_at_ms = 0;
};

Sha256Digest chain_genesis(uint32_t day);
Sha256Digest chain_step(const Sha256Digest& previous, uint64_t sequence,
                        const Sha256Digest& entry_digest);
ChainHead empty_chain(uint32_t day);

inline constexpr const char* kHeadPrefix = "head/";  // in meta: head/p_YYYYMMDD

std::string link_key(uint32_t day, uint64_t sequence);
std::string head_key(uint32_t day);         // in meta
std::string legacy_head_key(uint32_t day);  // 'H' day, in `chain`: only read to move it to meta
std::string seal_key(uint32_t day, uint32_t n);
// The first key of every entry of `kind` ('L', 'H', 'S') for `day`, and the key just past them.
std::string chain_prefix(char kind, uint32_t day);
std::string chain_prefix_end(char kind, uint32_t day);

// Key parts: the kind byte, the day, and the sequence (links) or seal number (seals).
struct ChainKey {
  char kind = 0;
  uint32_t day = 0;
  uint64_t number = 0;
};
std::optional<ChainKey> parse_chain_key(std::string_view key);

std::string encode_head(const ChainHead& h);
std::optional<ChainHead> decode_head(std::string_view v);
std::string encode_seal(const Seal& s);
std::optional<Seal> decode_seal(std::string_view v);

}  // namespace verity::store
