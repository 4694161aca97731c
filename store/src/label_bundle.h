#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "verity/core/sha256.h"
#include "verity/core/time_format.h"

namespace verity::store {

// The value of a request id in the `labels` family: the label in effect and the labels it
// replaced or outranked, so that a replayed label is recognised as a duplicate whatever its age,
// label lag is measured to the first label by label time, and an auditor sees the corrections.
//   0xB1 | varint-len current record | varint n |
//   n x (zigzag-varint label time | 32-byte canonical digest | varint-len record, or 0 once the
//        record is no longer kept) | zigzag-varint first label time
// A value that does not start with 0xB1 is a plain record (written before bundles): no history.
// History keeps the newest kMaxHistoryRecords records whole and the digests and times of up to
// kMaxHistoryEntries labels in all (a client that sends thousands of different labels for one id
// cannot make the value grow without bound; the oldest are forgotten first).
struct LabelHistoryEntry {
  EpochMillis time_ms = 0;
  Sha256Digest digest{};  // sha256_json_canonical of the label's document
  std::string record;     // the encoded record, or "" once dropped
};

struct LabelBundle {
  std::string current;                     // the encoded record of the label in effect
  std::vector<LabelHistoryEntry> history;  // in arrival order
  // The earliest label time of every label seen for the request id (label lag is measured to it).
  EpochMillis first_ms = 0;

  static constexpr size_t kMaxHistoryRecords = 16;
  static constexpr size_t kMaxHistoryEntries = 512;

  std::string encode() const;
  static std::optional<LabelBundle> decode(std::string_view value);
  // Adds a label to the history, dropping the oldest records and entries beyond the limits.
  void remember(EpochMillis time_ms, const Sha256Digest& digest, std::string record);
  bool seen(const Sha256Digest& digest) const;
};

}  // namespace verity::store
