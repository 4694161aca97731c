#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "verity/core/time_format.h"

namespace verity::store {

// The time index ("by_time" family): every stored prediction under
//   u32 BE day | varint-len model | model | varint-len version | version |
//   u64 BE (timestamp_ms with its sign bit flipped) | request id  ->  u64 BE sequence
// Within a day, the keys of one model version are in (timestamp, request id) order, so a search of
// model + version + time range is one seek and a sequential read; a model's versions (or every
// model) are merged by that order (scan.cpp). The day leads so that dropping a partition is one
// DeleteRange. Written by the commit thread in the same batch as the record.
inline constexpr const char* kTimeIndexCf = "by_time";
// Present in "default" once every partition has its time index (a store written before the index
// existed gets it built at open).
inline constexpr const char* kTimeIndexBuiltKey = "time_index_built";

// The key prefix of one model version's entries of a day: day | model | version.
std::string time_index_group(uint32_t day, std::string_view model, std::string_view version);
// The group prefix followed by the (timestamp, request id) suffix.
std::string time_index_key(uint32_t day, std::string_view model, std::string_view version,
                           EpochMillis ts, std::string_view request_id);
// The same, appended to `out` (no allocation when it has room).
void append_time_index_group(std::string& out, uint32_t day, std::string_view model,
                             std::string_view version);
void append_time_index_key(std::string& out, uint32_t day, std::string_view model,
                           std::string_view version, EpochMillis ts, std::string_view request_id);
// The first 4 bytes of every key of `day`.
std::string time_index_day(uint32_t day);
// The 8 bytes that order timestamps (negative ones first).
void put_time(std::string& out, EpochMillis ts);

struct TimeIndexKey {
  uint32_t day = 0;
  std::string_view model, version;
  size_t group_size = 0;  // bytes of the group prefix
  EpochMillis ts = 0;
  std::string_view request_id;
};
// Splits a key (views into `key`); false when it is not one.
bool parse_time_index_key(std::string_view key, TimeIndexKey& out);

// The smallest string greater than every string that starts with `prefix` ("" when there is none:
// a prefix of 0xff bytes only).
std::string prefix_successor(std::string_view prefix);

}  // namespace verity::store
